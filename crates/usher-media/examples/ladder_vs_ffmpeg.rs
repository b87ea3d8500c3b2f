//! The ladder's encode time, measured (issue 13): `package()` of a 20 s 1920x1080 30 fps
//! H.264/AAC clip (key frames every 2 s) into its five renditions, next to
//! - the same ffmpeg command line run by hand (the bar: ≤ 1.1×), which splits our
//!   overhead into "the command" and "the Rust side" (spawn, indexing, checks, manifests);
//! - one ffmpeg process per rendition, each decoding the input again, run one after
//!   another and all at once (what the single decoding pass saves).
//!
//! Both plans are measured: the remux (the source copied on top, four rungs encoded
//! below it on its key frames — every H.264/AAC upload) and the transcode of the same
//! clip (five rungs encoded — what clips and watermarks take). Runs are interleaved, each
//! starting with a different side, so machine noise hits every side alike; medians are
//! reported. Last, the bytes of each
//! rendition of the last remux against its bit-rate target.
//!
//! ```text
//! cargo run --release -p usher-media --example ladder_vs_ffmpeg [-- RUNS] [--remux-only]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use usher_media::command::{self, MANIFEST_DIR};
use usher_media::plan::{self, output_fps};
use usher_media::{Edits, Plan, Probe, Rung, Tools, Track, package, probe};

/// The sides compared, in the order of the table.
const SIDES: [&str; 4] = ["ours", "hand", "seq", "par"];
/// Runs per side unless given on the command line.
const DEFAULT_RUNS: usize = 3;
const CLIP_SECS: u32 = 20;
const H264_AAC: &[&str] = &[
    "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac",
    "-ac", "2", "-b:a", "128k",
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
    generate(&input);
    let probed = probe(&tools, &input).await.unwrap();
    let remux = plan::plan(&probed);
    assert!(remux.is_remux(), "{remux:?}");
    let transcode = plan::transcode(&probed, Edits::default());

    let mut plans = vec![("remux", remux)];
    if !args.iter().any(|a| a == "--remux-only") {
        plans.push(("transcode", transcode));
    }
    let mut last = None;
    for (name, chosen) in &plans {
        let mut sides: [Vec<Duration>; 4] = Default::default();
        let mut cpu: [Vec<f64>; 4] = Default::default();
        for run in 0..runs {
            let dir = |side: &str| tmp.path().join(format!("{name}-{side}-{run}"));
            // Each run starts with a different side, so that whatever the machine does
            // over a run's minute falls on every side in turn.
            for step in 0..4 {
                let side = (run + step) % 4;
                let out = dir(SIDES[side]);
                let cpu_before = children_cpu_secs();
                let took = match side {
                    0 => {
                        let started = Instant::now();
                        let packaged = package(&tools, &input, &probed, chosen, &out, |_| {})
                            .await
                            .unwrap();
                        let took = started.elapsed();
                        assert_eq!(&packaged.plan, chosen, "no fallback");
                        if *name == "remux" {
                            last = Some(packaged);
                        }
                        took
                    }
                    1 => by_hand(&out, &input, &probed, chosen),
                    2 => per_rung(&out, &input, &probed, chosen, false),
                    _ => per_rung(&out, &input, &probed, chosen, true),
                };
                sides[side].push(took);
                cpu[side].push(children_cpu_secs() - cpu_before);
                std::fs::remove_dir_all(&out).unwrap();
            }
        }
        let renditions = match chosen {
            Plan::Remux { lower } => 1 + lower.len(),
            Plan::Transcode { ladder, .. } => ladder.len(),
            Plan::Below { .. } => unreachable!(),
        };
        println!(
            "{name} ladder, {renditions} renditions of {CLIP_SECS} s 1080p30, median of {runs}:"
        );
        println!("| side | wall s | runs | ratio to package() | ffmpeg CPU s | CPU ratio |");
        println!("|---|---|---|---|---|---|");
        let ours = median(&sides[0]);
        let ours_cpu = median_f64(&cpu[0]);
        for (side, label) in [
            "package() (one process)",
            "the same ffmpeg command by hand",
            "one process per rendition, one after another",
            "one process per rendition, all at once",
        ]
        .iter()
        .enumerate()
        {
            let times = &sides[side];
            println!(
                "| {label} | {:.2} | {} | {:.2} | {:.1} | {:.2} |",
                median(times).as_secs_f64(),
                list(times),
                median(times).as_secs_f64() / ours.as_secs_f64(),
                median_f64(&cpu[side]),
                median_f64(&cpu[side]) / ours_cpu,
            );
        }
        let ratio = ours.as_secs_f64() / median(&sides[1]).as_secs_f64();
        let verdict = if ratio <= 1.1 { "within" } else { "OVER" };
        println!(
            "{name}: package() / by hand {ratio:.3}x wall ({verdict} the 1.1x bar), {:.3}x ffmpeg CPU\n",
            ours_cpu / median_f64(&cpu[1])
        );
    }

    if let Some(packaged) = last {
        bytes_against_targets(&packaged, &plans[0].1, &probed);
    }
}

