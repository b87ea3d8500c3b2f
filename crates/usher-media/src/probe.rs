//! What an input file is: ffprobe's JSON, parsed leniently into [`Probe`], and the
//! decision whether it is a video we accept at all.
//!
//! Classification choices (the `status.errorReasonCode` a customer sees):
//! - ffprobe cannot open the file: `ERR_MALFORMED_VIDEO` when its first bytes look like a
//!   video container (a truncated MP4 without its `moov`, say), else `ERR_NON_VIDEO`
//!   (text, documents, audio formats we do not demux).
//! - it opens, but has no video stream (audio only; cover art does not count) or is a
//!   single still image: `ERR_NON_VIDEO`.
//! - the video has no usable size: `ERR_MALFORMED_VIDEO`.
//! - duration under [`MIN_DURATION_SECS`]: `ERR_DURATION_TOO_SHORT`. When the container
//!   states no duration at all (browser `MediaRecorder` WebM), the packets are counted
//!   with a copy pass first, so such files are measured rather than refused.
//! - ffprobe's output does not parse: `ERR_UNKNOWN` (our problem, not the customer's).

use std::ffi::OsString;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncReadExt;
use usher_core::ErrorReason;

use crate::error::MediaError;
use crate::ffprobe_json::{RawOutput, RawStream, as_f64, as_u64, max_keyframe_interval};
use crate::process::ProcessError;
use crate::tools::Tools;

/// Shorter than this is not a video (one or two frames).
pub const MIN_DURATION_SECS: f64 = 0.1;
/// ffprobe reads headers and a few seconds of packets; this only guards against a hang.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
/// A copy pass over a whole file whose container states no duration.
pub const MEASURE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Demuxers ffmpeg may use on uploads: the containers Cloudflare Stream accepts. Refusing
/// the rest keeps playlist-style formats (`hls`, `concat`, image sequences, `tty`) away
/// from untrusted files, which could otherwise make ffmpeg read other local files.
pub const INPUT_FORMAT_WHITELIST: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,\
    mpegts,mpeg,mpegvideo,mxf,lxf,gxf,asf,ogg,dv,nut,h264,hevc,m4v,rm,yuv4mpegpipe";
/// Demuxers a watermark image may be read with (the API accepts PNG and JPEG only).
pub const WATERMARK_FORMAT_WHITELIST: &str = "png_pipe,jpeg_pipe";
/// Inputs are local files; no network or pipes, whatever a file references.
pub const INPUT_PROTOCOL_WHITELIST: &str = "file";
/// Packets (of all streams) whose timestamps and key-frame flags the probe lists, to
/// learn how far apart the key frames are: ~40 s of 30 fps video with AAC audio, about
/// 250 KB of JSON, read in the same ffprobe run as the streams (+~0–10 ms).
pub const KEYFRAME_SCAN_PACKETS: u32 = 3000;

