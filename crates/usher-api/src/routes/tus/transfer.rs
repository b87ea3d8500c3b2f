//! The upload URL, `/tus/{id}`: `HEAD` for the offset, `PATCH` to append at it,
//! `DELETE` to give up, `OPTIONS` for what the server supports.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use usher_core::VideoId;
use usher_core::secret::digest_hex;
use usher_core::time_fmt::now_micros;
use usher_store::{ANY_OFFSET, CLAIM_WAIT, Claim, Finished, TusUpload, TusWriter};

use super::{TUS_EXTENSIONS, TUS_VERSION, http_date, tus_response, version_refusal};
use crate::auth;
use crate::error::ApiError;
use crate::state::ApiState;

/// A `PATCH` whose body stalls this long is ended (keeping what arrived), so a vanished
/// client cannot hold the upload's claim. (Appended bytes are acknowledged every
/// [`usher_store::CHECKPOINT_BYTES`].)
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
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

const UNKNOWN: ApiError = ApiError::NotFound("Unknown upload URL");

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
        return Err(OFFSET_MISMATCH);
    }
    if declared.is_some_and(|n| offset.saturating_add(n) > upload.length) {
        return Err(ApiError::PayloadTooLarge(
            u64::try_from(upload.length).unwrap_or(0),
        ));
    }
    let mut writer =
        match TusWriter::claim(&st.db, &st.blobs, &upload.uid, offset, CLAIM_WAIT).await? {
            Claim::Held(w) => w,
            Claim::Busy => return Err(BUSY),
            // Moved on, completed or deleted by the request we waited for.
            Claim::Refused => return Err(refusal(st, &upload.uid).await),
        };
    let appended = append(st, &upload, &mut writer, req.into_body()).await;
    match appended {
        Ok(end) if end == upload.length => {
            let finished = writer.complete(&upload).await?;
            let upload = settle(st, upload, finished).await?;
            Ok(offset_response(
                StatusCode::NO_CONTENT,
                &upload,
                upload.received,
            ))
        }
        Ok(end) => {
            writer.release().await?;
            Ok(offset_response(StatusCode::NO_CONTENT, &upload, end))
        }
        Err(e) => {
            if let Err(r) = writer.release().await {
                tracing::warn!(uid = %upload.uid, error = %r, "could not let go of an upload");
            }
            Err(e)
        }
    }
}

const OFFSET_MISMATCH: ApiError =
    ApiError::Conflict("Upload-Offset does not match the upload's offset: HEAD it to resume");
const BUSY: ApiError =
    ApiError::Conflict("Another request is writing this upload: retry after it ends");

fn header_i64(h: &HeaderMap, name: &str) -> Option<i64> {
    h.get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
}

/// Why the upload cannot be written after all, as it stands now.
async fn refusal(st: &ApiState, uid: &VideoId) -> ApiError {
    match st.db.tus_upload(uid).await {
        Ok(Some(u)) if u.done => ApiError::Conflict("This upload is already complete"),
        Ok(Some(_)) => OFFSET_MISMATCH,
        Ok(None) => UNKNOWN,
        Err(e) => e.into(),
    }
}

/// Streams the body into the upload, acknowledging at checkpoints; returns the new
/// offset. A body that would pass `Upload-Length` is refused whole (413), and one that
/// breaks off keeps what arrived.
async fn append(
    st: &ApiState,
    upload: &TusUpload,
    writer: &mut TusWriter,
    body: Body,
) -> Result<i64, ApiError> {
    let mut stream = body.into_data_stream();
    loop {
        let next = tokio::time::timeout(BODY_IDLE_TIMEOUT, stream.next()).await;
        let chunk = match next {
            Ok(Some(Ok(chunk))) => chunk,
            Ok(None) => break,
            Ok(Some(Err(_))) | Err(_) => {
                // The client went away or stalled: keep what arrived for its resume.
                if !writer.checkpoint().await? {
                    return Err(refusal(st, &upload.uid).await);
                }
                return Err(ApiError::bad("the request body ended early"));
            }
        };
        let len = i64::try_from(chunk.len()).unwrap_or(i64::MAX);
        if writer.offset().saturating_add(len) > upload.length {
            writer.discard().await?;
            return Err(ApiError::PayloadTooLarge(
                u64::try_from(upload.length).unwrap_or(0),
            ));
        }
        if !writer.write(chunk).await? {
            // Deleted, or taken over after this request's claim lapsed.
            return Err(refusal(st, &upload.uid).await);
        }
    }
    if !writer.checkpoint().await? {
        return Err(refusal(st, &upload.uid).await);
    }
    Ok(writer.offset())
}

/// Completes an upload whose bytes are all in but which a crash left unfinished (its
/// parts not yet assembled, or assembled but not yet committed). If another request
/// holds it, that one finishes it.
async fn finish_if_complete(st: &ApiState, upload: TusUpload) -> Result<TusUpload, ApiError> {
    if upload.done || upload.received != upload.length {
        return Ok(upload);
    }
    let claim = TusWriter::claim(
        &st.db,
        &st.blobs,
        &upload.uid,
        upload.length,
        Duration::ZERO,
    )
    .await?;
    match claim {
        Claim::Held(writer) => {
            let finished = writer.complete(&upload).await?;
            settle(st, upload, finished).await
        }
        Claim::Busy | Claim::Refused => st.db.tus_upload(&upload.uid).await?.ok_or(UNKNOWN),
    }
}

/// The upload as completing it left it.
async fn settle(
    st: &ApiState,
    upload: TusUpload,
    finished: Finished,
) -> Result<TusUpload, ApiError> {
    match finished {
        Finished::Done(done) => Ok(done),
        // A staged part was lost: the client resends from where it began.
        Finished::Resume(at) => Ok(TusUpload {
            received: at,
            ..upload
        }),
        Finished::Lost => st.db.tus_upload(&upload.uid).await?.ok_or(UNKNOWN),
    }
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
    // Held while it goes, so no request is midway through adding a part.
    let claim = TusWriter::claim(&st.db, &st.blobs, &upload.uid, ANY_OFFSET, CLAIM_WAIT).await?;
    let mut writer = match claim {
        Claim::Held(w) => w,
        Claim::Busy => return Err(BUSY),
        Claim::Refused => return Err(refusal(st, &upload.uid).await),
    };
    usher_store::delete_video_and_media(
        &st.db,
        &st.blobs,
        &upload.uid,
        usher_store::Deletion::Owned(&upload.account_id),
    )
    .await?;
    writer.release().await?;
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
