//! Videos: get, list, edit, delete, embed.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use usher_core::origin::AllowedOrigin;
use usher_core::time_fmt::{now_micros, parse_rfc3339};
use usher_core::{Video, VideoId, VideoState};
use usher_store::{Deletion, VideoEdit, VideoFilter};

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::envelope::{ok, ok_list};
use crate::error::ApiError;
use crate::render;
use crate::state::ApiState;

/// Largest page `GET /stream` returns, and its default.
pub const MAX_LIST_LIMIT: i64 = 1000;
/// Longest `maxDurationSeconds` Cloudflare allows (6 hours).
pub const MAX_DURATION_SECONDS: i64 = 21_600;
const MAX_ALLOWED_ORIGINS: usize = 100;
/// Longest `creator` (Cloudflare's limit).
pub const MAX_CREATOR_LEN: usize = 64;

pub fn parse_uid(uid: &str) -> Result<VideoId, ApiError> {
    uid.parse()
        .map_err(|_| ApiError::NotFound("Video not found"))
}

pub(crate) async fn owned(st: &ApiState, auth: &Authed, uid: &str) -> Result<Video, ApiError> {
    let uid = parse_uid(uid)?;
    st.db
        .video(&auth.account, &uid)
        .await?
        .ok_or(ApiError::NotFound("Video not found"))
}

pub async fn get(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let v = owned(&st, &auth, &uid).await?;
    Ok(ok(render::video(&v, &st.config.edge_url)))
}

pub async fn embed(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let v = owned(&st, &auth, &uid).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        render::embed_html(&v, &st.config.edge_url),
    )
        .into_response())
}

fn time_param(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    q.get(name)
        .map(|s| {
            parse_rfc3339(s)
                .ok_or_else(|| ApiError::bad(format!("{name}: expected an RFC 3339 date-time")))
        })
        .transpose()
}

fn bool_param(q: &HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match q.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::bad(format!("{name}: expected true or false"))),
    }
}

pub async fn list(
    State(st): State<ApiState>,
    auth: Authed,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let limit = match q.get("limit") {
        None => MAX_LIST_LIMIT,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIST_LIMIT).contains(n))
            .ok_or_else(|| ApiError::bad("limit: expected an integer from 1 to 1000"))?,
    };
    let state = q
        .get("status")
        .map(|s| {
            s.parse::<VideoState>()
                .map_err(|_| ApiError::bad("status: unknown video state"))
        })
        .transpose()?;
    let filter = VideoFilter {
        state,
        search: q.get("search").cloned(),
        creator: q.get("creator").cloned(),
        start: time_param(&q, "start")?,
        after: time_param(&q, "after")?,
        end: time_param(&q, "end")?,
        before: time_param(&q, "before")?,
        asc: bool_param(&q, "asc")?,
        limit,
        include_counts: bool_param(&q, "include_counts")?,
    };
    let page = st.db.list_videos(&auth.account, &filter).await?;
    let items = page
        .videos
        .iter()
        .map(|v| render::video(v, &st.config.edge_url))
        .collect();
    Ok(ok_list(items, page.total))
}

/// `allowedOrigins` entries, named `field` in errors: at most [`MAX_ALLOWED_ORIGINS`],
/// each a host the edges can match an `Origin` against.
pub(crate) fn validate_origins(field: &str, origins: &[String]) -> Result<(), ApiError> {
    if origins.len() > MAX_ALLOWED_ORIGINS {
        return Err(ApiError::bad(format!(
            "{field}: at most {MAX_ALLOWED_ORIGINS} entries"
        )));
    }
    for o in origins {
        AllowedOrigin::parse(o).map_err(|e| ApiError::bad(format!("{field}: {e}")))?;
    }
    Ok(())
}

/// `null` and absent are different for nullable settings: absent leaves the field alone,
/// `null` clears it.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize)]
pub struct EditRequest {
    uid: Option<String>,
    #[serde(rename = "requireSignedURLs")]
    require_signed_urls: Option<bool>,
    #[serde(rename = "allowedOrigins")]
    allowed_origins: Option<Vec<String>>,
    meta: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "nullable")]
    creator: Option<Option<String>>,
    #[serde(rename = "thumbnailTimestampPct")]
    thumbnail_pct: Option<f64>,
    #[serde(default, rename = "scheduledDeletion", deserialize_with = "nullable")]
    scheduled_deletion: Option<Option<String>>,
    #[serde(default, rename = "maxDurationSeconds", deserialize_with = "nullable")]
    max_duration_seconds: Option<Option<i64>>,
}

pub(crate) fn validate(req: EditRequest, uid: &VideoId) -> Result<VideoEdit, ApiError> {
    if req.uid.as_deref().is_some_and(|u| u != uid.as_str()) {
        return Err(ApiError::bad("uid: does not match the video in the path"));
    }
    if let Some(origins) = &req.allowed_origins {
        validate_origins("allowedOrigins", origins)?;
    }
    if let Some(p) = req.thumbnail_pct
        && !(0.0..=1.0).contains(&p)
    {
        return Err(ApiError::bad(
            "thumbnailTimestampPct: must be between 0 and 1",
        ));
    }
    if let Some(c) = req.creator.as_ref().and_then(|c| c.as_ref())
        && c.len() > MAX_CREATOR_LEN
    {
        return Err(ApiError::bad("creator: at most 64 characters"));
    }
    if let Some(Some(m)) = req.max_duration_seconds
        && !(1..=MAX_DURATION_SECONDS).contains(&m)
    {
        return Err(ApiError::bad("maxDurationSeconds: must be from 1 to 21600"));
    }
    let scheduled_deletion = match req.scheduled_deletion {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) => Some(Some(parse_rfc3339(&s).ok_or_else(|| {
            ApiError::bad("scheduledDeletion: expected an RFC 3339 date-time")
        })?)),
    };
    Ok(VideoEdit {
        require_signed_urls: req.require_signed_urls,
        allowed_origins: req.allowed_origins,
        meta: req.meta,
        creator: req.creator,
        thumbnail_pct: req.thumbnail_pct,
        scheduled_deletion,
        max_duration_seconds: req.max_duration_seconds,
    })
}

pub async fn edit(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
    JsonBody(req): JsonBody<EditRequest>,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    let edit = validate(req, &uid)?;
    let v = st
        .db
        .edit_video(&auth.account, &uid, &edit, now_micros())
        .await?
        .ok_or(ApiError::NotFound("Video not found"))?;
    Ok(ok(render::video(&v, &st.config.edge_url)))
}

pub async fn delete(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    usher_store::delete_video_and_media(&st.db, &st.blobs, &uid, Deletion::Owned(&auth.account))
        .await?
        .ok_or(ApiError::NotFound("Video not found"))?;
    Ok(ok(Value::Null))
}
