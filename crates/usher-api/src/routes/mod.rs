//! The supported Cloudflare Stream operations, named as Cloudflare names them.

pub mod analytics;
pub mod audio_tracks;
pub mod captions;
pub mod clips;
pub mod copy;
pub mod direct_uploads;
pub mod downloads;
pub mod keys;
pub mod live_inputs;
pub mod storage_usage;
pub mod token_explain;
pub mod token_revoke;
pub mod tokens;
pub mod tus;
pub mod uploads;
pub mod videos;
pub mod watermarks;
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
        .route("/stream/clip", post(clips::create))
        .route("/stream/storage-usage", get(storage_usage::get))
        .route("/stream/analytics/views", get(analytics::views))
        .route(
            "/stream/watermarks",
            get(watermarks::list)
                .post(watermarks::create)
                // The image has its own limit, checked while it streams in.
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/stream/watermarks/{watermark_uid}",
            get(watermarks::get).delete(watermarks::delete),
        )
        .route("/stream/direct_upload", post(direct_uploads::create))
        .route(
            "/stream/live_inputs",
            get(live_inputs::list).post(live_inputs::create),
        )
        .route(
            "/stream/live_inputs/{live_input_identifier}",
            get(live_inputs::get)
                .put(live_inputs::update)
                .delete(live_inputs::delete),
        )
        .route(
            "/stream/live_inputs/{live_input_identifier}/videos",
            get(live_inputs::videos),
        )
        .route(
            "/stream/live_inputs/{live_input_identifier}/rotate_keys",
            post(live_inputs::rotate_keys),
        )
        .route(
            "/stream/live_inputs/{live_input_identifier}/outputs",
            get(live_inputs::outputs::list).post(live_inputs::outputs::create),
        )
        .route(
            "/stream/live_inputs/{live_input_identifier}/outputs/{output_identifier}",
            put(live_inputs::outputs::update).delete(live_inputs::outputs::delete),
        )
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
        .route("/stream/{uid}/token/revoke", post(token_revoke::revoke))
        .route("/stream/{uid}/captions", get(captions::get))
        .route(
            "/stream/{uid}/captions/{language}",
            get(captions::language_get)
                .put(captions::language_update)
                .delete(captions::language_delete)
                .layer(DefaultBodyLimit::max(captions::MAX_CAPTION_REQUEST_BYTES)),
        )
        .route(
            "/stream/{uid}/captions/{language}/vtt",
            get(captions::vtt_get),
        )
        .route(
            "/stream/{uid}/captions/{language}/generate",
            post(captions::language_create),
        )
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
