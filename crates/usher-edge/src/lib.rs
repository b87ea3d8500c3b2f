//! The delivery plane: serves `/{video uid or token}/…` to viewers and enforces the
//! signed-URL contract on every request. This first cut answers every delivery path
//! with 404; the access decision, manifests, segments and the player come next.

use axum::Router;
use axum::http::StatusCode;

/// Routes of the delivery edge (everything outside `/client/v4`).
pub fn router() -> Router {
    Router::new().fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
}
