//! Viewing analytics are exact (SPEC §10): a scripted set of plays — ffmpeg reading a
//! rendition through tokens, the test's own fetches, refused requests — gives exactly
//! the views, minutes (the segments' EXTINF durations), bytes and refusals expected,
//! through a restart (SIGTERM: the last batch is written on the way out) and across two
//! edge processes on PostgreSQL + S3 (a viewer on both edges in one window is one view).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::H264_AAC;
use crate::app::{App, create_account_with, spawn_app, start};
use crate::media::{clip, play_to_mp4};
use crate::services::scaled;

/// Counts show in the endpoint within 10 s (SPEC §10); patience for a loaded machine.
const COUNT_DEADLINE: Duration = Duration::from_secs(60);

/// What one complete fetch of rendition v0 weighs: its playlist, init and segments.
struct Rendition {
    bytes: u64,
    /// The segments' EXTINF durations, each rounded to milliseconds as counted.
    millis: u64,
}

/// Fetches v0's playlist, init segment and every media segment through `id` (a token),
/// as a player would, and says what that weighs.
async fn fetch_rendition(edge: &App, id: &str) -> Rendition {
    let base = format!("{}/{id}/manifest/v0", edge.url);
    let get = |url: String| async move {
        let r = edge.http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        r.bytes().await.unwrap()
    };
    let playlist = String::from_utf8(get(format!("{base}/index.m3u8")).await.to_vec()).unwrap();
    let mut bytes = playlist.len() as u64 + get(format!("{base}/init.mp4")).await.len() as u64;
    let mut millis = 0;
    let mut extinf = None;
    for line in playlist.lines() {
        if let Some(v) = line.strip_prefix("#EXTINF:") {
            let secs: f64 = v.trim_end_matches(',').parse().unwrap();
            extinf = Some((secs * 1000.0).round() as u64);
        } else if line.starts_with("seg_") {
            bytes += get(format!("{base}/{line}")).await.len() as u64;
            millis += extinf.take().unwrap();
        }
    }
    assert!(millis > 0, "{playlist}");
    Rendition { bytes, millis }
}

