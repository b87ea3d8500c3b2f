//! Live inputs and outputs as the Cloudflare API shows them, and the ingest URLs a
//! broadcaster is told to stream to.
//!
//! Cloudflare's `rtmpsPlayback`, `srtPlayback`, `webRTC` and `webRTCPlayback` (pulling
//! the broadcast over RTMPS/SRT, WebRTC in and out) are not offered: they are `null`,
//! not URLs that would not answer.

use reqwest::Url;
use serde_json::{Value, json};
use usher_core::time_fmt::format_micros;
use usher_store::{LiveInputRecord, LiveOutputRecord};

use crate::state::ApiConfig;

/// Where the ingest listens for RTMP unless the operator says otherwise (RTMP's port).
pub const DEFAULT_RTMP_PORT: u16 = 1935;
/// Where the ingest listens for SRT unless the operator says otherwise.
pub const DEFAULT_SRT_PORT: u16 = 9998;

/// `{scheme}://{host}:{port}{path}` on the host of `public_url`: where the ingest is
/// when the operator did not say (it runs beside the API by default).
pub fn default_ingest_url(public_url: &str, scheme: &str, port: u16, path: &str) -> String {
    let parsed = Url::parse(public_url).ok();
    let host = parsed
        .as_ref()
        .and_then(Url::host_str)
        .unwrap_or("localhost");
    format!("{scheme}://{host}:{port}{path}")
}

fn rtmp_url(config: &ApiConfig) -> String {
    config.live_rtmp_url.clone().unwrap_or_else(|| {
        default_ingest_url(&config.public_url, "rtmp", DEFAULT_RTMP_PORT, "/live/")
    })
}

fn srt_url(config: &ApiConfig) -> String {
    config
        .live_srt_url
        .clone()
        .unwrap_or_else(|| default_ingest_url(&config.public_url, "srt", DEFAULT_SRT_PORT, ""))
}

/// The whole input, secrets included: what its owner sees on create, get and update.
pub fn live_input(i: &LiveInputRecord, config: &ApiConfig) -> Value {
    let base = format!("{}/{}", config.edge_url.trim_end_matches('/'), i.uid);
    let r = &i.recording;
    let mut v = summary(i);
    let extra = json!({
        "defaultCreator": i.default_creator,
        "preferLowLatency": i.prefer_low_latency,
        "recording": {
            "mode": r.mode.as_str(),
            "requireSignedURLs": r.require_signed_urls,
            "allowedOrigins": r.allowed_origins,
            "timeoutSeconds": r.timeout_seconds,
            "hideLiveViewerCount": r.hide_live_viewer_count,
        },
        "rtmps": {"url": rtmp_url(config), "streamKey": i.stream_key.expose()},
        "rtmpsPlayback": null,
        "srt": {
            "url": srt_url(config),
            "streamId": i.uid.as_str(),
            "passphrase": i.srt_passphrase.expose(),
        },
        "srtPlayback": null,
        "webRTC": null,
        "webRTCPlayback": null,
        "playback": {
            "hls": format!("{base}/manifest/video.m3u8"),
            "dash": format!("{base}/manifest/video.mpd"),
        },
        "status": i.status.as_ref().map(|s| json!({
            "current": {"state": s.state, "statusEnteredAt": format_micros(s.entered_at)},
        })),
    });
    if let (Value::Object(v), Value::Object(extra)) = (&mut v, extra) {
        v.extend(extra);
    }
    v
}

/// What a list shows of each input: no secrets (Cloudflare's list leaves them out too;
/// a single GET has them).
fn summary(i: &LiveInputRecord) -> Value {
    json!({
        "uid": i.uid.as_str(),
        "created": format_micros(i.created),
        "modified": format_micros(i.modified),
        "meta": i.meta,
        "enabled": i.enabled,
        "deleteRecordingAfterDays": i.delete_recording_after_days,
    })
}

