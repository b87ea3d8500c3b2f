//! The Cloudflare-compatible control plane (`/client/v4`): authentication, the response
//! envelope and error codes, and the Stream operations on videos, keys and tokens.
//! Handlers are thin: extract, call the store, render. The API never runs ffmpeg — an
//! upload stores its bytes and enqueues a job for a worker.

mod auth;
mod body;
pub mod dashboard;
mod envelope;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod lingering;
mod multipart;
mod rate_limit;
mod render;
mod routes;
mod state;
pub mod webhooks;

use axum::Router;
use axum::http::Uri;

pub use error::ApiError;
pub use state::{ApiConfig, ApiState};

/// The answer for a path under `/client/v4` that names no operation, for callers that
/// route the API's base paths themselves (axum's `nest` does not match `/client/v4/`).
pub async fn no_route() -> ApiError {
    ApiError::NoRoute
}

/// The upload URLs handed out by the API, outside `/client/v4` because whoever uses
/// them may have no API credentials: one-time direct upload URLs (`/upload/{secret}`)
/// and resumable (tus) upload URLs (`/tus/{id}`).
pub fn upload_router(state: ApiState) -> Router {
    Router::new()
        .route(
            "/upload/{secret}",
            axum::routing::post(routes::direct_uploads::upload)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .with_state(state.clone())
        .merge(routes::tus::router(state.clone()).layer(axum::extract::DefaultBodyLimit::disable()))
        .layer(state.linger_layer())
}

/// The management API, to be nested at `/client/v4`. Unknown paths and wrong methods
/// answer in the envelope too.
pub fn router(state: ApiState) -> Router {
    routes::router()
        .fallback(|_: Uri| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state.clone())
        .layer(state.linger_layer())
}
