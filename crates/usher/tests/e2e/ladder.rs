//! The bit-rate ladder end to end: a 1080p H.264/AAC upload through a real server
//! becomes five renditions, each checked over HTTP with a token — its resolution and
//! codec by ffprobe, its segments starting at the same instants as every other's,
//! played by ffmpeg — and the DASH manifest lists the same set.

use std::path::Path;

use serde_json::json;

use crate::app::spawn_app;
use crate::media::{clip, duration, ffmpeg, probe};

/// H.264/AAC with a key frame every 2 s, as cameras write it.
const CAMERA: &[&str] = &[
    "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac",
];

/// Where each segment of a rendition starts being shown: its init segment and the
/// segment fetched over HTTP, concatenated, and the earliest video packet's
/// presentation time by ffprobe.
async fn segment_starts(http: &reqwest::Client, base: &str, dir: &Path) -> Vec<f64> {
    let get = |url: String| async move {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        r.bytes().await.unwrap()
    };
    let playlist = String::from_utf8(get(format!("{base}/index.m3u8")).await.to_vec()).unwrap();
    let init = get(format!("{base}/init.mp4")).await;
    let mut starts = Vec::new();
    for (i, name) in playlist.lines().filter(|l| l.ends_with(".m4s")).enumerate() {
        let segment = get(format!("{base}/{name}")).await;
        let joined = dir.join(format!("seg{i}.mp4"));
        std::fs::write(&joined, [&init[..], &segment[..]].concat()).unwrap();
        let out = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0"])
            .args(["-show_entries", "packet=pts_time", "-of", "csv=p=0"])
            .arg(&joined)
            .output()
            .unwrap();
        assert!(out.status.success());
        starts.push(
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .filter_map(|l| l.trim().parse::<f64>().ok())
                .fold(f64::INFINITY, f64::min),
        );
    }
    starts
}

/// `name="value"` (or `name=value`) in an XML start tag or an HLS attribute list; the
/// name must stand alone (`width` is not the end of `bandwidth`).
fn attr<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=");
    let at = text.match_indices(&key).map(|(i, _)| i).find(|&i| {
        text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '-')
    })?;
    let rest = text[at + key.len()..].trim_start_matches('"');
    rest.split(['"', ',', ' ', '\n']).next()
}

