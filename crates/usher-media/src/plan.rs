//! Deciding what to make of a probed input: a bit-rate ladder for every video. Pure, so
//! the rules are unit-tested.
//!
//! - **Remux** when every player we serve can decode the source's streams as they are
//!   (H.264 4:2:0 in a browser profile, AAC, ≤ 1080p, ≤ 60 fps, square pixels, no
//!   rotation, key frames at most [`MAX_REMUX_KEYFRAME_INTERVAL_SECS`] apart): the
//!   source's own video is copied as the top rendition, and the [`LADDER`] heights below
//!   it are encoded from it, key frames following the source's (`command.rs`).
//! - **Transcode** otherwise, and always for clips and watermarks: every rendition is
//!   encoded, the top one at the largest [`LADDER`] height the source reaches.
//!
//! Bit rates ([`rung_kbps`]): a rung's rate is its height's nominal rate (for a 16:9
//! frame at 30 fps) scaled by the frame's area relative to that 16:9 frame, and by
//! `(fps / 30) ^ 0.6` — consecutive frames of faster video are more alike, so doubling
//! the rate costs ×1.5 bits (YouTube's and Apple's ladders step about so from 30 to
//! 60 fps) — never below [`MIN_VIDEO_KBPS`]. Below a copied top rendition, no rung may
//! ask for more than the source itself spends on that many pixels: the source's actual
//! rate scaled by `(area / source area) ^ 0.75`, the exponent by which [`LADDER`]'s own
//! rates fall with area. Each rung's rate is also at most the one above it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use usher_core::{ClipSpan, WatermarkPosition};

use crate::probe::{AudioStream, Probe, VideoStream};

/// Largest frame we pass through untouched, in either orientation: what every browser's
/// H.264 decoder handles at the levels phones and cameras produce.
pub const MAX_REMUX_LONG_SIDE: u32 = 1920;
pub const MAX_REMUX_SHORT_SIDE: u32 = 1080;
/// Above this, a remux would hand 120/240 fps slow-motion straight to players.
pub const MAX_REMUX_FPS: f64 = 60.5;
/// H.264 profiles that hls.js/dash.js (via MSE) and Safari all decode. High 10, 4:2:2
/// and 4:4:4 profiles are not among them.
pub const REMUX_PROFILES: [&str; 4] = ["Constrained Baseline", "Baseline", "Main", "High"];
/// AAC flavours browsers decode in MP4 (`mp4a.40.2`, `.5`, `.29`).
pub const REMUX_AAC_PROFILES: [&str; 3] = ["LC", "HE-AAC", "HE-AACv2"];
/// A copied rendition is cut at the source's key frames, and every rendition below it
/// at the same instants; sources whose key frames are further apart than this (screen
/// and video-call recorders write one every few minutes) would give segments that make
/// players buffer that long before they can start or switch, so they are transcoded
/// with our own key frame interval instead.
pub const MAX_REMUX_KEYFRAME_INTERVAL_SECS: f64 = 10.0;

/// The ladder: (short side, video bit rate in kbit/s for a 16:9 frame at 30 fps).
pub const LADDER: [(u32, u32); 5] = [
    (1080, 5000),
    (720, 2800),
    (480, 1400),
    (360, 800),
    (240, 400),
];
/// The frame rate [`LADDER`]'s rates are for.
pub const REFERENCE_FPS: f64 = 30.0;
/// Bit rate grows with frame rate to this power (see the module docs).
pub const FPS_EXPONENT: f64 = 0.6;
/// Rungs below a copied source spend at most its rate scaled by area to this power.
pub const CAP_AREA_EXPONENT: f64 = 0.75;
/// No rung is wider (or, for portrait video, taller) than this.
pub const MAX_LONG_SIDE: u32 = 1920;
/// Floor for tiny inputs' bit rate, below which x264 output falls apart.
pub const MIN_VIDEO_KBPS: u32 = 150;
/// Frame rate of transcoded renditions at most (slow-motion sources are resampled).
pub const MAX_OUTPUT_FPS: f64 = 60.0;
/// Frame rate assumed when ffprobe reports none.
pub const FALLBACK_FPS: f64 = 30.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Plan {
    /// Copy the source's video (and AAC audio, if any) as the top rendition, and encode
    /// `lower` (highest first, possibly none) from it.
    Remux { lower: Vec<Rung> },
    /// Encode `lower` (highest first) below a copy packaged earlier — progressive
    /// publishing's second step: video only, as renditions `v1`, `v2`, …
    Below { lower: Vec<Rung> },
    /// Encode every rendition, highest first, applying `edits`.
    Transcode {
        ladder: Vec<Rung>,
        #[serde(default)]
        edits: Edits,
    },
}

/// What a video asks for beyond packaging: a span of the source, a watermark.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Edits {
    /// Only this span of the source, cut frame-accurately.
    pub clip: Option<ClipSpan>,
    /// An image burnt into every rendition.
    pub watermark: Option<Overlay>,
}

