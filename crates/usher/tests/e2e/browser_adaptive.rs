//! Adaptive playback in a real browser: hls.js in headless Chromium (driven by
//! `tests/browser/player.mjs`, see `browser.rs`) picks renditions by the bandwidth it
//! measures, under DevTools network throttling and without; and the player's menus
//! switch quality, audio tracks and captions, seen in what hls.js requests and shows.
//!
//! The player is loaded as the page itself (no embedding site): DevTools throttling
//! applies to the page's own requests, and a cross-site frame runs in a process of its
//! own that the page's session does not reach.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::H264_AAC;
use crate::app::spawn_app;
use crate::browser::{CASE_DEADLINE, case, chromium, drive_chromium, workspace_root};
use crate::media::{clip, ffmpeg};
use crate::tracks::{make_audio, serve_file, wait_master, wait_track_ready};

/// Length of the ladder clip: five 4 s segments, enough for hls.js to measure, switch
/// and show a steady state.
const ABR_CLIP_SECS: u32 = 20;
/// Playback watched under throttling before judging it (seconds of media).
const THROTTLED_WATCH_SECS: f64 = 14.0;
/// Round-trip latency added to every request while throttled.
const THROTTLED_LATENCY_MS: u64 = 40;

/// A variant of an HLS master: `BANDWIDTH`, `RESOLUTION` and its directory (`v0`…).
#[derive(Debug, Clone)]
struct Variant {
    bandwidth: u64,
    width: u64,
    height: u64,
    dir: String,
}

impl Variant {
    /// What the player's Quality menu calls it.
    fn label(&self) -> String {
        format!("{}p", self.width.min(self.height))
    }
}

/// The variants of `master`, lowest bandwidth first (the order hls.js keeps its levels in).
fn variants(master: &str) -> Vec<Variant> {
    let mut out = Vec::new();
    let mut lines = master.lines();
    while let Some(line) = lines.next() {
        let Some(attrs) = line.strip_prefix("#EXT-X-STREAM-INF:") else {
            continue;
        };
        let attr = |name: &str| {
            attrs
                .split(',')
                .find_map(|a| a.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("no {name} in {line}"))
        };
        let (w, h) = attr("RESOLUTION").split_once('x').unwrap();
        let uri = lines.next().unwrap();
        out.push(Variant {
            bandwidth: attr("BANDWIDTH").parse().unwrap(),
            width: w.parse().unwrap(),
            height: h.parse().unwrap(),
            dir: uri.split_once('/').unwrap().0.to_owned(),
        });
    }
    out.sort_by_key(|v| v.bandwidth);
    out
}

/// A 1280x720 MPEG-4 Part 2 clip, which Usher transcodes into a ladder (720/480/360).
/// Temporal noise over the test pattern makes every rung spend its bit-rate cap, so the
/// rungs' bandwidths stand well apart, as a real scene's would.
fn noisy_720p_mpeg4(dir: &Path) -> PathBuf {
    let path = dir.join("ladder.avi");
    let secs = ABR_CLIP_SECS.to_string();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=24,noise=alls=24:allf=t",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440",
        "-t",
        &secs,
        "-c:v",
        "mpeg4",
        // Noise would take ~60 Mb/s at a good quantiser; the source need not be good.
        "-b:v",
        "6M",
        "-c:a",
        "aac",
        &path.to_string_lossy(),
    ]);
    path
}

/// Segment requests (`…/{dir}/seg_…`) the page made, in order: `(ms, dir)`.
fn segment_requests(r: &Value) -> Vec<(u64, String)> {
    r["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|q| {
            let url = q["url"].as_str().unwrap();
            let path = url.split('?').next().unwrap();
            let (before, file) = path.rsplit_once('/')?;
            file.starts_with("seg_").then(|| {
                assert!(q["status"] == 200 || q["status"] == 206, "refused: {q}");
                let dir = before.rsplit_once('/').unwrap().1.to_owned();
                (q["ms"].as_u64().unwrap(), dir)
            })
        })
        .collect()
}

/// The player's menu labelled `label`, as the report saw it.
fn menu<'a>(seen: &'a Value, label: &str) -> &'a Value {
    seen["menus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["label"] == label)
        .unwrap_or_else(|| panic!("no {label} menu: {seen}"))
}

