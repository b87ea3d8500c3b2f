//! The single ffmpeg command line that packages a video: one process reads the input
//! once, encodes (or copies) each stream once, and the `tee` muxer fans the packets out
//! to an HLS fMP4 muxer per rendition plus an MP4 muxer for the download.
//!
//! Why this shape: a remux is dominated by process start-up (~80 ms), so one process
//! instead of three keeps it near ffmpeg's own `-c copy` time; and `tee` is the only way
//! in one process to mux the *same* encoded ladder rung into both the segments and the
//! MP4 without encoding it twice. One HLS muxer per stream (rather than one muxer with
//! `var_stream_map`) gives every rendition its own directory and an `init.mp4` of that
//! exact name, and keeps audio and video in separate segment files, which is what lets
//! the same segments serve HLS (audio group) and DASH (two adaptation sets).
//!
//! ffmpeg runs with the output directory as its working directory and every output path
//! is relative, so nothing caller-controlled needs escaping inside the tee syntax.

use crate::error::MediaError;
use crate::index::{FFMPEG_SEGMENT_PATTERN, FIRST_SEGMENT_NUMBER, INIT_FILE};
use crate::plan::{Plan, Rung};
use crate::probe::{AudioStream, Probe};

/// Target segment length. Segments start on keyframes, so a remuxed input with sparse
/// keyframes gets longer ones; transcodes put a keyframe every [`GOP_SECS`].
pub const SEGMENT_SECS: u32 = 4;
/// Keyframe interval of transcodes: divides [`SEGMENT_SECS`], so every rung is cut at the
/// same instants and players can switch rungs at any segment boundary.
pub const GOP_SECS: f64 = 2.0;
/// Speed/quality trade-off of the x264 encoder (see FIELD-NOTES for timings).
pub const X264_PRESET: &str = "veryfast";
/// Constant-quality target, capped per rung by `-maxrate` at the rung's bit rate.
pub const X264_CRF: u32 = 23;
/// VBV buffer as a multiple of the rung's max rate: smooth enough for streaming.
pub const VBV_BUFFER_FACTOR: u32 = 2;
/// Frame-rate cap for transcodes (slow-motion sources are resampled to this).
pub const MAX_OUTPUT_FPS: f64 = 60.0;
/// Frame rate assumed when ffprobe reports none.
pub const FALLBACK_FPS: f64 = 30.0;
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
}

impl Layout {
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.video_ids
            .iter()
            .map(String::as_str)
            .chain(self.audio_id.as_deref())
    }
}

