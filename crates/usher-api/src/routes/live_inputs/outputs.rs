//! `…/live_inputs/{uid}/outputs`: where a live input's broadcast is re-streamed
//! (simulcast) — create `{url, streamKey, enabled?}`, list, `PUT {enabled}`, delete.
//!
//! The server itself connects to an output's URL, so it passes the same address policy
//! as a copy from a URL: a private, loopback or link-local address is refused unless the
//! operator allows it (`--copy-allow-private`).

use axum::extract::{Path, State};
use axum::response::Response;
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;
use usher_core::time_fmt::now_micros;
use usher_core::{LiveOutputId, Secret};
use usher_store::LiveOutputRecord;

use super::{parse_uid, render};
use crate::auth::Authed;
use crate::body::JsonBody;
use crate::envelope::{ok, ok_list};
use crate::error::ApiError;
use crate::state::ApiState;

/// Longest output URL (the common browser and proxy limit, as for webhooks).
pub const MAX_OUTPUT_URL_LEN: usize = 2048;
/// Longest stream key for the target service (theirs run to a few dozen characters).
pub const MAX_OUTPUT_STREAM_KEY_LEN: usize = 1024;

#[derive(Debug, Default, Deserialize)]
pub struct CreateRequest {
    url: Option<String>,
    #[serde(rename = "streamKey")]
    stream_key: Option<String>,
    enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UpdateRequest {
    enabled: Option<bool>,
}

fn not_found() -> ApiError {
    ApiError::NotFound("Output not found")
}

/// An RTMP, RTMPS or SRT URL with a host, within the limit.
fn output_url(raw: &str) -> Result<Url, ApiError> {
    if raw.len() > MAX_OUTPUT_URL_LEN {
        return Err(ApiError::bad(format!(
            "url: at most {MAX_OUTPUT_URL_LEN} characters"
        )));
    }
    let bad = || ApiError::bad("url: must be an rtmp://, rtmps:// or srt:// URL with a host");
    let url = Url::parse(raw).map_err(|_| bad())?;
    if !matches!(url.scheme(), "rtmp" | "rtmps" | "srt")
        || url.host_str().is_none_or(str::is_empty)
        || url.fragment().is_some()
    {
        return Err(bad());
    }
    Ok(url)
}

fn stream_key(raw: String) -> Result<Secret, ApiError> {
    if raw.len() > MAX_OUTPUT_STREAM_KEY_LEN {
        return Err(ApiError::bad(format!(
            "streamKey: at most {MAX_OUTPUT_STREAM_KEY_LEN} characters"
        )));
    }
    // It ends up in the URL the restreamer connects to.
    if raw.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "streamKey: must not contain control characters",
        ));
    }
    Ok(Secret::new(raw))
}

pub async fn create(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, input)): Path<(String, String)>,
    JsonBody(req): JsonBody<CreateRequest>,
) -> Result<Response, ApiError> {
    let input = parse_uid(&input)?;
    let raw = req.url.ok_or_else(|| ApiError::bad("url: required"))?;
    let url = output_url(&raw)?;
    if !usher_outbound::host_allowed(&st.config.copy_policy, &url) {
        return Err(ApiError::bad(
            "url: the host is not allowed (private, loopback, link-local or reserved address)",
        ));
    }
    let key = stream_key(
        req.stream_key
            .ok_or_else(|| ApiError::bad("streamKey: required"))?,
    )?;
    let now = now_micros();
    let output = LiveOutputRecord {
        uid: LiveOutputId::generate(),
        live_input_uid: input,
        account_id: auth.account,
        url: raw,
        stream_key: key,
        enabled: req.enabled.unwrap_or(true),
        created: now,
        modified: now,
    };
    if !st.db.insert_live_output(&output).await? {
        return Err(super::not_found());
    }
    Ok(ok(render::live_output(&output)))
}

pub async fn list(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, input)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let input = parse_uid(&input)?;
    let outputs = st
        .db
        .list_live_outputs(&auth.account, &input)
        .await?
        .ok_or_else(super::not_found)?;
    Ok(ok_list(
        outputs.iter().map(render::live_output).collect(),
        None,
    ))
}

pub async fn update(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, input, output)): Path<(String, String, String)>,
    JsonBody(req): JsonBody<UpdateRequest>,
) -> Result<Response, ApiError> {
    let input = parse_uid(&input)?;
    let output: LiveOutputId = output.parse().map_err(|_| not_found())?;
    let enabled = req
        .enabled
        .ok_or_else(|| ApiError::bad("enabled: required"))?;
    let updated = st
        .db
        .set_live_output_enabled(&auth.account, &input, &output, enabled, now_micros())
        .await?
        .ok_or_else(not_found)?;
    Ok(ok(render::live_output(&updated)))
}

pub async fn delete(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, input, output)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let input = parse_uid(&input)?;
    let output: LiveOutputId = output.parse().map_err(|_| not_found())?;
    if !st
        .db
        .delete_live_output(&auth.account, &input, &output)
        .await?
    {
        return Err(not_found());
    }
    Ok(ok(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_urls_are_rtmp_rtmps_or_srt_with_a_host() {
        for good in [
            "rtmp://a.rtmp.youtube.com/live2",
            "rtmps://live-api-s.facebook.com:443/rtmp/",
            "srt://srt.example:9000?mode=caller",
            "rtmp://127.0.0.1:1936/live",
        ] {
            assert!(output_url(good).is_ok(), "{good}");
        }
        let long = format!("rtmp://h/{}", "a".repeat(MAX_OUTPUT_URL_LEN));
        for bad in [
            "",
            "youtube.com/live",
            "http://h.example/live",
            "file:///etc/passwd",
            "rtmp://",
            "rtmp:///live",
            "rtmp://h/live#x",
            long.as_str(),
        ] {
            let e = output_url(bad).unwrap_err();
            assert!(e.to_string().starts_with("url:"), "{bad}: {e}");
        }
    }

    #[test]
    fn stream_keys_are_bounded_and_printable() {
        assert!(stream_key("abcd-1234".into()).is_ok());
        assert!(
            stream_key(String::new()).is_ok(),
            "the key may be in the URL"
        );
        assert!(stream_key("a\nb".into()).is_err());
        assert!(stream_key("k".repeat(MAX_OUTPUT_STREAM_KEY_LEN + 1)).is_err());
    }
}
