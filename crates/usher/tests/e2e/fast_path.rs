//! The edge answers most media requests without the router (`usher_edge::fast_path`);
//! a percent-encoded path still goes through it. Both must give the same answer to
//! every request — status, headers, body — or the fast path would be a second edge
//! with rules of its own.

use reqwest::header::HeaderMap;
use serde_json::json;

use crate::app::spawn_app;
use crate::browser::ready_video;

/// The same path with the id's first character percent-encoded: the router decodes it
/// back, the fast path does not take it.
fn routed(path: &str) -> String {
    let first = path.as_bytes()[0];
    format!("%{first:02X}{}", &path[1..])
}

/// A path, its request headers, and the status both must answer.
type Case = (String, Vec<(&'static str, String)>, u16);

/// What must match: everything but the per-request id and the clock.
fn comparable(h: &HeaderMap) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = h
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "date" | "x-request-id"))
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_owned()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn the_fast_path_and_the_router_answer_alike() {
    let app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let uid = ready_video(&app, tmp.path(), "a.mp4").await;
    let compare = |path: String, headers: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let mut answers = Vec::new();
            for p in [path.clone(), routed(&path)] {
                let mut rb = app.http.get(format!("{}/{p}", app.url));
                for (k, v) in &headers {
                    rb = rb.header(*k, v);
                }
                let r = rb.send().await.unwrap();
                let (status, h) = (r.status(), comparable(r.headers()));
                answers.push((status, h, r.bytes().await.unwrap()));
            }
            assert_eq!(answers[0], answers[1], "{path} {headers:?}");
            answers.swap_remove(0).0.as_u16()
        }
    };
    let media = |id: &str, file: &str| format!("{id}/manifest/{file}");
    let seg = "v0/seg_00001.m4s";

    // A public video by uid: whole files, ranges, revalidation, CORS, missing files.
    let etag = {
        let r = app
            .http
            .get(format!("{}/{}", app.url, media(&uid, "v0/init.mp4")))
            .send()
            .await
            .unwrap();
        r.headers()["etag"].to_str().unwrap().to_owned()
    };
    let origin = ("origin", "https://shop.example".to_owned());
    let cases: Vec<Case> = vec![
        (media(&uid, "video.m3u8"), vec![], 200),
        (media(&uid, "video.mpd"), vec![], 200),
        (media(&uid, "v0/index.m3u8"), vec![origin.clone()], 200),
        (media(&uid, seg), vec![("range", "bytes=10-99".into())], 206),
        (
            media(&uid, seg),
            vec![("range", "bytes=99999999-".into())],
            416,
        ),
        (
            media(&uid, "v0/init.mp4"),
            vec![("if-none-match", etag)],
            304,
        ),
        (media(&uid, "v0/seg_09999.m4s"), vec![origin.clone()], 404),
        (format!("{uid}/downloads/default.mp4"), vec![], 404),
        (format!("{uid}/thumbnails/thumbnail.jpg"), vec![], 200),
    ];
    for (path, headers, status) in cases {
        assert_eq!(compare(path.clone(), headers).await, status, "{path}");
    }

    // Private, for one site: the uid refused, tokens decided in full.
    app.edit(
        &uid,
        json!({"requireSignedURLs": true, "allowedOrigins": ["shop.example"]}),
    )
    .await;
    let token = app.token(&uid, json!({})).await;
    let elsewhere = ("origin", "https://elsewhere.example".to_owned());
    let cases: Vec<Case> = vec![
        (media(&uid, "video.m3u8"), vec![], 401),
        (media(&uid, "video.m3u8"), vec![origin.clone()], 401),
        (media(&token, "video.m3u8"), vec![origin.clone()], 200),
        (media(&token, seg), vec![origin.clone()], 200),
        (media(&token, seg), vec![elsewhere], 403),
        (media(&format!("{token}x"), seg), vec![origin], 404),
        (media("not-a-token", seg), vec![], 404),
    ];
    for (path, headers, status) in cases {
        assert_eq!(compare(path.clone(), headers).await, status, "{path}");
    }
}
