//! ffprobe's JSON as it comes: every field optional and loosely typed (numbers arrive
//! as strings or numbers depending on the field and the ffprobe version), turned into
//! the typed streams of [`crate::probe`].

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::probe::{AudioStream, VideoStream};

#[derive(Deserialize, Default)]
pub(crate) struct RawOutput {
    #[serde(default)]
    pub streams: Vec<RawStream>,
    #[serde(default)]
    pub format: HashMap<String, Value>,
    /// The packets of the key-frame scan, in file order (all streams).
    #[serde(default)]
    pub packets: Vec<RawPacket>,
}

/// One `-show_entries packet=stream_index,pts_time,flags` entry.
#[derive(Deserialize, Default)]
pub(crate) struct RawPacket {
    #[serde(default)]
    stream_index: Option<Value>,
    #[serde(default)]
    pts_time: Option<Value>,
    /// `K_` for a key frame, `__` otherwise (`D` marks a discarded packet).
    #[serde(default)]
    flags: Option<String>,
}

/// The longest gap between key frames of stream `index` among `packets`, counting the
/// stretch from the last key frame to the last packet scanned (a lower bound of the
/// next gap). `None` without any key frame.
pub(crate) fn max_keyframe_interval(packets: &[RawPacket], index: u32) -> Option<f64> {
    let mut last_key: Option<f64> = None;
    let mut latest: Option<f64> = None;
    let mut widest: Option<f64> = None;
    for packet in packets {
        if packet.stream_index.as_ref().and_then(as_u64) != Some(u64::from(index)) {
            continue;
        }
        let Some(pts) = packet.pts_time.as_ref().and_then(as_f64) else {
            continue;
        };
        latest = Some(latest.map_or(pts, |l: f64| l.max(pts)));
        let flags = packet.flags.as_deref().unwrap_or("");
        if flags.contains('K') && !flags.contains('D') {
            if let Some(previous) = last_key {
                widest = Some(widest.unwrap_or(0.0).max(pts - previous));
            }
            last_key = Some(pts);
        }
    }
    let tail = latest.zip(last_key).map(|(end, key)| end - key)?;
    Some(widest.unwrap_or(0.0).max(tail))
}

#[derive(Deserialize, Default)]
pub(crate) struct RawStream {
    #[serde(flatten)]
    fields: HashMap<String, Value>,
}

impl RawStream {
    pub(crate) fn str(&self, key: &str) -> Option<&str> {
        self.fields
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && *s != "unknown")
    }
    pub(crate) fn u64(&self, key: &str) -> Option<u64> {
        self.fields.get(key).and_then(as_u64)
    }
    pub(crate) fn kind(&self) -> Option<&str> {
        self.str("codec_type")
    }
    pub(crate) fn codec(&self) -> Option<&str> {
        self.str("codec_name")
    }
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.fields
            .get("disposition")
            .and_then(|d| d.get(name))
            .and_then(as_u64)
            == Some(1)
    }
    pub(crate) fn tag(&self, name: &str) -> Option<&Value> {
        let tags = self.fields.get("tags")?.as_object()?;
        tags.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
    pub(crate) fn duration(&self) -> Option<f64> {
        // Matroska keeps per-stream durations in a `DURATION` tag, as HH:MM:SS.fraction.
        let from_tag = || {
            self.tag("DURATION")
                .and_then(Value::as_str)
                .and_then(parse_clock)
        };
        self.fields
            .get("duration")
            .and_then(as_f64)
            .or_else(from_tag)
            .filter(|d| d.is_finite() && *d > 0.0)
    }
    pub(crate) fn to_video(&self) -> VideoStream {
        let rate = |key| {
            self.str(key)
                .and_then(parse_ratio)
                .filter(|r| *r > 0.0 && *r <= 1000.0)
        };
        let rotation = self
            .fields
            .get("side_data_list")
            .and_then(Value::as_array)
            .and_then(|list| {
                list.iter()
                    .find_map(|sd| sd.get("rotation").and_then(as_f64))
            })
            .or_else(|| self.tag("rotate").and_then(as_f64))
            .unwrap_or(0.0);
        let sample_aspect_ratio = self.str("sample_aspect_ratio").and_then(|s| {
            let (n, d) = s.split_once(':')?;
            let (n, d) = (n.parse().ok()?, d.parse().ok()?);
            (n > 0 && d > 0 && n != d).then_some((n, d))
        });
        VideoStream {
            index: self.u64("index").unwrap_or(0) as u32,
            codec: self.codec().unwrap_or_default().to_owned(),
            width: self.u64("width").unwrap_or(0) as u32,
            height: self.u64("height").unwrap_or(0) as u32,
            pix_fmt: self.str("pix_fmt").map(str::to_owned),
            fps: rate("avg_frame_rate").or_else(|| rate("r_frame_rate")),
            profile: self.str("profile").map(str::to_owned),
            level: self
                .fields
                .get("level")
                .and_then(Value::as_i64)
                .filter(|l| *l > 0),
            bit_rate: self.u64("bit_rate"),
            rotation: ((rotation / 90.0).round() as i64).rem_euclid(4) as u32 * 90,
            sample_aspect_ratio,
            frame_count: self.u64("nb_frames"),
            reorder_depth: self.u64("has_b_frames").map(|d| d as u32),
            max_keyframe_interval: None,
        }
    }
    pub(crate) fn to_audio(&self) -> AudioStream {
        AudioStream {
            index: self.u64("index").unwrap_or(0) as u32,
            codec: self.codec().unwrap_or_default().to_owned(),
            profile: self.str("profile").map(str::to_owned),
            channels: self.u64("channels").map(|c| c as u32).filter(|c| *c > 0),
            sample_rate: self.u64("sample_rate").map(|r| r as u32).filter(|r| *r > 0),
            bit_rate: self.u64("bit_rate"),
        }
    }
}

pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

pub(crate) fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `"30000/1001"` → 29.97; `"0/0"` → None.
pub(crate) fn parse_ratio(s: &str) -> Option<f64> {
    let (n, d) = s.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (d != 0.0).then(|| n / d).filter(|r| r.is_finite())
}

/// `"00:01:02.500000000"` → 62.5.
pub(crate) fn parse_clock(s: &str) -> Option<f64> {
    let mut parts = s.trim().split(':').rev();
    let secs: f64 = parts.next()?.parse().ok()?;
    let mins: f64 = parts.next().map_or(Some(0.0), |m| m.parse().ok())?;
    let hours: f64 = parts.next().map_or(Some(0.0), |h| h.parse().ok())?;
    Some(hours * 3600.0 + mins * 60.0 + secs)
}
