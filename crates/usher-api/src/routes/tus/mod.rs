//! Resumable uploads over tus 1.0.0 — what the official SDKs' `stream.create` speaks.
//! Creation is `POST /stream` with `Tus-Resumable` (under the API, with credentials);
//! the upload URL it returns, `/tus/{id}`, takes `HEAD` (the offset) and `PATCH`
//! (append at that offset) until every byte is in, then the video is queued. The id is
//! the video's uid, usable with the account's credentials, or for `?direct_user=true`
//! a secret that works without them.
//!
//! Any API process can take any request of any upload: the bytes are staged in the
//! media store as parts ([`usher_store::TusWriter`]), and the acknowledged offset lives in
//! the database, moved at checkpoints and at the end of each request only once the part
//! is durable; so a dropped connection, a restart, even `kill -9`, resumes from the last
//! one, on this process or another. One request at a time writes an upload (a lease in
//! the database); a second one meanwhile is refused (409).

mod create;
pub(crate) mod metadata;
mod transfer;

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tower_http::cors::{Any, CorsLayer};

pub(crate) use create::{create, query};

use crate::error::ApiError;
use crate::state::ApiState;

/// The protocol version spoken.
pub const TUS_VERSION: &str = "1.0.0";
/// The protocol extensions supported.
pub const TUS_EXTENSIONS: &str = "creation,expiration,termination";

/// The upload URLs, `/tus/{id}`, outside `/client/v4` (a direct user has no API
/// credentials). Browsers on any site may use them (CORS): the URL is the capability.
pub fn router(state: ApiState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::HEAD, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers(Any)
        .expose_headers([
            HeaderName::from_static("upload-offset"),
            HeaderName::from_static("upload-length"),
            HeaderName::from_static("upload-metadata"),
            HeaderName::from_static("upload-expires"),
            HeaderName::from_static("tus-resumable"),
            HeaderName::from_static("tus-version"),
            HeaderName::from_static("tus-extension"),
            HeaderName::from_static("tus-max-size"),
            HeaderName::from_static("stream-media-id"),
            HeaderName::from_static("location"),
        ]);
    Router::new()
        .route("/tus/{id}", any(transfer::dispatch))
        .layer(cors)
        .with_state(state)
}

/// `Tus-Resumable` must name the version we speak: the 412 to answer if it does not.
fn version_refusal(headers: &HeaderMap) -> Option<Response> {
    match headers.get("tus-resumable").map(HeaderValue::as_bytes) {
        Some(v) if v == TUS_VERSION.as_bytes() => None,
        _ => Some(
            (
                StatusCode::PRECONDITION_FAILED,
                [("tus-version", TUS_VERSION), ("tus-resumable", TUS_VERSION)],
                ApiError::bad("Tus-Resumable: only version 1.0.0 is supported"),
            )
                .into_response(),
        ),
    }
}

/// Adds the headers every tus response carries.
fn tus_response(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}

fn http_date(micros: i64) -> HeaderValue {
    let t = std::time::UNIX_EPOCH
        + std::time::Duration::from_micros(u64::try_from(micros).unwrap_or(0));
    HeaderValue::from_str(&httpdate::fmt_http_date(t)).unwrap_or(HeaderValue::from_static(""))
}
