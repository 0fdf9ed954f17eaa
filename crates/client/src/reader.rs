//! The reader task: splits the byte stream into frames and routes each one.
//!
//! A notification (xid -1) goes to the notification sink; a reply is matched against the front
//! of its lane's pending queue and handed to the waiting request. Anything that breaks the
//! stream (bad length, a frame shorter than a reply header, an undecodable notification, an
//! out-of-order or unexpected xid, EOF) ends the connection through `Shared::fail`; a reply
//! body that does not decode fails only its own request, since the framing is still intact.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use corral_proto::consts::xid;
use corral_proto::frame::split_frame;
use corral_proto::records::{ReplyHeader, WatcherEvent};
use corral_proto::response::Response;
use corral_proto::{ErrorCode, Jute, OpCode, Reader};
use tokio::io::AsyncRead;
use tokio::io::AsyncReadExt;

use crate::error::ClientError;
use crate::handshake::READ_CHUNK_BYTES;
use crate::pending::Lane;
use crate::reply::{Notification, Reply, WireEvent};
use crate::shared::{NotifySink, Shared};

pub(crate) async fn run<R: AsyncRead + Unpin>(
    mut read: R,
    buffer: BytesMut,
    shared: Arc<Shared>,
    sink: NotifySink,
) {
    let mut state = shared.state.subscribe();
    let reason = tokio::select! {
        reason = read_frames(&mut read, buffer, &shared, &sink) => reason,
        _ = state.wait_for(Option::is_some) => return,
    };
    shared.fail(reason);
}

/// Reads until the stream breaks; returns why.
async fn read_frames<R: AsyncRead + Unpin>(
    read: &mut R,
    mut buffer: BytesMut,
    shared: &Shared,
    sink: &NotifySink,
) -> ClientError {
    loop {
        loop {
            match split_frame(&mut buffer, shared.max_frame_bytes) {
                Ok(Some(frame)) => {
                    if let Err(reason) = route(frame, shared, sink) {
                        return reason;
                    }
                }
                Ok(None) => break,
                Err(err) => return err.into(),
            }
        }
        buffer.reserve(READ_CHUNK_BYTES);
        match read.read_buf(&mut buffer).await {
            Ok(0) => return ClientError::ConnectionClosed,
            Ok(_) => shared.touch_recv(),
            Err(err) => return ClientError::io(err),
        }
    }
}

/// Handles one frame. An `Err` is fatal for the connection.
fn route(frame: Bytes, shared: &Shared, sink: &NotifySink) -> Result<(), ClientError> {
    let mut reader = Reader::new(&frame);
    let header = ReplyHeader::decode(&mut reader).map_err(|source| ClientError::Decode {
        what: "reply header",
        source,
    })?;
    let body = frame.slice(reader.offset()..);

    if header.xid == xid::NOTIFICATION {
        let event = WatcherEvent::from_slice(&body).map_err(|source| ClientError::Decode {
            what: "notification",
            source,
        })?;
        let notification = Notification {
            zxid: header.zxid,
            event_type: event.event_type,
            state: event.state,
            path: event.path,
        };
        shared.log(WireEvent::Notification(notification.clone()));
        return sink.send(notification);
    }

    shared.log(WireEvent::Reply {
        xid: header.xid,
        zxid: header.zxid,
        err: header.err,
    });
    let lane = Lane::of_xid(header.xid);
    let pending = shared
        .queues
        .lock()
        .pop(lane)
        .ok_or(ClientError::UnexpectedReply { xid: header.xid })?;
    if let Some(expected) = pending.xid {
        if expected != header.xid {
            let reason = ClientError::XidOutOfOrder {
                expected,
                got: header.xid,
            };
            pending.answer(Err(reason.clone()));
            return Err(reason);
        }
    }
    if lane == Lane::Ordinary && header.zxid > 0 {
        shared.last_zxid.store(header.zxid, Ordering::Relaxed);
    }
    let outcome = decode_reply(&header, pending.op_type, body);
    pending.answer(outcome);
    Ok(())
}

/// Decodes a matched reply. Failures here concern this request only.
fn decode_reply(
    header: &ReplyHeader,
    op_type: Option<i32>,
    body: Bytes,
) -> Result<Reply, ClientError> {
    let result =
        if header.err != 0 {
            Err(
                ErrorCode::from_i32(header.err).ok_or(ClientError::UnknownErrorCode {
                    xid: header.xid,
                    err: header.err,
                })?,
            )
        } else {
            match op_type.and_then(OpCode::from_i32) {
                Some(op) => Ok(Response::decode(op, &mut Reader::new(&body)).map_err(
                    |source| ClientError::BadReply {
                        xid: header.xid,
                        op_type: op.as_i32(),
                        source,
                    },
                )?),
                None => Ok(Response::Empty),
            }
        };
    Ok(Reply {
        xid: header.xid,
        zxid: header.zxid,
        result,
        body,
    })
}
