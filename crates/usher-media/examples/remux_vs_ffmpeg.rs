//! SPEC §6 packaging bar, measured: `package()` remuxing a 20 s 1280x720 H.264/AAC clip
//! (the copy alone: the top rendition, audio and MP4, without the ladder's lower rungs,
//! which `ladder_vs_ffmpeg` measures) versus ffmpeg's own `-c copy -f hls` of the same file, median of N runs each,
//! interleaved so that machine noise hits both alike. A third column runs package()'s
//! exact ffmpeg command line by hand, which splits our overhead into "the command does
//! more" (tee to two HLS muxers + the MP4) and "the Rust side" (spawn, indexing, the
//! sample walk, manifests).
//!
//! ```text
//! cargo run --release -p usher-media --example remux_vs_ffmpeg [-- RUNS] [--transcode]
//! ```
//!
//! `--transcode` also compares a transcode by `package()` (10 s of VP9/Opus 854x480 input, 3-rung
//! ladder) with the identical ffmpeg command line run by hand (the §6 1.2× bar).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use usher_media::{Plan, Probe, Tools, command, package, plan, probe};

/// Runs per side unless given on the command line.
const DEFAULT_RUNS: usize = 5;
const H264_AAC: &[&str] = &[
    "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac",
    "-ac", "2", "-b:a", "128k",
];
const VP9_OPUS: &[&str] = &[
    "-c:v",
    "libvpx-vp9",
    "-deadline",
    "realtime",
    "-cpu-used",
    "8",
    "-b:v",
    "500k",
    "-c:a",
    "libopus",
];

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(DEFAULT_RUNS);
    let tools = Tools::from_env().expect("ffmpeg and ffprobe");
    let tmp = tempfile::tempdir().unwrap();

    let input = tmp.path().join("in.mp4");
    generate(&input, "1280x720", 30, 20, H264_AAC);
    let probed = probe(&tools, &input).await.unwrap();
    assert!(plan(&probed).is_remux());
    let copy_only = Plan::Remux { lower: vec![] };
    let raw_args = [
        "-c",
        "copy",
        "-f",
        "hls",
        "-hls_time",
        "4",
        "-hls_segment_type",
        "fmp4",
    ];
    let raw_args = [&raw_args[..], &["-hls_playlist_type", "vod", "x.m3u8"]].concat();

    let (mut ours, mut hand, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let raw_dir = fresh(tmp.path(), &format!("raw{run}"));
        let mut args = vec!["-i", input.to_str().unwrap()];
        args.extend(&raw_args);
        theirs.push(timed(|| ffmpeg(&raw_dir, &args)));
        hand.push(by_hand(
            &tmp.path().join(format!("hand{run}")),
            &input,
            &probed,
            &copy_only,
        ));
        let out = tmp.path().join(format!("ours{run}"));
        let started = Instant::now();
        package(&tools, &input, &probed, &copy_only, &out, |_| {})
            .await
            .unwrap();
        ours.push(started.elapsed());
    }
    report(
        "remux",
        "package()",
        &ours,
        "ffmpeg -c copy -f hls",
        &theirs,
        1.5,
    );
    report(
        "remux",
        "package()'s ffmpeg command by hand",
        &hand,
        "ffmpeg -c copy -f hls",
        &theirs,
        1.5,
    );

    if args.iter().any(|a| a == "--transcode") {
        let input = tmp.path().join("in.webm");
        generate(&input, "854x480", 25, 10, VP9_OPUS);
        let probed = probe(&tools, &input).await.unwrap();
        let chosen = plan(&probed);
        let (mut ours, mut hand) = (Vec::new(), Vec::new());
        for run in 0..runs {
            hand.push(by_hand(
                &tmp.path().join(format!("thand{run}")),
                &input,
                &probed,
                &chosen,
            ));
            let out = tmp.path().join(format!("tours{run}"));
            let started = Instant::now();
            package(&tools, &input, &probed, &chosen, &out, |_| {})
                .await
                .unwrap();
            ours.push(started.elapsed());
        }
        report(
            "transcode",
            "package()",
            &ours,
            "the same ffmpeg command by hand",
            &hand,
            1.2,
        );
    }
}

/// Runs the command line package() would run for `plan`, directly, in a fresh `dir`.
fn by_hand(dir: &Path, input: &Path, probed: &Probe, plan: &Plan) -> Duration {
    let (args, layout) = command::ffmpeg_args(input, probed, plan).unwrap();
    for id in layout.ids() {
        std::fs::create_dir_all(dir.join("manifest").join(id)).unwrap();
    }
    std::fs::create_dir_all(dir.join("downloads")).unwrap();
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    timed(|| ffmpeg(dir, &args.iter().map(String::as_str).collect::<Vec<_>>()))
}

fn timed(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

fn generate(path: &Path, size: &str, rate: u32, secs: u32, codec_args: &[&str]) {
    let video = format!("testsrc2=size={size}:rate={rate}");
    let audio = "sine=frequency=440:sample_rate=48000";
    let secs = secs.to_string();
    let mut args = vec![
        "-f", "lavfi", "-i", &video, "-f", "lavfi", "-i", audio, "-t", &secs,
    ];
    args.extend(codec_args);
    args.push(path.to_str().unwrap());
    ffmpeg(Path::new("."), &args);
}

fn ffmpeg(cwd: &Path, args: &[&str]) {
    let status = Command::new("ffmpeg")
        .current_dir(cwd)
        .args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg {args:?}");
}

fn fresh(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn report(what: &str, a: &str, ours: &[Duration], b: &str, theirs: &[Duration], bar: f64) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let list = |t: &[Duration]| {
        t.iter()
            .map(|d| format!("{:.0}", ms(*d)))
            .collect::<Vec<_>>()
    };
    let ratio = ms(median(ours)) / ms(median(theirs));
    let verdict = if ratio <= bar { "within" } else { "OVER" };
    println!(
        "{what}: {a}: median {:.1} ms {:?}",
        ms(median(ours)),
        list(ours)
    );
    println!(
        "{what}: {b}: median {:.1} ms {:?}",
        ms(median(theirs)),
        list(theirs)
    );
    println!("{what}: ratio {ratio:.2}x ({verdict} the {bar}x bar)");
}
