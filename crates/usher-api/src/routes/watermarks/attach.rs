//! `watermark` on a new video (multipart form field, tus metadata, `{"watermark":
//! {"uid"}}` in copy, direct upload and clip bodies): the profile is looked up in the
//! caller's account and copied onto the video — its settings into the record, its image
//! to [`video_watermark_key`] — before the video's row, and so its packaging job,
//! exists. The media worker reads only the video's copies.

use serde::Deserialize;
use usher_core::{AccountId, Video, VideoId, Watermark, WatermarkId};
use usher_store::layout::{video_watermark_key, watermark_key};

use crate::error::ApiError;
use crate::state::ApiState;

/// `"watermark": {"uid": "…"}` in a JSON body.
#[derive(Debug, Default, Deserialize)]
pub struct WatermarkRef {
    uid: Option<String>,
}

/// The account's profile `uid`; an unknown uid, a malformed one and another account's
/// are all the same 400, naming `field`.
pub(crate) async fn resolve(
    st: &ApiState,
    account: &AccountId,
    uid: &str,
    field: &str,
) -> Result<Watermark, ApiError> {
    let unknown = || ApiError::bad(format!("{field}: no such watermark profile"));
    let uid: WatermarkId = uid.trim().parse().map_err(|_| unknown())?;
    st.db.watermark(account, &uid).await?.ok_or_else(unknown)
}

/// [`resolve`] for a JSON body's `watermark` object; `None` when it is absent or null.
pub(crate) async fn resolve_ref(
    st: &ApiState,
    account: &AccountId,
    r: Option<WatermarkRef>,
) -> Result<Option<Watermark>, ApiError> {
    let Some(r) = r else { return Ok(None) };
    let Some(uid) = r.uid else {
        return Err(ApiError::bad("watermark.uid: required"));
    };
    resolve(st, account, &uid, "watermark.uid").await.map(Some)
}

/// Gives `video` (not stored yet) the profile and its own copy of the image. On a
/// later failure to create the video, [`detach`] removes the copy.
pub(crate) async fn attach(
    st: &ApiState,
    video: &mut Video,
    wm: Watermark,
    field: &str,
) -> Result<(), ApiError> {
    let from = watermark_key(&wm.account_id, &wm.uid);
    copy(st, &from, &video.uid, field, "no such watermark profile").await?;
    video.watermark = Some(wm);
    Ok(())
}

/// Gives a clip its source's watermark (settings and image), so that a clip cut from
/// the unwatermarked original looks like the video it was cut from.
pub(crate) async fn inherit(
    st: &ApiState,
    clip: &mut Video,
    source: &Video,
) -> Result<(), ApiError> {
    let Some(wm) = &source.watermark else {
        return Ok(());
    };
    let from = video_watermark_key(&source.uid);
    copy(
        st,
        &from,
        &clip.uid,
        "clippedFromVideoUID",
        "the video was deleted",
    )
    .await?;
    clip.watermark = Some(wm.clone());
    Ok(())
}

async fn copy(
    st: &ApiState,
    from: &str,
    to: &VideoId,
    field: &str,
    gone: &str,
) -> Result<(), ApiError> {
    match st.blobs.copy(from, &video_watermark_key(to)).await {
        Ok(()) => Ok(()),
        // Deleted between the lookup and the copy.
        Err(e) if e.is_not_found() => Err(ApiError::bad(format!("{field}: {gone}"))),
        Err(e) => Err(e.into()),
    }
}

/// Removes the copy [`attach`] made, for a video that was not created after all.
pub(crate) async fn detach(st: &ApiState, uid: &VideoId) {
    if let Err(e) = st.blobs.delete(&video_watermark_key(uid)).await {
        tracing::warn!(error = %e, %uid, "could not remove a refused video's watermark copy");
    }
}