/// The arguments after the input (`-i …`) for packaging `probe` according to `plan`,
/// and the renditions they produce.
pub fn output_args(probe: &Probe, plan: &Plan) -> Result<(Vec<String>, Layout), MediaError> {
    let Some(video) = &probe.video else {
        return Err(MediaError::bad_input(
            usher_core::ErrorReason::NonVideo,
            "no video stream",
        ));
    };
    let mut args: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| args.extend(items.iter().map(|s| (*s).to_owned()));
    let rungs: usize = match plan {
        Plan::Remux => {
            push(&["-map", &format!("0:{}", video.index)]);
            if let Some(audio) = &probe.audio {
                push(&["-map", &format!("0:{}", audio.index)]);
            }
            push(&["-c", "copy", "-tag:v", "avc1"]);
            if probe.audio.is_some() {
                push(&COPY_AAC);
            }
            1
        }
        Plan::Transcode { ladder } if ladder.is_empty() => {
            return Err(MediaError::bad_input(
                usher_core::ErrorReason::NonVideo,
                "nothing to encode",
            ));
        }
        Plan::Transcode { ladder } => {
            let fps = video.fps.unwrap_or(FALLBACK_FPS);
            let (fps_filter, fps) = if fps > MAX_OUTPUT_FPS {
                (format!("fps={MAX_OUTPUT_FPS},"), MAX_OUTPUT_FPS)
            } else {
                (String::new(), fps)
            };
            push(&[
                "-filter_complex",
                &ladder_filter(video.index, &fps_filter, ladder),
            ]);
            for i in 0..ladder.len() {
                push(&["-map", &format!("[o{i}]")]);
            }
            let gop = ((GOP_SECS * fps).round() as u32).max(1).to_string();
            push(&[
                "-c:v",
                "libx264",
                "-preset",
                X264_PRESET,
                "-profile:v",
                "high",
                "-pix_fmt",
                "yuv420p",
            ]);
            push(&["-g", &gop, "-keyint_min", &gop, "-sc_threshold", "0"]);
            for (i, rung) in ladder.iter().enumerate() {
                let kbps = rung.video_bitrate_kbps;
                push(&[&format!("-crf:v:{i}"), &X264_CRF.to_string()]);
                push(&[&format!("-maxrate:v:{i}"), &format!("{kbps}k")]);
                push(&[
                    &format!("-bufsize:v:{i}"),
                    &format!("{}k", kbps * VBV_BUFFER_FACTOR),
                ]);
            }
            if let Some(audio) = &probe.audio {
                push(&["-map", &format!("0:{}", audio.index)]);
                push(
                    &audio_codec_args(audio)
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                );
            }
            ladder.len()
        }
    };
    // Containers may carry the camera's GPS position and owner names: not for viewers.
    push(&["-map_metadata", "-1", "-map_chapters", "-1"]);
    push(&["-max_muxing_queue_size", &MAX_MUXING_QUEUE.to_string()]);

    let layout = Layout {
        video_ids: (0..rungs).map(|i| format!("v{i}")).collect(),
        audio_id: probe.audio.as_ref().map(|_| "a0".to_owned()),
    };
    push(&["-f", "tee", &tee_outputs(&layout)]);
    Ok((args, layout))
}

/// Options that go before `-i` for `plan`.
///
/// A remux stops at the first corrupt packet (`-xerror`): copying does not decode, so
/// nothing would conceal the damage of a truncated upload. What a copy cannot notice —
/// intact container, damaged media bytes — is caught afterwards by `integrity.rs`.
/// Transcodes decode everything and let the decoder conceal small errors, as players do.
pub fn input_options(plan: &Plan) -> Vec<String> {
    match plan {
        Plan::Remux => vec!["-xerror".to_owned()],
        Plan::Transcode { .. } => Vec::new(),
    }
}

/// `[0:N]split=3[s0][s1][s2];[s0]scale=W:H,setsar=1[o0];…` — decode once, scale per rung.
fn ladder_filter(video_index: u32, fps_filter: &str, ladder: &[Rung]) -> String {
    let scale = |rung: &Rung| format!("scale={}:{},setsar=1", rung.width, rung.height);
    if let [only] = ladder {
        return format!("[0:{video_index}]{fps_filter}{}[o0]", scale(only));
    }
    let splits: String = (0..ladder.len()).map(|i| format!("[s{i}]")).collect();
    let mut graph = format!(
        "[0:{video_index}]{fps_filter}split={}{splits}",
        ladder.len()
    );
    for (i, rung) in ladder.iter().enumerate() {
        graph.push_str(&format!(";[s{i}]{}[o{i}]", scale(rung)));
    }
    graph
}

/// AAC that browsers already play is copied; anything else becomes stereo AAC-LC.
fn audio_codec_args(audio: &AudioStream) -> Vec<String> {
    let playable = crate::plan::remux_blocker_audio(audio).is_none()
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

/// The tee muxer's output list: an HLS fMP4 muxer per rendition, then the MP4.
/// `select` picks the rendition's stream by output stream specifier (`v:1`, `a`).
fn tee_outputs(layout: &Layout) -> String {
    let hls = |id: &str, select: &str| {
        format!(
            "[f=hls:hls_time={SEGMENT_SECS}:hls_list_size=0:hls_playlist_type=vod:hls_segment_type=fmp4:\
             hls_fmp4_init_filename={INIT_FILE}:start_number={FIRST_SEGMENT_NUMBER}:\
             hls_segment_filename={MANIFEST_DIR}/{id}/{FFMPEG_SEGMENT_PATTERN}:select=\\'{select}\\']\
             {MANIFEST_DIR}/{id}/{FFMPEG_PLAYLIST_FILE}"
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
