//! The single ffmpeg command line that packages a video: one process reads the input
//! once, decodes it once, encodes (or copies) each stream once, and the `tee` muxer fans
//! the packets out to an HLS fMP4 muxer per rendition plus an MP4 muxer for the download.
//!
//! Why this shape: a remux is dominated by process start-up (~80 ms), so one process
//! instead of three keeps it near ffmpeg's own `-c copy` time; and `tee` is the only way
//! in one process to mux the *same* encoded ladder rung into both the segments and the
//! MP4 without encoding it twice. One HLS muxer per stream (rather than one muxer with
//! `var_stream_map`) gives every rendition its own directory and an `init.mp4` of that
//! exact name, and keeps audio and video in separate segment files, which is what lets
//! the same segments serve HLS (audio group) and DASH (two adaptation sets).
//!
//! The ladder (`plan.rs`) is one `filter_complex`: the decoded frames are split once per
//! encoded rung and scaled. Its renditions must switch at the same instants:
//! - A transcode puts a key frame every [`GOP_SECS`] in every rung, and scene cuts are
//!   off, so every HLS muxer cuts at the same times.
//! - Below a copied top rendition, each encoded rung takes a key frame exactly where the
//!   source has one (`-force_key_frames source`) and nowhere else (a GOP longer than
//!   any source's), keeps the source's timestamps (`-fps_mode passthrough`,
//!   `-enc_time_base -1`: a phone's variable frame rate is not snapped to a grid), and
//!   reorders B-frames as deeply as the source does, so that its first frame's decode
//!   time — which the HLS muxer shifts to zero — matches the copy's. Every muxer then
//!   cuts at the same source key frames. `package.rs` verifies the result.
//!
//! ffmpeg runs with the output directory as its working directory and every output path
//! is relative, so nothing caller-controlled needs escaping inside the tee syntax.

use std::ffi::OsString;
use std::path::Path;

use crate::error::MediaError;
use crate::index::{FFMPEG_SEGMENT_PATTERN, FIRST_SEGMENT_NUMBER, INIT_FILE};
use crate::overlay;
use crate::plan::{Edits, Plan, Rung, output_fps};
use crate::probe::{AudioStream, Probe, VideoStream, image_input_args, input_args};

/// Target segment length. Segments start on keyframes, so a remuxed input with sparse
/// keyframes gets longer ones; transcodes put a keyframe every [`GOP_SECS`].
pub const SEGMENT_SECS: u32 = 4;
/// Keyframe interval of transcodes: divides [`SEGMENT_SECS`], so every rung is cut at the
/// same instants and players can switch rungs at any segment boundary.
pub const GOP_SECS: f64 = 2.0;
/// x264's maximum GOP for rungs below a copied source, in frames: longer than any
/// source we remux has between key frames (`MAX_REMUX_KEYFRAME_INTERVAL_SECS` of the
/// scanned start; a later gap beyond it fails the alignment check), so the only key
/// frames are the ones forced where the source has them.
pub const FOLLOW_SOURCE_GOP_FRAMES: u32 = 100_000;
/// Speed/quality trade-off of the x264 encoder (see FIELD-NOTES for timings).
pub const X264_PRESET: &str = "veryfast";
/// Constant-quality target, capped per rung by `-maxrate` at the rung's bit rate.
pub const X264_CRF: u32 = 23;
/// VBV buffer as a multiple of the rung's max rate: smooth enough for streaming.
pub const VBV_BUFFER_FACTOR: u32 = 2;
/// x264 (`veryfast`, B-pyramid) holds back 2 frames to reorder B-frames; a source that
/// holds back fewer gets rungs encoded to match (see the module docs).
pub const X264_DEFAULT_REORDER_DEPTH: u32 = 2;
/// AAC bit rate of transcoded audio, stereo.
pub const AUDIO_BITRATE_KBPS: u32 = 128;
/// Transcoded audio is downmixed to at most this many channels (what every browser plays).
pub const MAX_AUDIO_CHANNELS: u32 = 2;
/// Packets ffmpeg may queue per stream while waiting for every stream to start; the
/// default (128 in ffmpeg 5.1) fails on inputs whose audio starts late.
pub const MAX_MUXING_QUEUE: u32 = 4096;

