//! The segment index: for every rendition, its codec, size, bit rates and the exact
//! start and duration of each segment, derived from the fMP4 files on disk. Manifests
//! are rendered from it (`manifest.rs`) and it is stored next to them as
//! `manifest/index.json`, so they can be re-rendered without touching the media.
//!
//! File naming inside a rendition directory is fixed here and nowhere else.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::MediaError;
use crate::mp4::{self, SampleEntry};

/// Every rendition's initialization segment.
pub const INIT_FILE: &str = "init.mp4";
/// Our rendered per-rendition HLS playlist.
pub const PLAYLIST_FILE: &str = "index.m3u8";
/// Media segments are numbered from this, in their names and in DASH `startNumber`.
pub const FIRST_SEGMENT_NUMBER: u32 = 1;
/// ffmpeg's `hls_segment_filename` pattern matching [`segment_file`].
pub const FFMPEG_SEGMENT_PATTERN: &str = "seg_%05d.m4s";
/// DASH `SegmentTemplate@media` matching [`segment_file`].
pub const DASH_SEGMENT_TEMPLATE: &str = "seg_$Number%05d$.m4s";
/// Segments shorter than this are left out of the peak bit rate: a final 0.2 s
/// fragment holding a keyframe would otherwise claim a wildly high peak.
pub const MIN_PEAK_SEGMENT_SECS: f64 = 1.0;

