//! tus creation: `POST /stream` with `Tus-Resumable`, `Upload-Length` and optional
//! `Upload-Metadata`/`Upload-Creator`; `?direct_user=true` for a URL that needs no
//! credentials. Answers 201 with `Location` and `stream-media-id`.

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use usher_core::secret::generate_api_token;
use usher_core::time_fmt::{now_micros, parse_rfc3339};
use usher_core::{Video, VideoId, VideoState};

use super::metadata::{self, UploadSettings};
use super::{TUS_EXTENSIONS, TUS_VERSION, http_date, tus_response, version_refusal};
use crate::auth::Authed;
use crate::error::ApiError;
use crate::routes::videos::{EditRequest, validate};
use crate::routes::watermarks;
use crate::state::ApiState;

/// How long an unfinished upload's URL lasts without an `expiry`: a creator's browser
/// gets Cloudflare's 30 minutes; an API client resuming a large file gets a day.
const DIRECT_USER_EXPIRY_MICROS: i64 = 30 * 60 * 1_000_000;
const API_EXPIRY_MICROS: i64 = 24 * 60 * 60 * 1_000_000;
/// Bounds of an `expiry` in the metadata, as for direct uploads.
const MIN_EXPIRY_MICROS: i64 = 2 * 60 * 1_000_000;
const MAX_EXPIRY_MICROS: i64 = 24 * 60 * 60 * 1_000_000;
/// Longest `Upload-Creator`.
const MAX_CREATOR_LEN: usize = 64;

pub(crate) async fn create(
    st: &ApiState,
    auth: Authed,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    if let Some(resp) = version_refusal(headers) {
        return Ok(resp);
    }
    if headers.contains_key("upload-defer-length") {
        return Err(ApiError::bad(
            "Upload-Defer-Length is not supported: send Upload-Length",
        ));
    }
    let length = headers
        .get("upload-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| ApiError::bad("Upload-Length: required, a whole number of bytes"))?;
    if length == 0 {
        return Err(ApiError::bad("Upload-Length: the file is empty"));
    }
    if length > st.config.max_video_bytes {
        return Err(ApiError::PayloadTooLarge(st.config.max_video_bytes));
    }
    let direct_user = match query.get("direct_user").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::bad("direct_user: expected true or false")),
    };
    let raw_metadata = match headers.get("upload-metadata") {
        None => String::new(),
        Some(v) => v
            .to_str()
            .map_err(|_| ApiError::bad("Upload-Metadata: not ASCII"))?
            .to_owned(),
    };
    let UploadSettings {
        edit,
        expiry,
        watermark,
    } = metadata::parse(&raw_metadata)
        .and_then(|pairs| metadata::settings(&pairs))
        .map_err(|e| ApiError::bad(e.to_string()))?;

    let uid = VideoId::generate();
    let request: EditRequest = crate::body::from_value(edit.into())
        .map_err(|e| ApiError::bad(format!("Upload-Metadata: {e}")))?;
    let settings =
        validate(request, &uid).map_err(|e| ApiError::bad(format!("Upload-Metadata: {e}")))?;

    let now = now_micros();
    let expires = match expiry {
        None if direct_user => now + DIRECT_USER_EXPIRY_MICROS,
        None => now + API_EXPIRY_MICROS,
        Some(s) => {
            let t = parse_rfc3339(&s).ok_or_else(|| {
                ApiError::bad("Upload-Metadata: expiry: expected an RFC 3339 date-time")
            })?;
            if !(now + MIN_EXPIRY_MICROS..=now + MAX_EXPIRY_MICROS).contains(&t) {
                return Err(ApiError::bad(
                    "Upload-Metadata: expiry: must be from 2 minutes to 24 hours from now",
                ));
            }
            t
        }
    };
    let mut video = Video::new(uid, auth.account, VideoState::PendingUpload, now);
    settings.apply_to(&mut video);
    if let Some(c) = headers.get("upload-creator") {
        let c = c
            .to_str()
            .ok()
            .filter(|c| c.len() <= MAX_CREATOR_LEN)
            .ok_or_else(|| ApiError::bad("Upload-Creator: at most 64 ASCII characters"))?;
        video.creator = Some(c.to_owned());
    }
    video.upload_expiry = Some(expires);
    if let Some(wm) = watermark {
        const FIELD: &str = "Upload-Metadata: watermark";
        let wm = watermarks::attach::resolve(st, &video.account_id, &wm, FIELD).await?;
        watermarks::attach::attach(st, &mut video, wm, FIELD).await?;
    }

    let secret = direct_user.then(generate_api_token);
    if let Err(e) = st
        .db
        .insert_tus_upload(
            &video,
            i64::try_from(length).unwrap_or(i64::MAX),
            &raw_metadata,
            secret.as_ref().map(|s| s.digest_hex()).as_deref(),
            expires,
        )
        .await
    {
        watermarks::attach::detach(st, &video.uid).await;
        return Err(e.into());
    }
    let id = secret.as_ref().map_or(video.uid.as_str(), |s| s.expose());
    let location = format!("{}/tus/{id}", st.config.public_url.trim_end_matches('/'));
    let mut resp = StatusCode::CREATED.into_response();
    let h = resp.headers_mut();
    h.insert(
        "location",
        HeaderValue::from_str(&location).map_err(ApiError::internal)?,
    );
    h.insert(
        "stream-media-id",
        HeaderValue::from_str(video.uid.as_str()).map_err(ApiError::internal)?,
    );
    h.insert("upload-expires", http_date(expires));
    h.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    h.insert("tus-extension", HeaderValue::from_static(TUS_EXTENSIONS));
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("Location, stream-media-id, Upload-Expires"),
    );
    Ok(tus_response(resp))
}

/// The query of `POST /stream`, for the tus branch of that route.
pub(crate) fn query(uri: &axum::http::Uri) -> HashMap<String, String> {
    Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default()
}