/// A watermark to burn in: the image (a local PNG or JPEG) and how to lay it over the
/// frame, as Cloudflare's watermark profiles define it (`overlay.rs` does the geometry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overlay {
    pub image: PathBuf,
    /// The image's own size in pixels.
    pub width: u32,
    pub height: u32,
    /// 0.0–1.0, multiplies the image's alpha.
    pub opacity: f64,
    /// 0.0–1.0 of the frame's shorter side, between the image and its edges.
    pub padding: f64,
    /// 0.0 (the image's own size) – 1.0 (as large as the frame).
    pub scale: f64,
    pub position: WatermarkPosition,
}

impl Edits {
    pub fn is_empty(&self) -> bool {
        self.clip.is_none() && self.watermark.is_none()
    }
}

/// One encoded rendition. Both sides are even (a 4:2:0 requirement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rung {
    pub width: u32,
    pub height: u32,
    pub video_bitrate_kbps: u32,
}

impl Plan {
    pub fn is_remux(&self) -> bool {
        matches!(self, Self::Remux { .. })
    }

    /// The span of the source this plan makes a video of, if not all of it.
    pub fn clip(&self) -> Option<ClipSpan> {
        match self {
            Self::Transcode { edits, .. } => edits.clip,
            Self::Remux { .. } | Self::Below { .. } => None,
        }
    }

    /// How long the packaged video should be: the source's duration, or the clip's
    /// span within it.
    pub fn output_duration(&self, probe: &Probe) -> f64 {
        match self.clip() {
            Some(span) => clip_duration(span, probe.duration_secs),
            None => probe.duration_secs,
        }
    }
}

/// The part of `span` inside a source of `source_secs` (a span the API accepted may
/// reach past the end when the container's duration was rounded up), in seconds.
pub fn clip_duration(span: ClipSpan, source_secs: f64) -> f64 {
    let end = if source_secs > 0.0 {
        span.end.min(source_secs)
    } else {
        span.end
    };
    (end - span.start.max(0.0)).max(0.0)
}

/// The plan for an input with nothing to edit.
pub fn plan(probe: &Probe) -> Plan {
    plan_with(probe, Edits::default())
}

/// The plan for an input: a remux when its streams can be copied and nothing is to be
/// edited (cutting and burning in both need decoded frames), else a transcode.
pub fn plan_with(probe: &Probe, edits: Edits) -> Plan {
    match &probe.video {
        Some(video) if edits.is_empty() && remux_blocker(video, probe.audio.as_ref()).is_none() => {
            Plan::Remux {
                lower: lower_rungs(probe),
            }
        }
        _ => transcode(probe, edits),
    }
}

/// The transcode plan for an input, whatever its codecs.
pub fn transcode(probe: &Probe, edits: Edits) -> Plan {
    Plan::Transcode {
        ladder: probe.video.as_ref().map(ladder).unwrap_or_default(),
        edits,
    }
}

/// Why these streams cannot be copied as they are, or `None` if they can.
pub fn remux_blocker(video: &VideoStream, audio: Option<&AudioStream>) -> Option<String> {
    if video.codec != "h264" {
        return Some(format!("video codec {}", video.codec));
    }
    if video.pix_fmt.as_deref() != Some("yuv420p") {
        return Some(format!("pixel format {:?}", video.pix_fmt));
    }
    if !video
        .profile
        .as_deref()
        .is_some_and(|p| REMUX_PROFILES.contains(&p))
    {
        return Some(format!("H.264 profile {:?}", video.profile));
    }
    let (long, short) = (video.width.max(video.height), video.width.min(video.height));
    if long > MAX_REMUX_LONG_SIDE || short > MAX_REMUX_SHORT_SIDE {
        return Some(format!("frame size {}x{}", video.width, video.height));
    }
    // Players disagree on honouring a display matrix or non-square pixels in fMP4, so
    // those are baked in by the transcode instead.
    if video.rotation != 0 {
        return Some(format!("rotated {} degrees", video.rotation));
    }
    if video.sample_aspect_ratio.is_some() {
        return Some("non-square pixels".to_owned());
    }
    if video.fps.is_some_and(|fps| fps > MAX_REMUX_FPS) {
        return Some(format!("{:?} fps", video.fps));
    }
    if let Some(gap) = video
        .max_keyframe_interval
        .filter(|gap| *gap > MAX_REMUX_KEYFRAME_INTERVAL_SECS)
    {
        return Some(format!("key frames {gap:.1}s apart"));
    }
    audio.and_then(remux_blocker_audio)
}

/// Why this audio cannot be copied into our MP4s as it is, or `None` if it can.
pub fn remux_blocker_audio(audio: &AudioStream) -> Option<String> {
    let playable = audio.codec == "aac"
        && audio
            .profile
            .as_deref()
            .is_none_or(|p| REMUX_AAC_PROFILES.contains(&p));
    (!playable).then(|| format!("audio codec {} {:?}", audio.codec, audio.profile))
}

