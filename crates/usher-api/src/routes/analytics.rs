//! `GET /stream/analytics/views` (Usher's own; SPEC §10): what the edges counted, per
//! video (or live input) per UTC day — views, minutes delivered, bytes, and refusals by
//! reason. `since`/`until` take `YYYY-MM-DD` or an RFC 3339 time (its UTC day); by
//! default the 30 days ending today. Counts reach it within seconds of being served
//! (the edges flush every 5 s).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::json;
use usher_core::time_fmt::{day_of, now_secs, parse_day};
use usher_store::ViewQuery;

use crate::auth::Authed;
use crate::envelope::ok;
use crate::error::ApiError;
use crate::state::ApiState;

/// The widest range one request may ask for, in days.
const MAX_RANGE_DAYS: i64 = 366;
/// Days answered when `since` is not given: these and `until`.
const DEFAULT_DAYS_BEFORE: i64 = 29;
/// Longest `creator`, as on videos; a uid is 32 characters.
const MAX_FILTER_LEN: usize = 64;

fn day_param(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    q.get(name)
        .map(|v| {
            parse_day(v).ok_or_else(|| {
                ApiError::bad(format!(
                    "{name}: expected YYYY-MM-DD or an RFC 3339 date-time"
                ))
            })
        })
        .transpose()
}

fn text_param(q: &HashMap<String, String>, name: &str) -> Result<Option<String>, ApiError> {
    match q.get(name) {
        Some(v) if v.is_empty() || v.len() > MAX_FILTER_LEN => Err(ApiError::bad(format!(
            "{name}: 1 to {MAX_FILTER_LEN} characters"
        ))),
        v => Ok(v.cloned()),
    }
}

pub async fn views(
    State(st): State<ApiState>,
    auth: Authed,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let until = day_param(&q, "until")?.unwrap_or_else(|| day_of(now_secs()));
    let since = day_param(&q, "since")?.unwrap_or(until - DEFAULT_DAYS_BEFORE);
    if since > until {
        return Err(ApiError::bad("since: after until"));
    }
    if until - since >= MAX_RANGE_DAYS {
        return Err(ApiError::bad(format!(
            "since: at most {MAX_RANGE_DAYS} days before until"
        )));
    }
    let query = ViewQuery {
        since,
        until,
        uid: text_param(&q, "uid")?,
        creator: text_param(&q, "creator")?,
    };
    let stats = st.db.view_stats(&auth.account, &query).await?;
    let rows: Vec<_> = stats
        .into_iter()
        .map(|s| {
            json!({
                "uid": s.uid,
                "date": s.day,
                "views": s.views,
                "minutesDelivered": s.millis as f64 / 60_000.0,
                "bytesDelivered": s.bytes,
                "denials": s.denials,
            })
        })
        .collect();
    Ok(ok(json!(rows)))
}
