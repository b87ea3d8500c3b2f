//! Basic uploads: `POST /stream` with a multipart `file` field, streamed straight into
//! the blob store in bounded chunks (never whole in memory). The video row and its
//! processing job are written together only once every byte is stored.

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header;
use axum::response::Response;
use futures_util::StreamExt;
use usher_core::time_fmt::now_micros;
use usher_core::{Video, VideoId, VideoState};
use usher_store::layout::original_key;
use usher_store::{BlobWriter, NewJob, PACKAGE_JOB};

use crate::auth::Authed;
use crate::envelope::ok;
use crate::error::ApiError;
use crate::render;
use crate::state::ApiState;

/// How much of a refused body is still read before answering: clients that send the
/// whole body before reading the response (most HTTP libraries) then see the 413
/// instead of a reset connection. Anything larger is cut off.
const DRAIN_LIMIT: u64 = 8 * 1024 * 1024;
/// How long that reading may take.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// What multipart framing (boundaries, part headers) may add around the file itself
/// before a declared `Content-Length` counts as too large.
pub(crate) const MULTIPART_FRAMING: u64 = 64 * 1024;
/// Longest file name kept as `meta.name`.
const MAX_NAME_LEN: usize = 1024;

pub async fn create(
    State(st): State<ApiState>,
    auth: Authed,
    req: Request,
) -> Result<Response, ApiError> {
    if req.headers().contains_key("tus-resumable") {
        let query = crate::routes::tus::query(req.uri());
        return crate::routes::tus::create(&st, auth, req.headers(), &query).await;
    }
    let uid = VideoId::generate();
    let key = original_key(&uid);
    let (size, name) = receive(&st, req, &key).await?;
    let now = now_micros();
    let mut video = Video::new(uid, auth.account, VideoState::Queued, now);
    video.size = i64::try_from(size).unwrap_or(i64::MAX);
    video.uploaded = Some(now);
    if let Some(name) = name {
        video.meta.insert("name".into(), name.into());
    }
    if let Err(e) = st
        .db
        .insert_video(&video, Some(NewJob { kind: PACKAGE_JOB }))
        .await
    {
        cleanup(&st, &key, true).await;
        return Err(e.into());
    }
    Ok(ok(render::video(&video, &st.config.edge_url)))
}

/// Streams the `file` field of a multipart body into the blob `key`; returns its size
/// and file name. On any error nothing is left stored.
pub(crate) async fn receive(
    st: &ApiState,
    req: Request,
    key: &str,
) -> Result<(u64, Option<String>), ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type must be multipart/form-data with a file field",
        ));
    }
    let limit = st.config.max_upload_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit.saturating_add(MULTIPART_FRAMING)) {
        drain_body(req).await;
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::bad(format!("malformed multipart body: {}", e.body_text())))?;

    let mut stored: Option<(u64, Option<String>)> = None;
    let mut total: u64 = 0;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                cleanup(st, key, stored.is_some()).await;
                return Err(ApiError::bad(format!(
                    "malformed multipart body: {}",
                    e.body_text()
                )));
            }
        };
        if field.name() != Some("file") || stored.is_some() {
            // Other fields are ignored, but still count towards the limit.
            if let Err(e) = copy_field(field, None, &mut total, limit).await {
                cleanup(st, key, stored.is_some()).await;
                return Err(e);
            }
            continue;
        }
        let name = field
            .file_name()
            .map(|n| n.chars().take(MAX_NAME_LEN).collect::<String>());
        let mut writer = st.blobs.writer(key).await?;
        match copy_field(field, Some(&mut writer), &mut total, limit).await {
            Ok(()) => {}
            Err(e) => {
                writer.abort().await;
                return Err(e);
            }
        }
        let size = writer.finish().await?;
        stored = Some((size, name));
    }
    let Some((size, name)) = stored else {
        return Err(ApiError::bad("file: the multipart body has no file field"));
    };
    if size == 0 {
        cleanup(st, key, true).await;
        return Err(ApiError::bad("file: the file is empty"));
    }
    Ok((size, name))
}

/// Reads a field to its end, counting it towards `limit`, and into `writer` if given
/// (other fields are read only to be skipped).
async fn copy_field(
    mut field: axum::extract::multipart::Field<'_>,
    mut writer: Option<&mut BlobWriter>,
    total: &mut u64,
    limit: u64,
) -> Result<(), ApiError> {
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                *total += chunk.len() as u64;
                if *total > limit {
                    drain(field).await;
                    return Err(ApiError::PayloadTooLarge(limit));
                }
                if let Some(w) = writer.as_deref_mut() {
                    w.write(chunk).await?;
                }
            }
            Ok(None) => return Ok(()),
            Err(e) => {
                return Err(ApiError::bad(format!(
                    "malformed multipart body: {}",
                    e.body_text()
                )));
            }
        }
    }
}

/// Reads and discards a refused request's body, up to `DRAIN_LIMIT` and `DRAIN_TIMEOUT`.
pub(crate) async fn drain_body(req: Request) {
    let mut body = req.into_body().into_data_stream();
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        let mut read = 0u64;
        while let Some(Ok(chunk)) = body.next().await {
            read += chunk.len() as u64;
            if read > DRAIN_LIMIT {
                break;
            }
        }
    })
    .await;
}

/// Reads the rest of a refused field, up to `DRAIN_LIMIT` and `DRAIN_TIMEOUT`.
pub(crate) async fn drain(mut field: axum::extract::multipart::Field<'_>) {
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        let mut read = 0u64;
        while let Ok(Some(chunk)) = field.chunk().await {
            read += chunk.len() as u64;
            if read > DRAIN_LIMIT {
                break;
            }
        }
    })
    .await;
}

pub(crate) async fn cleanup(st: &ApiState, key: &str, stored: bool) {
    if stored && let Err(e) = st.blobs.delete_prefix(key).await {
        tracing::warn!(error = %e, key, "could not remove a refused upload");
    }
}
