//! Two `usher serve` processes on one data dir (SPEC §2): a policy edit or a key
//! revocation made through one reaches the other's edge, whose caches are warm, within
//! its poll interval. The deadline here is generous; the figure is printed, not asserted.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::H264_AAC;
use crate::app::{App, spawn_app, start};
use crate::media::{clip, duration, play_to_mp4};

const PROPAGATION_DEADLINE: Duration = Duration::from_secs(15);

async fn get(app: &App, path: &str, origin: Option<&str>) -> (StatusCode, String) {
    let mut rb = app.http.get(format!("{}/{path}", app.url));
    if let Some(o) = origin {
        rb = rb.header("Origin", o);
    }
    let r = rb.send().await.unwrap();
    (r.status(), r.text().await.unwrap_or_default())
}

/// Polls `path` on `app` until it answers `want`; returns how long that took.
async fn until_status(app: &App, path: &str, origin: Option<&str>, want: u16) -> Duration {
    let t0 = Instant::now();
    loop {
        let (status, body) = get(app, path, origin).await;
        if status.as_u16() == want {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < PROPAGATION_DEADLINE,
            "{path} still answers {status} ({body:?}), want {want}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_and_revocations_through_one_process_reach_the_other_s_edge() {
    let a = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "p.mp4", "320x240", 4, H264_AAC);
    let uid = a.upload_ready(&src).await;
    let b = start(&a.data_dir, a.account.clone(), &[]);
    let master = format!("{uid}/manifest/video.m3u8");

    // Warm B's cache with the public video, then make it private through A.
    assert_eq!(get(&b, &master, None).await.0, 200);
    assert_eq!(get(&b, &master, None).await.0, 200);
    a.edit(&uid, json!({"requireSignedURLs": true})).await;
    let took = until_status(&b, &master, None, 401).await;
    eprintln!("requireSignedURLs reached the second process in {took:?}");

    let key = a.post("/stream/keys", json!({})).await;
    let kid = key["id"].as_str().unwrap();
    let token = a.token(&uid, json!({"id": kid, "pem": key["pem"]})).await;

    // ffmpeg as a DASH client through the second process.
    let out = tmp.path().join("dash.mp4");
    let got = duration(&play_to_mp4(
        &format!("{}/{token}/manifest/video.mpd", b.url),
        &out,
    ));
    assert!((got - 4.0).abs() < 0.5, "DASH copy lasted {got} s");

    // allowedOrigins set through A: B refuses other sites, serves the listed one.
    let seg1 = format!("{token}/manifest/v0/seg_00001.m4s");
    assert_eq!(get(&b, &seg1, Some("https://other.example")).await.0, 200);
    a.edit(&uid, json!({"allowedOrigins": ["example.com"]}))
        .await;
    let took = until_status(&b, &seg1, Some("https://other.example"), 403).await;
    eprintln!("allowedOrigins reached the second process in {took:?}");
    assert_eq!(get(&b, &seg1, Some("https://example.com")).await.0, 200);
    assert_eq!(get(&b, &seg1, None).await.0, 403, "no origin at all");
    a.edit(&uid, json!({"allowedOrigins": []})).await;
    until_status(&b, &seg1, None, 200).await;

    // Mid-playback on B: master and a segment play, then the key is revoked through A.
    let variant = format!("{token}/manifest/v0/index.m3u8");
    let seg2 = format!("{token}/manifest/v0/seg_00002.m4s");
    for p in [&master.replace(&uid, &token), &seg1, &variant] {
        assert_eq!(get(&b, p, None).await.0, 200, "{p}");
    }
    let r = a
        .auth(a.http.delete(a.api(&format!("/stream/keys/{kid}"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let took = until_status(&b, &seg2, None, 401).await;
    eprintln!("revocation reached the second process in {took:?}");
    for p in [&seg2, &variant, &master.replace(&uid, &token)] {
        let (status, body) = get(&b, p, None).await;
        assert_eq!(status, 401, "{p}");
        assert_eq!(body.trim(), "invalid token: signing key revoked");
    }
    // And on A, at once: its own writes invalidate its cache without a poll.
    assert_eq!(get(&a, &seg2, None).await.0, 401);
}
