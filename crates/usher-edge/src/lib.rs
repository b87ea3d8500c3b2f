//! The delivery plane: serves `/{video uid or token}/…` to viewers and enforces the
//! signed-URL contract on every request. [`access`] is the decision itself (pure),
//! [`client`] says who is asking, [`cache`] keeps verified tokens, keys and videos
//! between requests, [`serve`] decides and sends manifests, segments and downloads
//! (from memory or disk: [`files`]), [`thumbnail`]
//! cuts posters on demand and [`player`] renders the embeddable player.

pub mod access;
pub mod cache;
pub mod client;
pub mod files;
pub mod player;
pub mod serve;
pub mod thumbnail;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

pub use serve::EdgeState;

/// Routes of the delivery edge (everything outside `/client/v4`).
pub fn router(state: EdgeState) -> Router {
    Router::new()
        .route("/{id}/iframe", get(player::page))
        .route("/{id}/watch", get(player::page))
        .route("/{id}/{*rest}", get(serve::media))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(state)
}
