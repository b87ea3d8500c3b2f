//! End-to-end tests of the media pipeline against the real ffmpeg/ffprobe: clips are
//! generated with lavfi into a temp dir at test time (no media is committed), packaged,
//! and then read back with ffmpeg acting as an HLS and a DASH client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod clip;
mod ladder;
mod remux;
mod thumbnail;
mod transcode;
mod watermark;
mod worker_store;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;
use usher_media::Tools;

pub fn tools() -> Tools {
    Tools::from_env().expect("ffmpeg and ffprobe are installed")
}

/// Runs ffmpeg (quietly) in `cwd`, panicking with its stderr on failure.
pub fn ffmpeg_in(cwd: &Path, args: &[&str]) {
    let out = Command::new("ffmpeg")
        .current_dir(cwd)
        .args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn ffmpeg(args: &[&str]) {
    ffmpeg_in(Path::new("."), args)
}

pub fn ffprobe(path: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn duration_of(probe: &Value) -> f64 {
    probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

pub fn codecs_of(probe: &Value) -> Vec<String> {
    probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap().to_owned())
        .collect()
}

/// MD5 over the packets of the first stream matching `spec` (`v`, `a`): equal hashes
/// mean the compressed data is byte-for-byte the same, i.e. nothing was re-encoded.
pub fn packet_hash(input: &Path, spec: &str) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(input)
        .args([
            "-map",
            &format!("0:{spec}:0"),
            "-c",
            "copy",
            "-f",
            "streamhash",
            "-hash",
            "md5",
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .to_owned()
}

/// A `testsrc2` + `sine` clip, `secs` long, encoded with `codec_args`.
pub fn make_clip(
    dir: &Path,
    name: &str,
    size: &str,
    rate: u32,
    secs: u32,
    audio: bool,
    codec_args: &[&str],
) -> PathBuf {
    let path = dir.join(name);
    let video = format!("testsrc2=size={size}:rate={rate}");
    let secs = secs.to_string();
    let mut args = vec!["-f", "lavfi", "-i", &video];
    if audio {
        args.extend(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
    }
    args.extend(["-t", &secs]);
    args.extend(codec_args);
    let path_str = path.to_str().unwrap();
    args.push(path_str);
    ffmpeg(&args);
    path
}

/// The standard remux input: 10 s 1280x720 30 fps H.264 (2 s GOP, as cameras and
/// phones write it) with stereo AAC.
pub fn h264_aac_720p(dir: &Path) -> PathBuf {
    make_clip(
        dir,
        "h264_aac_720p.mp4",
        "1280x720",
        30,
        10,
        true,
        &[
            "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p", "-c:a",
            "aac", "-ac", "2", "-b:a", "128k",
        ],
    )
}

/// Every file under `dir`, relative to it, sorted.
pub fn files_on_disk(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Records progress callbacks.
#[derive(Default)]
pub struct Progress(Mutex<Vec<f64>>);

impl Progress {
    pub fn callback(&self) -> impl Fn(f64) + Send + Sync + '_ {
        move |f| self.0.lock().unwrap().push(f)
    }

    pub fn values(&self) -> Vec<f64> {
        self.0.lock().unwrap().clone()
    }

    pub fn assert_complete(&self) {
        let values = self.values();
        assert!(values.len() >= 2, "{values:?}");
        assert_eq!(values.first(), Some(&0.0), "{values:?}");
        assert_eq!(values.last(), Some(&1.0), "{values:?}");
        assert!(
            values.windows(2).all(|w| w[0] < w[1]),
            "not increasing: {values:?}"
        );
        assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}

/// Plays `manifest` (relative to `dir`) with ffmpeg as a client, copying into an MP4,
/// and returns ffprobe's view of the result. For DASH, ffmpeg 5.1 resolves segment
/// paths against its working directory, so it runs in the manifest's directory.
pub fn play_with_ffmpeg(dir: &Path, manifest: &str, out: &Path) -> Value {
    let out_str = out.to_str().unwrap();
    ffmpeg_in(
        dir,
        &[
            "-i", manifest, "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", out_str,
        ],
    );
    ffprobe(out)
}

/// Manifests must only point at relative paths inside the published tree.
pub fn assert_relative_only(text: &str, out_dir: &Path) {
    assert!(!text.contains("http"), "{text}");
    assert!(!text.contains(out_dir.to_str().unwrap()), "{text}");
    assert!(
        !text.contains("=\"/")
            && !text.contains("URI=\"/")
            && !text.lines().any(|l| l.starts_with('/')),
        "{text}"
    );
    assert!(!text.contains(".."), "{text}");
}

/// Where each segment of a rendition starts being shown, by ffprobe (not our own MP4
/// reader): its init segment and the segment concatenated, the earliest video packet's
/// presentation time. Equal lists mean players can switch between the renditions at
/// any segment.
pub fn segment_start_times(rendition_dir: &Path) -> Vec<f64> {
    let playlist = std::fs::read_to_string(rendition_dir.join("index.m3u8")).unwrap();
    let init = std::fs::read(rendition_dir.join("init.mp4")).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    playlist
        .lines()
        .filter(|l| l.ends_with(".m4s"))
        .map(|name| {
            let joined = scratch.path().join(name).with_extension("mp4");
            let segment = std::fs::read(rendition_dir.join(name)).unwrap();
            std::fs::write(&joined, [init.clone(), segment].concat()).unwrap();
            let out = Command::new("ffprobe")
                .args(["-v", "error", "-select_streams", "v:0"])
                .args(["-show_entries", "packet=pts_time", "-of", "csv=p=0"])
                .arg(&joined)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .filter_map(|l| l.trim().parse::<f64>().ok())
                .fold(f64::INFINITY, f64::min)
        })
        .collect()
}

/// One decoded frame of `input` (a file or a playlist) at `at` seconds, as packed RGB.
pub fn rgb_frame(input: &Path, at: f64) -> Vec<u8> {
    decoded_frame(input, at, "rgb24")
}

/// The luma plane of the frame at `at` seconds (the first `width × height` bytes of a
/// decoded yuv420p frame).
pub fn luma_frame(input: &Path, at: f64) -> Vec<u8> {
    decoded_frame(input, at, "yuv420p")
}

fn decoded_frame(input: &Path, at: f64, pix_fmt: &str) -> Vec<u8> {
    // No seek for the first frame: ffmpeg 5.1's HLS demuxer, asked to seek to 0, skips
    // to the second key frame when the first is shown a little after 0.
    let seek = if at > 0.0 {
        vec!["-ss".to_owned(), format!("{at:.3}")]
    } else {
        Vec::new()
    };
    let out = Command::new("ffmpeg")
        .args(["-v", "error"])
        .args(seek)
        .arg("-i")
        .arg(input)
        .args(["-frames:v", "1", "-pix_fmt", pix_fmt, "-f", "rawvideo", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success() && !out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Mean of each channel of packed RGB `frame` (`width` pixels wide) over the rectangle
/// `x0..x1` × `y0..y1`.
pub fn mean_rgb(
    frame: &[u8],
    width: usize,
    (x0, x1): (usize, usize),
    (y0, y1): (usize, usize),
) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for y in y0..y1 {
        for x in x0..x1 {
            let at = (y * width + x) * 3;
            for (c, total) in sum.iter_mut().enumerate() {
                *total += f64::from(frame[at + c]);
            }
        }
    }
    let n = ((x1 - x0) * (y1 - y0)) as f64;
    sum.map(|total| total / n)
}
