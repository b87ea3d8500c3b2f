//! The upload URL, `/tus/{id}`: `HEAD` for the offset, `PATCH` to append at it,
//! `DELETE` to give up, `OPTIONS` for what the server supports.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use usher_core::VideoId;
use usher_core::secret::digest_hex;
use usher_core::time_fmt::now_micros;
use usher_store::layout::original_key;
use usher_store::{StagingFile, TusUpload};

use super::{TUS_EXTENSIONS, TUS_VERSION, http_date, tus_response, version_refusal};
use crate::auth;
use crate::error::ApiError;
use crate::state::ApiState;

/// Appended bytes are made durable and acknowledged at least this often within one
/// `PATCH`, so a crash in the middle of a large one loses at most this much.
const CHECKPOINT_BYTES: u64 = 8 * 1024 * 1024;
/// A `PATCH` whose body stalls this long is ended (keeping what arrived), so a vanished
/// client cannot hold the upload's lock.
const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

pub(super) async fn dispatch(
    State(st): State<ApiState>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    // Who is asking, for the failed-authentication limits.
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| st.clients.client_ip(c.0.ip(), req.headers()));
    let result = match *req.method() {
        Method::HEAD => head(&st, &id, req.headers(), client).await,
        Method::PATCH => patch(&st, &id, req, client).await,
        Method::DELETE => terminate(&st, &id, req.headers(), client).await,
        Method::OPTIONS => Ok(options(&st)),
        _ => Err(ApiError::MethodNotAllowed),
    };
    tus_response(result.unwrap_or_else(IntoResponse::into_response))
}

fn options(st: &ApiState) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    h.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    h.insert("tus-extension", HeaderValue::from_static(TUS_EXTENSIONS));
    h.insert("tus-max-size", HeaderValue::from(st.config.max_video_bytes));
    resp
}

/// The upload a URL names, once the caller has shown it may use it: a uid needs the
/// owning account's credentials; a direct user's secret is itself the permission.
async fn resolve(
    st: &ApiState,
    id: &str,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Result<TusUpload, ApiError> {
    const UNKNOWN: ApiError = ApiError::NotFound("Unknown upload URL");
    if let Ok(uid) = id.parse::<VideoId>() {
        let upload = st
            .db
            .tus_upload(&uid)
            .await?
            .filter(|u| !u.direct_user)
            .ok_or(UNKNOWN)?;
        auth::require(st, headers, client, &upload.account_id).await?;
        Ok(upload)
    } else {
        st.db
            .tus_upload_by_secret(&digest_hex(id.as_bytes()))
            .await?
            .ok_or(UNKNOWN)
    }
}

fn offset_response(status: StatusCode, upload: &TusUpload, offset: i64) -> Response {
    let mut resp = status.into_response();
    let h = resp.headers_mut();
    h.insert("upload-offset", HeaderValue::from(offset));
    h.insert("upload-length", HeaderValue::from(upload.length));
    if !upload.done {
        h.insert("upload-expires", http_date(upload.expires));
    }
    if let Ok(uid) = HeaderValue::from_str(upload.uid.as_str()) {
        h.insert("stream-media-id", uid);
    }
    resp
}

async fn head(
    st: &ApiState,
    id: &str,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Result<Response, ApiError> {
    let upload = resolve(st, id, headers, client).await?;
    let upload = finish_if_complete(st, upload).await?;
    if !upload.done && upload.expires <= now_micros() {
        return Err(ApiError::Gone("This upload URL has expired"));
    }
    let mut resp = offset_response(StatusCode::OK, &upload, upload.received);
    if !upload.metadata.is_empty()
        && let Ok(m) = HeaderValue::from_str(&upload.metadata)
    {
        resp.headers_mut().insert("upload-metadata", m);
    }
    Ok(resp)
}

async fn patch(
    st: &ApiState,
    id: &str,
    req: Request,
    client: Option<IpAddr>,
) -> Result<Response, ApiError> {
    if let Some(resp) = version_refusal(req.headers()) {
        return Ok(resp);
    }
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.eq_ignore_ascii_case(OFFSET_OCTET_STREAM) {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type must be application/offset+octet-stream",
        ));
    }
    let offset = header_i64(req.headers(), "upload-offset")
        .ok_or_else(|| ApiError::bad("Upload-Offset: required, a whole number of bytes"))?;
    let declared = header_i64(req.headers(), "content-length");
    let upload = resolve(st, id, req.headers(), client).await?;
    let upload = finish_if_complete(st, upload).await?;
    if upload.done {
        return if offset == upload.length && declared.unwrap_or(0) == 0 {
            Ok(offset_response(
                StatusCode::NO_CONTENT,
                &upload,
                upload.length,
            ))
        } else {
            Err(ApiError::Conflict("This upload is already complete"))
        };
    }
    if upload.expires <= now_micros() {
        return Err(ApiError::Gone("This upload URL has expired"));
    }
    if offset != upload.received {
        return Err(ApiError::Conflict(
            "Upload-Offset does not match the upload's offset: HEAD it to resume",
        ));
    }
    if declared.is_some_and(|n| offset.saturating_add(n) > upload.length) {
        return Err(ApiError::PayloadTooLarge(
            u64::try_from(upload.length).unwrap_or(0),
        ));
    }
    let Some(mut file) = st.staging.lock(&upload.uid).await? else {
        return Err(ApiError::Conflict(
            "Another request is writing this upload: retry after it ends",
        ));
    };
    // What another request did before we got the lock counts, not what we read before.
    let upload = st
        .db
        .tus_upload(&upload.uid)
        .await?
        .ok_or(ApiError::NotFound("Unknown upload URL"))?;
    if upload.done {
        // Completed by the request we waited for; opening the file may have left an
        // empty one behind.
        st.staging.remove(&upload.uid).await?;
    }
    if upload.done || offset != upload.received {
        return Err(ApiError::Conflict(
            "Upload-Offset does not match the upload's offset: HEAD it to resume",
        ));
    }
    let start = reconcile(st, &upload, &mut file).await?;
    if start != offset {
        return Err(ApiError::Conflict(
            "Upload-Offset does not match the upload's offset: HEAD it to resume",
        ));
    }
    let end = append(st, &upload, &mut file, req.into_body()).await?;
    if end == upload.length {
        let upload = TusUpload {
            received: end,
            ..upload
        };
        let done = finish(st, upload, Some(file)).await?;
        return Ok(offset_response(StatusCode::NO_CONTENT, &done, end));
    }
    Ok(offset_response(StatusCode::NO_CONTENT, &upload, end))
}

