//! Video objects as the Cloudflare API shows them. Field names and shapes are the
//! wire contract the SDKs parse; URLs are absolute, built from `--public-url`.

use serde_json::{Value, json};
use usher_core::Video;
use usher_core::time_fmt::format_micros;

fn time(t: Option<i64>) -> Value {
    t.map_or(Value::Null, |us| Value::String(format_micros(us)))
}

pub fn video(v: &Video, public_url: &str) -> Value {
    let base = format!("{}/{}", public_url.trim_end_matches('/'), v.uid);
    let (code, text) = v.error_reason.map_or(("", ""), |r| (r.code(), r.text()));
    json!({
        "uid": v.uid.as_str(),
        "created": format_micros(v.created),
        "modified": format_micros(v.modified),
        "uploaded": time(v.uploaded),
        "creator": v.creator,
        "meta": v.meta,
        "size": v.size,
        "duration": v.duration,
        "input": {"width": v.width, "height": v.height},
        "status": {
            "state": v.state.as_str(),
            "pctComplete": format!("{:.6}", v.pct_complete),
            "errorReasonCode": code,
            "errorReasonText": text,
        },
        "readyToStream": v.ready_to_stream(),
        "readyToStreamAt": time(v.ready_at),
        "requireSignedURLs": v.require_signed_urls,
        "allowedOrigins": v.allowed_origins,
        "thumbnail": format!("{base}/thumbnails/thumbnail.jpg"),
        "thumbnailTimestampPct": v.thumbnail_pct,
        "preview": format!("{base}/watch"),
        "playback": {
            "hls": format!("{base}/manifest/video.m3u8"),
            "dash": format!("{base}/manifest/video.mpd"),
        },
        "maxDurationSeconds": v.max_duration_seconds,
        "scheduledDeletion": time(v.scheduled_deletion),
        "uploadExpiry": time(v.upload_expiry),
        "liveInput": null,
        "watermark": null,
    })
}

pub fn embed_html(v: &Video, public_url: &str) -> String {
    format!(
        "<iframe src=\"{}/{}/iframe\" style=\"border: none;\" height=\"720\" width=\"1280\" \
         allow=\"accelerometer; gyroscope; autoplay; encrypted-media; picture-in-picture;\" \
         allowfullscreen=\"true\"></iframe>",
        public_url.trim_end_matches('/'),
        v.uid
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use usher_core::{AccountId, VideoId, VideoState};

    #[test]
    fn fresh_video_has_unknowns_and_absolute_urls() {
        let v = Video::new(
            VideoId::generate(),
            AccountId::generate(),
            VideoState::Queued,
            0,
        );
        let j = video(&v, "http://h:1/");
        assert_eq!(j["duration"], -1.0);
        assert_eq!(j["input"]["width"], -1);
        assert_eq!(j["status"]["pctComplete"], "0.000000");
        assert_eq!(j["status"]["state"], "queued");
        assert_eq!(j["readyToStream"], false);
        assert_eq!(
            j["playback"]["hls"],
            format!("http://h:1/{}/manifest/video.m3u8", v.uid)
        );
        assert_eq!(j["created"], "1970-01-01T00:00:00.000000Z");
    }
}