/// Name of media segment `number` (1-based).
pub fn segment_file(number: u32) -> String {
    format!("seg_{number:05}.m4s")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentIndex {
    /// Longest rendition, in seconds.
    pub duration_secs: f64,
    /// Video renditions first, highest first; then audio.
    pub renditions: Vec<Rendition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rendition {
    /// Also the directory under `manifest/`: `v0`, `v1`, … `a0`.
    pub id: String,
    #[serde(flatten)]
    pub track: Track,
    /// RFC 6381 codec string from the init segment.
    pub codecs: String,
    /// Peak bit rate over segments, bits/s (HLS `BANDWIDTH`, DASH `@bandwidth`).
    pub bandwidth: u64,
    pub average_bandwidth: u64,
    /// Ticks per second of `Segment::start` and `Segment::duration`.
    pub timescale: u32,
    /// What the init segment's edit list adds to presentation times, in ticks (see
    /// [`crate::mp4::InitInfo::edit_shift`]).
    #[serde(default)]
    pub edit_shift: i64,
    /// Segment `i` is file `segment_file(FIRST_SEGMENT_NUMBER + i)`.
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Track {
    Video {
        width: u32,
        height: u32,
        frame_rate: f64,
    },
    Audio {
        channels: u32,
        sample_rate: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Decode time of the first sample, in the rendition's timescale.
    pub start: u64,
    pub duration: u64,
    pub bytes: u64,
    /// Earliest presentation time of its samples (decode time + composition offset,
    /// before the edit list), in ticks: where the segment's first frame is shown.
    #[serde(default)]
    pub presentation: i64,
}

impl Rendition {
    pub fn is_video(&self) -> bool {
        matches!(self.track, Track::Video { .. })
    }

    pub fn seconds(&self, ticks: u64) -> f64 {
        ticks as f64 / f64::from(self.timescale.max(1))
    }

    pub fn duration_secs(&self) -> f64 {
        self.seconds(self.segments.iter().map(|s| s.duration).sum())
    }

    /// Where segment `i`'s first frame is shown, in seconds: as the fragments say
    /// (`edited` false), or on the movie timeline after the edit list (`edited` true).
    /// Players differ in whether they apply the edit list, so a ladder must agree on both.
    pub fn presentation_secs(&self, segment: &Segment, edited: bool) -> f64 {
        let shift = if edited { self.edit_shift } else { 0 };
        (segment.presentation + shift) as f64 / f64::from(self.timescale.max(1))
    }
}

impl SegmentIndex {
    pub fn new(renditions: Vec<Rendition>) -> Self {
        let duration_secs = renditions
            .iter()
            .map(Rendition::duration_secs)
            .fold(0.0, f64::max);
        Self {
            duration_secs,
            renditions,
        }
    }

    pub fn video(&self) -> impl Iterator<Item = &Rendition> {
        self.renditions.iter().filter(|r| r.is_video())
    }

    pub fn audio(&self) -> impl Iterator<Item = &Rendition> {
        self.renditions.iter().filter(|r| !r.is_video())
    }
}

/// The segment URIs of an HLS playlist, in order.
pub fn playlist_segments(m3u8: &str) -> Vec<&str> {
    m3u8.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Indexes rendition `id` in `dir`, whose segments (from ffmpeg's playlist) must be
/// named `seg_00001.m4s`, `seg_00002.m4s`, … in order. Blocking: run it off the runtime.
pub fn index_rendition(
    dir: &Path,
    id: &str,
    segment_names: &[&str],
) -> Result<Rendition, MediaError> {
    let bad = |what: String| MediaError::UnexpectedOutput(format!("{id}: {what}"));
    let init_path = dir.join(INIT_FILE);
    let init_bytes = std::fs::read(&init_path)
        .map_err(|e| MediaError::io(format!("reading {}", init_path.display()), e))?;
    let init = mp4::parse_init(&init_bytes).map_err(|e| bad(format!("{INIT_FILE}: {e}")))?;
    if segment_names.is_empty() {
        return Err(bad("no segments".into()));
    }

    let mut segments = Vec::with_capacity(segment_names.len());
    let mut samples = 0u64;
    for (i, name) in segment_names.iter().enumerate() {
        let expected = segment_file(FIRST_SEGMENT_NUMBER + i as u32);
        if *name != expected {
            return Err(bad(format!(
                "segment {i} is {name:?}, expected {expected:?}"
            )));
        }
        let path = dir.join(name);
        let bytes = path
            .metadata()
            .map_err(|e| MediaError::io(format!("reading {}", path.display()), e))?
            .len();
        let timing = mp4::read_moofs(&path)
            .and_then(|moofs| mp4::parse_fragments(&moofs, init.default_sample_duration))
            .map_err(|e| bad(format!("{name}: {e}")))?;
        if timing.duration == 0 {
            return Err(bad(format!("{name} has no duration")));
        }
        samples += timing.samples;
        segments.push(Segment {
            start: timing.start,
            duration: timing.duration,
            bytes,
            presentation: timing.earliest_presentation,
        });
    }

    let mut rendition = Rendition {
        id: id.to_owned(),
        track: Track::Audio {
            channels: 0,
            sample_rate: 0,
        },
        codecs: init.codecs,
        bandwidth: 0,
        average_bandwidth: 0,
        timescale: init.timescale.max(1),
        edit_shift: init.edit_shift,
        segments,
    };
    let total_secs = rendition.duration_secs();
    rendition.track = match init.entry {
        SampleEntry::Video { width, height, .. } => Track::Video {
            width: width.into(),
            height: height.into(),
            // Mean frame rate over the whole rendition, to the nearest 1/1000.
            frame_rate: (samples as f64 / total_secs * 1000.0).round() / 1000.0,
        },
        SampleEntry::Audio { channels } => Track::Audio {
            channels: channels.into(),
            sample_rate: init.timescale,
        },
    };
    let total_bytes: u64 = rendition.segments.iter().map(|s| s.bytes).sum();
    rendition.average_bandwidth = (total_bytes as f64 * 8.0 / total_secs).ceil() as u64;
    rendition.bandwidth = rendition
        .segments
        .iter()
        .filter(|s| rendition.seconds(s.duration) >= MIN_PEAK_SEGMENT_SECS)
        .map(|s| (s.bytes as f64 * 8.0 / rendition.seconds(s.duration)).ceil() as u64)
        .max()
        .unwrap_or(rendition.average_bandwidth)
        .max(rendition.average_bandwidth);
    Ok(rendition)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_and_template_agree() {
        assert_eq!(segment_file(1), "seg_00001.m4s");
        assert_eq!(segment_file(123456), "seg_123456.m4s");
        let from_template = DASH_SEGMENT_TEMPLATE.replace("$Number%05d$", "00042");
        assert_eq!(from_template, segment_file(42));
        assert_eq!(
            FFMPEG_SEGMENT_PATTERN.replace("%05d", "00042"),
            segment_file(42)
        );
    }

    #[test]
    fn playlist_uris() {
        let m3u8 = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.0,\nseg_00001.m4s\n\n#EXTINF:2.0,\nseg_00002.m4s\n#EXT-X-ENDLIST\n";
        assert_eq!(
            playlist_segments(m3u8),
            vec!["seg_00001.m4s", "seg_00002.m4s"]
        );
    }

    #[test]
    fn index_json_round_trips() {
        let index = SegmentIndex::new(vec![Rendition {
            id: "v0".into(),
            track: Track::Video {
                width: 1280,
                height: 720,
                frame_rate: 30.0,
            },
            codecs: "avc1.64001f".into(),
            bandwidth: 3_000_000,
            average_bandwidth: 2_800_000,
            timescale: 15360,
            edit_shift: -1024,
            segments: vec![
                Segment {
                    start: 0,
                    duration: 61440,
                    bytes: 1_500_000,
                    presentation: 1024,
                },
                Segment {
                    start: 61440,
                    duration: 30720,
                    bytes: 700_000,
                    presentation: 62464,
                },
            ],
        }]);
        assert_eq!(index.duration_secs, 6.0);
        let json = serde_json::to_value(&index).unwrap();
        assert_eq!(json["renditions"][0]["type"], "video");
        assert_eq!(json["renditions"][0]["width"], 1280);
        let back: SegmentIndex = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, index);
        let r = &index.renditions[0];
        assert_eq!(
            r.presentation_secs(&r.segments[1], false),
            62464.0 / 15360.0
        );
        assert_eq!(r.presentation_secs(&r.segments[1], true), 4.0);
        // Indexes written before presentation times were recorded still read.
        let mut old = json;
        old["renditions"][0]
            .as_object_mut()
            .unwrap()
            .remove("edit_shift");
        old["renditions"][0]["segments"][0]
            .as_object_mut()
            .unwrap()
            .remove("presentation");
        let back: SegmentIndex = serde_json::from_value(old).unwrap();
        assert_eq!(back.renditions[0].edit_shift, 0);
        assert_eq!(back.renditions[0].segments[0].presentation, 0);
    }
}
