//! Roles and operations: `--role api|edge|worker` serve only their part, every role
//! answers `/healthz`, `/readyz` and `/metrics`, and every response carries a request id.

use reqwest::StatusCode;

use crate::H264_AAC;
use crate::app::{App, spawn_app, start};
use crate::media::clip;

async fn status(app: &App, url: String) -> StatusCode {
    app.auth(app.http.get(url)).send().await.unwrap().status()
}

async fn text(app: &App, path: &str) -> (StatusCode, String) {
    let r = app
        .http
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn each_role_serves_only_its_part_and_reports_its_health() {
    let all = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "r.mp4", "320x240", 2, H264_AAC);
    let uid = all.upload_ready(&src).await;
    let manifest = |app: &App| format!("{}/{uid}/manifest/video.m3u8", app.url);
    let listing = |app: &App| app.api("/stream");

    let api = start(
        &all.data_dir,
        all.account.clone(),
        &["--role", "api", "--edge-url", "https://media.example/"],
    );
    let v = api.video(&uid).await;
    assert_eq!(
        v["playback"]["hls"],
        format!("https://media.example/{uid}/manifest/video.m3u8"),
        "delivery URLs name the edges: {v}"
    );
    let edge = start(&all.data_dir, all.account.clone(), &["--role", "edge"]);
    let worker = start(&all.data_dir, all.account.clone(), &["--role", "worker"]);

    for (app, role, serves_api, serves_edge) in [
        (&all, "all", true, true),
        (&api, "api", true, false),
        (&edge, "edge", false, true),
        (&worker, "worker", false, false),
    ] {
        let want = |yes| {
            if yes {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            }
        };
        assert_eq!(
            status(app, listing(app)).await,
            want(serves_api),
            "{role}: API"
        );
        assert_eq!(
            status(app, manifest(app)).await,
            want(serves_edge),
            "{role}: edge"
        );
        assert_eq!(
            text(app, "/healthz").await,
            (StatusCode::OK, format!("ok {role}\n"))
        );
        assert_eq!(
            text(app, "/readyz").await,
            (StatusCode::OK, "ready\n".into())
        );
    }

    // Refusals are counted by reason, requests by route template and status class.
    let missing = format!("{}/{}/manifest/video.m3u8", edge.url, "0".repeat(32));
    assert_eq!(status(&edge, missing).await, StatusCode::NOT_FOUND);
    let (code, metrics) = text(&edge, "/metrics").await;
    assert_eq!(code, StatusCode::OK);
    for series in [
        "usher_http_requests_total{route=\"/{id}/{*rest}\",method=\"GET\",outcome=\"2xx\"} 1",
        "usher_http_requests_total{route=\"/{id}/{*rest}\",method=\"GET\",outcome=\"4xx\"} 1",
        "usher_edge_denials_total{reason=\"not_found\"} 1",
        "usher_http_request_duration_seconds_count{route=\"/healthz\"} 1",
    ] {
        assert!(metrics.contains(series), "no {series} in:\n{metrics}");
    }
    // The worker ran the package job: its duration is recorded where it ran.
    let (_, metrics) = text(&all, "/metrics").await;
    assert!(
        metrics.contains("usher_job_duration_seconds_count{kind=\"package\",outcome=\"done\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_carry_a_request_id_and_metrics_stay_private() {
    let app = spawn_app(&["--metrics-allow", "10.0.0.0/8"]);
    let r = app
        .http
        .get(format!("{}/healthz", app.url))
        .header("x-request-id", "lb-7f3a")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["x-request-id"],
        "lb-7f3a",
        "a proxy's id is kept"
    );
    let r = app
        .http
        .get(format!("{}/nope/nothing", app.url))
        .header("x-request-id", "not a valid id")
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32, "a malformed id is replaced: {id}");

    // Loopback is not in --metrics-allow here, so the figures are not shown.
    assert_eq!(text(&app, "/metrics").await.0, StatusCode::NOT_FOUND);
}
