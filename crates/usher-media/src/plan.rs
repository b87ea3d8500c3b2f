//! Deciding what to do with a probed input: copy its streams into our containers
//! (remux) when every player we serve can decode them as they are, or re-encode them into
//! a small ladder of H.264 renditions otherwise. Pure, so the rules are unit-tested.

use serde::{Deserialize, Serialize};

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

/// The transcode ladder: (short side, video bit rate in kbit/s for a 16:9 frame).
pub const LADDER: [(u32, u32); 4] = [(1080, 5000), (720, 2800), (480, 1400), (360, 800)];
/// Renditions per transcode: enough for adaptive playback, few enough that one pass
/// of a 2-core machine stays near real time.
pub const MAX_RUNGS: usize = 3;
/// No rung is wider (or, for portrait video, taller) than this.
pub const MAX_LONG_SIDE: u32 = 1920;
/// Floor for tiny inputs' bit rate, below which x264 output falls apart.
pub const MIN_VIDEO_KBPS: u32 = 150;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Plan {
    /// Copy the video (and AAC audio, if any) without re-encoding.
    Remux,
    /// Re-encode into these renditions, highest first.
    Transcode { ladder: Vec<Rung> },
}

/// One transcode rendition. Both sides are even (a 4:2:0 requirement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rung {
    pub width: u32,
    pub height: u32,
    pub video_bitrate_kbps: u32,
}

