//! The body of `POST …/live_inputs` and `PUT …/live_inputs/{uid}`, as the SDKs send
//! it, parsed into a [`LiveInputEdit`]. Both take the same fields; a field left out is
//! a default on create and unchanged on update (Cloudflare documents
//! `deleteRecordingAfterDays` so: "omit the field to indicate no change, or include
//! with a null value to remove").

use serde::Deserialize;
use serde_json::{Map, Value};
use usher_core::live::RecordingMode;
use usher_store::LiveInputEdit;

use crate::error::ApiError;
use crate::routes::videos::{MAX_CREATOR_LEN, nullable, validate_origins};

/// Cloudflare's shortest `deleteRecordingAfterDays`.
pub const MIN_DELETE_RECORDING_AFTER_DAYS: i64 = 30;
/// The longest (a century): anything longer is "never", which is `null`.
pub const MAX_DELETE_RECORDING_AFTER_DAYS: i64 = 36_500;
/// The longest `recording.timeoutSeconds`: how long a broadcast waits for its
/// publisher to come back. Cloudflare documents no limit; an hour covers any reconnect,
/// and a recording should not stay unfinished for longer.
pub const MAX_TIMEOUT_SECONDS: i64 = 3600;

#[derive(Debug, Default, Deserialize)]
pub struct LiveInputRequest {
    meta: Option<Map<String, Value>>,
    enabled: Option<bool>,
    #[serde(default, rename = "defaultCreator", deserialize_with = "nullable")]
    default_creator: Option<Option<String>>,
    #[serde(
        default,
        rename = "deleteRecordingAfterDays",
        deserialize_with = "nullable"
    )]
    delete_recording_after_days: Option<Option<f64>>,
    #[serde(rename = "preferLowLatency")]
    prefer_low_latency: Option<bool>,
    recording: Option<RecordingRequest>,
}

#[derive(Debug, Default, Deserialize)]
struct RecordingRequest {
    mode: Option<String>,
    #[serde(rename = "requireSignedURLs")]
    require_signed_urls: Option<bool>,
    #[serde(rename = "allowedOrigins")]
    allowed_origins: Option<Vec<String>>,
    #[serde(rename = "timeoutSeconds")]
    timeout_seconds: Option<i64>,
    #[serde(rename = "hideLiveViewerCount")]
    hide_live_viewer_count: Option<bool>,
}

/// Whole days in Cloudflare's range (the SDKs type the field as a float).
fn days(d: f64) -> Result<i64, ApiError> {
    let range = MIN_DELETE_RECORDING_AFTER_DAYS..=MAX_DELETE_RECORDING_AFTER_DAYS;
    if d.fract() == 0.0 && range.contains(&(d as i64)) {
        Ok(d as i64)
    } else {
        Err(ApiError::bad(format!(
            "deleteRecordingAfterDays: must be a whole number of days from \
             {MIN_DELETE_RECORDING_AFTER_DAYS} to {MAX_DELETE_RECORDING_AFTER_DAYS}, or null"
        )))
    }
}