/// Each rendition's bytes and bit rates against what the plan asked of it.
fn bytes_against_targets(packaged: &usher_media::Packaged, chosen: &Plan, probed: &Probe) {
    let Plan::Remux { lower } = chosen else {
        return;
    };
    println!("bytes per rendition (remux ladder) against the bit-rate targets:");
    println!(
        "| rendition | size | target kbit/s | average kbit/s | peak kbit/s | bytes | average / target |"
    );
    println!("|---|---|---|---|---|---|---|");
    let source_kbps = plan::source_video_kbps(probed).unwrap_or(0.0);
    for r in packaged.index.renditions.iter() {
        let bytes: u64 = r.segments.iter().map(|s| s.bytes).sum();
        let (size, target) = match (&r.track, r.id.as_str()) {
            (Track::Video { width, height, .. }, "v0") => {
                (format!("{width}x{height}"), source_kbps)
            }
            (Track::Video { width, height, .. }, id) => {
                let i: usize = id[1..].parse().unwrap();
                (
                    format!("{width}x{height}"),
                    f64::from(lower[i - 1].video_bitrate_kbps),
                )
            }
            (Track::Audio { .. }, _) => ("audio".to_owned(), 128.0),
        };
        let label = if r.id == "v0" {
            format!("{:.0} (the source's)", target)
        } else {
            format!("{target:.0}")
        };
        println!(
            "| {} | {size} | {label} | {:.0} | {:.0} | {bytes} | {:.2} |",
            r.id,
            r.average_bandwidth as f64 / 1000.0,
            r.bandwidth as f64 / 1000.0,
            r.average_bandwidth as f64 / 1000.0 / target
        );
    }
}

/// Runs the command line package() would run for `plan`, directly, in a fresh `dir`.
fn by_hand(dir: &Path, input: &Path, probed: &Probe, plan: &Plan) -> Duration {
    let (args, layout) = command::ffmpeg_args(input, probed, plan).unwrap();
    prepare(dir, layout.ids());
    let started = Instant::now();
    wait(spawn(dir, &args));
    started.elapsed()
}

/// The same renditions from one ffmpeg process each: the top one (copied, or encoded)
/// with the audio and the MP4, then every lower rung decoding the input again.
fn per_rung(dir: &Path, input: &Path, probed: &Probe, plan: &Plan, parallel: bool) -> Duration {
    let video = probed.video.as_ref().unwrap();
    let (top, lower): (Plan, Vec<(Rung, bool)>) = match plan {
        Plan::Remux { lower } => (
            Plan::Remux { lower: vec![] },
            lower.iter().map(|r| (*r, true)).collect(),
        ),
        Plan::Transcode { ladder, edits } => (
            Plan::Transcode {
                ladder: ladder[..1].to_vec(),
                edits: edits.clone(),
            },
            ladder[1..].iter().map(|r| (*r, false)).collect(),
        ),
        Plan::Below { .. } => unreachable!(),
    };
    let (top_args, layout) = command::ffmpeg_args(input, probed, &top).unwrap();
    let ids: Vec<String> = (1..=lower.len()).map(|i| format!("v{i}")).collect();
    prepare(dir, layout.ids().chain(ids.iter().map(String::as_str)));
    let mut commands = vec![top_args];
    for ((rung, follow), id) in lower.iter().zip(&ids) {
        let mut args: Vec<String> = vec!["-i".into(), input.to_str().unwrap().into()];
        args.extend([
            "-filter_complex".into(),
            format!(
                "[0:{}]scale={}:{},setsar=1[o0]",
                video.index, rung.width, rung.height
            ),
            "-map".into(),
            "[o0]".into(),
        ]);
        args.extend(command::encoder_args(0, rung));
        if *follow {
            args.extend(command::follow_source_args(0, video));
        } else {
            args.extend(command::fixed_gop_args(0, output_fps(video)));
        }
        args.extend([
            "-map_metadata".into(),
            "-1".into(),
            "-f".into(),
            "tee".into(),
            format!(
                "[f=hls:{}:select=\\'v:0\\']{MANIFEST_DIR}/{id}/ffmpeg.m3u8",
                command::hls_options(id)
            ),
        ]);
        commands.push(args.into_iter().map(OsString::from).collect());
    }
    let started = Instant::now();
    if parallel {
        let children: Vec<Child> = commands.iter().map(|a| spawn(dir, a)).collect();
        children.into_iter().for_each(wait);
    } else {
        commands.iter().for_each(|a| wait(spawn(dir, a)));
    }
    started.elapsed()
}

fn prepare<'a>(dir: &Path, ids: impl Iterator<Item = &'a str>) {
    for id in ids {
        std::fs::create_dir_all(dir.join(MANIFEST_DIR).join(id)).unwrap();
    }
    std::fs::create_dir_all(dir.join("downloads")).unwrap();
}

fn spawn(cwd: &Path, args: &[OsString]) -> Child {
    Command::new("ffmpeg")
        .current_dir(cwd)
        .args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
        .args(args)
        .spawn()
        .unwrap()
}

fn wait(mut child: Child) {
    assert!(child.wait().unwrap().success());
}

fn generate(path: &Path) {
    let secs = CLIP_SECS.to_string();
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1920x1080:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        &secs,
    ];
    args.extend(H264_AAC);
    args.push(path.to_str().unwrap());
    wait(spawn(
        Path::new("."),
        &args.iter().map(OsString::from).collect::<Vec<_>>(),
    ));
}

/// User + system CPU seconds of this process's finished children (ffmpeg), from
/// `/proc/self/stat` (`cutime`, `cstime`, in clock ticks of 1/100 s on Linux): on a
/// shared machine, what the work cost regardless of what else ran.
fn children_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // cutime and cstime are fields 16 and 17 of the whole line; 14 and 15 here.
    let ticks: f64 = fields[13].parse::<f64>().unwrap() + fields[14].parse::<f64>().unwrap();
    ticks / 100.0
}

fn median_f64(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn list(times: &[Duration]) -> String {
    times
        .iter()
        .map(|d| format!("{:.2}", d.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ")
}
