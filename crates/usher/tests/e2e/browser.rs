//! The player in a real browser: Debian's Chromium, headless, driven by
//! `tests/browser/player.mjs` (playwright-core), plays Usher's `/iframe` embedded in
//! pages of other sites, served here from a second tiny server on `localhost` (Usher
//! is on `127.0.0.1`, so a different origin).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::http::HeaderMap;
use axum::response::Html;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::H264_AAC;
use crate::app::{App, spawn_app};
use crate::media::clip;

/// Patience per browser case: Chromium's first start on a busy 2-core machine is slow.
pub const CASE_DEADLINE: Duration = Duration::from_secs(90);
/// For the whole Node run (every case, plus Chromium's start and stop).
const BROWSER_DEADLINE: Duration = Duration::from_secs(900);

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn chromium() -> String {
    let out = std::process::Command::new("which")
        .arg("chromium")
        .output()
        .unwrap();
    let path = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        out.status.success() && !path.is_empty(),
        "Chromium is not installed: run scripts/install-deps --test"
    );
    path
}

#[derive(serde::Deserialize)]
struct EmbedQuery {
    name: String,
    src: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A customer's page: one iframe, as Cloudflare's embed code writes it.
async fn embed_page(Query(q): Query<EmbedQuery>, headers: HeaderMap) -> Html<String> {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    Html(format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>A site embedding Usher</title></head>
<body style="margin:0;padding:8px;font-family:sans-serif;background:#eef">
<p style="margin:0 0 8px">Embedded on http://{host}</p>
<iframe name="{name}" src="{src}" width="640" height="360" style="border:none"
 allow="accelerometer; gyroscope; autoplay; encrypted-media; picture-in-picture;" allowfullscreen="true"></iframe>
</body></html>"#,
        host = escape(host),
        name = escape(&q.name),
        src = escape(&q.src),
    ))
}

/// Starts an embedding site on a port of its own; returns its `/embed` URL, named by
/// `localhost` so its origin differs from Usher's `127.0.0.1` and from every other
/// embedding site.
pub async fn embedding_site() -> (String, u16) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let app = Router::new().route("/embed", axum::routing::get(embed_page));
    tokio::spawn(async move { axum::serve(l, app).await });
    (format!("http://localhost:{port}/embed"), port)
}

pub async fn ready_video(app: &App, dir: &Path, name: &str) -> String {
    app.upload_ready(&clip(dir, name, "320x240", 6, H264_AAC))
        .await
}

/// One Chromium at a time: the tests that play in it share the machine's two cores with
/// whatever else runs, and adaptive playback is judged on timing.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs the player's Node driver on `plan` and returns its report.
pub async fn drive_chromium(plan: Value) -> Value {
    run_driver("player.mjs", plan, BROWSER_DEADLINE).await
}

/// Runs the Node driver `tests/browser/{script}` on `plan` (written to its stdin) within
/// `deadline`, one browser at a time, and returns the JSON report it prints.
pub async fn run_driver(script: &str, plan: Value, deadline: Duration) -> Value {
    let _turn = ONE_BROWSER.lock().await;
    let root = workspace_root();
    assert!(
        root.join("web/node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run scripts/install-deps --test"
    );
    let mut child = tokio::process::Command::new("node")
        .arg(root.join("tests/browser").join(script))
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node is installed (scripts/install-deps)");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(plan.to_string().as_bytes()).await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(deadline, child.wait_with_output())
        .await
        .expect("the browser run finished in time")
        .unwrap();
    assert!(out.status.success(), "{script} failed: {:?}", out.status);
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn case<'a>(report: &'a Value, name: &str) -> &'a Value {
    let r = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no result for {name}"));
    assert!(r["error"].is_null(), "{name}: {}", r["error"]);
    r
}

fn played(report: &Value, name: &str, min: f64) -> Value {
    let r = case(report, name);
    let seen = &r["seen"];
    assert!(
        seen["currentTime"].as_f64().unwrap_or(0.0) > min && seen["state"] == "playing",
        "{name}: the video did not play past {min}s: {r:#}"
    );
    assert!(!seen["messageVisible"].as_bool().unwrap(), "{name}: {seen}");
    r.clone()
}