/// Options for copied AAC. Behind `tee`, ffmpeg does not do what it does for a direct
/// MP4 output — drop a source codec tag MP4 does not know and convert ADTS framing (AAC
/// from MPEG-TS) — so both are spelled out; `aac_adtstoasc` passes MP4-framed AAC
/// through unchanged. (`-tag:v avc1` does the same for copied H.264.)
const COPY_AAC: [&str; 4] = ["-tag:a", "mp4a", "-bsf:a", "aac_adtstoasc"];

/// ffmpeg's own playlist per rendition: the segment list we index, then delete.
pub const FFMPEG_PLAYLIST_FILE: &str = "ffmpeg.m3u8";
/// The manifest tree, relative to the output directory.
pub const MANIFEST_DIR: &str = "manifest";
/// The MP4 download, relative to the output directory.
pub const DOWNLOAD_FILE: &str = "downloads/default.mp4";

/// What one packaging run writes: rendition ids in manifest order.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub video_ids: Vec<String>,
    pub audio_id: Option<String>,
    /// The video rendition whose samples are copied from the source, if any.
    pub copied_video_id: Option<String>,
    /// Whether the MP4 download is written.
    pub download: bool,
}

impl Layout {
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.video_ids
            .iter()
            .map(String::as_str)
            .chain(self.audio_id.as_deref())
    }
}

/// The whole ffmpeg command line (after the global options) for packaging `input`,
/// described by `probe`, according to `plan`, and the renditions it produces.
pub fn ffmpeg_args(
    input: &Path,
    probe: &Probe,
    plan: &Plan,
) -> Result<(Vec<OsString>, Layout), MediaError> {
    let (outputs, layout) = output_args(probe, plan)?;
    let mut args: Vec<OsString> = input_options(plan).into_iter().map(Into::into).collect();
    args.extend(input_args(input)?);
    if let Plan::Transcode {
        edits: Edits {
            watermark: Some(mark),
            ..
        },
        ..
    } = plan
    {
        args.extend(image_input_args(&mark.image)?);
    }
    args.extend(outputs.into_iter().map(OsString::from));
    Ok((args, layout))
}

