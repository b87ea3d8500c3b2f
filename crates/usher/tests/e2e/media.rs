//! Test media made on the spot with ffmpeg's lavfi sources, and ffprobe checks.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg is installed (scripts/install-deps)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn ffmpeg_in(dir: &Path, args: &[&str]) {
    let out = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-hide_banner", "-v", "error", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A clip of `secs` seconds: `codecs` picks the encoders.
pub fn clip(dir: &Path, name: &str, size: &str, secs: u32, codecs: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let t = secs.to_string();
    let src = format!("testsrc2=size={size}:rate=30");
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        &src,
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440",
        "-t",
        &t,
    ];
    args.extend_from_slice(codecs);
    let p = path.to_string_lossy().into_owned();
    args.push(&p);
    ffmpeg(&args);
    path
}

/// ffmpeg as a client: reads `input` (a manifest path or URL), copies it into `out`,
/// and returns ffprobe's view of the result.
pub fn play_to_mp4(input: &str, out: &Path) -> Value {
    ffmpeg(&["-i", input, "-c", "copy", &out.to_string_lossy()]);
    probe(out)
}

pub fn probe(path: &Path) -> Value {
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

pub fn duration(probe: &Value) -> f64 {
    probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

pub fn codecs(probe: &Value) -> Vec<String> {
    let mut c: Vec<String> = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap().to_owned())
        .collect();
    c.sort();
    c
}

/// MD5 of the video stream's packets: equal only if the bitstream was copied, not re-encoded.
pub fn video_packets_md5(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:v:0", "-c", "copy", "-f", "md5", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