/// Chooses between remuxing and a transcode ladder for a classified probe.
pub fn plan(probe: &Probe) -> Plan {
    match &probe.video {
        Some(video) if remux_blocker(video, probe.audio.as_ref()).is_none() => Plan::Remux,
        Some(video) => Plan::Transcode {
            ladder: ladder(video),
        },
        None => Plan::Transcode { ladder: Vec::new() },
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

/// Up to [`MAX_RUNGS`] rungs of [`LADDER`] that are no larger than the input; an input
/// below the smallest rung gets one rung at its own size.
pub fn ladder(video: &VideoStream) -> Vec<Rung> {
    let (width, height) = video.display_size();
    let (width, height) = (width.max(2), height.max(2));
    let short = width.min(height);
    let mut rungs: Vec<Rung> = Vec::new();
    for (target_short, nominal_kbps) in LADDER.into_iter().filter(|(s, _)| *s <= short) {
        let rung = scaled(
            width,
            height,
            f64::from(target_short) / f64::from(short),
            nominal_kbps,
            target_short,
        );
        if rungs
            .iter()
            .all(|r| r.width != rung.width || r.height != rung.height)
        {
            rungs.push(rung);
        }
        if rungs.len() == MAX_RUNGS {
            break;
        }
    }
    if rungs.is_empty() {
        let (smallest_short, smallest_kbps) = LADDER[LADDER.len() - 1];
        rungs.push(scaled(width, height, 1.0, smallest_kbps, smallest_short));
    }
    rungs
}

/// Scales by `factor` (capped so the long side fits [`MAX_LONG_SIDE`], never upscaling)
/// and scales the bit rate by the pixels actually encoded relative to a 16:9 frame with
/// the nominal short side.
fn scaled(width: u32, height: u32, factor: f64, nominal_kbps: u32, nominal_short: u32) -> Rung {
    let long = f64::from(width.max(height));
    let factor = factor.min(f64::from(MAX_LONG_SIDE) / long).min(1.0);
    let (w, h) = (
        even_floor(f64::from(width) * factor),
        even_floor(f64::from(height) * factor),
    );
    let nominal_pixels = f64::from(nominal_short) * f64::from(nominal_short) * 16.0 / 9.0;
    let share = (f64::from(w) * f64::from(h) / nominal_pixels).min(1.0);
    let kbps = (f64::from(nominal_kbps) * share).round() as u32;
    Rung {
        width: w,
        height: h,
        video_bitrate_kbps: kbps.max(MIN_VIDEO_KBPS),
    }
}

/// Rounds down to an even number, at least 2: never larger than the input.
fn even_floor(x: f64) -> u32 {
    ((x.floor() as u32) / 2 * 2).max(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(codec: &str, width: u32, height: u32) -> VideoStream {
        VideoStream {
            index: 0,
            codec: codec.into(),
            width,
            height,
            pix_fmt: Some("yuv420p".into()),
            fps: Some(30.0),
            profile: Some("High".into()),
            level: Some(40),
            bit_rate: None,
            rotation: 0,
            sample_aspect_ratio: None,
            frame_count: None,
        }
    }

    fn aac() -> AudioStream {
        AudioStream {
            index: 1,
            codec: "aac".into(),
            profile: Some("LC".into()),
            channels: Some(2),
            sample_rate: Some(48000),
            bit_rate: None,
        }
    }

    fn probe(video: VideoStream, audio: Option<AudioStream>) -> Probe {
        Probe {
            duration_secs: 10.0,
            format_name: "mov,mp4".into(),
            size_bytes: None,
            video: Some(video),
            audio,
        }
    }

    fn sizes(plan: &Plan) -> Vec<(u32, u32)> {
        match plan {
            Plan::Transcode { ladder } => ladder.iter().map(|r| (r.width, r.height)).collect(),
            Plan::Remux => panic!("expected a transcode"),
        }
    }

    #[test]
    fn browser_ready_h264_is_remuxed() {
        assert_eq!(
            plan(&probe(video("h264", 1280, 720), Some(aac()))),
            Plan::Remux
        );
        assert_eq!(plan(&probe(video("h264", 1920, 1080), None)), Plan::Remux);
        assert_eq!(
            plan(&probe(video("h264", 1080, 1920), Some(aac()))),
            Plan::Remux,
            "portrait fits too"
        );
    }

    #[test]
    fn anything_else_is_transcoded() {
        let mut v = video("h264", 1280, 720);
        v.pix_fmt = Some("yuv422p".into());
        assert_eq!(
            sizes(&plan(&probe(v, None))),
            vec![(1280, 720), (852, 480), (640, 360)]
        );

        let mut v = video("h264", 1280, 720);
        v.profile = Some("High 10".into());
        assert!(remux_blocker(&v, None).unwrap().contains("High 10"));

        let mut opus = aac();
        opus.codec = "opus".into();
        assert!(remux_blocker(&video("h264", 1280, 720), Some(&opus)).is_some());
        assert!(remux_blocker(&video("h264", 2560, 1440), None).is_some());
        let mut rotated = video("h264", 1280, 720);
        rotated.rotation = 90;
        assert!(remux_blocker(&rotated, None).is_some());
        let mut fast = video("h264", 1280, 720);
        fast.fps = Some(120.0);
        assert!(remux_blocker(&fast, None).is_some());
    }

    #[test]
    fn ladder_is_capped_at_three_and_never_upscales() {
        assert_eq!(
            sizes(&plan(&probe(video("hevc", 3840, 2160), None))),
            vec![(1920, 1080), (1280, 720), (852, 480)]
        );
        assert_eq!(
            sizes(&plan(&probe(video("vp9", 854, 480), None))),
            vec![(854, 480), (640, 360)]
        );
        assert_eq!(
            sizes(&plan(&probe(video("vp9", 900, 500), None))),
            vec![(864, 480), (648, 360)]
        );
    }

    #[test]
    fn small_inputs_get_one_rung_at_their_own_even_size() {
        let p = plan(&probe(video("mpeg4", 321, 241), None));
        assert_eq!(sizes(&p), vec![(320, 240)]);
        let Plan::Transcode { ladder } = p else {
            unreachable!()
        };
        assert!(
            ladder[0].video_bitrate_kbps >= MIN_VIDEO_KBPS && ladder[0].video_bitrate_kbps < 800
        );
    }

    #[test]
    fn portrait_and_rotated_inputs_keep_their_orientation() {
        assert_eq!(
            sizes(&plan(&probe(video("vp9", 720, 1280), None))),
            vec![(720, 1280), (480, 852), (360, 640)]
        );
        let mut phone = video("h264", 1920, 1080);
        phone.rotation = 270;
        assert_eq!(
            sizes(&plan(&probe(phone, None))),
            vec![(1080, 1920), (720, 1280), (480, 852)]
        );
    }

    #[test]
    fn ultra_wide_inputs_fit_the_long_side_cap() {
        let rungs = ladder(&video("vp9", 5760, 1080));
        assert_eq!(
            rungs[0],
            Rung {
                width: 1920,
                height: 360,
                video_bitrate_kbps: rungs[0].video_bitrate_kbps
            }
        );
        assert!(
            rungs
                .iter()
                .all(|r| r.width <= MAX_LONG_SIDE && r.width % 2 == 0 && r.height % 2 == 0)
        );
        assert_eq!(
            rungs.len(),
            1,
            "every ladder step collapses to the same size: {rungs:?}"
        );
    }

    #[test]
    fn anamorphic_sources_are_stretched() {
        let mut dvd = video("mpeg2video", 720, 576);
        dvd.sample_aspect_ratio = Some((64, 45));
        assert_eq!(
            sizes(&plan(&probe(dvd, None))),
            vec![(852, 480), (640, 360)]
        );
    }

    #[test]
    fn bit_rates_follow_the_ladder() {
        let rungs = ladder(&video("vp9", 1920, 1080));
        assert_eq!(
            rungs
                .iter()
                .map(|r| r.video_bitrate_kbps)
                .collect::<Vec<_>>(),
            vec![5000, 2800, 1398]
        );
    }
}
