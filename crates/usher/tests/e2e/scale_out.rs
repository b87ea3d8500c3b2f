//! SPEC §5 for real: PostgreSQL for metadata, an S3 server for media, and one `api`, two
//! `worker` and two `edge` processes, each with a data dir of its own as if on its own
//! machine. An upload through the API is packaged by a worker, the worker is killed with
//! SIGKILL mid-job and another takes the job over when its lease runs out; both edges
//! play the video, keep serving with the API stopped, and refuse a revoked key's tokens
//! within a second.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::READY_DEADLINE;
use crate::app::{self, App, create_account_with, start};
use crate::media::{clip, duration, play_to_mp4};
use crate::services::scaled;

/// MPEG-4 Part 2 input is transcoded, which takes long enough to kill the worker mid-job.
const MPEG4: &[&str] = &["-c:v", "mpeg4", "-q:v", "3", "-c:a", "aac"];
/// SPEC §5: a revocation reaches every edge within a second (reported, not asserted).
const PROPAGATION_BAR: Duration = Duration::from_secs(1);
/// What the test asserts: the refusal comes at all, on a machine that may be loaded.
const PROPAGATION_DEADLINE: Duration = Duration::from_secs(15);
/// Short, so the killed worker's job is taken over quickly.
const LEASE_SECS: &str = "3";

fn machine(root: &Path, name: &str) -> std::path::PathBuf {
    root.join(name)
}

async fn status(app: &App, path: &str) -> StatusCode {
    app.http
        .get(format!("{}/{path}", app.url))
        .send()
        .await
        .unwrap()
        .status()
}

async fn bytes(app: &App, path: &str) -> Vec<u8> {
    let r = app
        .http
        .get(format!("{}/{path}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path} on {}", app.url);
    r.bytes().await.unwrap().to_vec()
}

/// Waits until `path` on `app` answers `want`; returns how long after `since` it did.
async fn refused_after(app: &App, path: &str, want: StatusCode, since: Instant) -> Duration {
    loop {
        if status(app, path).await == want {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "{path} on {} never answered {want}",
            app.url
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The media lives in the store, not in any process's data dir.
fn outputs_are_not_local(apps: &[&App]) {
    for app in apps {
        let media = app.data_dir.join("media");
        let files = std::fs::read_dir(&media).map_or(0, Iterator::count);
        assert_eq!(files, 0, "{} holds media", media.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn api_workers_and_two_edges_on_postgres_and_s3() {
    let Some(storage) = scaled("scale_out") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let with_role = |role: &'static str| {
        let mut flags = vec!["--role", role, "--job-lease-secs", LEASE_SECS];
        flags.extend(storage.flags());
        flags
    };
    let account = create_account_with(
        &machine(root.path(), "api"),
        "owner@example.com",
        &storage.flags(),
    );
    let mut api = start(
        &machine(root.path(), "api"),
        account.clone(),
        &with_role("api"),
    );
    let mut worker1 = start(
        &machine(root.path(), "w1"),
        account.clone(),
        &with_role("worker"),
    );
    let edges = [
        start(
            &machine(root.path(), "e1"),
            account.clone(),
            &with_role("edge"),
        ),
        start(
            &machine(root.path(), "e2"),
            account.clone(),
            &with_role("edge"),
        ),
    ];

    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "long.mp4", "1280x720", 20, MPEG4);
    let (code, body) = api.upload(&src).await;
    assert_eq!(code, 200, "{body}");
    let uid = body["result"]["uid"].as_str().unwrap().to_owned();

    // Worker 1 at work on it; worker 2 starts, then worker 1 dies without a word.
    api.wait_in_progress(&uid, READY_DEADLINE).await;
    let _worker2 = start(
        &machine(root.path(), "w2"),
        account.clone(),
        &with_role("worker"),
    );
    worker1.child.kill().unwrap();
    worker1.child.wait().unwrap();
    let v = api.wait_final(&uid, READY_DEADLINE).await;
    assert_eq!(v["status"]["state"], "ready", "{v}");
    assert!((v["duration"].as_f64().unwrap() - 20.0).abs() < 0.5, "{v}");
    outputs_are_not_local(&[&api, &worker1, &edges[0], &edges[1]]);

    // Private, with a key; the token is signed offline as a customer would.
    api.edit(&uid, json!({"requireSignedURLs": true})).await;
    let key = api.post("/stream/keys", json!({})).await;
    let kid = key["id"].as_str().unwrap().to_owned();
    let out = app::sign_offline(&kid, key["pem"].as_str().unwrap(), &uid, "600");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    // Both edges serve the same bytes, from the store; ffmpeg plays it through each.
    let variant = format!("{token}/manifest/v0/index.m3u8");
    let segment = format!("{token}/manifest/v0/seg_00002.m4s");
    for path in [&format!("{token}/manifest/video.m3u8"), &variant, &segment] {
        assert_eq!(
            bytes(&edges[0], path).await,
            bytes(&edges[1], path).await,
            "{path}"
        );
    }
    for (n, edge) in edges.iter().enumerate() {
        assert_eq!(
            status(edge, &format!("{uid}/manifest/video.m3u8")).await,
            401
        );
        let played = tmp.path().join(format!("edge{n}.mp4"));
        let url = format!("{}/{token}/manifest/video.m3u8", edge.url);
        assert!((duration(&play_to_mp4(&url, &played)) - 20.0).abs() < 0.5);
    }

    // No edge needs the API: with it stopped they still serve.
    assert!(api.terminate().success());
    for edge in &edges {
        assert_eq!(status(edge, &segment).await, 200);
    }

    // Revoked through a restarted API: both edges refuse within the bar.
    api = start(
        &machine(root.path(), "api"),
        account.clone(),
        &with_role("api"),
    );
    let r = api
        .auth(api.http.delete(api.api(&format!("/stream/keys/{kid}"))))
        .send()
        .await
        .unwrap();
    let since = Instant::now();
    assert_eq!(r.status(), 200);
    let (a, b) = tokio::join!(
        refused_after(&edges[0], &segment, StatusCode::UNAUTHORIZED, since),
        refused_after(&edges[1], &segment, StatusCode::UNAUTHORIZED, since),
    );
    // The 1 s bar is measured by bench/scale-out.sh; here the refusal must come, within
    // a deadline generous enough for a loaded machine, and the figure is reported.
    eprintln!("revocation reached edge 1 in {a:?}, edge 2 in {b:?} (bar: {PROPAGATION_BAR:?})");
    assert!(a.max(b) <= PROPAGATION_DEADLINE, "{a:?} / {b:?}");
}
