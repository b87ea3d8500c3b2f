//! Watermark profiles: `POST /stream/watermarks` (multipart `file` or JSON `url`),
//! list, get and delete. The image is checked by its content (a PNG or JPEG whose
//! headers parse, at most `MAX_IMAGE_BYTES`) and stored as the blob
//! [`watermark_key`]; the row and the blob are written image first, so a profile never
//! exists without its image.

pub mod attach;
mod fetch;
mod form;

use axum::extract::{Path, Request, State};
use axum::response::Response;
use serde_json::json;
use usher_core::image::{ImageError, sniff};
use usher_core::time_fmt::now_micros;
use usher_core::{Watermark, WatermarkId};
use usher_store::layout::watermark_key;

use crate::auth::Authed;
use crate::envelope::{ok, ok_list};
use crate::error::ApiError;
use crate::render;
use crate::state::ApiState;
use form::Source;

fn parse_uid(uid: &str) -> Result<WatermarkId, ApiError> {
    uid.parse()
        .map_err(|_| ApiError::NotFound("Watermark profile not found"))
}

pub async fn create(
    State(st): State<ApiState>,
    auth: Authed,
    req: Request,
) -> Result<Response, ApiError> {
    let (settings, source) = form::read(req).await?;
    let (bytes, downloaded_from, field) = match source {
        Source::File(bytes) => (bytes, None, "file"),
        Source::Url(url) => {
            let (bytes, url) = fetch::image(&st, &url).await?;
            (bytes, Some(url), "url")
        }
    };
    let info = sniff(&bytes).map_err(|e| match e {
        ImageError::Empty if field == "url" => ApiError::bad("url: the image is empty"),
        e => ApiError::bad(format!("{field}: {e}")),
    })?;
    let w = Watermark {
        uid: WatermarkId::generate(),
        account_id: auth.account,
        name: settings.name,
        size: bytes.len() as i64,
        width: i64::from(info.width),
        height: i64::from(info.height),
        opacity: settings.opacity,
        padding: settings.padding,
        scale: settings.scale,
        position: settings.position,
        downloaded_from,
        created: now_micros(),
    };
    let key = watermark_key(&w.account_id, &w.uid);
    st.blobs.put_bytes(&key, bytes.into()).await?;
    if let Err(e) = st.db.insert_watermark(&w).await {
        if let Err(e) = st.blobs.delete(&key).await {
            tracing::warn!(error = %e, key, "could not remove a refused watermark image");
        }
        return Err(e.into());
    }
    Ok(ok(render::watermark(&w)))
}

pub async fn list(State(st): State<ApiState>, auth: Authed) -> Result<Response, ApiError> {
    let all = st.db.list_watermarks(&auth.account).await?;
    Ok(ok_list(all.iter().map(render::watermark).collect(), None))
}

pub async fn get(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let w = st
        .db
        .watermark(&auth.account, &parse_uid(&uid)?)
        .await?
        .ok_or(ApiError::NotFound("Watermark profile not found"))?;
    Ok(ok(render::watermark(&w)))
}

/// Deletes the profile and its image. Videos uploaded with it keep theirs.
pub async fn delete(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let w = st
        .db
        .delete_watermark(&auth.account, &parse_uid(&uid)?)
        .await?
        .ok_or(ApiError::NotFound("Watermark profile not found"))?;
    let key = watermark_key(&w.account_id, &w.uid);
    // The row is gone, so nothing can use the image any more; an image left behind by a
    // failure here is only unreferenced bytes.
    if let Err(e) = st.blobs.delete(&key).await {
        tracing::warn!(error = %e, key, "could not remove a deleted watermark's image");
    }
    // Cloudflare answers a string here (the SDKs type it so).
    Ok(ok(json!("ok")))
}
