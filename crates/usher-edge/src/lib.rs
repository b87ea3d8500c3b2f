//! The delivery plane: serves `/{video uid or token}/…` to viewers and enforces the
//! signed-URL contract on every request. The access decision is in place; serving
//! manifests, segments and the player comes next, and until then every delivery path
//! answers 404.

pub mod access;

use axum::Router;
use axum::http::StatusCode;

/// Routes of the delivery edge (everything outside `/client/v4`).
pub fn router() -> Router {
    Router::new().fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
}
