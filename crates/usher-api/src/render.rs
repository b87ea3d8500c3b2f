//! Video objects as the Cloudflare API shows them. Field names and shapes are the
//! wire contract the SDKs parse; URLs are absolute, built from `--public-url`.

use serde_json::{Value, json};
use usher_core::time_fmt::format_micros;
use usher_core::{Video, Watermark};

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
        "liveInput": v.live_input.as_ref().map(|u| u.as_str()),
        "clippedFrom": v.clipped_from.as_ref().map(|u| u.as_str()),
        "watermark": v.watermark.as_ref().map(watermark),
    })
}

/// A live input notification, in the shape of Cloudflare's Stream Live webhooks.
pub fn live_event(e: &usher_store::LiveEvent) -> Value {
    let at = format_micros(e.at);
    json!({
        "name": "Usher live input",
        "text": format!(
            "Notification type: Stream Live Input\nInput ID: {}\nEvent type: {}\nUpdated at: {at}",
            e.live_input_uid, e.event_type
        ),
        "data": {
            "notification_name": "Stream Live Input",
            "input_id": e.live_input_uid.as_str(),
            "event_type": e.event_type,
            "updated_at": at,
        },
        "ts": e.at / 1_000_000,
    })
}

/// A watermark profile (also what a video carries, as it was at upload).
pub fn watermark(w: &Watermark) -> Value {
    json!({
        "uid": w.uid.as_str(),
        "size": w.size,
        "height": w.height,
        "width": w.width,
        "created": format_micros(w.created),
        "downloadedFrom": w.downloaded_from,
        "name": w.name,
        "opacity": w.opacity,
        "padding": w.padding,
        "scale": w.scale,
        "position": w.position.as_str(),
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
        assert_eq!(j["watermark"], Value::Null);
        assert_eq!(j["clippedFrom"], Value::Null);
        assert_eq!(j["liveInput"], Value::Null);
    }

    #[test]
    fn a_recording_names_its_live_input() {
        let mut v = Video::new(
            VideoId::generate(),
            AccountId::generate(),
            VideoState::Queued,
            0,
        );
        let input = usher_core::LiveInputId::generate();
        v.live_input = Some(input.clone());
        assert_eq!(video(&v, "http://h:1")["liveInput"], input.as_str());
    }

    #[test]
    fn a_clip_shows_its_source_and_watermark_in_cloudflares_shape() {
        let account = AccountId::generate();
        let mut v = Video::new(VideoId::generate(), account.clone(), VideoState::Queued, 0);
        let source = VideoId::generate();
        v.clipped_from = Some(source.clone());
        let wm = Watermark {
            uid: usher_core::WatermarkId::generate(),
            account_id: account,
            name: "logo".into(),
            size: 131,
            width: 48,
            height: 16,
            opacity: 0.5,
            padding: 0.1,
            scale: 0.2,
            position: usher_core::WatermarkPosition::LowerLeft,
            downloaded_from: None,
            created: 1_000_001,
        };
        v.watermark = Some(wm.clone());
        let j = video(&v, "http://h:1");
        assert_eq!(j["clippedFrom"], source.as_str());
        assert_eq!(
            j["watermark"],
            json!({
                "uid": wm.uid.as_str(), "size": 131, "height": 16, "width": 48,
                "created": "1970-01-01T00:00:01.000001Z", "downloadedFrom": null,
                "name": "logo", "opacity": 0.5, "padding": 0.1, "scale": 0.2,
                "position": "lowerLeft",
            })
        );
    }
}
