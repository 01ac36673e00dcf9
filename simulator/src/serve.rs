//! Accepting connections: one task per connection, a cap on how many are open, a bound on how
//! long a client may take to send its request head, and the one thing axum's own `serve`
//! cannot do: drop a connection without answering, which the reset faults need.
//!
//! A response that carries the [`Abort`] extension is never written: the service fails
//! instead, and hyper closes the connection. This works the same for every response, with or
//! without a body (a 204, a HEAD), which a body that fails while streaming cannot.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinSet;
use tower_service::Service;

use crate::abort::Abort;

/// The connection was dropped on purpose (a reset fault).
#[derive(Debug)]
struct Dropped(&'static str);

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connection dropped by fault {}", self.0)
    }
}

impl std::error::Error for Dropped {}

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

/// Serves `app` on `listener` until `stop` fires; then every open connection is closed.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stop: oneshot::Receiver<()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = JoinSet::new();
    let (mut warned_at_cap, mut warned_accept) = (false, false);
    loop {
        // Finished connections are reaped as we go, so the set stays as large as what is open.
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                warned_accept = false;
                // Responses are written whole or a page of events at a time: Nagle's delay
                // would only hold a write back until the previous one is acknowledged.
                let _ = stream.set_nodelay(true);
                stream
            }
            Err(e) => {
                // Out of file descriptors (or a transient accept error): say so once per
                // episode and back off, rather than spinning or failing silently.
                if !warned_accept {
                    eprintln!("stream-simulator: cannot accept a connection: {e}");
                    warned_accept = true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if !warned_at_cap {
                eprintln!(
                    "stream-simulator: {} connections open (the cap); refusing new ones",
                    limits.max_connections
                );
                warned_at_cap = true;
            }
            drop(stream);
            continue;
        };
        warned_at_cap = false;
        let app = app.clone();
        connections.spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let mut app = app.clone();
                async move {
                    let response: Response = match app.call(request.map(Body::new)).await {
                        Ok(r) => r,
                        Err(never) => match never {},
                    };
                    match response.extensions().get::<Abort>() {
                        Some(Abort(how)) => Err(Dropped(how)),
                        None => Ok::<_, Dropped>(response),
                    }
                }
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        });
    }
    connections.shutdown().await;
}