fn header_i64(h: &HeaderMap, name: &str) -> Option<i64> {
    h.get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
}

/// Brings the staging file in line with the acknowledged offset: bytes past it (written
/// before a crash, never acknowledged) are cut off; if the file is shorter (it was lost),
/// the offset goes back to what the file holds, and the client resends the rest.
async fn reconcile(
    st: &ApiState,
    upload: &TusUpload,
    file: &mut StagingFile,
) -> Result<i64, ApiError> {
    let on_disk = tokio::fs::metadata(file.path())
        .await
        .map(|m| i64::try_from(m.len()).unwrap_or(i64::MAX))
        .map_err(ApiError::internal)?;
    let start = on_disk.min(upload.received);
    if start < upload.received {
        tracing::warn!(uid = %upload.uid, on_disk, acknowledged = upload.received, "staging file is short; resuming from what it holds");
        st.db
            .set_tus_received(&upload.uid, upload.received, start)
            .await?;
    }
    file.rewind_to(u64::try_from(start).unwrap_or(0)).await?;
    Ok(start)
}

/// Streams the body onto the file, acknowledging at checkpoints; returns the new
/// offset. A body that would pass `Upload-Length` is refused whole (413), and one that
/// breaks off keeps what arrived.
async fn append(
    st: &ApiState,
    upload: &TusUpload,
    file: &mut StagingFile,
    body: Body,
) -> Result<i64, ApiError> {
    let start = upload.received;
    let mut acked = start;
    let mut written = start;
    let mut stream = body.into_data_stream();
    loop {
        let next = tokio::time::timeout(BODY_IDLE_TIMEOUT, stream.next()).await;
        let chunk = match next {
            Ok(Some(Ok(chunk))) => chunk,
            Ok(None) => break,
            Ok(Some(Err(_))) | Err(_) => {
                // The client went away or stalled: keep what arrived for its resume.
                checkpoint(st, upload, file, &mut acked, written).await?;
                return Err(ApiError::bad("the request body ended early"));
            }
        };
        let len = i64::try_from(chunk.len()).unwrap_or(i64::MAX);
        if written.saturating_add(len) > upload.length {
            file.rewind_to(u64::try_from(start).unwrap_or(0)).await?;
            if acked != start {
                st.db.set_tus_received(&upload.uid, acked, start).await?;
            }
            return Err(ApiError::PayloadTooLarge(
                u64::try_from(upload.length).unwrap_or(0),
            ));
        }
        file.write(&chunk).await?;
        written += len;
        if u64::try_from(written - acked).unwrap_or(0) >= CHECKPOINT_BYTES {
            checkpoint(st, upload, file, &mut acked, written).await?;
        }
    }
    checkpoint(st, upload, file, &mut acked, written).await?;
    Ok(written)
}

