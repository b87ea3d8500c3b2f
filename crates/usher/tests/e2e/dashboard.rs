//! The dashboard (SPEC §10) in a real browser: Debian's Chromium, headless, driven by
//! `tests/browser/dashboard.mjs` (playwright-core) through every screen by label, as a
//! person would — sign in (a wrong token first), upload with tus, make the video
//! private, caption it, build a signed embed with an IP rule and play it on another
//! site, create and revoke a signing key, see the view in analytics, sign out. This test
//! checks what the browser saw against the API, and that the API token never left
//! `sessionStorage`: not in `localStorage`, a cookie, or any URL requested.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::H264_AAC;
use crate::app::{App, spawn_app};
use crate::browser::{chromium, embedding_site, run_driver, workspace_root};
use crate::media::clip;

/// Patience per step: Chromium's first start and the first packaging on a busy 2-core
/// machine are slow. Every wait in the driver polls until this passes.
const STEP_DEADLINE: Duration = Duration::from_secs(90);
/// For the whole Node run.
const RUN_DEADLINE: Duration = Duration::from_secs(600);
/// Upload speed until the second upload is paused: its 2 MB take several seconds.
const THROTTLE_BPS: u64 = 256 * 1024;
/// First-load measurements of each kind (a fresh browser, and a reload).
const LOADS: u32 = 3;

const CAPTION: &str = "WEBVTT\n\n00:00:00.000 --> 00:00:03.000\nHello from the dashboard\n\n\
                       00:00:03.000 --> 00:00:06.000\nStill here\n";

async fn drive(plan: Value) -> Value {
    run_driver("dashboard.mjs", plan, RUN_DEADLINE).await
}

fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    let s = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {}", report["error"]));
    assert!(s["error"].is_null(), "{name}: {}", s["error"]);
    s
}

async fn get(app: &App, path: &str) -> Value {
    let r = app.auth(app.http.get(app.api(path))).send().await.unwrap();
    assert!(r.status().is_success(), "GET {path}: {}", r.status());
    r.json::<Value>().await.unwrap()["result"].clone()
}

/// The API's own message for a wrong token, which the sign-in form must show.
async fn wrong_token_message(app: &App) -> String {
    let r = app
        .http
        .get(app.api("/stream?limit=1"))
        .bearer_auth(format!("{}x", app.account.token))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    body["errors"][0]["message"].as_str().unwrap().to_owned()
}

/// Every place the API token could have leaked to in the browser.
fn assert_token_kept(report: &Value, token: &str) {
    for url in report["requests"].as_array().unwrap() {
        assert!(
            !url.as_str().unwrap().contains(token),
            "the API token is in a requested URL: {url}"
        );
    }
    let snapshots: Vec<&Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.get("stored"))
        .chain(std::iter::once(&report["storageBeforeSignOut"]))
        .collect();
    assert!(snapshots.len() >= 5, "storage was looked at: {snapshots:?}");
    for stored in snapshots {
        assert!(
            !stored["local"].to_string().contains(token),
            "the API token is in localStorage: {stored}"
        );
        assert!(
            !stored["cookie"].as_str().unwrap().contains(token),
            "the API token is in a cookie: {stored}"
        );
        assert_eq!(stored["cookie"], "", "the dashboard sets no cookie");
    }
}

