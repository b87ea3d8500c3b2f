//! Live in the scaled-out layout (SPEC §5 and §8): PostgreSQL and an S3 server, an `api`
//! process, an ingest (`worker` with `--rtmp-listen`) and two `edge` processes, each
//! with a data dir of its own as if on its own machine. The edges serve the broadcast
//! from the shared store; the ingest is killed mid-broadcast, the publisher reconnects
//! to another ingest process, and the edges go on serving.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::app::{App, create_account_with, start};
use crate::live::{Publisher, publish, wait_on_air};
use crate::services::scaled;

async fn playlist(app: &App, path: &str) -> (u16, String) {
    let r = app
        .http
        .get(format!("{}/{path}", app.url))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn run_of(playlist: &str) -> Option<String> {
    playlist
        .lines()
        .find(|l| l.starts_with("seg-"))
        .and_then(|l| l.split('-').nth(1))
        .map(str::to_owned)
}

/// Ages of the newest segment of `path` on `edge`, sampled over a few segments.
pub async fn segment_ages(edge: &App, path: &str) -> Vec<f64> {
    let mut ages = Vec::new();
    for _ in 0..12 {
        let (status, body) = playlist(edge, path).await;
        assert_eq!(status, 200, "{body}");
        let now = usher_core::time_fmt::now_micros();
        ages.extend(usher_edge::live::newest_segment_age(&body, now));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    ages.sort_by(f64::total_cmp);
    ages
}

#[tokio::test(flavor = "multi_thread")]
async fn live_on_postgres_and_s3_survives_its_ingest_dying() {
    let Some(storage) = scaled("live_scale") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let dir = |name: &str| root.path().join(name);
    let with_role = |role: &'static str, rtmp: bool| {
        let mut flags = vec!["--role", role];
        if rtmp {
            flags.extend(["--rtmp-listen", "127.0.0.1:0"]);
        }
        flags.extend(storage.flags());
        flags
    };
    let account = create_account_with(&dir("api"), "owner@example.com", &storage.flags());
    let api = start(&dir("api"), account.clone(), &with_role("api", false));
    let mut ingest1 = start(&dir("i1"), account.clone(), &with_role("worker", true));
    let edges = [
        start(&dir("e1"), account.clone(), &with_role("edge", false)),
        start(&dir("e2"), account.clone(), &with_role("edge", false)),
    ];

    let input = api
        .post(
            "/stream/live_inputs",
            json!({"recording": {"mode": "automatic", "requireSignedURLs": true}}),
        )
        .await;
    let uid = input["uid"].as_str().unwrap().to_owned();
    let key = input["rtmps"]["streamKey"].as_str().unwrap().to_owned();
    let token = api.token(&uid, json!({})).await;
    let media = format!("{token}/manifest/media_0.m3u8");

    let first = Publisher(publish(
        &format!("{}{key}", ingest1.rtmp.clone().unwrap()),
        300,
    ));
    for edge in &edges {
        wait_on_air(edge, &media).await;
    }
    let (_, on_first) = playlist(&edges[1], &media).await;
    let first_run = run_of(&on_first).unwrap();
    let ages = segment_ages(&edges[1], &media).await;
    eprintln!(
        "live segment age at an edge on S3 (newest segment's end to the edge serving it): \
         min {:.2} s, median {:.2} s, max {:.2} s",
        ages[0],
        ages[ages.len() / 2],
        ages[ages.len() - 1]
    );

    // The ingest dies without a word; the publisher's connection with it.
    ingest1.child.kill().unwrap();
    ingest1.child.wait().unwrap();
    drop(first);
    let died = Instant::now();
    let ingest2 = start(&dir("i2"), account.clone(), &with_role("worker", true));
    let rtmp2 = ingest2.rtmp.clone().unwrap();

    // The publisher reconnects to the other ingest, as OBS retries: refused while the
    // dead one's run holds its lease, then on air.
    let mut second = Publisher(publish(&format!("{rtmp2}{key}"), 300));
    let new_run = loop {
        if second.0.try_wait().unwrap().is_some() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            second = Publisher(publish(&format!("{rtmp2}{key}"), 300));
        }
        let (status, body) = playlist(&edges[0], &media).await;
        if status == 200
            && let Some(run) = run_of(&body)
            && run != first_run
        {
            break run;
        }
        assert!(
            died.elapsed() < Duration::from_secs(90),
            "the broadcast never came back: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    eprintln!(
        "live: ingest killed, publisher back on air through another ingest after {:.1} s",
        died.elapsed().as_secs_f64()
    );
    // The dead ingest's recording cannot be finished: errored, not left in progress; the
    // new run records anew.
    let r = api
        .auth(
            api.http
                .get(api.api(&format!("/stream/live_inputs/{uid}/videos"))),
        )
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    let mut states: Vec<&str> = v["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"]["state"].as_str().unwrap())
        .collect();
    states.sort_unstable();
    assert_eq!(states, ["error", "live-inprogress"], "{v}");
    // Both edges serve the new run; the private input's uid stays refused.
    for edge in &edges {
        let (status, body) = playlist(edge, &media).await;
        assert_eq!(status, 200);
        assert_eq!(run_of(&body).as_deref(), Some(new_run.as_str()), "{body}");
        let (status, _) = playlist(edge, &format!("{uid}/manifest/media_0.m3u8")).await;
        assert_eq!(status, 401);
    }
}
