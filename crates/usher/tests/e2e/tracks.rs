//! Additional audio tracks end to end: fetched from a URL, encoded by the worker,
//! published in the HLS and DASH masters behind the same token checks as the ladder,
//! `default` honoured, and gone from the masters and the edge once deleted.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use crate::app::{App, spawn_app};
use crate::media::{clip, duration, ffmpeg, probe};
use crate::{H264_AAC, READY_DEADLINE};

/// Serves `bytes` at `/{name}` on a port of its own; returns the URL.
pub async fn serve_file(name: &str, bytes: Vec<u8>) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let app = Router::new().route(&format!("/{name}"), get(move || async move { bytes }));
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://127.0.0.1:{port}/{name}")
}

async fn tracks(app: &App, uid: &str) -> Vec<Value> {
    let r = app
        .auth(app.http.get(app.api(&format!("/stream/{uid}/audio"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["result"].as_array().unwrap().clone()
}

pub async fn wait_track_ready(app: &App, uid: &str, track: &str) {
    let start = Instant::now();
    loop {
        let all = tracks(app, uid).await;
        let t = all.iter().find(|t| t["uid"] == track).unwrap();
        match t["status"].as_str().unwrap() {
            "ready" => return,
            "queued" => {}
            other => panic!("track ended {other}: {t}"),
        }
        assert!(start.elapsed() < READY_DEADLINE, "track stuck: {t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get_text(app: &App, url: &str) -> (u16, String) {
    let r = app.http.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Polls the edge until the master says what `ok` wants (a revision switch reaches
/// this process at once, but the publication runs after the API's answer for a
/// worker-encoded track).
pub async fn wait_master(app: &App, url: &str, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let (status, text) = get_text(app, url).await;
        if status == 200 && ok(&text) {
            return text;
        }
        assert!(
            start.elapsed() < READY_DEADLINE,
            "master never matched: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn make_audio(dir: &Path, secs: &str) -> Vec<u8> {
    let path = dir.join("commentary.m4a");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=880:sample_rate=44100",
        "-t",
        secs,
        "-c:a",
        "aac",
        &path.to_string_lossy(),
    ]);
    std::fs::read(path).unwrap()
}

#[tokio::test]
async fn an_audio_track_is_encoded_published_defaulted_and_deleted() {
    let app = spawn_app(&["--copy-allow-private"]);
    let tmp = tempfile::tempdir().unwrap();
    // Added before the video is ready: encoded once it is.
    let (status, body) = app
        .upload(&clip(tmp.path(), "film.mp4", "320x240", 6, H264_AAC))
        .await;
    assert_eq!(status, 200, "{body}");
    let uid = body["result"]["uid"].as_str().unwrap().to_owned();
    // Shorter than the video: padded with silence to its length.
    let url = serve_file("commentary.m4a", make_audio(tmp.path(), "2.5")).await;
    let added = app
        .post(
            &format!("/stream/{uid}/audio/copy"),
            json!({"label": "Director's commentary", "url": url}),
        )
        .await;
    assert_eq!(added["status"], "queued");
    assert_eq!(added["default"], false);
    let track = added["uid"].as_str().unwrap().to_owned();
    let v = app.wait_final(&uid, READY_DEADLINE).await;
    assert_eq!(v["status"]["state"], "ready", "{v}");
    wait_track_ready(&app, &uid, &track).await;

    // Private: everything, the track included, is served only for a token.
    app.edit(&uid, json!({"requireSignedURLs": true})).await;
    let token = app.token(&uid, json!({})).await;
    let base = format!("{}/{token}/manifest", app.url);
    let dir = format!("t{track}");
    let master = wait_master(&app, &format!("{base}/video.m3u8"), |m| m.contains(&dir)).await;
    assert!(
        master.contains(&format!(
            "NAME=\"Director's commentary\",DEFAULT=NO,AUTOSELECT=NO,CHANNELS=\"1\",URI=\"{dir}/index.m3u8\""
        )),
        "a mono source stays mono: {master}"
    );
    assert!(master.contains("NAME=\"Original\",DEFAULT=YES"), "{master}");
    let (status, mpd) = get_text(&app, &format!("{base}/video.mpd")).await;
    assert_eq!(status, 200);
    assert!(
        mpd.contains("<Label>Director's commentary</Label>"),
        "{mpd}"
    );
    assert!(
        mpd.contains(&format!("initialization=\"{dir}/init.mp4\"")),
        "{mpd}"
    );
    let (status, _) = get_text(&app, &format!("{}/{uid}/manifest/{dir}/init.mp4", app.url)).await;
    assert_eq!(
        status, 401,
        "the uid of a private video is refused for its tracks too"
    );

    // ffmpeg plays the track over HTTP with the token; it lasts as long as the video.
    let out = tmp.path().join("track.m4a");
    ffmpeg(&[
        "-i",
        &format!("{base}/{dir}/index.m3u8"),
        "-c",
        "copy",
        &out.to_string_lossy(),
    ]);
    let p = probe(&out);
    let video_secs = v["duration"].as_f64().unwrap();
    assert!(
        (duration(&p) - video_secs).abs() < 0.15,
        "track {} s vs video {video_secs} s",
        duration(&p)
    );
    assert_eq!(p["streams"][0]["codec_name"], "aac");

    // Default: the track plays first; the default cannot be deleted.
    let r = app
        .auth(
            app.http
                .patch(app.api(&format!("/stream/{uid}/audio/{track}"))),
        )
        .json(&json!({"default": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let edited: Value = r.json().await.unwrap();
    assert_eq!(edited["result"]["default"], true);
    let master = get_text(&app, &format!("{base}/video.m3u8")).await.1;
    assert!(
        master.contains("NAME=\"Director's commentary\",DEFAULT=YES"),
        "{master}"
    );
    assert!(master.contains("NAME=\"Original\",DEFAULT=NO"), "{master}");
    let del = app.auth(
        app.http
            .delete(app.api(&format!("/stream/{uid}/audio/{track}"))),
    );
    let r = del.send().await.unwrap();
    assert_eq!(r.status(), 409);

    // Not the default any more: deleted, and gone from the masters and the edge.
    let r = app
        .auth(
            app.http
                .patch(app.api(&format!("/stream/{uid}/audio/{track}"))),
        )
        .json(&json!({"default": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .auth(
            app.http
                .delete(app.api(&format!("/stream/{uid}/audio/{track}"))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let master = get_text(&app, &format!("{base}/video.m3u8")).await.1;
    assert!(!master.contains(&dir), "{master}");
    assert!(master.contains("NAME=\"audio 0\""), "{master}");
    assert!(tracks(&app, &uid).await.is_empty());
    let (status, _) = get_text(&app, &format!("{base}/{dir}/init.mp4")).await;
    assert_eq!(status, 404);
}
