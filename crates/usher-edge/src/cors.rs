//! CORS for players on other sites: the `OPTIONS` preflight, and the headers every
//! edge answer needs so a script elsewhere can read it — including a refusal's reason,
//! so a player can say why it stopped instead of seeing an opaque network error.
//!
//! CORS here only decides what a browser lets a page *read*; whether a request is
//! served at all is the access decision's job, made again on the real request.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::access::{Denial, Resource};
use crate::serve::{EdgeState, authorize_any, classify, denied, viewer};

/// How long a browser may reuse a preflight answer. Chromium caps this at 2 hours.
pub const PREFLIGHT_MAX_AGE_SECS: u32 = 7200;
/// Longest `Access-Control-Request-Headers` echoed back; longer lists get the default.
const MAX_REQUEST_HEADERS_LEN: usize = 1024;
const ALLOW_METHODS: &str = "GET, HEAD, OPTIONS";
/// Allowed when the preflight does not list its headers, or lists something odd.
const DEFAULT_ALLOW_HEADERS: &str = "Range, If-None-Match, If-Modified-Since, If-Range";
/// Response headers a cross-origin player needs beyond the CORS-safelisted ones
/// (byte-range playback reads `Content-Range`).
pub const EXPOSE_HEADERS: &str = "Content-Length, Content-Range, Accept-Ranges, ETag";

/// `OPTIONS /{id}/{*rest}`.
pub async fn preflight_media(
    State(st): State<EdgeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((id, rest)): Path<(String, String)>,
    req: Request,
) -> Response {
    let Some(published) = classify(&rest) else {
        return denied(&Denial::NotFound);
    };
    preflight(&st, peer, &id, published.resource, req).await
}

/// `OPTIONS /{id}/iframe` and `/{id}/watch`.
pub async fn preflight_page(
    State(st): State<EdgeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    preflight(&st, peer, &id, Resource::Player, req).await
}

async fn preflight(
    st: &EdgeState,
    peer: SocketAddr,
    id: &str,
    resource: Resource,
    req: Request,
) -> Response {
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        // Not a CORS preflight: just say what the path supports.
        return (StatusCode::NO_CONTENT, [(header::ALLOW, ALLOW_METHODS)]).into_response();
    };
    // The origin is the one thing a preflight says about the real request, so refuse
    // here the origins the video's `allowedOrigins` refuses. Any other reason (a bad
    // token, a missing video) is left to the real request, whose answer the player can
    // then read.
    if let Err(d @ Denial::OriginDenied) =
        authorize_any(st, id, resource, &viewer(st, peer, &req)).await
    {
        return denied(&d);
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        allow_headers(req.headers()),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(PREFLIGHT_MAX_AGE_SECS),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        ),
    );
    resp
}

/// Echoes the requested headers when they are a plain list of header names: the edge
/// ignores request headers it does not use, so allowing them costs nothing.
fn allow_headers(headers: &HeaderMap) -> HeaderValue {
    let requested = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.trim().is_empty()
                && v.len() <= MAX_REQUEST_HEADERS_LEN
                && v.split(',').all(|name| {
                    let name = name.trim();
                    !name.is_empty() && name.bytes().all(is_token_char)
                })
        });
    match requested.and_then(|v| HeaderValue::from_str(v).ok()) {
        Some(v) => v,
        None => HeaderValue::from_static(DEFAULT_ALLOW_HEADERS),
    }
}

/// RFC 9110 `tchar`.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Middleware on every edge answer to a cross-origin request: expose the range
/// headers, and let refusals (which [`crate::serve::denied`] sends without CORS
/// headers) be read, so a player elsewhere can show their reason. Pages (HTML) are
/// left alone: they are framed, not fetched.
pub async fn headers(req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let is_preflight = req.method() == Method::OPTIONS;
    let resp = next.run(req).await;
    finish(origin, is_preflight, resp)
}

/// What [`headers`] adds to `resp`, the answer to a request from `origin`.
pub fn finish(origin: Option<HeaderValue>, is_preflight: bool, mut resp: Response) -> Response {
    let Some(origin) = origin else {
        return resp;
    };
    let html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"text/html"));
    let status = resp.status();
    let h = resp.headers_mut();
    if !h.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        // A preflight refused for its origin stays refused.
        if html || is_preflight || !status.is_client_error() {
            return resp;
        }
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    if !is_preflight {
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_request_headers(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static(v),
        );
        h
    }

    #[test]
    fn requested_header_names_are_echoed_and_junk_is_not() {
        assert_eq!(
            allow_headers(&with_request_headers("range, x-playback-session-id")),
            "range, x-playback-session-id"
        );
        assert_eq!(allow_headers(&HeaderMap::new()), DEFAULT_ALLOW_HEADERS);
        for junk in ["", " , ", "range, bad header", "a:b", "range,,x"] {
            assert_eq!(
                allow_headers(&with_request_headers(junk)),
                DEFAULT_ALLOW_HEADERS,
                "{junk:?}"
            );
        }
    }
}
