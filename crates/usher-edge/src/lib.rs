//! The delivery plane: serves `/{video uid or token}/…` to viewers and enforces the
//! signed-URL contract on every request. [`access`] is the decision itself (pure),
//! [`client`] says who is asking, [`cache`] keeps verified tokens, keys and videos
//! between requests, [`serve`] decides and sends manifests, segments and downloads
//! (from memory or disk: [`files`]), [`thumbnail`] cuts posters on demand, [`player`]
//! renders the embeddable player and [`cors`] lets players on other sites read what
//! the edge sends. [`fast_path`] answers media requests without the router.

pub mod access;
pub mod analytics;
pub mod cache;
pub mod client;
pub mod cors;
pub mod explain;
pub mod fast_path;
pub mod files;
pub mod live;
pub mod player;
pub mod published;
pub mod serve;
pub mod thumbnail;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

pub use serve::EdgeState;

/// Routes of the delivery edge (everything outside `/client/v4`).
pub fn router(state: EdgeState) -> Router {
    Router::new()
        .route("/_player/{file}", get(player::asset))
        .route(
            "/{id}/iframe",
            get(player::iframe).options(cors::preflight_page),
        )
        .route(
            "/{id}/watch",
            get(player::watch).options(cors::preflight_page),
        )
        .route("/{id}/views", get(live::views))
        .route(
            "/{id}/{*rest}",
            get(serve::media).options(cors::preflight_media),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .layer(axum::middleware::from_fn(cors::headers))
        .with_state(state)
}
