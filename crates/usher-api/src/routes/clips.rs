//! `POST /stream/clip`: a new video made of a span of one of the account's ready
//! videos, with its own settings. The span is stored in the timeline of the root
//! source — the first ancestor with an uploaded file, which is what the media worker
//! cuts from — so a clip of a clip is cut from the original once, not re-encoded twice.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use usher_core::time_fmt::now_micros;
use usher_core::{ClipSpan, Video, VideoId, VideoState};

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::envelope::ok;
use crate::error::ApiError;
use crate::render;
use crate::routes::videos::{EditRequest, validate};
use crate::routes::watermarks::attach::{self, WatermarkRef};
use crate::state::ApiState;

/// Longest `name`, as for a file name kept as `meta.name`.
const MAX_NAME_CHARS: usize = 1024;

#[derive(Debug, Default, Deserialize)]
pub struct ClipRequest {
    #[serde(rename = "clippedFromVideoUID")]
    clipped_from: Option<String>,
    #[serde(rename = "startTimeSeconds")]
    start: Option<f64>,
    #[serde(rename = "endTimeSeconds")]
    end: Option<f64>,
    name: Option<String>,
    watermark: Option<WatermarkRef>,
}

/// The requested span, checked against the source's duration.
fn span(start: Option<f64>, end: Option<f64>, duration: f64) -> Result<ClipSpan, ApiError> {
    let start = start.ok_or_else(|| ApiError::bad("startTimeSeconds: required"))?;
    let end = end.ok_or_else(|| ApiError::bad("endTimeSeconds: required"))?;
    if !start.is_finite() || start < 0.0 {
        return Err(ApiError::bad("startTimeSeconds: must be 0 or more"));
    }
    if !end.is_finite() || end <= start {
        return Err(ApiError::bad(
            "endTimeSeconds: must be greater than startTimeSeconds",
        ));
    }
    if end > duration {
        return Err(ApiError::bad(format!(
            "endTimeSeconds: past the end of the video ({duration:.3} seconds long)"
        )));
    }
    Ok(ClipSpan { start, end })
}

/// `span` of `source` in the timeline of `source`'s own source, if it is a clip.
fn in_root_timeline(span: ClipSpan, source: &Video) -> ClipSpan {
    match source.clip {
        None => span,
        Some(outer) => ClipSpan {
            start: outer.start + span.start,
            // The source's measured duration may run a frame past its span's.
            end: (outer.start + span.end).min(outer.end),
        },
    }
}

pub async fn create(
    State(st): State<ApiState>,
    auth: Authed,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Response, ApiError> {
    let (req, settings): (ClipRequest, EditRequest) = crate::body::split(body)?;
    let Some(source_uid) = req.clipped_from else {
        return Err(ApiError::bad("clippedFromVideoUID: required"));
    };
    let unknown = || ApiError::bad("clippedFromVideoUID: no such video");
    let source_uid: VideoId = source_uid.parse().map_err(|_| unknown())?;
    let source = st
        .db
        .video(&auth.account, &source_uid)
        .await?
        .ok_or_else(unknown)?;
    if source.state != VideoState::Ready || source.duration <= 0.0 {
        return Err(ApiError::bad(
            "clippedFromVideoUID: the video is not ready to be clipped",
        ));
    }
    let requested = span(req.start, req.end, source.duration)?;
    let uid = VideoId::generate();
    let settings = validate(settings, &uid)?;
    if let Some(Some(max)) = settings.max_duration_seconds
        && requested.duration() > max as f64
    {
        return Err(ApiError::bad(
            "maxDurationSeconds: the clip is longer than this",
        ));
    }
    if let Some(name) = &req.name
        && name.chars().count() > MAX_NAME_CHARS
    {
        return Err(ApiError::bad("name: at most 1024 characters"));
    }
    let watermark = attach::resolve_ref(&st, &auth.account, req.watermark).await?;

    let now = now_micros();
    let mut clip = Video::new(uid, auth.account, VideoState::Queued, now);
    clip.uploaded = Some(now);
    // A clip of a private video stays private unless the request says otherwise.
    clip.require_signed_urls = source.require_signed_urls;
    clip.allowed_origins.clone_from(&source.allowed_origins);
    settings.apply_to(&mut clip);
    if let Some(name) = req.name {
        clip.meta.insert("name".into(), name.into());
    }
    clip.clipped_from = Some(source.uid.clone());
    clip.clip = Some(in_root_timeline(requested, &source));
    match watermark {
        Some(wm) => attach::attach(&st, &mut clip, wm, "watermark.uid").await?,
        None => attach::inherit(&st, &mut clip, &source).await?,
    }
    let inserted = match st.db.insert_clip(&clip).await {
        Ok(inserted) => inserted,
        Err(e) => {
            attach::detach(&st, &clip.uid).await;
            return Err(e.into());
        }
    };
    if !inserted {
        attach::detach(&st, &clip.uid).await;
        return Err(unknown());
    }
    Ok(ok(render::video(&clip, &st.config.edge_url)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use usher_core::AccountId;

    #[test]
    fn spans_are_checked_against_the_duration() {
        assert_eq!(
            span(Some(0.0), Some(4.0), 4.0).unwrap(),
            ClipSpan {
                start: 0.0,
                end: 4.0
            }
        );
        for (start, end, field) in [
            (None, Some(1.0), "startTimeSeconds"),
            (Some(0.0), None, "endTimeSeconds"),
            (Some(-1.0), Some(1.0), "startTimeSeconds"),
            (Some(2.0), Some(2.0), "endTimeSeconds"),
            (Some(3.0), Some(1.0), "endTimeSeconds"),
            (Some(0.0), Some(4.01), "endTimeSeconds"),
            (Some(0.0), Some(f64::INFINITY), "endTimeSeconds"),
        ] {
            let msg = span(start, end, 4.0).unwrap_err().to_string();
            assert!(msg.starts_with(field), "{start:?}..{end:?}: {msg}");
        }
    }

    #[test]
    fn a_clip_of_a_clip_is_placed_in_the_root_timeline() {
        let mut source = Video::new(
            VideoId::generate(),
            AccountId::generate(),
            VideoState::Ready,
            0,
        );
        let span = ClipSpan {
            start: 1.0,
            end: 2.5,
        };
        assert_eq!(in_root_timeline(span, &source), span);
        source.clip = Some(ClipSpan {
            start: 10.0,
            end: 14.0,
        });
        assert_eq!(
            in_root_timeline(span, &source),
            ClipSpan {
                start: 11.0,
                end: 12.5
            }
        );
        // Up to the end of a source whose measured duration ran past its span.
        let whole = ClipSpan {
            start: 0.0,
            end: 4.04,
        };
        assert_eq!(
            in_root_timeline(whole, &source),
            ClipSpan {
                start: 10.0,
                end: 14.0
            }
        );
    }
}
