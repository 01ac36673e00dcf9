//! The marker between shaping and the accept loop: a response carrying [`Abort`] is never
//! written; `serve.rs` drops the connection instead (the reset faults).

/// Marks a response the client must never see: the connection is dropped instead. Names the
/// cut it stands for, as the transcript records it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Abort(pub &'static str);