fn refused(report: &Value, name: &str, status: &str, says: &str) {
    let r = case(report, name);
    let seen = &r["seen"];
    assert_eq!(seen["state"], "refused", "{name}: {r:#}");
    assert_eq!(seen["status"], status, "{name}: {seen}");
    assert_eq!(
        seen["messageVisible"], true,
        "{name}: the reason must show: {seen}"
    );
    assert!(
        seen["message"].as_str().unwrap().contains(says),
        "{name}: expected {says:?} in {seen}"
    );
}

/// Requests the player made to Usher for the video (manifests, segments, thumbnail).
fn media_requests<'a>(r: &'a Value, usher: &str) -> Vec<&'a Value> {
    r["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| {
            let u = q["url"].as_str().unwrap();
            u.starts_with(usher) && (u.contains("/manifest/") || u.contains("/thumbnails/"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_player_plays_in_chromium_only_where_allowed() {
    let chromium = chromium();
    let app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let (allowed_site, allowed_port) = embedding_site().await;
    let (other_site, _) = embedding_site().await;
    let allowed_origin = format!("http://localhost:{allowed_port}");

    // A private video that only the first site may embed, and a public one anyone may.
    let private = ready_video(&app, tmp.path(), "private.mp4").await;
    let public = ready_video(&app, tmp.path(), "public.mp4").await;
    app.edit(
        &private,
        json!({"requireSignedURLs": true, "allowedOrigins": [format!("localhost:{allowed_port}")]}),
    )
    .await;
    let token = app.token(&private, json!({})).await;
    // One signing key to self-sign with in the browser's Node, one to revoke mid-session.
    let self_signing = app.post("/stream/keys", json!({})).await;
    let revoked = app.post("/stream/keys", json!({})).await;
    let revoked_id = revoked["id"].as_str().unwrap();
    let doomed = app
        .token(&private, json!({"id": revoked_id, "pem": revoked["pem"]}))
        .await;

    let usher = &app.url;
    let autoplay = "iframe?autoplay=true&muted=true";
    let screenshot = workspace_root().join("test-artifacts/player.png");
    std::fs::create_dir_all(screenshot.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&screenshot);
    let plan = json!({
        "chromium": chromium,
        "deadlineMs": CASE_DEADLINE.as_millis() as u64,
        "cases": [
            {"name": "token_on_allowed_site", "frames": [allowed_site],
             "player": format!("{usher}/{token}/{autoplay}"), "expect": "play", "minTime": 1.0,
             "screenshot": screenshot},
            {"name": "token_on_other_site", "frames": [other_site],
             "player": format!("{usher}/{token}/{autoplay}"), "expect": "refuse",
             "screenshot": screenshot.with_file_name("player-refused.png")},
            {"name": "uid_of_private_video", "frames": [allowed_site],
             "player": format!("{usher}/{private}/{autoplay}"), "expect": "refuse"},
            {"name": "self_signed_token", "frames": [allowed_site],
             "player": format!("{usher}/{{token}}/{autoplay}"), "expect": "play", "minTime": 1.0,
             "sign": {"jwk": self_signing["jwk"], "kid": self_signing["id"], "sub": private, "ttl": 3600}},
            {"name": "allowed_site_framed_by_other_site", "frames": [other_site, allowed_site],
             "player": format!("{usher}/{token}/{autoplay}"), "expect": "blocked"},
            {"name": "allowed_site_framed_by_itself", "frames": [allowed_site, allowed_site],
             "player": format!("{usher}/{token}/{autoplay}"), "expect": "play", "minTime": 1.0},
            {"name": "public_video_with_player_params", "frames": [other_site],
             "player": format!("{usher}/{public}/iframe?autoplay&muted=true&loop=true&controls=false&startTime=3s"),
             "expect": "play", "minTime": 3.5},
            {"name": "key_revoked_before_play", "frames": [allowed_site],
             "player": format!("{usher}/{doomed}/iframe"), "expect": "revoke",
             "revoke": {"url": app.api(&format!("/stream/keys/{revoked_id}")), "bearer": app.account.token}},
        ],
    });
    let report = drive_chromium(plan).await;
    // Kept for whoever reads a failure: every request, console line and observation.
    std::fs::write(
        screenshot.with_file_name("player-report.json"),
        serde_json::to_string_pretty(&report).unwrap(),
    )
    .unwrap();

    // Played with the server's token, on the site allowed to embed it; every request
    // for the video forwarded that site as `parentOrigin`, from the player page.
    let r = played(&report, "token_on_allowed_site", 1.0);
    let reqs = media_requests(&r, usher);
    let forwarded = format!(
        "parentOrigin={}",
        allowed_origin.replace(':', "%3A").replace('/', "%2F")
    );
    for path in [
        "/manifest/video.m3u8",
        "/init.mp4",
        "/seg_00001.m4s",
        "/thumbnails/thumbnail.jpg",
    ] {
        assert!(
            reqs.iter()
                .any(|q| q["url"].as_str().unwrap().contains(path)),
            "no request for {path}: {reqs:#?}"
        );
    }
    for q in &reqs {
        let url = q["url"].as_str().unwrap();
        assert!(
            url.contains(&forwarded),
            "{url} does not forward {forwarded}"
        );
        assert!(q["status"] == 200 || q["status"] == 206, "refused: {q}");
        let referer = q["referer"].as_str().unwrap_or("");
        assert!(
            referer.starts_with(&format!("{usher}/{token}/iframe")),
            "{url}: the Referer must be the player page, got {referer:?}"
        );
    }
    let png = std::fs::read(&screenshot).unwrap();
    assert_eq!(&png[1..4], b"PNG");

    // The same token on a site not in allowedOrigins: the page says so, nothing loads.
    refused(
        &report,
        "token_on_other_site",
        "403",
        "cannot be played on this site",
    );
    assert!(media_requests(case(&report, "token_on_other_site"), usher).is_empty());
    // The uid of a private video: refused as private, not as missing.
    refused(&report, "uid_of_private_video", "401", "private");

    // Cloudflare's WebCrypto example, run in Node with the `jwk` from `keys`.
    played(&report, "self_signed_token", 1.0);

    // The allowed site is the player's direct parent (its Referer), but a site further
    // up is not allowed: frame-ancestors stops the page; the control framed by the
    // allowed site itself plays.
    let r = case(&report, "allowed_site_framed_by_other_site");
    assert!(
        r["console"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("frame-ancestors")),
        "Chromium did not apply frame-ancestors: {r:#}"
    );
    assert!(
        r["after"]["currentTime"].as_f64().unwrap_or(0.0) == 0.0,
        "the framed player played: {r:#}"
    );
    played(&report, "allowed_site_framed_by_itself", 1.0);

    // A public video: started at startTime, looped, muted, no controls, and nothing
    // forwarded as there is no allowedOrigins list.
    let r = played(&report, "public_video_with_player_params", 3.5);
    let first = r["firstPlaying"].as_f64().unwrap();
    assert!(first >= 2.5, "startTime=3s ignored: playing from {first}");
    let seen = &r["seen"];
    assert_eq!(
        (&seen["loop"], &seen["muted"], &seen["controls"]),
        (&json!(true), &json!(true), &json!(false)),
        "{seen}"
    );
    assert!(
        seen["poster"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{public}/thumbnails/thumbnail.jpg")),
        "{seen}"
    );
    for q in media_requests(&r, usher) {
        assert!(!q["url"].as_str().unwrap().contains("parentOrigin"), "{q}");
    }

    // Revoked after the page loaded (manifests read, no media yet): pressing play gets
    // the server's reason on screen instead of a black box.
    let r = case(&report, "key_revoked_before_play");
    assert_eq!(r["ready"]["state"], "ready", "{r:#}");
    assert_eq!(r["revokeStatus"], 200);
    refused(
        &report,
        "key_revoked_before_play",
        "401",
        "signing key revoked",
    );
}
