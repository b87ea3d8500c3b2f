//! End to end through a real `usher serve`: uploads over HTTP, the worker packaging with
//! real ffmpeg, outputs checked with ffprobe and played by ffmpeg from disk, and the
//! process lifecycle (SIGTERM, restart with work outstanding), and the player pages,
//! over HTTP and in headless Chromium.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analytics;
mod app;
mod browser;
mod browser_adaptive;
mod cli_upload;
mod client_ip;
mod crash;
mod dashboard;
mod fast_path;
mod ladder;
mod live;
mod live_scale;
mod malformed;
mod media;
mod ops;
mod player;
mod propagation;
mod s3_media;
mod scale_out;
mod services;
mod slow_clients;
mod thumbnails;
mod tracks;

use std::path::PathBuf;
use std::time::Duration;

use app::spawn_app;
use media::{clip, codecs, duration, ffmpeg_in, play_to_mp4, probe, video_packets_md5};

pub(crate) const READY_DEADLINE: Duration = Duration::from_secs(180);
pub(crate) const H264_AAC: &[&str] = &[
    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac",
];

/// The published output directory of a ready video.
pub(crate) fn outputs(app: &app::App, uid: &str) -> PathBuf {
    let gens = generations(app, uid);
    assert_eq!(gens.len(), 1, "exactly one published generation: {gens:?}");
    gens.into_iter().next().unwrap()
}

/// The generation directories of a video in a local store. Beside them sit `masters/`
/// (manifest revisions) and `audio/` (tracks).
pub(crate) fn generations(app: &app::App, uid: &str) -> Vec<PathBuf> {
    let dir = app.data_dir.join("media/videos").join(uid);
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| usher_store::layout::is_generation(&p.file_name().unwrap().to_string_lossy()))
        .collect()
}

