//! The tokio runtime the runner's network work runs on (simulators, the in-process reference
//! client, and `check` of a stream URL), and the one way HTTP clients are made.

use std::sync::OnceLock;

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("simulator")
            .enable_all()
            .build()
            .expect("a tokio runtime starts")
    })
}

/// A client builder, with rustls's ring provider installed first. reqwest is built with
/// `rustls-no-provider` (for `check https://…`; aws-lc-rs, its default provider, is a long C
/// build), and then panics on building any client, plain-HTTP ones included, unless a
/// provider was installed.
pub fn http_client() -> reqwest::ClientBuilder {
    // A second install (or one made elsewhere) is no error.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
