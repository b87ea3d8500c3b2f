//! `…/stream/{uid}/captions…`: a video's captions, one per BCP 47 language, named as
//! the SDKs name them (`captions.get`, `captions.language.update/get/delete/create`,
//! `captions.language.vtt.get`). A `PUT` takes a multipart `file` — a file part (curl
//! `-F file=@subs.vtt`) or a plain field holding the text (the Python SDK's
//! `file=VTT_TEXT`) — in WebVTT or SRT; it is checked and stored as WebVTT, and the
//! video's masters are published again with it.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use usher_core::VideoId;
use usher_core::captions::{LanguageTag, read_caption_file};
use usher_core::time_fmt::now_micros;
use usher_store::CaptionRecord;

use crate::auth::Authed;
use crate::envelope::ok;
use crate::error::ApiError;
use crate::multipart::{MULTIPART_SLACK, drain, drain_body};
use crate::routes::videos::{owned, parse_uid};
use crate::state::ApiState;

/// Largest caption file accepted: 4 MiB. A two-hour film's subtitles are 100–200 KB and
/// even a day of dense live captions stays near 3 MB, while the whole file is held in
/// memory to be checked and is stored in one database row.
pub const MAX_CAPTION_BYTES: usize = 4 * 1024 * 1024;
/// The most a `PUT` body may be: the file and its multipart framing.
pub const MAX_CAPTION_REQUEST_BYTES: usize = MAX_CAPTION_BYTES + MULTIPART_SLACK as usize;
/// Languages per video. Players list every one in their captions menu, and each is a
/// rendition in the masters; a hundred covers every language a video is subtitled in.
pub const MAX_CAPTIONS_PER_VIDEO: usize = 100;

const NOT_FOUND: &str = "Caption not found";
const NO_SPEECH_TO_TEXT: &str = "No speech-to-text engine is configured on this server, so \
     captions cannot be generated: upload a WebVTT or SRT file with PUT \
     …/captions/{language} instead";

/// Cloudflare's Caption object.
fn render(c: &CaptionRecord) -> Value {
    json!({
        "language": c.language,
        "label": c.label,
        "generated": c.generated,
        "status": c.status.as_str(),
    })
}

fn language(raw: &str) -> Result<LanguageTag, ApiError> {
    LanguageTag::parse(raw).map_err(|e| ApiError::bad(format!("language: {e}")))
}

/// `GET …/captions`: every caption of the video.
pub async fn get(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let video = owned(&st, &auth, &uid).await?;
    let captions = st.db.captions(&auth.account, &video.uid).await?;
    Ok(ok(captions.iter().map(render).collect::<Vec<_>>()))
}

/// `GET …/captions/{language}`.
pub async fn language_get(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid, lang)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let lang = language(&lang)?;
    let video = owned(&st, &auth, &uid).await?;
    let caption = st
        .db
        .caption(&auth.account, &video.uid, &lang)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok(ok(render(&caption)))
}

/// `GET …/captions/{language}/vtt`: the WebVTT text itself, not an envelope (the SDKs
/// ask for `Accept: text/vtt` and return the body as a string).
pub async fn vtt_get(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid, lang)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let lang = language(&lang)?;
    let video = owned(&st, &auth, &uid).await?;
    let vtt = st
        .db
        .caption_vtt(&auth.account, &video.uid, &lang)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/vtt; charset=utf-8")],
        Body::from(vtt),
    )
        .into_response())
}

/// `PUT …/captions/{language}`: adds the caption or replaces its file.
pub async fn language_update(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid, lang)): Path<(String, String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    let checked = async {
        let lang = language(&lang)?;
        let video = owned(&st, &auth, &uid).await?;
        Ok::<_, ApiError>((lang, video))
    }
    .await;
    let (lang, video) = match checked {
        Ok(x) => x,
        Err(e) => {
            // Read what the client is still sending, so it sees this answer rather than
            // a reset connection.
            drain_body(req).await;
            return Err(e);
        }
    };
    let bytes = read_file_field(req).await?;
    let file = read_caption_file(&bytes).map_err(|e| ApiError::bad(format!("file: {e}")))?;
    let caption = st
        .db
        .put_caption(
            &auth.account,
            &video.uid,
            &lang,
            &file.webvtt,
            now_micros(),
            MAX_CAPTIONS_PER_VIDEO,
        )
        .await?
        // Deleted while the file was being read.
        .ok_or(ApiError::NotFound("Video not found"))?;
    republish(&st, &video.uid).await;
    Ok(ok(render(&caption)))
}

/// `DELETE …/captions/{language}`: answers `"result": ""`, as Cloudflare does.
pub async fn language_delete(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid, lang)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let lang = language(&lang)?;
    let uid = parse_uid(&uid)?;
    match st.db.delete_caption(&auth.account, &uid, &lang).await? {
        None => Err(ApiError::NotFound("Video not found")),
        Some(false) => Err(ApiError::NotFound(NOT_FOUND)),
        Some(true) => {
            republish(&st, &uid).await;
            Ok(ok(""))
        }
    }
}

/// `POST …/captions/{language}/generate`: speech-to-text, which this server has no
/// engine for. Refused after the same checks as the other calls, so a client learns
/// about a wrong video or tag first.
pub async fn language_create(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid, lang)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    language(&lang)?;
    owned(&st, &auth, &uid).await?;
    Err(ApiError::NotImplemented(NO_SPEECH_TO_TEXT))
}

/// Publishes the video's masters with its captions as they are now. A failure here
/// does not fail the request: the change is committed, and the next publish (the next
/// caption or audio change, or the packaging job when the video becomes ready) renders
/// it. While the video is still processing this does nothing, and the packaging job
/// publishes the captions when it finishes.
async fn republish(st: &ApiState, uid: &VideoId) {
    if let Err(e) = usher_media::publish::republish(&st.db, &st.blobs, uid).await {
        tracing::error!(video = %uid, error = %e, "captions changed but the masters were not republished");
    }
}

/// The bytes of the multipart field `file`, whether a file part or a plain field.
async fn read_file_field(req: Request) -> Result<Vec<u8>, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        drain_body(req).await;
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type must be multipart/form-data with a file field",
        ));
    }
    let too_large = ApiError::PayloadTooLarge(MAX_CAPTION_BYTES as u64);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_CAPTION_REQUEST_BYTES) {
        drain_body(req).await;
        return Err(too_large);
    }
    let malformed = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(MAX_CAPTION_BYTES as u64)
        } else {
            ApiError::bad(format!("malformed multipart body: {}", e.body_text()))
        }
    };
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::bad(format!("malformed multipart body: {}", e.body_text())))?;
    let mut file: Option<Vec<u8>> = None;
    let mut total = 0usize;
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        // Other fields are skipped, but count towards the limit.
        let keep = field.name() == Some("file") && file.is_none();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            total += chunk.len();
            if total > MAX_CAPTION_BYTES {
                drain(field).await;
                return Err(too_large);
            }
            if keep {
                bytes.extend_from_slice(&chunk);
            }
        }
        if keep {
            file = Some(bytes);
        }
    }
    match file {
        None => Err(ApiError::bad("file: the multipart body has no file field")),
        Some(b) if b.is_empty() => Err(ApiError::bad("file: the file is empty")),
        Some(b) => Ok(b),
    }
}