#[tokio::test]
async fn an_h264_aac_upload_is_remuxed_and_every_output_plays() {
    let app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "talk.mp4", "1280x720", 10, H264_AAC);

    let (status, body) = app.upload(&src).await;
    assert_eq!(status, 200, "{body}");
    let uid = body["result"]["uid"].as_str().unwrap().to_owned();
    assert_eq!(body["result"]["status"]["state"], "queued");
    assert_eq!(body["result"]["meta"]["name"], "talk.mp4");

    let v = app.wait_final(&uid, READY_DEADLINE).await;
    assert_eq!(v["status"]["state"], "ready", "{v}");
    assert_eq!(v["readyToStream"], true);
    assert!(v["readyToStreamAt"].is_string());
    assert_eq!(v["status"]["pctComplete"], "100.000000");
    assert!((v["duration"].as_f64().unwrap() - 10.0).abs() < 0.5, "{v}");
    assert_eq!(
        (v["input"]["width"].as_i64(), v["input"]["height"].as_i64()),
        (Some(1280), Some(720))
    );
    assert_eq!(
        v["size"].as_u64().unwrap(),
        std::fs::metadata(&src).unwrap().len()
    );

    let out = outputs(&app, &uid);
    // The MP4 download: same codecs, same duration, and the very same video bitstream.
    let mp4 = out.join("downloads/default.mp4");
    let p = probe(&mp4);
    assert_eq!(codecs(&p), ["aac", "h264"]);
    assert!((duration(&p) - 10.0).abs() < 0.5);
    assert_eq!(
        video_packets_md5(&mp4),
        video_packets_md5(&src),
        "remux must not re-encode"
    );

    // HLS and DASH, read by ffmpeg as a client from disk.
    let hls = tmp.path().join("from-hls.mp4");
    let p = play_to_mp4(&out.join("manifest/video.m3u8").to_string_lossy(), &hls);
    assert_eq!(codecs(&p), ["aac", "h264"]);
    assert!(
        (duration(&p) - 10.0).abs() < 0.5,
        "hls duration {}",
        duration(&p)
    );
    let dash = tmp.path().join("from-dash.mp4");
    // ffmpeg 5.1 resolves a local MPD's segments against the working directory.
    ffmpeg_in(
        &out.join("manifest"),
        &["-i", "video.mpd", "-c", "copy", &dash.to_string_lossy()],
    );
    let p = probe(&dash);
    assert_eq!(codecs(&p), ["aac", "h264"]);
    assert!(
        (duration(&p) - 10.0).abs() < 0.5,
        "dash duration {}",
        duration(&p)
    );

    // Manifests never name a host or an absolute path: the token travels in relative URLs.
    for m in [
        "manifest/video.m3u8",
        "manifest/video.mpd",
        "manifest/v0/index.m3u8",
    ] {
        let text = std::fs::read_to_string(out.join(m)).unwrap();
        assert!(
            !text.contains("http") && !text.contains(&*out.to_string_lossy()),
            "{m}: {text}"
        );
    }
    let thumb = std::fs::read(out.join("thumbnails/thumbnail.jpg")).unwrap();
    assert_eq!(&thumb[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");
}

#[tokio::test]
async fn a_vp9_upload_is_transcoded_to_h264_no_larger_than_its_input() {
    let app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(
        tmp.path(),
        "clip.webm",
        "320x240",
        3,
        &[
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-c:a",
            "libopus",
        ],
    );
    let (status, body) = app.upload(&src).await;
    assert_eq!(status, 200, "{body}");
    let uid = body["result"]["uid"].as_str().unwrap().to_owned();
    let v = app.wait_final(&uid, READY_DEADLINE).await;
    assert_eq!(v["status"]["state"], "ready", "{v}");
    let out = outputs(&app, &uid);
    let p = probe(&out.join("downloads/default.mp4"));
    assert_eq!(codecs(&p), ["aac", "h264"]);
    assert!((duration(&p) - 3.0).abs() < 0.5);
    let video = p["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == "video")
        .unwrap();
    assert!(video["height"].as_i64().unwrap() <= 240);
    assert!(video["width"].as_i64().unwrap() <= 320);
}

#[tokio::test]
async fn a_text_file_ends_in_err_non_video_and_the_server_keeps_going() {
    let app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "this is not a video\n".repeat(100)).unwrap();
    let (status, body) = app.upload(&text).await;
    assert_eq!(status, 200, "{body}");
    let uid = body["result"]["uid"].as_str().unwrap().to_owned();
    let v = app.wait_final(&uid, READY_DEADLINE).await;
    assert_eq!(v["status"]["state"], "error");
    assert_eq!(v["status"]["errorReasonCode"], "ERR_NON_VIDEO");
    assert_eq!(v["readyToStream"], false);
    assert!(
        !app.data_dir.join("media/videos").join(&uid).exists(),
        "no outputs for an error"
    );

    // The next upload is still processed.
    let src = clip(tmp.path(), "ok.mp4", "320x240", 2, H264_AAC);
    let (_, body) = app.upload(&src).await;
    let v = app
        .wait_final(body["result"]["uid"].as_str().unwrap(), READY_DEADLINE)
        .await;
    assert_eq!(v["status"]["state"], "ready");
}

#[tokio::test]
async fn deleting_a_video_removes_its_media() {
    let app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "a.mp4", "320x240", 2, H264_AAC);
    let (_, body) = app.upload(&src).await;
    let uid = body["result"]["uid"].as_str().unwrap().to_owned();
    app.wait_final(&uid, READY_DEADLINE).await;
    assert!(app.data_dir.join("media/videos").join(&uid).exists());
    let resp = app
        .auth(app.http.delete(app.api(&format!("/stream/{uid}"))))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!app.data_dir.join("media/videos").join(&uid).exists());
    assert!(!app.data_dir.join("media/uploads").join(&uid).exists());
    let resp = app
        .auth(app.http.get(app.api(&format!("/stream/{uid}"))))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_and_leaves_nothing() {
    let app = spawn_app(&["--max-upload-bytes", "100000"]);
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.mp4");
    std::fs::write(&big, vec![0u8; 300_000]).unwrap();
    let (status, body) = app.upload(&big).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["result"], serde_json::Value::Null);
    let list: serde_json::Value = app
        .auth(app.http.get(app.api("/stream")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["result"].as_array().unwrap().len(), 0);
    let uploads = app.data_dir.join("media/uploads");
    let left = std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "no partial upload left behind");
}

#[tokio::test]
async fn sigterm_exits_zero_and_outstanding_work_resumes_after_restart() {
    let mut app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "a.mp4", "640x360", 6, H264_AAC);
    let (_, body) = app.upload(&src).await;
    let uid = body["result"]["uid"].as_str().unwrap().to_owned();
    // Stop right away: the job is queued or mid-packaging.
    let status = app.terminate();
    assert!(status.success(), "exit status {status:?}");

    let again = app::start(&app.data_dir, app.account.clone(), &[]);
    let v = again.wait_final(&uid, READY_DEADLINE).await;
    assert_eq!(v["status"]["state"], "ready", "{v}");
    assert!((v["duration"].as_f64().unwrap() - 6.0).abs() < 0.5);
}

