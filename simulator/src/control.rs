//! The control API under the reserved `/__sim/` prefix: fault plans, transcripts and stream
//! actions for drivers in any language (documented in `docs/simulator.md`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::fault::{FaultEngine, FaultPlan};
use crate::reply::Reply;
use crate::shared::Shared;
use crate::store::{Action, Refusal};

/// Paths starting with this are the simulator's own, never streams.
pub const PREFIX: &str = "/__sim/";
/// Where the control router is nested.
pub(crate) const NEST: &str = "/__sim";

/// The control API's router (nested under [`NEST`]); its replies are not stream responses,
/// so they are neither faulted nor recorded in the transcript.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new().fallback(serve)
}

async fn serve(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    // Nested: the path is what follows the prefix.
    let path = format!("{NEST}{}", uri.path());
    handle(&shared, &method, &path, &body).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActionRequest {
    stream: String,
    #[serde(flatten)]
    action: Action,
}

fn json_reply(status: u16, value: &impl serde::Serialize) -> Reply {
    match serde_json::to_string_pretty(value) {
        Ok(text) => Reply::new(status)
            .header("content-type", "application/json")
            .body(text),
        Err(e) => Reply::from(Refusal::new(500, e.to_string())),
    }
}

fn handle(shared: &Shared, method: &Method, path: &str, body: &Bytes) -> Reply {
    let bad =
        |e: serde_json::Error| Reply::from(Refusal::new(400, format!("invalid request body: {e}")));
    match (
        method.as_str(),
        path.strip_prefix(PREFIX).unwrap_or_default(),
    ) {
        ("GET", "plan") => json_reply(200, shared.faults().plan()),
        ("PUT", "plan") => match serde_json::from_slice::<FaultPlan>(body) {
            Ok(plan) => {
                *shared.faults() = FaultEngine::new(plan);
                Reply::new(204)
            }
            Err(e) => bad(e),
        },
        ("DELETE", "plan") => {
            *shared.faults() = FaultEngine::new(FaultPlan::default());
            Reply::new(204)
        }
        ("GET", "transcript") => json_reply(200, &shared.transcript.exchanges()),
        ("DELETE", "transcript") => {
            shared.transcript.clear();
            Reply::new(204)
        }
        ("POST", "actions") => match serde_json::from_slice::<ActionRequest>(body) {
            Ok(req) => match shared.store.act(&req.stream, &req.action) {
                Ok(next) => json_reply(
                    200,
                    &serde_json::json!({"streamNextOffset": next.to_string()}),
                ),
                Err(r) => Reply::from(r),
            },
            Err(e) => bad(e),
        },
        _ => Reply::from(Refusal::new(
            404,
            format!("no control endpoint {method} {path}"),
        )),
    }
}
