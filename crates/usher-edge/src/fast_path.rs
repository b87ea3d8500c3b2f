//! The edge's hot path: `GET /{uid or token}/{published file}` answered without the
//! router. Routing a request through axum costs more than deciding on it and sending
//! a cached manifest: the route match, the percent-decoded path parameters, the matched
//! path and connection info in the request's extensions, a boxed future and a clone of
//! the handler's state per layer — about 30 of the 54 allocations a small response took
//! (docs/performance.md). Only requests the router would send to [`serve::media`] are
//! taken here, and they get the same answer from the same code; anything else (another
//! method, a percent-encoded path, another route) goes to the router.

use std::net::SocketAddr;

use axum::extract::Request;
use axum::http::{Method, header};
use axum::response::Response;

use crate::cors;
use crate::published::classify;
use crate::serve::{self, EdgeState};

/// The route template the router would have matched, for metrics and logs.
pub const ROUTE: &str = "/{id}/{*rest}";

pub struct FastPath {
    state: EdgeState,
}

impl FastPath {
    pub fn new(state: EdgeState) -> Self {
        Self { state }
    }

    /// Whether this path answers `req`.
    pub fn takes(req: &Request<impl Sized>) -> bool {
        req.method() == Method::GET && split(req.uri().path()).is_some()
    }

    /// Answers a request [`FastPath::takes`], as the router's `GET /{id}/{*rest}` and
    /// the edge's CORS layer would.
    pub async fn answer(&self, peer: SocketAddr, req: Request) -> Response {
        // A shared reference to the request's bytes, not a copy.
        let uri = req.uri().clone();
        let Some((id, rest)) = split(uri.path()) else {
            return serve::denied(&crate::access::Denial::NotFound);
        };
        let origin = req.headers().get(header::ORIGIN).cloned();
        let resp = serve::answer_media(&self.state, peer, id, rest, req).await;
        cors::finish(origin, false, resp)
    }
}

/// `/{id}/{rest}` when `rest` names a published file and nothing needs decoding.
fn split(path: &str) -> Option<(&str, &str)> {
    let (id, rest) = path.strip_prefix('/')?.split_once('/')?;
    let plain = !id.is_empty() && !path.contains('%');
    (plain && classify(rest).is_some()).then_some((id, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_only_what_the_media_route_would_get() {
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
        for (path, expect) in [
            (
                "/0123456789abcdef0123456789abcdef/manifest/video.m3u8",
                true,
            ),
            (&format!("/{token}/manifest/v0/seg_00001.m4s") as &str, true),
            ("/abc/thumbnails/thumbnail.jpg", true),
            ("/abc/downloads/default.mp4", true),
            ("/abc/iframe", false),
            ("/abc/watch", false),
            ("/_player/hls.min.js", false),
            ("/client/v4/accounts/x/stream", false),
            ("//manifest/video.m3u8", false),
            ("/abc/manifest%2Fvideo.m3u8", false),
            ("/%61bc/manifest/video.m3u8", false),
            ("/abc/manifest/../../x", false),
            ("/abc/manifest/video.m3u8/", false),
            ("/metrics", false),
            ("/", false),
        ] {
            assert_eq!(split(path).is_some(), expect, "{path}");
        }
        let req = |m: Method| {
            Request::builder()
                .method(m)
                .uri("/abc/manifest/video.m3u8")
                .body(())
                .unwrap()
        };
        assert!(FastPath::takes(&req(Method::GET)));
        assert!(!FastPath::takes(&req(Method::HEAD)));
        assert!(!FastPath::takes(&req(Method::OPTIONS)));
    }
}