#[tokio::test]
async fn legacy_email_and_key_authenticate_and_wrong_ones_do_not() {
    let app = spawn_app(&[]);
    let get = |email: &str, key: &str| {
        app.http
            .get(app.api("/stream"))
            .header("X-Auth-Email", email)
            .header("X-Auth-Key", key)
            .send()
    };
    assert_eq!(
        get(&app.account.email, &app.account.key)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(get(&app.account.email, "0000").await.unwrap().status(), 403);
    assert_eq!(
        get("other@example.com", &app.account.key)
            .await
            .unwrap()
            .status(),
        403
    );
    // The API token is not a legacy key.
    assert_eq!(
        get(&app.account.email, &app.account.token)
            .await
            .unwrap()
            .status(),
        403
    );
}

#[tokio::test]
async fn the_edge_serves_by_uid_then_only_by_token_and_revocation_applies_at_once() {
    let app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let uid = app
        .upload_ready(&clip(tmp.path(), "a.mp4", "320x240", 4, H264_AAC))
        .await;
    let get = |path: String| app.http.get(format!("{}/{path}", app.url)).send();

    // Public video: the uid plays, ffmpeg as an HLS client over HTTP.
    let r = get(format!("{uid}/manifest/video.m3u8")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/vnd.apple.mpegurl");
    let out = tmp.path().join("public.mp4");
    assert!(
        (duration(&play_to_mp4(
            &format!("{}/{uid}/manifest/video.m3u8", app.url),
            &out
        )) - 4.0)
            .abs()
            < 0.5
    );
    for bad in [
        "manifest/index.json",
        "manifest/..%2F..%2Fusher.db",
        "manifest/v0/../../x",
    ] {
        assert_eq!(
            get(format!("{uid}/{bad}")).await.unwrap().status(),
            404,
            "{bad}"
        );
    }

    // Private: the uid alone is refused as such (401, not the 404 of a missing video).
    app.edit(&uid, serde_json::json!({"requireSignedURLs": true}))
        .await;
    let by_uid = get(format!("{uid}/manifest/video.m3u8")).await.unwrap();
    assert_eq!(by_uid.status(), 401);
    assert_eq!(
        by_uid.text().await.unwrap(),
        "this video requires a signed URL\n"
    );

    // A token signed with a signing key plays; segments honour ranges.
    let key = app.post("/stream/keys", serde_json::json!({})).await;
    let kid = key["id"].as_str().unwrap();
    let token = app
        .token(&uid, serde_json::json!({"id": kid, "pem": key["pem"]}))
        .await;
    // `usher token sign`, offline, from the PEM and from the JWK: both play.
    let mut offline = Vec::new();
    for (flag, field) in [("--pem", "pem"), ("--jwk", "jwk")] {
        let out = std::process::Command::new(app::BIN)
            .args([
                "token", "sign", "--key-id", kid, "--video", &uid, "--ttl", "600",
            ])
            .args([flag, key[field].as_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let t = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let r = get(format!("{t}/manifest/video.m3u8")).await.unwrap();
        assert_eq!(r.status(), 200, "signed with {flag}");
        offline.push(t);
    }
    let out = app::sign_offline(kid, key["pem"].as_str().unwrap(), &uid, "90000");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("24 hours"));
    let out = tmp.path().join("private.mp4");
    assert!(
        (duration(&play_to_mp4(
            &format!("{}/{token}/manifest/video.m3u8", app.url),
            &out
        )) - 4.0)
            .abs()
            < 0.5
    );
    let seg = format!("{token}/manifest/v0/seg_00001.m4s");
    let r = app
        .http
        .get(format!("{}/{seg}", app.url))
        .header("Range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["cache-control"], "private, max-age=300");
    assert_eq!(r.bytes().await.unwrap().len(), 100);

    // Revoked: the very next request is refused.
    let r = app
        .auth(app.http.delete(app.api(&format!("/stream/keys/{kid}"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = get(seg).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.text().await.unwrap().trim(),
        "invalid token: signing key revoked"
    );
    for t in &offline {
        let r = get(format!("{t}/manifest/video.m3u8")).await.unwrap();
        assert_eq!(r.status(), 401, "offline tokens share the key's fate");
    }
    assert_eq!(
        get(format!("{token}/manifest/video.m3u8"))
            .await
            .unwrap()
            .status(),
        401
    );
}
