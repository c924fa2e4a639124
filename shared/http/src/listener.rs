//! The listening socket of both planes.

use axum::serve::{ListenerExt, TapIo};
use tokio::net::{TcpListener, TcpStream};

/// `listener`, with every accepted connection set to send without delay (TCP_NODELAY).
/// Without it, an answer written in more than one piece (a streamed export, a chunked
/// body) can wait for the client's delayed acknowledgement, 40 ms on Linux, between the
/// pieces.
pub fn without_delay(listener: TcpListener) -> TapIo<TcpListener, fn(&mut TcpStream)> {
    fn no_delay(stream: &mut TcpStream) {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
        }
    }
    listener.tap_io(no_delay as fn(&mut TcpStream))
}
