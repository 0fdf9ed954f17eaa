//! Options of an accepted client socket.
//!
//! The send buffer is fixed rather than left to the kernel's autotuning, which grows it to
//! `tcp_wmem`'s maximum (4 MiB by default): a client that never reads would otherwise have
//! that much of its replies taken by the kernel before its connection's own queue fills and
//! the server stops reading its requests (see [`super::backpressure`]). With two dozen
//! such clients the server answered millions of small requests nobody read, on every
//! reconnect. A fixed buffer of this size still streams a 1 MiB reply at hundreds of MB/s
//! on a LAN's sub-millisecond round trips.

use tokio::net::TcpStream;

/// `SO_SNDBUF` of a client connection (Linux doubles it for its own bookkeeping).
pub(crate) const CLIENT_SEND_BUFFER_BYTES: usize = 128 * 1024;

/// Sets the options of a newly accepted client socket; a failure leaves the default.
pub(crate) fn tune(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = socket2::SockRef::from(stream).set_send_buffer_size(CLIENT_SEND_BUFFER_BYTES);
}