#[tokio::test]
async fn a_1080p_upload_plays_as_a_five_rendition_ladder_over_http_with_a_token() {
    let app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "keynote.mp4", "1920x1080", 10, CAMERA);
    let uid = app.upload_ready(&src).await;
    app.edit(&uid, json!({"requireSignedURLs": true})).await;
    let token = app.token(&uid, json!({})).await;
    let base = format!("{}/{token}/manifest", app.url);
    let refused = app
        .http
        .get(format!("{}/{uid}/manifest/v1/index.m3u8", app.url))
        .send()
        .await
        .unwrap();
    assert_ne!(refused.status(), 200, "every rendition is private");

    // The master playlist: five variants, highest first, with what players pick by.
    let master = app
        .http
        .get(format!("{base}/video.m3u8"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let variants: Vec<(&str, &str)> = master
        .lines()
        .zip(master.lines().skip(1))
        .filter(|(tag, _)| tag.starts_with("#EXT-X-STREAM-INF:"))
        .collect();
    let expected = [
        (1920, 1080),
        (1280, 720),
        (852, 480),
        (640, 360),
        (426, 240),
    ];
    assert_eq!(variants.len(), expected.len(), "{master}");
    let mut hls_set = Vec::new();
    let mut last_bandwidth = u64::MAX;
    for ((tag, uri), (w, h)) in variants.iter().zip(expected) {
        assert_eq!(
            attr(tag, "RESOLUTION"),
            Some(format!("{w}x{h}").as_str()),
            "{tag}"
        );
        assert_eq!(attr(tag, "FRAME-RATE"), Some("30.000"), "{tag}");
        assert!(attr(tag, "CODECS").unwrap().starts_with("avc1."), "{tag}");
        assert!(attr(tag, "AVERAGE-BANDWIDTH").is_some(), "{tag}");
        let bandwidth: u64 = attr(tag, "BANDWIDTH").unwrap().parse().unwrap();
        assert!(bandwidth < last_bandwidth, "{master}");
        last_bandwidth = bandwidth;
        hls_set.push((uri.trim_end_matches("/index.m3u8").to_owned(), w, h));
    }

    // Each variant over HTTP with the token: ffprobe's resolution and codec, ffmpeg plays
    // it whole, and its segments start where the top rendition's do.
    let mut top_starts = None;
    for (id, w, h) in &hls_set {
        let url = format!("{base}/{id}/index.m3u8");
        let p = probe_url(&url);
        let v = &p["streams"][0];
        assert_eq!(
            (
                v["codec_name"].as_str(),
                v["width"].as_i64(),
                v["height"].as_i64()
            ),
            (Some("h264"), Some(i64::from(*w)), Some(i64::from(*h))),
            "{id}"
        );
        let played = tmp.path().join(format!("{id}.mp4"));
        ffmpeg(&["-i", &url, "-c", "copy", played.to_str().unwrap()]);
        assert!((duration(&probe(&played)) - 10.0).abs() < 0.2, "{id}");
        let starts = segment_starts(&app.http, &format!("{base}/{id}"), tmp.path()).await;
        match &top_starts {
            None => top_starts = Some(starts),
            Some(top) => {
                assert_eq!(starts.len(), top.len(), "{id}");
                for (a, b) in starts.iter().zip(top) {
                    assert!((a - b).abs() < 0.001, "{id}: {starts:?} vs {top:?}");
                }
            }
        }
    }
    assert!(top_starts.unwrap().len() >= 3);

    // DASH: the same renditions in one video AdaptationSet, segments aligned.
    let mpd = app
        .http
        .get(format!("{base}/video.mpd"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let video_set = mpd
        .split("<AdaptationSet")
        .filter(|set| set.contains("contentType=\"video\""))
        .collect::<Vec<_>>();
    assert_eq!(video_set.len(), 1, "{mpd}");
    assert!(video_set[0].contains("segmentAlignment=\"true\""), "{mpd}");
    let dash_set: Vec<(String, u32, u32)> = video_set[0]
        .split("<Representation ")
        .skip(1)
        .map(|r| {
            (
                attr(r, "id").unwrap().to_owned(),
                attr(r, "width").unwrap().parse().unwrap(),
                attr(r, "height").unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(dash_set, hls_set);
    let from_dash = tmp.path().join("dash.mp4");
    ffmpeg(&[
        "-i",
        &format!("{base}/video.mpd"),
        "-c",
        "copy",
        from_dash.to_str().unwrap(),
    ]);
    assert!((duration(&probe(&from_dash)) - 10.0).abs() < 0.2);
}

/// ffprobe of a URL (a playlist over HTTP).
fn probe_url(url: &str) -> serde_json::Value {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_streams", url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The variants a master playlist lists.
async fn variant_count(app: &crate::app::App, uid: &str) -> usize {
    let r = app
        .http
        .get(format!("{}/{uid}/manifest/video.m3u8", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap().matches("#EXT-X-STREAM-INF").count()
}

#[tokio::test]
async fn progressive_publishing_serves_the_top_first_and_the_rest_survives_kill_9() {
    let mut app = spawn_app(&["--progressive-publishing"]);
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "talk.mp4", "1280x720", 10, CAMERA);
    let uid = app.upload_ready(&src).await;
    // Ready with its own stream alone, while the rungs below it are being encoded.
    assert_eq!(variant_count(&app, &uid).await, 1);
    app.child.kill().unwrap(); // SIGKILL, mid-ladder
    app.child.wait().unwrap();

    // Taken back by a server without the flag: what was started is finished.
    let again = crate::app::start(&app.data_dir, app.account.clone(), &[]);
    let started = std::time::Instant::now();
    while variant_count(&again, &uid).await < 4 {
        assert!(
            started.elapsed() < crate::READY_DEADLINE,
            "the rest never came"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(again.video(&uid).await["status"]["state"], "ready");
    // One generation left: the top-only one goes once the new one is switched to.
    while crate::generations(&again, &uid).len() > 1 {
        assert!(
            started.elapsed() < crate::READY_DEADLINE,
            "the old generation stayed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let low = tmp.path().join("low.mp4");
    ffmpeg(&[
        "-i",
        &format!("{}/{uid}/manifest/v3/index.m3u8", again.url),
        "-c",
        "copy",
        low.to_str().unwrap(),
    ]);
    let p = probe(&low);
    assert_eq!(p["streams"][0]["height"], 240);
    assert!((duration(&p) - 10.0).abs() < 0.2);
}