/// The facts about an input that planning and packaging need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// 0.0 when no duration is known.
    pub duration_secs: f64,
    pub format_name: String,
    pub size_bytes: Option<u64>,
    pub video: Option<VideoStream>,
    pub audio: Option<AudioStream>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoStream {
    /// ffmpeg's stream index, for `-map 0:N`.
    pub index: u32,
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub pix_fmt: Option<String>,
    pub fps: Option<f64>,
    pub profile: Option<String>,
    pub level: Option<i64>,
    pub bit_rate: Option<u64>,
    /// Display rotation in degrees, one of 0, 90, 180, 270.
    pub rotation: u32,
    /// Sample (pixel) aspect ratio when it is known and not square.
    pub sample_aspect_ratio: Option<(u32, u32)>,
    pub frame_count: Option<u64>,
    /// Frames the decoder must hold back to reorder B-frames (ffprobe's `has_b_frames`):
    /// 0 without B-frames, 1–2 for the usual encoders.
    #[serde(default)]
    pub reorder_depth: Option<u32>,
    /// Longest distance between key frames seen in the first [`KEYFRAME_SCAN_PACKETS`]
    /// packets, in seconds (counting the stretch after the last one seen); `None` when
    /// no key frame was seen or the packets were not scanned.
    #[serde(default)]
    pub max_keyframe_interval: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioStream {
    pub index: u32,
    pub codec: String,
    pub profile: Option<String>,
    pub channels: Option<u32>,
    pub sample_rate: Option<u32>,
    pub bit_rate: Option<u64>,
}

impl VideoStream {
    /// The size a viewer sees: pixel aspect applied to the width, then rotation.
    pub fn display_size(&self) -> (u32, u32) {
        let width = match self.sample_aspect_ratio {
            Some((n, d)) if n > 0 && d > 0 => {
                (u64::from(self.width) * u64::from(n) / u64::from(d)) as u32
            }
            _ => self.width,
        };
        if self.rotation % 180 == 90 {
            (self.height, width)
        } else {
            (width, self.height)
        }
    }
}

/// Runs ffprobe on `input` and classifies the result.
pub async fn probe(tools: &Tools, input: &Path) -> Result<Probe, MediaError> {
    let output = tools
        .ffprobe(PROBE_TIMEOUT)
        .args(["-print_format", "json", "-show_format", "-show_streams"])
        .args(["-show_entries", "packet=stream_index,pts_time,flags"])
        .args(["-read_intervals", &format!("%+#{KEYFRAME_SCAN_PACKETS}")])
        .args(input_args(input)?)
        .output()
        .await;
    let json = match output {
        Ok(json) => json,
        Err(e) if e.exited_with_error() => return Err(unreadable(input, e).await),
        Err(e) => return Err(e.into()),
    };
    let mut probe = parse_ffprobe_json(&json)?;
    if probe.duration_secs <= 0.0 && probe.video.is_some() && !is_still_image(&probe) {
        probe.duration_secs = measure_duration(tools, input).await?;
    }
    classify(&probe)?;
    Ok(probe)
}

/// The pixel size of a watermark image (PNG or JPEG), read by ffprobe. An image it
/// cannot read is refused before any encoding starts.
pub async fn image_size(tools: &Tools, image: &Path) -> Result<(u32, u32), MediaError> {
    let mut args: Vec<OsString> = ["-print_format", "json", "-show_streams"]
        .map(OsString::from)
        .to_vec();
    args.extend(image_input_args(image)?);
    let json = tools.ffprobe(PROBE_TIMEOUT).args(args).output().await;
    let unreadable = |detail: String| MediaError::bad_input(ErrorReason::Unknown, detail);
    let json = match json {
        Ok(json) => json,
        Err(e) if e.exited_with_error() => {
            return Err(unreadable(format!("watermark image unreadable: {e}")));
        }
        Err(e) => return Err(e.into()),
    };
    let parsed = parse_ffprobe_json(&json)?;
    match parsed.video {
        Some(v) if v.width > 0 && v.height > 0 => Ok((v.width, v.height)),
        _ => Err(unreadable("watermark image without a size".into())),
    }
}

/// The input options every ffmpeg/ffprobe run on an upload uses: whitelists, then
/// `-i file:<absolute path>` so that no name is read as a protocol or an option.
pub(crate) fn input_args(input: &Path) -> Result<Vec<OsString>, MediaError> {
    input_args_for(input, INPUT_FORMAT_WHITELIST)
}

/// The input options for a watermark image: as [`input_args`], read by the PNG and JPEG
/// demuxers only.
pub(crate) fn image_input_args(image: &Path) -> Result<Vec<OsString>, MediaError> {
    input_args_for(image, WATERMARK_FORMAT_WHITELIST)
}

fn input_args_for(input: &Path, formats: &str) -> Result<Vec<OsString>, MediaError> {
    let absolute = std::path::absolute(input)
        .map_err(|e| MediaError::io(format!("resolving {}", input.display()), e))?;
    let mut url = OsString::from("file:");
    url.push(absolute.as_os_str());
    Ok([
        "-protocol_whitelist",
        INPUT_PROTOCOL_WHITELIST,
        "-format_whitelist",
        formats,
        "-i",
    ]
    .into_iter()
    .map(OsString::from)
    .chain([url])
    .collect())
}

/// Parses ffprobe's `-show_format -show_streams` JSON. Every field is optional: ffprobe
/// omits whatever a container does not carry, and prints numbers as strings or numbers
/// depending on the field.
pub fn parse_ffprobe_json(json: &[u8]) -> Result<Probe, MediaError> {
    let raw: RawOutput = serde_json::from_slice(json)
        .map_err(|e| MediaError::UnexpectedOutput(format!("ffprobe JSON: {e}")))?;
    let video = raw
        .streams
        .iter()
        .find(|s| s.kind() == Some("video") && !s.flag("attached_pic") && s.codec().is_some())
        .map(RawStream::to_video)
        .map(|mut v| {
            v.max_keyframe_interval = max_keyframe_interval(&raw.packets, v.index);
            v
        });
    let audio = raw
        .streams
        .iter()
        .find(|s| s.kind() == Some("audio") && s.codec().is_some())
        .map(RawStream::to_audio);
    let stream_duration = raw
        .streams
        .iter()
        .filter_map(RawStream::duration)
        .fold(0.0, f64::max);
    let duration_secs = raw
        .format
        .get("duration")
        .and_then(as_f64)
        .filter(|d| *d > 0.0)
        .unwrap_or(stream_duration);
    Ok(Probe {
        duration_secs,
        format_name: raw
            .format
            .get("format_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        size_bytes: raw.format.get("size").and_then(as_u64),
        video,
        audio,
    })
}

/// Refuses what is not a video we can package; see the module docs for the choices.
pub fn classify(probe: &Probe) -> Result<(), MediaError> {
    if is_still_image(probe) {
        return Err(MediaError::bad_input(
            ErrorReason::NonVideo,
            format!("a still image ({})", probe.format_name),
        ));
    }
    let Some(video) = &probe.video else {
        return Err(MediaError::bad_input(
            ErrorReason::NonVideo,
            "no video stream",
        ));
    };
    if video.width == 0 || video.height == 0 {
        return Err(MediaError::bad_input(
            ErrorReason::MalformedVideo,
            "video stream without a frame size",
        ));
    }
    if probe.duration_secs < MIN_DURATION_SECS {
        return Err(MediaError::bad_input(
            ErrorReason::DurationTooShort,
            format!("duration {:.3}s", probe.duration_secs),
        ));
    }
    Ok(())
}

/// Image formats that ffmpeg presents as a one-frame "video".
fn is_still_image(probe: &Probe) -> bool {
    const IMAGE_FORMATS: [&str; 5] = ["image2", "gif", "apng", "webp", "tty"];
    const IMAGE_CODECS: [&str; 8] = [
        "png", "mjpeg", "bmp", "webp", "tiff", "gif", "jpegls", "ansi",
    ];
    let format = probe.format_name.as_str();
    let by_format = format.ends_with("_pipe") || IMAGE_FORMATS.contains(&format);
    let by_codec = probe.video.as_ref().is_some_and(|v| {
        IMAGE_CODECS.contains(&v.codec.as_str())
            && v.frame_count.is_none_or(|n| n <= 1)
            && probe.duration_secs <= 0.0
    });
    by_format || by_codec
}

/// Decides between "not a video" and "a damaged video" for a file ffprobe refused.
async fn unreadable(input: &Path, error: ProcessError) -> MediaError {
    let mut head = [0u8; 16];
    let read = match tokio::fs::File::open(input).await {
        Ok(mut file) => file.read(&mut head).await,
        Err(e) => Err(e),
    };
    let n = match read {
        Ok(n) => n,
        Err(e) => return MediaError::io(format!("reading {}", input.display()), e),
    };
    let (reason, detail) = if looks_like_video_container(&head[..n]) {
        (
            ErrorReason::MalformedVideo,
            "a video container ffprobe cannot read",
        )
    } else {
        (ErrorReason::NonVideo, "not a media file ffprobe can read")
    };
    MediaError::BadInput {
        reason,
        detail: detail.to_owned(),
        stderr_tail: Some(error.stderr_tail),
    }
}

/// Magic numbers of the containers in [`INPUT_FORMAT_WHITELIST`].
pub fn looks_like_video_container(head: &[u8]) -> bool {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    const MP4_BOXES: [&[u8]; 6] = [b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"];
    MP4_BOXES.iter().any(|b| at(4, b))
        || at(0, &[0x1A, 0x45, 0xDF, 0xA3]) // EBML: Matroska / WebM
        || (at(0, b"RIFF") && at(8, b"AVI "))
        || at(0, b"FLV")
        || at(0, b"OggS")
        || at(0, &[0x00, 0x00, 0x01, 0xBA]) // MPEG program stream
        || at(0, &[0x30, 0x26, 0xB2, 0x75]) // ASF / WMV
        || at(0, &[0x06, 0x0E, 0x2B, 0x34]) // MXF
        || (head.first() == Some(&0x47) && head.len() >= 16) // MPEG-TS sync byte (weak)
}

/// Duration of the main video stream by copying its packets to nowhere.
async fn measure_duration(tools: &Tools, input: &Path) -> Result<f64, MediaError> {
    let reached = Mutex::new(0.0f64);
    let record = |secs: f64| {
        if let Ok(mut max) = reached.lock() {
            *max = max.max(secs);
        }
    };
    tools
        .ffmpeg(MEASURE_TIMEOUT)
        .args(input_args(input)?)
        .args(["-map", "0:V:0", "-c", "copy", "-f", "null", "-"])
        .run_with_progress(&record)
        .await?;
    Ok(reached.lock().map(|v| *v).unwrap_or(0.0))
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
