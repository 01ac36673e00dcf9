//! What the simulator's tests share.

/// An HTTP client. Built together with the runner (`cargo test --workspace`), reqwest has
/// rustls without a crypto provider and panics on building any client unless one is
/// installed: the ring provider is, first.
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// A default client (see [`client_builder`]).
pub fn client() -> reqwest::Client {
    client_builder().build().expect("an HTTP client")
}
