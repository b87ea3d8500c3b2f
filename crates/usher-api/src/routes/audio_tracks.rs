//! `…/stream/{uid}/audio`: additional audio tracks. `POST …/audio/copy` records a track
//! to fetch from a URL (checked here as far as it can be without DNS, like a video
//! copy; the worker's fetch enforces the address policy on every name and redirect)
//! and a media worker encodes it once the video is ready. Edits and deletions change
//! the published masters at once.

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use usher_core::AudioTrackId;
use usher_core::time_fmt::now_micros;
use usher_store::layout::{audio_source_key, audio_track_prefix};
use usher_store::{AudioTrackEdit, AudioTrackRecord, AudioTrackRefusal, MAX_AUDIO_TRACKS};

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::envelope::{ok, ok_list};
use crate::error::ApiError;
use crate::routes::copy::{MAX_URL_LEN, url_error};
use crate::routes::videos::parse_uid;
use crate::state::ApiState;

/// Longest label: it is shown in players' track menus.
pub const MAX_LABEL_LEN: usize = 100;

#[derive(Debug, Default, Deserialize)]
pub struct CopyRequest {
    label: Option<String>,
    url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct EditRequest {
    label: Option<String>,
    default: Option<bool>,
}

fn render(t: &AudioTrackRecord) -> Value {
    json!({
        "uid": t.uid.as_str(),
        "label": t.label,
        "default": t.default,
        "status": t.status.as_str(),
    })
}

fn label(raw: String) -> Result<String, ApiError> {
    let label = raw.trim().to_owned();
    if label.is_empty() {
        return Err(ApiError::bad("label: must not be empty"));
    }
    if label.chars().count() > MAX_LABEL_LEN {
        return Err(ApiError::bad(format!(
            "label: at most {MAX_LABEL_LEN} characters"
        )));
    }
    if label.chars().any(char::is_control) {
        return Err(ApiError::bad("label: must not contain control characters"));
    }
    Ok(label)
}

fn parse_track(track: &str) -> Result<AudioTrackId, ApiError> {
    track
        .parse()
        .map_err(|_| ApiError::NotFound("Audio track not found"))
}

fn refused(r: AudioTrackRefusal) -> ApiError {
    match r {
        AudioTrackRefusal::NotFound => ApiError::NotFound("Video or audio track not found"),
        AudioTrackRefusal::LabelTaken => {
            ApiError::Conflict("label: another audio track of this video has this label")
        }
        AudioTrackRefusal::TooMany => ApiError::LimitReached(
            "Too many audio tracks: a video has at most 16; delete one first",
        ),
        AudioTrackRefusal::IsDefault => ApiError::Conflict(
            "The default audio track cannot be deleted: make another track the default (or set default to false) first",
        ),
    }
}

/// Brings the published masters up to date after a change. The change is committed
/// whatever happens here: a failure is logged, and the next change or packaging job
/// publishes again.
async fn republish(st: &ApiState, uid: &usher_core::VideoId) {
    if let Err(e) = usher_media::publish::republish(&st.db, &st.blobs, uid).await {
        tracing::error!(video = %uid, error = %e, "could not republish the masters");
    }
}

/// `POST …/stream/{uid}/audio/copy`.
pub async fn copy(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
    JsonBody(req): JsonBody<CopyRequest>,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    let label = label(req.label.ok_or_else(|| ApiError::bad("label: required"))?)?;
    let url = req.url.ok_or_else(|| ApiError::bad("url: required"))?;
    if url.len() > MAX_URL_LEN {
        return Err(ApiError::bad("url: at most 4096 characters"));
    }
    let url = usher_outbound::check_url(&st.config.copy_policy, &url)
        .map_err(url_error)?
        .to_string();
    let track = st
        .db
        .insert_audio_track(&auth.account, &uid, &label, &url, now_micros())
        .await?
        .map_err(refused)?;
    Ok(ok(render(&track)))
}

/// `GET …/stream/{uid}/audio`.
pub async fn list(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    let tracks = st
        .db
        .audio_tracks(&auth.account, &uid)
        .await?
        .ok_or(ApiError::NotFound("Video not found"))?;
    Ok(ok_list(tracks.iter().map(render).collect(), None))
}

/// `PATCH …/stream/{uid}/audio/{audio_uid}`.
pub async fn edit(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid, track)): Path<(String, String, String)>,
    JsonBody(req): JsonBody<EditRequest>,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    let track = parse_track(&track)?;
    let edit = AudioTrackEdit {
        label: req.label.map(label).transpose()?,
        default: req.default,
    };
    let t = st
        .db
        .edit_audio_track(&auth.account, &uid, &track, &edit, now_micros())
        .await?
        .map_err(refused)?;
    republish(&st, &uid).await;
    Ok(ok(render(&t)))
}

/// `DELETE …/stream/{uid}/audio/{audio_uid}`.
pub async fn delete(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid, track)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    let track = parse_track(&track)?;
    st.db
        .delete_audio_track(&auth.account, &uid, &track)
        .await?
        .map_err(refused)?;
    // The masters stop listing it first; only then do its files go.
    republish(&st, &uid).await;
    let (media, source) = (
        audio_track_prefix(&uid, &track),
        audio_source_key(&uid, &track),
    );
    let removed = tokio::try_join!(st.blobs.delete_prefix(&media), st.blobs.delete(&source));
    if let Err(e) = removed {
        tracing::warn!(video = %uid, error = %e, "could not remove a deleted audio track's media");
    }
    Ok(ok("ok"))
}

const _: () = assert!(
    MAX_AUDIO_TRACKS == 16,
    "the refusal message names the limit"
);