/// The arguments after the inputs for packaging `probe` according to `plan`, and the
/// renditions they produce.
pub fn output_args(probe: &Probe, plan: &Plan) -> Result<(Vec<String>, Layout), MediaError> {
    let Some(video) = &probe.video else {
        return Err(MediaError::bad_input(
            usher_core::ErrorReason::NonVideo,
            "no video stream",
        ));
    };
    let mut args: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| args.extend(items.iter().map(|s| (*s).to_owned()));
    let (rungs, copied) = match plan {
        Plan::Below { lower } if lower.is_empty() => {
            return Err(MediaError::UnexpectedOutput("no rungs to encode".into()));
        }
        Plan::Below { lower } => {
            push(&["-filter_complex", &lower_ladder_filter(video.index, lower)]);
            for (i, rung) in lower.iter().enumerate() {
                push(&["-map", &format!("[o{}]", i + 1)]);
                push(&as_strs(&encoder_args(i, rung)));
                push(&as_strs(&follow_source_args(i, video)));
            }
            push(&["-map_metadata", "-1", "-max_muxing_queue_size"]);
            push(&[&MAX_MUXING_QUEUE.to_string()]);
            let layout = Layout {
                video_ids: (1..=lower.len()).map(|i| format!("v{i}")).collect(),
                audio_id: None,
                copied_video_id: None,
                download: false,
            };
            push(&["-f", "tee", &tee_outputs(&layout)]);
            return Ok((args, layout));
        }
        Plan::Remux { lower } => {
            if !lower.is_empty() {
                push(&["-filter_complex", &lower_ladder_filter(video.index, lower)]);
            }
            push(&["-map", &format!("0:{}", video.index)]);
            for i in 1..=lower.len() {
                push(&["-map", &format!("[o{i}]")]);
            }
            push(&["-c:v:0", "copy", "-tag:v", "avc1"]);
            for (i, rung) in lower.iter().enumerate() {
                push(&as_strs(&encoder_args(i + 1, rung)));
                push(&as_strs(&follow_source_args(i + 1, video)));
            }
            if let Some(audio) = &probe.audio {
                push(&["-map", &format!("0:{}", audio.index), "-c:a", "copy"]);
                push(&COPY_AAC);
            }
            (1 + lower.len(), true)
        }
        Plan::Transcode { ladder, .. } if ladder.is_empty() => {
            return Err(MediaError::bad_input(
                usher_core::ErrorReason::NonVideo,
                "nothing to encode",
            ));
        }
        Plan::Transcode { ladder, edits } => {
            let fps = output_fps(video);
            push(&["-filter_complex", &ladder_filter(video, ladder, edits)]);
            for i in 0..ladder.len() {
                push(&["-map", &format!("[o{i}]")]);
            }
            let gop = ((GOP_SECS * fps).round() as u32).max(1).to_string();
            for (i, rung) in ladder.iter().enumerate() {
                push(&as_strs(&encoder_args(i, rung)));
                push(&[
                    &format!("-g:v:{i}"),
                    &gop,
                    &format!("-keyint_min:v:{i}"),
                    &gop,
                ]);
                push(&[&format!("-sc_threshold:v:{i}"), "0"]);
            }
            if let Some(audio) = &probe.audio {
                push(&["-map", &format!("0:{}", audio.index)]);
                // A cut starts between packets: copied audio could not start on time.
                push(&as_strs(&audio_codec_args(audio, edits.clip.is_some())));
            }
            if let Some(span) = edits.clip {
                let secs = crate::plan::clip_duration(span, probe.duration_secs);
                push(&["-t", &format!("{secs:.6}")]);
            }
            (ladder.len(), false)
        }
    };
    // Containers may carry the camera's GPS position and owner names: not for viewers.
    push(&["-map_metadata", "-1", "-map_chapters", "-1"]);
    push(&["-max_muxing_queue_size", &MAX_MUXING_QUEUE.to_string()]);

    let layout = Layout {
        video_ids: (0..rungs).map(|i| format!("v{i}")).collect(),
        audio_id: probe.audio.as_ref().map(|_| "a0".to_owned()),
        copied_video_id: copied.then(|| "v0".to_owned()),
        download: true,
    };
    push(&["-f", "tee", &tee_outputs(&layout)]);
    Ok((args, layout))
}

/// Options that go before the source's `-i` for `plan`.
///
/// A remux stops at the first corrupt packet (`-xerror`): its top rendition is copied,
/// not decoded, so nothing would conceal the damage of a truncated upload. What a copy
/// cannot notice — intact container, damaged media bytes — is caught afterwards by
/// `integrity.rs`. Transcodes let the decoder conceal small errors, as players do, and
/// a clip seeks to its start (decoding from the key frame before it, so the cut is
/// frame-accurate).
pub fn input_options(plan: &Plan) -> Vec<String> {
    match plan {
        Plan::Remux { .. } => vec!["-xerror".to_owned()],
        Plan::Below { .. } => Vec::new(),
        Plan::Transcode { edits, .. } => match edits.clip {
            Some(span) => vec!["-ss".to_owned(), format!("{:.6}", span.start.max(0.0))],
            None => Vec::new(),
        },
    }
}