/// ffmpeg plays rendition v0 through `id`: the same files, fetched once each.
fn ffmpeg_plays(edge: &App, id: &str, dir: &Path) {
    let out = dir.join(format!("played-{}.mp4", crate::app::free_port()));
    let url = format!("{}/{id}/manifest/v0/index.m3u8", edge.url);
    let probe = play_to_mp4(&url, &out);
    assert!(crate::media::duration(&probe) > 1.0, "{probe}");
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Counts {
    views: i64,
    millis: i64,
    bytes: i64,
    denials: BTreeMap<String, i64>,
}

async fn counts(api: &App, uid: &str) -> Counts {
    let r = api
        .auth(
            api.http
                .get(api.api(&format!("/stream/analytics/views?uid={uid}"))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let rows = body["result"].as_array().unwrap();
    assert!(rows.len() <= 1, "one video, one day: {body}");
    let Some(row) = rows.first() else {
        return Counts::default();
    };
    assert_eq!(row["uid"], uid);
    assert_eq!(row["date"].as_str().unwrap().len(), 10, "YYYY-MM-DD: {row}");
    Counts {
        views: row["views"].as_i64().unwrap(),
        millis: (row["minutesDelivered"].as_f64().unwrap() * 60_000.0).round() as i64,
        bytes: row["bytesDelivered"].as_i64().unwrap(),
        denials: serde_json::from_value(row["denials"].clone()).unwrap(),
    }
}

/// Polls until the endpoint shows `want`, and then a little longer, to see that it
/// stays there (nothing counted twice by a late flush).
async fn expect_counts(api: &App, uid: &str, want: &Counts) {
    let start = Instant::now();
    loop {
        let got = counts(api, uid).await;
        if &got == want {
            eprintln!("analytics showed {want:?} after {:?}", start.elapsed());
            break;
        }
        assert!(
            start.elapsed() < COUNT_DEADLINE,
            "analytics show {got:?}, expected {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Two flush intervals: whatever was still in memory has been written by then.
    tokio::time::sleep(usher_edge::analytics::FLUSH_EVERY * 2).await;
    assert_eq!(&counts(api, uid).await, want, "changed after settling");
}

/// How long a test's counted requests take at most, with room for a loaded machine.
const SCRIPT_SPAN: Duration = Duration::from_secs(150);

/// Waits, if need be, until the rest of the current 30-minute window (and so of the
/// UTC day, which starts on one) outlasts the script: a viewer seen on both sides of a
/// window's end is rightly two views, and the expectations here are for one window.
async fn clear_of_a_window_edge() {
    let window = usher_store::VIEW_WINDOW_SECS as u64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let left = Duration::from_secs(window) - Duration::from_secs(now.as_secs() % window);
    if left < SCRIPT_SPAN {
        eprintln!("waiting {left:?} for the next 30-minute window");
        tokio::time::sleep(left + Duration::from_secs(1)).await;
    }
}

fn denials(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

async fn refused(edge: &App, path: &str, status: u16) {
    let r = edge
        .http
        .get(format!("{}/{path}", edge.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), status, "{path}");
}

#[tokio::test(flavor = "multi_thread")]
async fn counts_are_exact_across_a_restart() {
    let mut app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "a.mp4", "320x240", 9, H264_AAC);
    let uid = app.upload_ready(&src).await;
    app.edit(&uid, json!({"requireSignedURLs": true})).await;
    clear_of_a_window_edge().await;

    // Refusals: by uid (private), and a token whose rules block everyone.
    for _ in 0..3 {
        refused(&app, &format!("{uid}/manifest/video.m3u8"), 401).await;
    }
    let blocked = app
        .token(
            &uid,
            json!({"accessRules": [{"type": "any", "action": "block"}]}),
        )
        .await;
    refused(&app, &format!("{blocked}/manifest/v0/index.m3u8"), 403).await;
    refused(&app, &format!("{blocked}/iframe"), 403).await;

    // Viewer A fetches the rendition itself; viewer B plays it with ffmpeg.
    let a = app.token(&uid, json!({})).await;
    let b = app.token(&uid, json!({})).await;
    let one = fetch_rendition(&app, &a).await;
    ffmpeg_plays(&app, &b, tmp.path());
    // A HEAD sends nothing, and a third token asking only that is no viewer.
    let h = app.token(&uid, json!({})).await;
    let r = app
        .http
        .head(format!("{}/{h}/manifest/v0/seg_00001.m4s", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut want = Counts {
        views: 2,
        millis: 2 * one.millis as i64,
        bytes: 2 * one.bytes as i64,
        denials: denials(&[("signed_url_required", 3), ("rule_blocked", 2)]),
    };

    // Stopped at once, before a flush is due: the last batch is written on the way out.
    assert!(app.terminate().success());
    let account = app.account.clone();
    let data_dir = app.data_dir.clone();
    let _old = app;
    let app = start(&data_dir, account, &[]);
    expect_counts(&app, &uid, &want).await;

    // After the restart: B again in the same window is no new view; C is.
    let c = app.token(&uid, json!({})).await;
    ffmpeg_plays(&app, &b, tmp.path());
    ffmpeg_plays(&app, &c, tmp.path());
    want.views += 1;
    want.millis += 2 * one.millis as i64;
    want.bytes += 2 * one.bytes as i64;
    expect_counts(&app, &uid, &want).await;

    // The endpoint's own rules: the account's videos only, bad dates refused.
    let bad = app
        .auth(
            app.http
                .get(app.api("/stream/analytics/views?since=yesterday")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("since"),
        "{body}"
    );
    let other = app
        .auth(
            app.http
                .get(app.api("/stream/analytics/views?since=2020-01-01&until=2020-01-02")),
        )
        .send()
        .await
        .unwrap();
    let body: Value = other.json().await.unwrap();
    assert_eq!(body["result"], json!([]), "nothing counted in 2020");
}

#[tokio::test(flavor = "multi_thread")]
async fn counts_are_exact_across_two_edges_on_postgres() {
    let Some(storage) = scaled("analytics") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let with_role = |role: &'static str| {
        let mut flags = vec!["--role", role];
        flags.extend(storage.flags());
        flags
    };
    let account = create_account_with(&root.path().join("api"), "a@example.com", &storage.flags());
    let api = start(&root.path().join("api"), account.clone(), &with_role("api"));
    let _worker = start(
        &root.path().join("w"),
        account.clone(),
        &with_role("worker"),
    );
    let mut edges = [
        start(&root.path().join("e1"), account.clone(), &with_role("edge")),
        start(&root.path().join("e2"), account.clone(), &with_role("edge")),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "b.mp4", "320x240", 9, H264_AAC);
    let uid = api.upload_ready(&src).await;
    api.edit(&uid, json!({"requireSignedURLs": true})).await;
    clear_of_a_window_edge().await;

    // Viewer B on both edges in one window is one view; C on the second edge is another.
    let b = api.token(&uid, json!({})).await;
    let c = api.token(&uid, json!({})).await;
    let one = fetch_rendition(&edges[0], &b).await;
    ffmpeg_plays(&edges[1], &b, tmp.path());
    ffmpeg_plays(&edges[1], &c, tmp.path());
    refused(&edges[0], &format!("{uid}/manifest/video.m3u8"), 401).await;
    refused(&edges[1], &format!("{uid}/manifest/video.m3u8"), 401).await;
    let want = Counts {
        views: 2,
        millis: 3 * one.millis as i64,
        bytes: 3 * one.bytes as i64,
        denials: denials(&[("signed_url_required", 2)]),
    };
    expect_counts(&api, &uid, &want).await;

    // Both edges stopped: nothing left over is added, nothing is counted twice.
    for e in &mut edges {
        assert!(e.terminate().success());
    }
    assert_eq!(counts(&api, &uid).await, want);
}
