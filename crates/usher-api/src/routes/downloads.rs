//! `…/stream/{uid}/downloads`: turning the MP4 download on and off. Every video is
//! packaged with its MP4, so enabling is immediate once the video is ready; until then
//! the download reports the video's own progress.

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};
use usher_core::time_fmt::now_micros;
use usher_core::{Video, VideoState};

use crate::auth::Authed;
use crate::envelope::ok;
use crate::error::ApiError;
use crate::routes::videos::{owned, parse_uid};
use crate::state::ApiState;

/// `{"default": {...}}` when enabled, `{}` when not, as the SDKs read it.
fn render(v: &Video, public_url: &str) -> Value {
    if !v.downloads_enabled {
        return json!({});
    }
    let (status, pct) = match v.state {
        VideoState::Ready => ("ready", 100.0),
        VideoState::Error => ("error", 0.0),
        _ => ("inprogress", v.pct_complete),
    };
    json!({"default": {
        "status": status,
        "url": format!("{}/{}/downloads/default.mp4", public_url.trim_end_matches('/'), v.uid),
        "percentComplete": pct,
    }})
}

async fn set(st: &ApiState, auth: &Authed, uid: &str, enabled: bool) -> Result<Video, ApiError> {
    let uid = parse_uid(uid)?;
    st.db
        .set_downloads(&auth.account, &uid, enabled, now_micros())
        .await?
        .ok_or(ApiError::NotFound("Video not found"))
}

pub async fn create(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let v = set(&st, &auth, &uid, true).await?;
    Ok(ok(render(&v, &st.config.edge_url)))
}

pub async fn get(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let v = owned(&st, &auth, &uid).await?;
    Ok(ok(render(&v, &st.config.edge_url)))
}

pub async fn delete(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    set(&st, &auth, &uid, false).await?;
    Ok(ok("ok"))
}