/// x264 settings of encoded video output `i` (the output stream index among videos).
/// Public for the benchmark that runs each rung in a process of its own.
pub fn encoder_args(i: usize, rung: &Rung) -> Vec<String> {
    let kbps = rung.video_bitrate_kbps;
    let opt = |name: &str| format!("-{name}:v:{i}");
    vec![
        opt("c"),
        "libx264".into(),
        opt("preset"),
        X264_PRESET.into(),
        opt("profile"),
        "high".into(),
        opt("pix_fmt"),
        "yuv420p".into(),
        opt("crf"),
        X264_CRF.to_string(),
        opt("maxrate"),
        format!("{kbps}k"),
        opt("bufsize"),
        format!("{}k", kbps * VBV_BUFFER_FACTOR),
    ]
}

/// Key frames, timestamps and B-frame reordering of encoded output `i` made to follow
/// the copied source (see the module docs).
pub fn follow_source_args(i: usize, source: &VideoStream) -> Vec<String> {
    let opt = |name: &str| format!("-{name}:v:{i}");
    let mut args = vec![
        opt("force_key_frames"),
        "source".into(),
        opt("g"),
        FOLLOW_SOURCE_GOP_FRAMES.to_string(),
        opt("sc_threshold"),
        "0".into(),
        opt("fps_mode"),
        "passthrough".into(),
        opt("enc_time_base"),
        "-1".into(),
    ];
    match source.reorder_depth {
        // x264 reorders by 1 with B-frames but no pyramid, by 0 with no B-frames.
        Some(0) => args.extend([opt("bf"), "0".into()]),
        Some(depth) if depth < X264_DEFAULT_REORDER_DEPTH => {
            args.extend([opt("b-pyramid"), "none".into()]);
        }
        _ => {}
    }
    args
}