fn assert_screenshots(dir: &Path) {
    for name in [
        "signin",
        "library",
        "video",
        "embed",
        "embedded",
        "keys",
        "webhooks",
        "live",
        "analytics",
        "mobile",
    ] {
        let p = dir.join(format!("dashboard-{name}.png"));
        assert!(
            std::fs::metadata(&p).is_ok_and(|m| m.len() > 1000),
            "no screenshot {}",
            p.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_runs_a_library_from_the_browser() {
    let chromium = chromium();
    let app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let small = clip(tmp.path(), "dashboard-clip.mp4", "320x240", 6, H264_AAC);
    // Big enough to pause part way at THROTTLE_BPS.
    let mut bulky = H264_AAC.to_vec();
    bulky.extend_from_slice(&["-b:v", "2M", "-maxrate", "2M", "-bufsize", "1M"]);
    let resume_clip = clip(tmp.path(), "dashboard-resume.mp4", "640x360", 8, &bulky);
    let caption = tmp.path().join("en.vtt");
    std::fs::write(&caption, CAPTION).unwrap();
    let (site, _) = embedding_site().await;
    let artifacts = workspace_root().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    // This run's screenshots, not an earlier run's.
    for e in std::fs::read_dir(&artifacts).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("dashboard-") && name.ends_with(".png") {
            std::fs::remove_file(&p).unwrap();
        }
    }
    let token = app.account.token.clone();

    let report = drive(json!({
        "chromium": chromium,
        "deadlineMs": STEP_DEADLINE.as_millis() as u64,
        "dashboard": format!("{}/dashboard", app.url),
        "account": app.account.id,
        "token": token,
        "clip": small,
        "resumeClip": resume_clip,
        "throttleBps": THROTTLE_BPS,
        "caption": caption,
        "embedSite": site,
        "allowIp": "127.0.0.1",
        "screenshots": artifacts,
        "loads": LOADS,
    }))
    .await;
    for s in report["steps"].as_array().unwrap() {
        eprintln!("dashboard step {}: {} ms", s["name"], s["ms"]);
    }
    eprintln!(
        "dashboard first load (navigation start to the library rendered), ms: cold {} warm {}",
        report["loads"]["cold"], report["loads"]["warm"]
    );
    assert!(report["error"].is_null(), "{}", report["error"]);

    // A wrong token: the API's own message, and nothing kept.
    let wrong = step(&report, "wrong token");
    assert_eq!(wrong["message"], wrong_token_message(&app).await);
    assert_eq!(wrong["stored"]["session"], json!({}), "{wrong}");

    // The upload went up with tus and became ready, as the API says too.
    let upload = step(&report, "upload");
    assert_eq!(upload["state"], "ready", "{upload}");
    let videos = get(&app, "/stream?search=dashboard-clip").await;
    let video = &videos.as_array().unwrap()[0];
    let uid = video["uid"].as_str().unwrap();
    assert_eq!(video["meta"]["name"], "dashboard-clip.mp4");
    assert_eq!(
        video["size"].as_i64().unwrap() as u64,
        std::fs::metadata(&small).unwrap().len()
    );

    // Paused part way, the page reloaded, the same file chosen again: one video, whole.
    let resumed = step(&report, "resume after reload");
    assert_eq!(resumed["resumed"], true, "{resumed}");
    assert!(resumed["pausedAt"].as_f64().unwrap() < 100.0, "{resumed}");
    assert!(
        resumed["note"]
            .as_str()
            .unwrap()
            .contains("dashboard-resume.mp4"),
        "{resumed}"
    );
    let entries = resumed["tusEntries"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        1,
        "tus-js-client kept the upload URL: {resumed}"
    );
    assert!(
        entries[0][1].as_str().unwrap().contains("/tus/"),
        "{entries:?}"
    );
    assert_eq!(
        resumed["afterwards"]["local"],
        json!({}),
        "forgotten once done"
    );
    let same = get(&app, "/stream?search=dashboard-resume").await;
    assert_eq!(
        same.as_array().unwrap().len(),
        1,
        "one upload, resumed: {same}"
    );
    let whole = app
        .wait_final(same[0]["uid"].as_str().unwrap(), crate::READY_DEADLINE)
        .await;
    assert_eq!(whole["status"]["state"], "ready", "{whole}");
    assert_eq!(
        whole["size"].as_i64().unwrap() as u64,
        std::fs::metadata(&resume_clip).unwrap().len()
    );

    // Made private on its page; the page's own player switched to a signed URL.
    let page = step(&report, "video page");
    assert_eq!(page["uid"], uid);
    assert_eq!(page["checked"], true);
    assert_eq!(page["originsField"], 1, "a field labelled Allowed origins");
    assert!(
        page["publicSrc"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{uid}/iframe"))
    );
    let signed = page["signedSrc"].as_str().unwrap();
    assert!(
        !signed.contains(uid) && signed.ends_with("/iframe"),
        "{signed}"
    );
    assert_eq!(
        get(&app, &format!("/stream/{uid}")).await["requireSignedURLs"],
        true
    );

    // The caption is the video's.
    step(&report, "caption");
    let captions = get(&app, &format!("/stream/{uid}/captions")).await;
    assert_eq!(captions[0]["language"], "en", "{captions}");

    // The embed code carries a token whose rules admit 127.0.0.1 and block the rest,
    // as token explain said beside it; it played on another site.
    let embed = step(&report, "embed");
    let src = embed["src"].as_str().unwrap();
    let embed_token = src
        .strip_prefix(&format!("{}/", app.url))
        .and_then(|s| s.strip_suffix("/iframe"))
        .unwrap_or_else(|| panic!("embed src {src}"));
    assert_eq!(embed_token.split('.').count(), 3, "a JWT in {src}");
    assert!(!src.contains(uid));
    assert_eq!(embed["allowed"], true, "{embed}");
    assert!(embed["verdict"].as_str().unwrap().starts_with("Allowed"));
    let elsewhere = app
        .post(
            "/stream/token/explain",
            json!({"token": embed_token, "ip": "203.0.113.9", "resource": "player"}),
        )
        .await;
    assert_eq!(elsewhere["allowed"], false, "{elsewhere}");
    let played = step(&report, "play embed elsewhere");
    assert_eq!(played["seen"]["state"], "playing", "{played}");
    assert!(played["seen"]["url"].as_str().unwrap().starts_with(src));

    // A signing key made, downloaded once, and revoked.
    let key = step(&report, "signing key");
    let id = key["id"].as_str().unwrap();
    assert_eq!(key["after"], 0, "{key}");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(key["saved"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(saved["id"], id);
    assert!(saved["pem"].as_str().unwrap().len() > 100);
    let keys = get(&app, "/stream/keys").await;
    assert!(
        !keys.as_array().unwrap().iter().any(|k| k["id"] == id),
        "{keys}"
    );
    std::fs::remove_file(key["saved"].as_str().unwrap()).unwrap();

    // The API's refusal of a loopback webhook is what the page showed.
    let hook = step(&report, "webhooks");
    assert!(
        hook["refusal"]
            .as_str()
            .unwrap()
            .starts_with("notificationUrl: the host is not allowed"),
        "{hook}"
    );

    let live = step(&report, "live input");
    assert_eq!(live["rotated"], true, "{live}");
    assert_eq!(
        live["viewers"], "0",
        "nobody watches an input off air: {live}"
    );
    assert!(
        live["rtmp"].as_str().unwrap().starts_with("rtmp://"),
        "{live}"
    );
    assert!(
        live["srt"].as_str().unwrap().starts_with("srt://"),
        "{live}"
    );

    // The embedded playback was counted, and the analytics screen showed it.
    let analytics = step(&report, "analytics");
    assert!(analytics["views"].as_i64().unwrap() >= 1, "{analytics}");
    let counted = get(&app, &format!("/stream/analytics/views?uid={uid}")).await;
    let views: i64 = counted
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["views"].as_i64().unwrap())
        .sum();
    // At least what the screen showed: the page's own player may have fetched since.
    assert!(views >= analytics["views"].as_i64().unwrap(), "{counted}");

    // Keyboard: Tab reaches the navigation with a visible focus ring; phone width fits.
    let keyboard = step(&report, "keyboard");
    let focused = keyboard["focused"].as_array().unwrap();
    assert!(
        focused
            .iter()
            .any(|f| f["text"] == "Videos" && f["outline"] != "none"),
        "{focused:?}"
    );
    let phone = step(&report, "phone width");
    assert!(
        phone["scroll"].as_i64().unwrap() <= phone["client"].as_i64().unwrap(),
        "no sideways scrolling at 375 px: {phone}"
    );

    let out = step(&report, "sign out");
    assert_eq!(out["stored"]["session"], json!({}), "{out}");
    assert_token_kept(&report, &token);

    // Only the refusals the test asked for failed; the CSP refused nothing.
    for failed in report["failed"].as_array().unwrap() {
        let f = failed.as_str().unwrap();
        assert!(
            f.starts_with("403 GET") && f.contains("/stream?limit=1")
                || f.starts_with("404 GET") && f.ends_with("/stream/webhook")
                || f.starts_with("400 PUT") && f.ends_with("/stream/webhook")
                || f.ends_with("/favicon.ico"),
            "unexpected failure: {f}"
        );
    }
    for line in report["console"].as_array().unwrap() {
        let l = line.as_str().unwrap();
        assert!(
            !l.contains("Content Security Policy") && !l.contains("pageerror"),
            "{l}"
        );
    }
    assert_screenshots(&artifacts);
}
