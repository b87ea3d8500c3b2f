//! Basic uploads: `POST /stream` with a multipart `file` field, streamed straight into
//! the blob store in bounded chunks (never whole in memory). The video row and its
//! processing job are written together only once every byte is stored. A `watermark`
//! field (a profile uid, before or after the file) burns that profile into the video.

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::response::Response;
use usher_core::time_fmt::now_micros;
use usher_core::{Video, VideoId, VideoState};
use usher_store::layout::original_key;
use usher_store::{BlobWriter, NewJob, PACKAGE_JOB};

use crate::auth::Authed;
use crate::envelope::ok;
use crate::error::ApiError;
use crate::multipart::{self, MULTIPART_SLACK};
use crate::render;
use crate::routes::watermarks::attach;
use crate::state::ApiState;

/// Longest file name kept as `meta.name`.
const MAX_NAME_LEN: usize = 1024;

/// What a multipart upload carried.
pub(crate) struct Received {
    pub size: u64,
    /// The `file` part's file name.
    pub name: Option<String>,
    /// The `watermark` field: a profile uid.
    pub watermark: Option<String>,
}

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
    let received = receive(&st, req, &key).await?;
    let now = now_micros();
    let mut video = Video::new(uid, auth.account, VideoState::Queued, now);
    video.size = i64::try_from(received.size).unwrap_or(i64::MAX);
    video.uploaded = Some(now);
    if let Some(name) = received.name {
        video.meta.insert("name".into(), name.into());
    }
    if let Some(wm) = &received.watermark {
        let attached = match attach::resolve(&st, &video.account_id, wm, "watermark").await {
            Ok(wm) => attach::attach(&st, &mut video, wm, "watermark").await,
            Err(e) => Err(e),
        };
        if let Err(e) = attached {
            cleanup(&st, &key, true).await;
            return Err(e);
        }
    }
    if let Err(e) = st
        .db
        .insert_video(&video, Some(NewJob { kind: PACKAGE_JOB }))
        .await
    {
        cleanup(&st, &key, true).await;
        attach::detach(&st, &video.uid).await;
        return Err(e.into());
    }
    Ok(ok(render::video(&video, &st.config.edge_url)))
}

/// Streams the `file` field of a multipart body into the blob `key` and reads the
/// `watermark` field. On any error nothing is left stored.
pub(crate) async fn receive(st: &ApiState, req: Request, key: &str) -> Result<Received, ApiError> {
    if !multipart::is_multipart(&req) {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type must be multipart/form-data with a file field",
        ));
    }
    let limit = st.config.max_upload_bytes;
    if multipart::declared_length(&req).is_some_and(|n| n > limit.saturating_add(MULTIPART_SLACK)) {
        multipart::drain_body(req).await;
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::bad(format!("malformed multipart body: {}", e.body_text())))?;

    let mut stored: Option<(u64, Option<String>)> = None;
    let mut watermark = None;
    let mut total: u64 = 0;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                cleanup(st, key, stored.is_some()).await;
                return Err(multipart::malformed(&e));
            }
        };
        if field.name() == Some("watermark") && watermark.is_none() {
            match multipart::text(field).await {
                // An empty field (a form's "none" choice) asks for no watermark.
                Ok(uid) => watermark = Some(uid).filter(|u| !u.trim().is_empty()),
                Err(e) => {
                    cleanup(st, key, stored.is_some()).await;
                    return Err(e);
                }
            }
            continue;
        }
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
    Ok(Received {
        size,
        name,
        watermark,
    })
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
                    multipart::drain(field).await;
                    return Err(ApiError::PayloadTooLarge(limit));
                }
                if let Some(w) = writer.as_deref_mut() {
                    w.write(chunk).await?;
                }
            }
            Ok(None) => return Ok(()),
            Err(e) => return Err(multipart::malformed(&e)),
        }
    }
}

pub(crate) async fn cleanup(st: &ApiState, key: &str, stored: bool) {
    if stored && let Err(e) = st.blobs.delete(key).await {
        tracing::warn!(error = %e, key, "could not remove a refused upload");
    }
}