/// hls.js's level now playing.
fn playing_level(seen: &Value) -> &Value {
    let i = seen["currentLevel"].as_i64().unwrap();
    assert!(i >= 0, "no level playing: {seen}");
    &seen["levels"][i as usize]
}

fn assert_no_fatal_error(name: &str, seen: &Value) {
    for e in seen["errors"].as_array().unwrap() {
        assert!(!e.as_str().unwrap().ends_with("fatal"), "{name}: {seen}");
    }
    assert_eq!(seen["state"], "playing", "{name}: {seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_settles_low_when_throttled_and_climbs_to_the_top_when_not() {
    let chromium = chromium();
    let app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let uid = app.upload_ready(&noisy_720p_mpeg4(tmp.path())).await;
    let usher = &app.url;
    let master = app
        .http
        .get(format!("{usher}/{uid}/manifest/video.m3u8"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ladder = variants(&master);
    assert!(
        ladder.len() >= 3,
        "a 720p transcode has 3 renditions: {master}"
    );
    let (low, next, top) = (&ladder[0], &ladder[1], &ladder[ladder.len() - 1]);
    // Between the two lowest renditions: the lowest plays with room to spare, the next
    // one would not keep up.
    let throttle = (low.bandwidth + next.bandwidth) / 2;
    assert!(
        next.bandwidth * 10 > low.bandwidth * 13,
        "renditions too close to tell apart by throttling: {ladder:?}"
    );
    // Pinned by the Quality menu: a middle rendition, which Auto would neither start on
    // (the lowest, from hls.js's default estimate) nor end on (the top).
    let middle = &ladder[ladder.len() / 2];
    assert!(middle.dir != low.dir && middle.dir != top.dir);

    let artifacts = workspace_root().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let player = format!("{usher}/{uid}/iframe?autoplay=true&muted=true");
    let plan = json!({
        "chromium": chromium,
        "deadlineMs": CASE_DEADLINE.as_millis() as u64,
        "cases": [
            {"name": "throttled", "frames": [], "player": player, "expect": "watch",
             "throttle": {"bps": throttle, "latencyMs": THROTTLED_LATENCY_MS},
             "until": {"minTime": THROTTLED_WATCH_SECS}},
            {"name": "unthrottled", "frames": [], "player": player, "expect": "watch",
             "until": {"topLevel": true, "minTime": 1.0}},
            {"name": "pinned", "frames": [], "player": player, "expect": "watch",
             "choose": [{"menu": "Quality", "option": middle.label()}],
             "until": {"requested": format!("/{}/seg_", middle.dir), "height": middle.height},
             "hover": true, "screenshot": artifacts.join("player-menus.png")},
        ],
    });
    let report = drive_chromium(plan).await;
    // Kept for whoever reads a failure: every request and level change, with times.
    std::fs::write(
        artifacts.join("player-abr-report.json"),
        serde_json::to_string_pretty(&report).unwrap(),
    )
    .unwrap();

    // Throttled: hls.js plays on a rendition the link can carry, never asks for one it
    // cannot, and never stalls once playing.
    let r = case(&report, "throttled");
    let seen = &r["seen"];
    assert_eq!(r["satisfied"], true, "throttled: {r:#}");
    assert_no_fatal_error("throttled", seen);
    assert_eq!(seen["stalls"], json!([]), "stalled at these times: {r:#}");
    let level = playing_level(seen);
    assert!(
        level["bitrate"].as_u64().unwrap() < throttle && level["height"] != top.height,
        "throttled to {throttle} b/s but playing {level}: {r:#}"
    );
    let segments = segment_requests(r);
    assert!(!segments.is_empty());
    for (_, dir) in &segments {
        let v = ladder.iter().find(|v| &v.dir == dir);
        if let Some(v) = v {
            assert!(
                v.bandwidth < throttle,
                "asked for {dir} ({} b/s) through {throttle} b/s: {segments:?}",
                v.bandwidth
            );
        }
    }
    // The menus: Auto and every rendition by height, best first; one audio track and no
    // captions offer no choice, so those menus stay hidden.
    let quality = menu(seen, "Quality");
    let mut expected = vec![format!("Auto ({})", low.label())];
    expected.extend(ladder.iter().rev().map(Variant::label));
    assert_eq!(quality["options"], json!(expected), "{seen}");
    assert_eq!(quality["selected"], expected[0]);
    assert_eq!(quality["visible"], true);
    assert_eq!(menu(seen, "Audio")["visible"], false, "{seen}");
    assert_eq!(menu(seen, "Captions")["visible"], false, "{seen}");

    // Unthrottled: it climbs to the top rendition and plays it.
    let r = case(&report, "unthrottled");
    let seen = &r["seen"];
    assert_eq!(r["satisfied"], true, "never reached the top: {r:#}");
    assert_no_fatal_error("unthrottled", seen);
    assert_eq!(playing_level(seen)["height"], top.height, "{seen}");
    let segments = segment_requests(r);
    assert!(
        segments.iter().any(|(_, d)| *d == top.dir),
        "no segment of {}: {segments:?}",
        top.dir
    );

    // Pinned from the menu: Auto is off and what follows the choice comes from there.
    let r = case(&report, "pinned");
    let seen = &r["seen"];
    assert_eq!(r["satisfied"], true, "{r:#}");
    assert_no_fatal_error("pinned", seen);
    assert_eq!(seen["autoLevelEnabled"], false, "{seen}");
    assert_eq!(menu(seen, "Quality")["selected"], middle.label());
    assert_eq!(playing_level(seen)["height"], middle.height, "{seen}");
    assert_eq!(
        r["menusAfterHover"]["opacity"], "1",
        "the menus did not come back under the pointer: {r:#}"
    );
    let chosen = r["chosenAtMs"].as_u64().unwrap();
    let after: Vec<_> = segment_requests(r)
        .into_iter()
        .filter(|(ms, d)| *ms >= chosen && d.starts_with('v'))
        .collect();
    assert!(
        after.last().is_some_and(|(_, d)| *d == middle.dir),
        "after the choice: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audio_menu_switches_to_an_added_track() {
    let chromium = chromium();
    let app = spawn_app(&["--copy-allow-private"]);
    let tmp = tempfile::tempdir().unwrap();
    let uid = app
        .upload_ready(&clip(tmp.path(), "film.mp4", "320x240", 12, H264_AAC))
        .await;
    let label = "Director's commentary";
    let url = serve_file("commentary.m4a", make_audio(tmp.path(), "12")).await;
    let added = app
        .post(
            &format!("/stream/{uid}/audio/copy"),
            json!({"label": label, "url": url}),
        )
        .await;
    let track = added["uid"].as_str().unwrap().to_owned();
    wait_track_ready(&app, &uid, &track).await;
    let dir = format!("t{track}");
    let usher = &app.url;
    wait_master(&app, &format!("{usher}/{uid}/manifest/video.m3u8"), |m| {
        m.contains(&dir)
    })
    .await;

    let plan = json!({
        "chromium": chromium,
        "deadlineMs": CASE_DEADLINE.as_millis() as u64,
        "cases": [
            {"name": "audio", "frames": [],
             "player": format!("{usher}/{uid}/watch?autoplay=true&muted=true"), "expect": "watch",
             "choose": [{"menu": "Audio", "option": label}],
             "until": {"audioTrack": label, "requested": format!("/{dir}/seg_")}},
        ],
    });
    let report = drive_chromium(plan).await;
    let r = case(&report, "audio");

    // Before: both tracks listed, the original playing and marked in the menu.
    let before = &r["beforeChoice"];
    let names: Vec<&Value> = before["audioTracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["name"])
        .collect();
    assert_eq!(names, [&json!("Original"), &json!(label)], "{before}");
    assert_eq!(before["audioTrack"], 0);
    let audio = menu(before, "Audio");
    assert_eq!(audio["visible"], true, "{before}");
    assert_eq!(audio["options"], json!(["Original", label]));
    assert_eq!(audio["selected"], "Original");
    assert_eq!(menu(before, "Captions")["visible"], false, "{before}");

    // After choosing it in the menu: hls.js plays the track, fetched from its own
    // directory, and the menu marks it.
    let seen = &r["seen"];
    assert_eq!(r["satisfied"], true, "the track never played: {r:#}");
    assert_no_fatal_error("audio", seen);
    assert_eq!(seen["audioTrack"], 1, "{seen}");
    assert_eq!(menu(seen, "Audio")["selected"], label);
    let chosen = r["chosenAtMs"].as_u64().unwrap();
    let segments = segment_requests(r);
    assert!(
        segments.iter().all(|(ms, d)| *d != dir || *ms >= chosen),
        "the track was fetched before it was chosen: {segments:?}"
    );
    assert!(
        segments.iter().any(|(ms, d)| *d == dir && *ms >= chosen),
        "{segments:?}"
    );
}

/// Captions as a viewer would upload them.
const CAPTIONS_VTT: &str = "WEBVTT\n\n\
    00:00:00.500 --> 00:00:04.000\nHello from Usher\n\n\
    00:00:04.000 --> 00:00:09.000\nA second cue\n";

/// Needs the captions API (`PUT …/captions/{language}`), built on its own branch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_captions_menu_shows_the_uploaded_cues() {
    let chromium = chromium();
    let app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let uid = app
        .upload_ready(&clip(tmp.path(), "talk.mp4", "320x240", 10, H264_AAC))
        .await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::text(CAPTIONS_VTT).file_name("talk.vtt"),
    );
    let r = app
        .auth(app.http.put(app.api(&format!("/stream/{uid}/captions/en"))))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "PUT …/captions/en: {body}");
    let label = body["result"]["label"].as_str().unwrap().to_owned();
    let usher = &app.url;
    wait_master(&app, &format!("{usher}/{uid}/manifest/video.m3u8"), |m| {
        m.contains("cc-en/")
    })
    .await;

    let plan = json!({
        "chromium": chromium,
        "deadlineMs": CASE_DEADLINE.as_millis() as u64,
        "cases": [
            {"name": "captions", "frames": [],
             "player": format!("{usher}/{uid}/iframe?autoplay=true&muted=true"), "expect": "watch",
             "choose": [{"menu": "Captions", "option": label}],
             "until": {"cues": 2}},
        ],
    });
    let report = drive_chromium(plan).await;
    let r = case(&report, "captions");

    // Before: offered by label, off, nothing shown.
    let before = &r["beforeChoice"];
    assert_eq!(
        before["subtitleTracks"],
        json!([{"name": label, "lang": "en"}]),
        "{before}"
    );
    let captions = menu(before, "Captions");
    assert_eq!(captions["visible"], true, "{before}");
    assert_eq!(captions["options"], json!(["Off", label]));
    assert_eq!(captions["selected"], "Off");
    assert!(
        before["textTracks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["mode"] != "showing"),
        "{before}"
    );

    // Chosen: a showing text track with exactly the uploaded cues.
    let seen = &r["seen"];
    assert_eq!(r["satisfied"], true, "no cues shown: {r:#}");
    assert_no_fatal_error("captions", seen);
    assert_eq!(menu(seen, "Captions")["selected"], label);
    let showing: Vec<&Value> = seen["textTracks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["mode"] == "showing")
        .collect();
    assert_eq!(showing.len(), 1, "{seen}");
    let t = showing[0];
    assert_eq!((&t["label"], &t["language"]), (&json!(label), &json!("en")));
    let cues: Vec<(f64, f64, &str)> = t["cues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["start"].as_f64().unwrap(),
                c["end"].as_f64().unwrap(),
                c["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(cues.len(), 2, "{cues:?}");
    assert_eq!(
        cues.iter().map(|c| c.2).collect::<Vec<_>>(),
        ["Hello from Usher", "A second cue"]
    );
    for ((start, end, _), (want_start, want_end)) in cues.iter().zip([(0.5, 4.0), (4.0, 9.0)]) {
        assert!(
            (start - want_start).abs() < 0.05 && (end - want_end).abs() < 0.05,
            "{cues:?}"
        );
    }
    assert!(
        r["requests"].as_array().unwrap().iter().any(|q| q["url"]
            .as_str()
            .unwrap()
            .contains("/cc-en/")
            && q["status"] == 200),
        "the captions were not fetched from the edge"
    );
}
