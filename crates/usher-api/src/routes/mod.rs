//! The supported Cloudflare Stream operations, named as Cloudflare names them.

pub mod audio_tracks;
pub mod copy;
pub mod direct_uploads;
pub mod downloads;
pub mod keys;
pub mod token_explain;
pub mod tokens;
pub mod tus;
pub mod uploads;
pub mod videos;
pub mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};

use crate::state::ApiState;

/// Routes under `/client/v4`.
pub fn router() -> Router<ApiState> {
    let account = Router::new()
        .route(
            "/stream",
            get(videos::list)
                .post(uploads::create)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/stream/keys", get(keys::list).post(keys::create))
        .route("/stream/keys/{key_id}", delete(keys::delete))
        .route("/stream/copy", post(copy::create))
        .route("/stream/token/explain", post(token_explain::explain_token))
        .route("/stream/direct_upload", post(direct_uploads::create))
        .route(
            "/stream/webhook",
            put(webhooks::update)
                .get(webhooks::get)
                .delete(webhooks::delete),
        )
        .route(
            "/stream/{uid}",
            get(videos::get).post(videos::edit).delete(videos::delete),
        )
        .route("/stream/{uid}/embed", get(videos::embed))
        .route("/stream/{uid}/token", post(tokens::create))
        .route("/stream/{uid}/audio", get(audio_tracks::list))
        .route("/stream/{uid}/audio/copy", post(audio_tracks::copy))
        .route(
            "/stream/{uid}/audio/{audio_uid}",
            patch(audio_tracks::edit).delete(audio_tracks::delete),
        )
        .route(
            "/stream/{uid}/downloads",
            get(downloads::get)
                .post(downloads::create)
                .delete(downloads::delete),
        );
    Router::new().nest("/accounts/{account_id}", account)
}