/// Makes `written` durable, then records it as acknowledged.
async fn checkpoint(
    st: &ApiState,
    upload: &TusUpload,
    file: &mut StagingFile,
    acked: &mut i64,
    written: i64,
) -> Result<(), ApiError> {
    if written == *acked {
        return Ok(());
    }
    file.sync().await?;
    if !st.db.set_tus_received(&upload.uid, *acked, written).await? {
        // Deleted or terminated under us: nothing to resume any more.
        return Err(ApiError::NotFound("Unknown upload URL"));
    }
    *acked = written;
    Ok(())
}

/// Completes an upload whose bytes are all in but which a crash left unfinished: the
/// whole length acknowledged, or the staging file already moved into the store.
async fn finish_if_complete(st: &ApiState, upload: TusUpload) -> Result<TusUpload, ApiError> {
    if upload.done {
        return Ok(upload);
    }
    let staged = st.staging.exists(&upload.uid).await;
    if staged && upload.received == upload.length {
        let Some(file) = st.staging.lock(&upload.uid).await? else {
            return Ok(upload);
        };
        return finish(st, upload, Some(file)).await;
    }
    if !staged && st.blobs.exists(&original_key(&upload.uid)).await? {
        return finish(st, upload, None).await;
    }
    Ok(upload)
}

/// Moves the complete file into the blob store (when `file` is given) and queues the
/// video. The move comes first: a crash between the two is finished by the next `HEAD`.
async fn finish(
    st: &ApiState,
    upload: TusUpload,
    file: Option<StagingFile>,
) -> Result<TusUpload, ApiError> {
    let key = original_key(&upload.uid);
    if let Some(file) = file {
        let path = file.path().to_owned();
        let size = tokio::fs::metadata(&path)
            .await
            .map(|m| i64::try_from(m.len()).unwrap_or(i64::MAX))
            .map_err(ApiError::internal)?;
        if size != upload.length {
            // The staging file lost bytes it had acknowledged (removed by hand?): go back
            // to what it holds, and the client resends the rest.
            tracing::warn!(uid = %upload.uid, size, "staging file is short of its length");
            st.db
                .set_tus_received(&upload.uid, upload.received, size)
                .await?;
            return Ok(TusUpload {
                received: size,
                ..upload
            });
        }
        st.blobs.put_file_moving(&key, &path).await?;
        drop(file);
    }
    if !st
        .db
        .complete_tus_upload(&upload.uid, upload.length, now_micros())
        .await?
    {
        let current = st.db.tus_upload(&upload.uid).await?;
        if current.as_ref().is_some_and(|u| u.done) {
            return current.ok_or(ApiError::NotFound("Unknown upload URL"));
        }
        // The video was deleted meanwhile: its bytes must not stay behind.
        st.blobs.delete(&key).await?;
        return Err(ApiError::NotFound("Unknown upload URL"));
    }
    tracing::info!(uid = %upload.uid, bytes = upload.length, "resumable upload complete");
    Ok(TusUpload {
        received: upload.length,
        done: true,
        ..upload
    })
}

/// tus termination: an unfinished upload and its video are removed.
async fn terminate(
    st: &ApiState,
    id: &str,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Result<Response, ApiError> {
    if let Some(resp) = version_refusal(headers) {
        return Ok(resp);
    }
    let upload = resolve(st, id, headers, client).await?;
    if upload.done {
        return Err(ApiError::Conflict(
            "This upload is complete: delete the video through the API instead",
        ));
    }
    let Some(file) = st.staging.lock(&upload.uid).await? else {
        return Err(ApiError::Conflict(
            "Another request is writing this upload: retry after it ends",
        ));
    };
    usher_store::delete_video_and_media(
        &st.db,
        &st.blobs,
        &st.staging,
        &upload.uid,
        usher_store::Deletion::Owned(&upload.account_id),
    )
    .await?;
    drop(file);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn offset(v: &str) -> Option<i64> {
        let mut h = HeaderMap::new();
        h.insert("upload-offset", HeaderValue::from_str(v).ok()?);
        header_i64(&h, "upload-offset")
    }

    #[test]
    fn offsets_as_clients_send_them() {
        assert_eq!(offset("0"), Some(0));
        assert_eq!(offset(" 1048576 "), Some(1_048_576));
        assert_eq!(offset("-1"), None);
        assert_eq!(offset("1.5"), None);
        assert_eq!(offset("0x10"), None);
        assert_eq!(offset("9223372036854775808"), None);
        assert_eq!(offset(""), None);
    }

    proptest! {
        #[test]
        fn any_header_is_a_non_negative_number_or_refused(v in "[ +0-9a-z.-]{0,24}|.{0,24}") {
            if let Some(n) = offset(&v) {
                prop_assert!(n >= 0);
                prop_assert_eq!(v.trim().trim_start_matches('+').parse::<i64>().ok(), Some(n));
            }
        }

        #[test]
        fn every_offset_reads_back(n in 0i64..=i64::MAX) {
            prop_assert_eq!(offset(&n.to_string()), Some(n));
        }
    }
}
