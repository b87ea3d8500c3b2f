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

/// A resumable upload with no sticky routing: its `PATCH`es alternate between two API
/// processes (each with a data dir of its own), one of them is killed with SIGKILL in the
/// middle of a `PATCH`, and the other finishes the upload from the offset it reports.
/// The original in the store is the bytes sent, and no process staged any on its disk.
#[tokio::test(flavor = "multi_thread")]
async fn tus_patches_go_to_any_api_process_and_survive_one_killed() {
    use tokio::io::AsyncWriteExt;

    let Some(storage) = scaled("scale_out_tus") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let mut flags = vec!["--role", "api"];
    flags.extend(storage.flags());
    let account = create_account_with(
        &machine(root.path(), "api1"),
        "owner@example.com",
        &storage.flags(),
    );
    let mut api1 = start(&machine(root.path(), "api1"), account.clone(), &flags);
    let api2 = start(&machine(root.path(), "api2"), account.clone(), &flags);

    // 21 MiB that differ everywhere, so a part in the wrong place shows.
    const MIB: usize = 1 << 20;
    let data: Vec<u8> = (0..21 * MIB as u64)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let r = api1
        .auth(api1.http.post(api1.api("/stream")))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", data.len().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap();
    let path = location[location.find("/tus/").unwrap()..].to_owned();
    let uid = r.headers()["stream-media-id"].to_str().unwrap().to_owned();
    let patch = |app: &App, offset: usize, body: Vec<u8>| {
        app.auth(app.http.patch(format!("{}{path}", app.url)))
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .body(body)
            .send()
    };
    let head = |app: &App| {
        app.auth(app.http.head(format!("{}{path}", app.url)))
            .header("Tus-Resumable", "1.0.0")
            .send()
    };

    // Alternating, 3 MiB at a time: each process takes up where the other left off.
    let mut offset = 0;
    for (i, app) in [&api1, &api2, &api1, &api2].into_iter().enumerate() {
        let r = patch(app, offset, data[offset..offset + 3 * MIB].to_vec())
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "PATCH {i} to {}", app.url);
        offset += 3 * MIB;
        assert_eq!(r.headers()["upload-offset"], offset.to_string().as_str());
        let other = if i % 2 == 0 { &api2 } else { &api1 };
        let r = head(other).await.unwrap();
        assert_eq!(r.headers()["upload-offset"], offset.to_string().as_str());
    }

    // A PATCH of the remaining 9 MiB to api1, killed after 7 MiB of its body: more than
    // nothing, less than a part, so what survives is what was acknowledged before it.
    let host = api1.url.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&host).await.unwrap();
    let rest = &data[offset..];
    let request = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
         Tus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        account.token,
        rest.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    socket.write_all(&rest[..7 * MIB]).await.unwrap();
    socket.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await; // let the server read it
    api1.child.kill().unwrap();
    api1.child.wait().unwrap();
    drop(socket);

    // The other process resumes from what it reports; the dead one's claim on the upload
    // lapses on its own.
    let r = head(&api2).await.unwrap();
    let resume: usize = r.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (offset..data.len()).contains(&resume),
        "resumes at {resume}, from {offset}"
    );
    let r = patch(&api2, resume, data[resume..].to_vec()).await.unwrap();
    assert_eq!(r.status(), 204, "{:?}", r.text().await);
    let v = api2.video(&uid).await;
    assert_ne!(v["status"]["state"], "pendingupload", "{v}");

    let blobs = usher_store::Blobs::open(&storage.media_url).unwrap();
    let stored = blobs
        .get_bytes(
            &usher_store::layout::original_key(&uid.parse().unwrap()),
            64 << 20,
        )
        .await
        .unwrap()
        .expect("the original is in the store");
    assert!(
        stored.as_ref() == data.as_slice(),
        "the stored bytes differ"
    );
    assert!(
        blobs
            .list(&usher_store::layout::tus_parts_prefix(
                &uid.parse().unwrap()
            ))
            .await
            .unwrap()
            .is_empty(),
        "the parts are gone once joined"
    );
    for app in [&api1, &api2] {
        let mut staged = vec![];
        let mut dirs = vec![app.data_dir.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if entry.metadata().map_or(0, |m| m.len()) > MIB as u64 {
                    staged.push(p);
                }
            }
        }
        assert!(
            staged.is_empty(),
            "bytes staged on a machine's disk: {staged:?}"
        );
    }
}