/// `GET …/live_inputs`: an object, not a bare array, as the SDKs expect.
pub fn live_input_list(inputs: &[LiveInputRecord]) -> Value {
    json!({
        "liveInputs": inputs.iter().map(summary).collect::<Vec<_>>(),
        "range": inputs.len(),
        "total": inputs.len(),
    })
}

pub fn live_output(o: &LiveOutputRecord) -> Value {
    json!({
        "uid": o.uid.as_str(),
        "url": o.url,
        "streamKey": o.stream_key.expose(),
        "enabled": o.enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use usher_core::AccountId;
    use usher_store::LiveStatus;

    #[test]
    fn ingest_urls_default_to_the_public_host() {
        let url = |public: &str| default_ingest_url(public, "rtmp", 1935, "/live/");
        assert_eq!(
            url("https://video.example.com"),
            "rtmp://video.example.com:1935/live/"
        );
        assert_eq!(url("http://127.0.0.1:8787/"), "rtmp://127.0.0.1:1935/live/");
        assert_eq!(url("http://[::1]:8787"), "rtmp://[::1]:1935/live/");
        assert_eq!(url("not a url"), "rtmp://localhost:1935/live/");
        assert_eq!(
            default_ingest_url("https://h.example:8443/base/", "srt", 9998, ""),
            "srt://h.example:9998"
        );
    }

    #[test]
    fn an_input_has_cloudflares_shape() {
        let config = ApiConfig {
            public_url: "https://api.example".into(),
            edge_url: "https://edge.example/".into(),
            ..ApiConfig::default()
        };
        let mut i = LiveInputRecord::new(AccountId::generate(), 1_000_001);
        let j = live_input(&i, &config);
        let uid = i.uid.as_str();
        assert_eq!(j["uid"], uid);
        assert_eq!(j["created"], "1970-01-01T00:00:01.000001Z");
        assert_eq!(j["enabled"], true);
        assert_eq!(j["meta"], json!({}));
        assert_eq!(
            j["recording"],
            json!({"mode": "off", "requireSignedURLs": false, "allowedOrigins": [],
                   "timeoutSeconds": 0, "hideLiveViewerCount": false})
        );
        assert_eq!(j["rtmps"]["url"], "rtmp://api.example:1935/live/");
        assert_eq!(j["rtmps"]["streamKey"], i.stream_key.expose());
        assert_eq!(j["srt"]["url"], "srt://api.example:9998");
        assert_eq!(j["srt"]["streamId"], uid);
        assert_eq!(j["srt"]["passphrase"], i.srt_passphrase.expose());
        assert_eq!(
            j["playback"]["hls"],
            format!("https://edge.example/{uid}/manifest/video.m3u8")
        );
        assert_eq!(
            j["playback"]["dash"],
            format!("https://edge.example/{uid}/manifest/video.mpd")
        );
        assert_eq!(j["status"], Value::Null);
        assert_eq!(j["deleteRecordingAfterDays"], Value::Null);

        i.status = Some(LiveStatus {
            state: "connected".into(),
            entered_at: 2_000_000,
        });
        let configured = ApiConfig {
            live_rtmp_url: Some("rtmps://live.example:443/live/".into()),
            live_srt_url: Some("srt://live.example:778".into()),
            ..config
        };
        let j = live_input(&i, &configured);
        assert_eq!(
            j["status"],
            json!({"current": {"state": "connected",
                               "statusEnteredAt": "1970-01-01T00:00:02.000000Z"}})
        );
        assert_eq!(j["rtmps"]["url"], "rtmps://live.example:443/live/");
        assert_eq!(j["srt"]["url"], "srt://live.example:778");
    }

    #[test]
    fn a_list_shows_no_secrets() {
        let i = LiveInputRecord::new(AccountId::generate(), 0);
        let list = live_input_list(std::slice::from_ref(&i));
        let text = list.to_string();
        assert!(!text.contains(i.stream_key.expose()));
        assert!(!text.contains(i.srt_passphrase.expose()));
        assert_eq!(
            (list["range"].as_u64(), list["total"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(list["liveInputs"][0]["uid"], i.uid.as_str());
    }
}
