//! Direct creator uploads: `POST /stream/direct_upload` makes a `pendingupload` video
//! and a one-time `uploadURL` that a creator's browser can POST one multipart file to
//! without API credentials. Only the SHA-256 digest of the URL's secret is stored.

use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use usher_core::secret::{digest_hex, generate_api_token};
use usher_core::time_fmt::{format_micros, now_micros, parse_rfc3339};
use usher_core::{Video, VideoId, VideoState};
use usher_store::UploadClaim;
use usher_store::layout::original_key;

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::envelope::ok;
use crate::error::ApiError;
use crate::routes::uploads::{cleanup, receive};
use crate::routes::videos::{EditRequest, validate};
use crate::routes::watermarks::attach::{self, WatermarkRef};
use crate::state::ApiState;

/// Default and bounds of an upload URL's life, as Cloudflare's: 30 minutes by default,
/// from 2 minutes to 6 hours.
const DEFAULT_EXPIRY_MICROS: i64 = 30 * 60 * 1_000_000;
const MIN_EXPIRY_MICROS: i64 = 2 * 60 * 1_000_000;
const MAX_EXPIRY_MICROS: i64 = 6 * 60 * 60 * 1_000_000;

#[derive(Debug, Default, Deserialize)]
pub struct DirectUploadRequest {
    watermark: Option<WatermarkRef>,
    expiry: Option<String>,
}

pub async fn create(
    State(st): State<ApiState>,
    auth: Authed,
    headers: HeaderMap,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Response, ApiError> {
    let (req, settings): (DirectUploadRequest, EditRequest) = crate::body::split(body)?;
    let uid = VideoId::generate();
    let now = now_micros();
    let expires = match &req.expiry {
        None => now + DEFAULT_EXPIRY_MICROS,
        Some(s) => parse_rfc3339(s)
            .ok_or_else(|| ApiError::bad("expiry: expected an RFC 3339 date-time"))?,
    };
    if !(now + MIN_EXPIRY_MICROS..=now + MAX_EXPIRY_MICROS).contains(&expires) {
        return Err(ApiError::bad(
            "expiry: must be from 2 minutes to 6 hours from now",
        ));
    }
    let settings = validate(settings, &uid)?;
    if !matches!(settings.max_duration_seconds, Some(Some(_))) {
        return Err(ApiError::bad(
            "maxDurationSeconds: required, from 1 to 21600",
        ));
    }
    let watermark = attach::resolve_ref(&st, &auth.account, req.watermark).await?;
    let mut video = Video::new(uid, auth.account, VideoState::PendingUpload, now);
    settings.apply_to(&mut video);
    // The SDKs send the creator as a header (`upload_creator=`).
    if video.creator.is_none()
        && let Some(c) = headers.get("upload-creator").and_then(|v| v.to_str().ok())
    {
        if c.len() > 64 {
            return Err(ApiError::bad("Upload-Creator: at most 64 characters"));
        }
        video.creator = Some(c.to_owned());
    }
    video.upload_expiry = Some(expires);
    if let Some(wm) = watermark {
        attach::attach(&st, &mut video, wm, "watermark.uid").await?;
    }
    let secret = generate_api_token();
    if let Err(e) = st
        .db
        .insert_direct_upload(&video, &secret.digest_hex(), expires)
        .await
    {
        attach::detach(&st, &video.uid).await;
        return Err(e.into());
    }
    Ok(ok(json!({
        "uploadURL": format!("{}/upload/{}", st.config.public_url.trim_end_matches('/'), secret.expose()),
        "uid": video.uid.as_str(),
        "watermark": video.watermark.as_ref().map(crate::render::watermark),
        "scheduledDeletion": video.scheduled_deletion.map(format_micros),
    })))
}

/// `POST /upload/{secret}`: the one upload a direct upload URL allows.
pub async fn upload(
    State(st): State<ApiState>,
    Path(secret): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let uid = match st
        .db
        .claim_direct_upload(&digest_hex(secret.as_bytes()), now_micros())
        .await?
    {
        UploadClaim::Claimed(uid) => uid,
        UploadClaim::Used => return Err(ApiError::Conflict("This upload URL has been used")),
        UploadClaim::Expired => return Err(ApiError::Gone("This upload URL has expired")),
        UploadClaim::Unknown => return Err(ApiError::NotFound("Unknown upload URL")),
    };
    let key = original_key(&uid);
    let size = match receive(&st, req, &key).await {
        Ok(received) => received.size,
        Err(e) => {
            // A failed attempt does not use the URL up.
            st.db.release_direct_upload(&uid).await?;
            return Err(e);
        }
    };
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    if !st
        .db
        .complete_direct_upload(&uid, size, now_micros())
        .await?
    {
        cleanup(&st, &key, true).await;
        return Err(ApiError::NotFound("The video was deleted"));
    }
    Ok(ok(json!({"uid": uid.as_str()})))
}
