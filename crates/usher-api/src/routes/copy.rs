//! Upload from a URL: `POST /stream/copy` makes a `downloading` video and a `copy` job;
//! a media worker fetches the file (under the outbound address policy) and queues it
//! for packaging. Here the URL is checked as far as it can be without DNS, so obvious
//! refusals (another scheme, a private IP literal, `localhost`) are a clear 400.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use usher_core::time_fmt::now_micros;
use usher_core::{Video, VideoId, VideoState};
use usher_outbound::FetchError;

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::envelope::ok;
use crate::error::ApiError;
use crate::render;
use crate::routes::videos::{EditRequest, validate};
use crate::routes::watermarks::attach::{self, WatermarkRef};
use crate::state::ApiState;

/// Longest source URL accepted; longer ones are more likely abuse than media.
pub(crate) const MAX_URL_LEN: usize = 4096;
/// Longest `Upload-Creator` header, as for `creator` in the body.
const MAX_CREATOR_LEN: usize = 64;

#[derive(Debug, Default, Deserialize)]
pub struct CopyRequest {
    url: Option<String>,
    watermark: Option<WatermarkRef>,
}

pub async fn create(
    State(st): State<ApiState>,
    auth: Authed,
    headers: HeaderMap,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Response, ApiError> {
    let (req, settings): (CopyRequest, EditRequest) = crate::body::split(body)?;
    let Some(url) = req.url else {
        return Err(ApiError::bad("url: required"));
    };
    if url.len() > MAX_URL_LEN {
        return Err(ApiError::bad("url: at most 4096 characters"));
    }
    let url = usher_outbound::check_url(&st.config.copy_policy, &url)
        .map_err(url_error)?
        .to_string();
    let uid = VideoId::generate();
    let settings = validate(settings, &uid)?;
    let watermark = attach::resolve_ref(&st, &auth.account, req.watermark).await?;
    let mut video = Video::new(uid, auth.account, VideoState::Downloading, now_micros());
    settings.apply_to(&mut video);
    // The SDKs send the creator as a header (`upload_creator=`).
    if video.creator.is_none()
        && let Some(c) = headers.get("upload-creator").and_then(|v| v.to_str().ok())
    {
        if c.len() > MAX_CREATOR_LEN {
            return Err(ApiError::bad("Upload-Creator: at most 64 characters"));
        }
        video.creator = Some(c.to_owned());
    }
    if let Some(wm) = watermark {
        attach::attach(&st, &mut video, wm, "watermark.uid").await?;
    }
    if let Err(e) = st.db.insert_copy(&video, &url).await {
        attach::detach(&st, &video.uid).await;
        return Err(e.into());
    }
    Ok(ok(render::video(&video, &st.config.edge_url)))
}

/// A URL refused before any request: the same words for copies and watermark images.
pub(crate) fn url_error(e: FetchError) -> ApiError {
    match e {
        FetchError::Scheme => ApiError::bad("url: only http and https URLs can be copied"),
        FetchError::RefusedAddress => ApiError::bad(
            "url: the host is not allowed (private, loopback, link-local or reserved address)",
        ),
        _ => ApiError::bad("url: not a valid URL"),
    }
}
