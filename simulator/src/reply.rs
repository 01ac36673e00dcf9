//! A response under construction, with the headers every response carries.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::store::Refusal;

/// Headers every response carries (PROTOCOL §12.7 and CORS for browser clients).
fn base_headers(h: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    };
    set(h, "x-content-type-options", "nosniff");
    set(h, "cross-origin-resource-policy", "cross-origin");
    set(h, "access-control-allow-origin", "*");
    set(
        h,
        "access-control-expose-headers",
        "Stream-Next-Offset, Stream-Cursor, Stream-Up-To-Date, Stream-Closed, Stream-TTL, Stream-Expires-At, ETag, Location, Producer-Epoch, Producer-Seq, Producer-Expected-Seq, Producer-Received-Seq, Stream-SSE-Data-Encoding",
    );
}

/// A response under construction.
pub(crate) struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Body,
}

impl Reply {
    pub(crate) fn new(status: u16) -> Reply {
        let mut headers = HeaderMap::new();
        base_headers(&mut headers);
        Reply {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers,
            body: Body::empty(),
        }
    }

    pub(crate) fn header(mut self, name: &str, value: impl ToString) -> Reply {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name),
            HeaderValue::try_from(value.to_string()),
        ) {
            self.headers.insert(n, v);
        }
        self
    }

    pub(crate) fn header_if(self, cond: bool, name: &str, value: impl ToString) -> Reply {
        if cond { self.header(name, value) } else { self }
    }

    pub(crate) fn body(mut self, body: impl Into<Body>) -> Reply {
        self.body = body.into();
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut r = Response::new(self.body);
        *r.status_mut() = self.status;
        *r.headers_mut() = self.headers;
        r
    }
}

impl From<Refusal> for Reply {
    fn from(r: Refusal) -> Reply {
        let mut reply = Reply::new(r.status).header("content-type", "text/plain; charset=utf-8");
        for (name, value) in &r.headers {
            reply = reply.header(name, value);
        }
        reply.body(r.reason)
    }
}
