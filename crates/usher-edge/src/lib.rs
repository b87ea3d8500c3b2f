//! The delivery plane: serves `/{video uid or token}/…` to viewers and enforces the
//! signed-URL contract on every request ([`access`]). Manifests, segments, the MP4
//! download and the thumbnail are served ([`serve`]); the player pages, GeoIP,
//! trusted proxies and a verified-token cache come next.

pub mod access;
pub mod serve;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

pub use serve::EdgeState;

/// Routes of the delivery edge (everything outside `/client/v4`).
pub fn router(state: EdgeState) -> Router {
    Router::new()
        .route("/{id}/{*rest}", get(serve::media))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(state)
}
