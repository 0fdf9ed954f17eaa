//! The ConnectRequest: new session (a `CreateSession` txn through the log, answered by the
//! state machine when it applies) or re-attach of a live session by id and password (answered
//! here). See protocol fact sheet §3.3 for the order of checks.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use corral_proto::connect::{ConnectRequest, ConnectResponse};
use corral_tree::TxnKind;

use super::{ClientServices, Closed};
use crate::clients::ConnectionHandle;
use crate::cluster::forwarder::StreamBinding;
use crate::raft::Role;

pub(crate) async fn run(
    frame: &[u8],
    handle: &Arc<ConnectionHandle>,
    services: &ClientServices,
) -> Result<(), Closed> {
    let request =
        ConnectRequest::decode(frame).map_err(|_| Closed::Server("malformed ConnectRequest"))?;
    if services.role.borrow().role == Role::Looking {
        tracing::debug!(peer = %handle.peer, "refusing a client while no leader is known");
        return Err(Closed::Server("no leader: this server is not serving"));
    }
    let echo_read_only = request.read_only.is_some();
    handle
        .echo_read_only
        .store(echo_read_only, Ordering::Release);
    let last_zxid = services.replica.applied();
    if request.last_zxid_seen > last_zxid {
        tracing::info!(
            peer = %handle.peer,
            client_zxid = format_args!("0x{:x}", request.last_zxid_seen),
            server_zxid = format_args!("0x{:x}", last_zxid),
            "refusing a client that has seen a newer zxid than this server"
        );
        return Err(Closed::Server("client is ahead of this server"));
    }
    let limits = &services.limits;
    let timeout_ms = request
        .timeout_ms
        .clamp(limits.session_timeout_min_ms, limits.session_timeout_max_ms);
    handle
        .session_timeout_ms
        .store(i64::from(timeout_ms), Ordering::Relaxed);
    if request.session_id == 0 {
        create_session(timeout_ms, handle, services).await
    } else {
        reattach_session(&request, timeout_ms, handle, services).await
    }
}

async fn create_session(
    timeout_ms: i32,
    handle: &Arc<ConnectionHandle>,
    services: &ClientServices,
) -> Result<(), Closed> {
    let kind = TxnKind::CreateSession {
        timeout_ms,
        password: services.new_password(),
    };
    let session_id = services.session_ids.allocate();
    handle.write_submitted().await;
    // The connection's pipeline starts with a stream binding of its own: this write is
    // answered before the first request is read.
    let mut stream = StreamBinding::default();
    if let Err(err) = services
        .proposer
        .propose_from(handle.id, session_id, 0, kind, &mut stream)
        .await
    {
        handle.write_answered();
        tracing::error!(%err, "the log refused a new session; closing the connection");
        return Err(Closed::Server("log unavailable"));
    }
    handle.wait_writes_answered().await;
    if handle.is_closed() || handle.session_id() == 0 {
        return Err(Closed::Server("session could not be created"));
    }
    Ok(())
}

async fn reattach_session(
    request: &ConnectRequest,
    timeout_ms: i32,
    handle: &Arc<ConnectionHandle>,
    services: &ClientServices,
) -> Result<(), Closed> {
    let session_id = request.session_id;
    let echo = handle.echo_read_only.load(Ordering::Acquire);
    // As ZooKeeper's processConnectRequest: a connection this server holds for the session is
    // closed before the password is checked, so even a refused re-attach takes it away (the
    // session itself lives on).
    if let Some(old) = services.registry.by_session(session_id) {
        if old.id != handle.id {
            old.close();
        }
    }
    let known = services.replica.tree().session(session_id);
    let password_ok = match (&known, &request.password) {
        (Some(info), Some(given)) => given.as_ref() == info.password.as_slice(),
        _ => false,
    };
    if !password_ok || !services.sessions.touch(session_id) {
        tracing::debug!(
            session = format_args!("0x{session_id:x}"),
            "re-attach refused: unknown, expired or wrong password"
        );
        send_connect_response(handle, &ConnectResponse::invalid_session(echo));
        return Err(Closed::Server("invalid session"));
    }
    let Some(info) = known else {
        return Err(Closed::Server("invalid session"));
    };
    services.sessions.set_timeout(session_id, timeout_ms);
    if let Some(old) = services.registry.bind_session(session_id, handle.id) {
        old.close();
    }
    handle.set_session_id(session_id);
    if let Err(err) = services
        .proposer
        .session_moved_here(session_id, handle.id)
        .await
    {
        tracing::info!(
            session = format_args!("0x{session_id:x}"),
            %err,
            "the leader did not confirm a re-attached session; closing the connection"
        );
        return Err(Closed::Server("re-attach not confirmed by the leader"));
    }
    let response = ConnectResponse {
        protocol_version: 0,
        timeout_ms,
        session_id,
        password: Some(Bytes::copy_from_slice(&info.password)),
        read_only: echo.then_some(false),
    };
    send_connect_response(handle, &response);
    Ok(())
}

fn send_connect_response(handle: &ConnectionHandle, response: &ConnectResponse) {
    handle.send_encoded(|out| response.encode(out));
}