/// The frame rate renditions of this video are encoded at.
pub fn output_fps(video: &VideoStream) -> f64 {
    video.fps.unwrap_or(FALLBACK_FPS).min(MAX_OUTPUT_FPS)
}

/// The transcode ladder: every [`LADDER`] height the input reaches, never upscaled; an
/// input below the smallest gets one rung at its own size.
pub fn ladder(video: &VideoStream) -> Vec<Rung> {
    let (width, height) = video.display_size();
    let (width, height) = (width.max(2), height.max(2));
    let short = width.min(height);
    let fps = output_fps(video);
    let mut rungs: Vec<Rung> = Vec::new();
    for (target_short, nominal_kbps) in LADDER.into_iter().filter(|(s, _)| *s <= short) {
        let rung = scaled(
            width,
            height,
            f64::from(target_short) / f64::from(short),
            (nominal_kbps, target_short),
            fps,
        );
        if rungs
            .iter()
            .all(|r| r.width != rung.width || r.height != rung.height)
        {
            rungs.push(rung);
        }
    }
    if rungs.is_empty() {
        let (smallest_short, smallest_kbps) = LADDER[LADDER.len() - 1];
        rungs.push(scaled(
            width,
            height,
            1.0,
            (smallest_kbps, smallest_short),
            fps,
        ));
    }
    never_rising(rungs)
}

/// The rungs encoded below a copied source: the ladder's rungs smaller than it, their
/// rates capped by what the source spends (see the module docs).
pub fn lower_rungs(probe: &Probe) -> Vec<Rung> {
    let Some(video) = &probe.video else {
        return Vec::new();
    };
    let source_pixels = f64::from(video.width) * f64::from(video.height);
    let source_kbps = source_video_kbps(probe);
    let rungs = ladder(video)
        .into_iter()
        .filter(|r| f64::from(r.width) * f64::from(r.height) < source_pixels)
        .map(|mut rung| {
            if let Some(top) = source_kbps {
                let share = f64::from(rung.width) * f64::from(rung.height) / source_pixels;
                let cap = (top * share.powf(CAP_AREA_EXPONENT)).floor().max(1.0) as u32;
                rung.video_bitrate_kbps = rung.video_bitrate_kbps.min(cap);
            }
            rung
        })
        .collect();
    never_rising(rungs)
}

/// The source's video bit rate in kbit/s: as the stream states it, else the file's
/// average less the audio.
pub fn source_video_kbps(probe: &Probe) -> Option<f64> {
    let stated = probe.video.as_ref().and_then(|v| v.bit_rate);
    let estimated = || {
        let size = probe.size_bytes? as f64;
        let audio = probe.audio.as_ref().and_then(|a| a.bit_rate).unwrap_or(0) as f64;
        (probe.duration_secs > 0.0).then(|| size * 8.0 / probe.duration_secs - audio)
    };
    stated
        .map(|b| b as f64)
        .or_else(estimated)
        .filter(|b| b.is_finite() && *b > 0.0)
        .map(|b| b / 1000.0)
}

/// A rung's bit rate by frame area and rate (see the module docs).
pub fn rung_kbps(
    width: u32,
    height: u32,
    (nominal_kbps, nominal_short): (u32, u32),
    fps: f64,
) -> u32 {
    let nominal_pixels = f64::from(nominal_short) * f64::from(nominal_short) * 16.0 / 9.0;
    let area = (f64::from(width) * f64::from(height) / nominal_pixels).min(1.0);
    let fps = if fps.is_finite() && fps > 0.0 {
        fps.min(MAX_OUTPUT_FPS)
    } else {
        FALLBACK_FPS
    };
    let rate = (fps / REFERENCE_FPS).powf(FPS_EXPONENT);
    ((f64::from(nominal_kbps) * area * rate).round() as u32).max(MIN_VIDEO_KBPS)
}

/// Scales by `factor` (capped so the long side fits [`MAX_LONG_SIDE`], never upscaling).
fn scaled(width: u32, height: u32, factor: f64, nominal: (u32, u32), fps: f64) -> Rung {
    let long = f64::from(width.max(height));
    let factor = factor.min(f64::from(MAX_LONG_SIDE) / long).min(1.0);
    let (w, h) = (
        even_floor(f64::from(width) * factor),
        even_floor(f64::from(height) * factor),
    );
    Rung {
        width: w,
        height: h,
        video_bitrate_kbps: rung_kbps(w, h, nominal, fps),
    }
}

/// Caps each rung's rate at the one above it.
fn never_rising(mut rungs: Vec<Rung>) -> Vec<Rung> {
    let mut ceiling = u32::MAX;
    for rung in &mut rungs {
        rung.video_bitrate_kbps = rung.video_bitrate_kbps.min(ceiling);
        ceiling = rung.video_bitrate_kbps;
    }
    rungs
}

/// Rounds down to an even number, at least 2: never larger than the input.
fn even_floor(x: f64) -> u32 {
    ((x.floor() as u32) / 2 * 2).max(2)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
