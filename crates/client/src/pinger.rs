//! The ping task: keeps the session alive and notices a silent server.
//!
//! Same rule as the Java client: its read timeout is 2/3 of the negotiated session timeout; a
//! ping goes out after half of that (1/3 of the timeout) without sending anything, and the
//! connection is given up after the whole read timeout without receiving anything.

use std::sync::Arc;
use std::time::Duration;

use corral_proto::request::Request;
use tokio::sync::mpsc;

use crate::error::ClientError;
use crate::shared::Shared;
use crate::writer::Outgoing;

pub(crate) async fn run(shared: Arc<Shared>, outgoing: mpsc::Sender<Outgoing>, timeout_ms: u64) {
    let read_timeout_ms = (timeout_ms * 2 / 3).max(1);
    let ping_after_ms = (read_timeout_ms / 2).max(1);
    let mut state = shared.state.subscribe();
    loop {
        let now_ms = shared.now_ms();
        let silent_ms = now_ms.saturating_sub(shared.last_recv_ms());
        if silent_ms >= read_timeout_ms {
            shared.fail(ClientError::ReadTimeout { silent_ms });
            return;
        }
        let idle_ms = now_ms.saturating_sub(shared.last_send_ms());
        let mut next_ping_ms = ping_after_ms.saturating_sub(idle_ms);
        if next_ping_ms == 0 {
            // A full queue means the writer is busy sending: no ping needed.
            let _ = outgoing.try_send(Outgoing::Request {
                request: Request::Ping,
                waiter: None,
                permit: None,
            });
            shared.touch_send();
            next_ping_ms = ping_after_ms;
        }
        let wake_ms = next_ping_ms.min(read_timeout_ms - silent_ms);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wake_ms)) => {}
            _ = state.wait_for(Option::is_some) => return,
        }
    }
}