pub fn validate(req: LiveInputRequest) -> Result<LiveInputEdit, ApiError> {
    // An empty creator is no creator: recordings get none.
    let default_creator = req.default_creator.map(|c| c.filter(|c| !c.is_empty()));
    if let Some(Some(c)) = &default_creator
        && c.len() > MAX_CREATOR_LEN
    {
        return Err(ApiError::bad(format!(
            "defaultCreator: at most {MAX_CREATOR_LEN} characters"
        )));
    }
    let delete_recording_after_days = req
        .delete_recording_after_days
        .map(|d| d.map(days).transpose())
        .transpose()?;
    let rec = req.recording.unwrap_or_default();
    let mode = rec
        .mode
        .map(|m| {
            m.parse::<RecordingMode>()
                .map_err(|e| ApiError::bad(format!("recording.mode: {e}")))
        })
        .transpose()?;
    if let Some(origins) = &rec.allowed_origins {
        validate_origins("recording.allowedOrigins", origins)?;
    }
    if let Some(t) = rec.timeout_seconds
        && !(0..=MAX_TIMEOUT_SECONDS).contains(&t)
    {
        return Err(ApiError::bad(format!(
            "recording.timeoutSeconds: must be from 0 to {MAX_TIMEOUT_SECONDS}"
        )));
    }
    Ok(LiveInputEdit {
        meta: req.meta,
        enabled: req.enabled,
        default_creator,
        delete_recording_after_days,
        prefer_low_latency: req.prefer_low_latency,
        mode,
        require_signed_urls: rec.require_signed_urls,
        allowed_origins: rec.allowed_origins,
        timeout_seconds: rec.timeout_seconds,
        hide_live_viewer_count: rec.hide_live_viewer_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn edit(body: Value) -> Result<LiveInputEdit, ApiError> {
        validate(crate::body::from_value(body)?)
    }

    #[test]
    fn what_the_sdk_sends_is_read_and_the_rest_left_alone() {
        let e = edit(json!({
            "meta": {"name": "town hall"},
            "defaultCreator": "alice",
            "deleteRecordingAfterDays": 45.0,
            "recording": {"mode": "automatic", "requireSignedURLs": true, "timeoutSeconds": 3,
                          "allowedOrigins": ["*.example.com"]},
            "unknown": 1,
        }))
        .unwrap();
        assert_eq!(e.meta.unwrap()["name"], "town hall");
        assert_eq!(e.default_creator, Some(Some("alice".into())));
        assert_eq!(e.delete_recording_after_days, Some(Some(45)));
        assert_eq!(e.mode, Some(RecordingMode::Automatic));
        assert_eq!(e.require_signed_urls, Some(true));
        assert_eq!(e.timeout_seconds, Some(3));
        assert_eq!(e.allowed_origins, Some(vec!["*.example.com".to_owned()]));
        assert_eq!((e.enabled, e.prefer_low_latency), (None, None));
        assert_eq!(e.hide_live_viewer_count, None);

        let e = edit(json!({"enabled": false, "deleteRecordingAfterDays": null,
                            "defaultCreator": ""}))
        .unwrap();
        assert_eq!(e.enabled, Some(false));
        assert_eq!(e.delete_recording_after_days, Some(None));
        assert_eq!(e.default_creator, Some(None));
        assert!(e.meta.is_none() && e.mode.is_none());
    }

    #[test]
    fn bad_values_are_refused_naming_the_field() {
        for (body, field) in [
            (json!({"meta": "x"}), "meta"),
            (json!({"meta": [1]}), "meta"),
            (json!({"enabled": "yes"}), "enabled"),
            (json!({"defaultCreator": "x".repeat(65)}), "defaultCreator"),
            (
                json!({"deleteRecordingAfterDays": 29}),
                "deleteRecordingAfterDays",
            ),
            (
                json!({"deleteRecordingAfterDays": 30.5}),
                "deleteRecordingAfterDays",
            ),
            (
                json!({"deleteRecordingAfterDays": 1e12}),
                "deleteRecordingAfterDays",
            ),
            (
                json!({"deleteRecordingAfterDays": "30"}),
                "deleteRecordingAfterDays",
            ),
            (json!({"recording": []}), "recording"),
            (json!({"recording": {"mode": "always"}}), "recording.mode"),
            (
                json!({"recording": {"timeoutSeconds": -1}}),
                "recording.timeoutSeconds",
            ),
            (
                json!({"recording": {"timeoutSeconds": 3601}}),
                "recording.timeoutSeconds",
            ),
            (
                json!({"recording": {"timeoutSeconds": 1.5}}),
                "recording.timeoutSeconds",
            ),
            (
                json!({"recording": {"allowedOrigins": ["https://x.com/"]}}),
                "recording.allowedOrigins",
            ),
            (
                json!({"recording": {"allowedOrigins": "x.com"}}),
                "recording.allowedOrigins",
            ),
            (
                json!({"recording": {"requireSignedURLs": 1}}),
                "recording.requireSignedURLs",
            ),
        ] {
            let e = edit(body.clone()).unwrap_err();
            assert!(matches!(e, ApiError::BadRequest(_)), "{body}");
            assert!(
                e.to_string().starts_with(&format!("{field}:")),
                "{body}: {e}"
            );
        }
        assert!(edit(json!({"deleteRecordingAfterDays": 30})).is_ok());
        assert!(edit(json!({"recording": {"timeoutSeconds": 3600}})).is_ok());
    }
}
