//! `GET /stream/storage-usage`: minutes of video the account keeps, and how many
//! videos, optionally for one `creator`. Counted are videos whose bytes Usher holds
//! (`queued`, `inprogress`, `ready`); minutes are of those whose duration is known.
//! Usher has no storage quota, so `totalStorageMinutesLimit` is `null`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::json;

use crate::auth::Authed;
use crate::envelope::ok;
use crate::error::ApiError;
use crate::state::ApiState;

/// Longest `creator`, as on videos.
const MAX_CREATOR_LEN: usize = 64;

pub async fn get(
    State(st): State<ApiState>,
    auth: Authed,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let creator = q.get("creator").map(String::as_str);
    if creator.is_some_and(|c| c.len() > MAX_CREATOR_LEN) {
        return Err(ApiError::bad("creator: at most 64 characters"));
    }
    let usage = st.db.storage_usage(&auth.account, creator).await?;
    Ok(ok(json!({
        "creator": creator,
        "totalStorageMinutes": usage.total_seconds / 60.0,
        "totalStorageMinutesLimit": null,
        "videoCount": usage.video_count,
    })))
}