/// A key frame every [`GOP_SECS`] at `fps`, and nowhere else, for encoded output `i`.
pub fn fixed_gop_args(i: usize, fps: f64) -> Vec<String> {
    let gop = ((GOP_SECS * fps).round() as u32).max(1).to_string();
    vec![
        format!("-g:v:{i}"),
        gop.clone(),
        format!("-keyint_min:v:{i}"),
        gop,
        format!("-sc_threshold:v:{i}"),
        "0".into(),
    ]
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn scale(rung: &Rung) -> String {
    format!("scale={}:{},setsar=1", rung.width, rung.height)
}

/// The transcode graph: decode once (resampling slow motion), draw the watermark once
/// on the top rung's frame, then split and scale per rung into `[o0]`, `[o1]`, …
///
/// `[0:N]split=3[s0][s1][s2];[s0]scale=W:H,setsar=1[o0];…`, or with a watermark
/// `[0:N]scale=W:H,setsar=1[base];[1:v]…[mark];[base][mark]overlay=…,split=3[o0][s1][s2];[s1]scale=…[o1];…`
fn ladder_filter(video: &VideoStream, ladder: &[Rung], edits: &Edits) -> String {
    let fps = video.fps.unwrap_or(crate::plan::FALLBACK_FPS);
    let resample = if fps > crate::plan::MAX_OUTPUT_FPS {
        format!("fps={},", crate::plan::MAX_OUTPUT_FPS)
    } else {
        String::new()
    };
    let source = format!("[0:{}]{resample}", video.index);
    let n = ladder.len();
    let (Some(mark), Some(top)) = (&edits.watermark, ladder.first()) else {
        if let [only] = ladder {
            return format!("{source}{}[o0]", scale(only));
        }
        let splits: String = (0..n).map(|i| format!("[s{i}]")).collect();
        let mut graph = format!("{source}split={n}{splits}");
        for (i, rung) in ladder.iter().enumerate() {
            graph.push_str(&format!(";[s{i}]{}[o{i}]", scale(rung)));
        }
        return graph;
    };
    let placement = overlay::placement(mark, top.width, top.height);
    let mut graph = format!(
        "{source}{}[base];[1:v]{}[mark];[base][mark]{}",
        scale(top),
        overlay::image_filter(mark, &placement),
        overlay::overlay_filter(&placement)
    );
    if n == 1 {
        graph.push_str("[o0]");
        return graph;
    }
    let splits: String = (1..n).map(|i| format!("[s{i}]")).collect();
    graph.push_str(&format!(",split={n}[o0]{splits}"));
    for (i, rung) in ladder.iter().enumerate().skip(1) {
        graph.push_str(&format!(";[s{i}]{}[o{i}]", scale(rung)));
    }
    graph
}

/// The graph below a copied source: `[0:N]split=2[s1][s2];[s1]scale=…[o1];[s2]scale=…[o2]`
/// (output 0 is the copy).
fn lower_ladder_filter(video_index: u32, lower: &[Rung]) -> String {
    if let [only] = lower {
        return format!("[0:{video_index}]{}[o1]", scale(only));
    }
    let splits: String = (1..=lower.len()).map(|i| format!("[s{i}]")).collect();
    let mut graph = format!("[0:{video_index}]split={}{splits}", lower.len());
    for (i, rung) in lower.iter().enumerate() {
        graph.push_str(&format!(";[s{}]{}[o{}]", i + 1, scale(rung), i + 1));
    }
    graph
}

/// AAC that browsers already play is copied (unless `encode`); anything else becomes
/// stereo AAC-LC.
fn audio_codec_args(audio: &AudioStream, encode: bool) -> Vec<String> {
    let playable = !encode
        && crate::plan::remux_blocker_audio(audio).is_none()
        && audio.channels.is_some_and(|c| c <= MAX_AUDIO_CHANNELS);
    if playable {
        return ["-c:a", "copy"]
            .iter()
            .chain(&COPY_AAC)
            .map(|s| (*s).to_owned())
            .collect();
    }
    let channels = audio
        .channels
        .unwrap_or(MAX_AUDIO_CHANNELS)
        .clamp(1, MAX_AUDIO_CHANNELS);
    [
        "-c:a",
        "aac",
        "-b:a",
        &format!("{AUDIO_BITRATE_KBPS}k"),
        "-ac",
        &channels.to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The options of the HLS fMP4 muxer that writes rendition `id` (in tee syntax).
pub fn hls_options(id: &str) -> String {
    format!(
        "hls_time={SEGMENT_SECS}:hls_list_size=0:hls_playlist_type=vod:hls_segment_type=fmp4:\
         hls_fmp4_init_filename={INIT_FILE}:start_number={FIRST_SEGMENT_NUMBER}:\
         hls_segment_filename={MANIFEST_DIR}/{id}/{FFMPEG_SEGMENT_PATTERN}"
    )
}

/// The tee muxer's output list: an HLS fMP4 muxer per rendition, then the MP4.
/// `select` picks the rendition's stream by output stream specifier (`v:1`, `a`).
fn tee_outputs(layout: &Layout) -> String {
    let hls = |id: &str, select: &str| {
        format!(
            "[f=hls:{}:select=\\'{select}\\']{MANIFEST_DIR}/{id}/{FFMPEG_PLAYLIST_FILE}",
            hls_options(id)
        )
    };
    let mut outputs: Vec<String> = layout
        .video_ids
        .iter()
        .enumerate()
        .map(|(i, id)| hls(id, &format!("v:{i}")))
        .collect();
    if let Some(id) = &layout.audio_id {
        outputs.push(hls(id, "a"));
    }
    if !layout.download {
        return outputs.join("|");
    }
    // The download is the top rung with the audio; `+faststart` puts the index first so
    // a browser can start playing it before it has downloaded.
    let download_streams = if layout.audio_id.is_some() {
        "v:0,a"
    } else {
        "v:0"
    };
    outputs.push(format!(
        "[f=mp4:movflags=+faststart:select=\\'{download_streams}\\']{DOWNLOAD_FILE}"
    ));
    outputs.join("|")
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
