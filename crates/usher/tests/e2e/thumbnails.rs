//! Thumbnails on demand: sizes and fits as Cloudflare's, different times give different
//! frames, each distinct request is cut once and then served from the store, bad
//! parameters are a 400, and private videos need a token like everything else.

use std::path::PathBuf;

use serde_json::json;

use crate::app::{App, spawn_app};
use crate::media::clip;
use crate::{H264_AAC, outputs};

/// Width and height from a JPEG's start-of-frame marker.
pub(crate) fn jpeg_size(b: &[u8]) -> (u32, u32) {
    assert_eq!(&b[..2], &[0xFF, 0xD8], "not a JPEG");
    let mut i = 2;
    while i + 9 < b.len() {
        assert_eq!(b[i], 0xFF);
        let marker = b[i + 1];
        let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
        if (0xC0..=0xC2).contains(&marker) {
            let h = u16::from_be_bytes([b[i + 5], b[i + 6]]);
            let w = u16::from_be_bytes([b[i + 7], b[i + 8]]);
            return (u32::from(w), u32::from(h));
        }
        i += 2 + len;
    }
    panic!("no start-of-frame marker");
}

async fn thumb(app: &App, id: &str, query: &str) -> (u16, Vec<u8>, String) {
    let r = app
        .http
        .get(format!("{}/{id}/thumbnails/thumbnail.jpg{query}", app.url))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let cc = r
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, r.bytes().await.unwrap().to_vec(), cc)
}

#[tokio::test(flavor = "multi_thread")]
async fn thumbnails_are_cut_on_demand_at_any_size_and_cached() {
    let app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "t.mp4", "320x240", 4, H264_AAC);
    let uid = app.upload_ready(&src).await;

    let (status, poster, _) = thumb(&app, &uid, "").await;
    assert_eq!(status, 200);
    assert_eq!(jpeg_size(&poster), (320, 240), "the stored poster");
    for (query, size) in [
        ("?width=160&height=90", (160, 90)),
        ("?width=160&height=90&fit=crop", (160, 90)),
        ("?width=160&height=90&fit=clip", (120, 90)),
        ("?width=160&height=90&fit=scale", (160, 90)),
        ("?width=160&height=90&fit=fill", (160, 90)),
        ("?height=60", (80, 60)),
        ("?width=640", (640, 480)),
    ] {
        let (status, jpeg, _) = thumb(&app, &uid, query).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(jpeg_size(&jpeg), size, "{query}");
    }
    // testsrc2 moves: frames a second apart differ; the same time twice is one file.
    let (_, at1, _) = thumb(&app, &uid, "?time=1s&width=160&height=120").await;
    let (_, at3, _) = thumb(&app, &uid, "?time=3s&width=160&height=120").await;
    assert_ne!(at1, at3);
    let cached: PathBuf = outputs(&app, &uid).join("thumbnails/t_1000_160x120_crop.jpg");
    let mtime = std::fs::metadata(&cached).unwrap().modified().unwrap();
    let (_, again, _) = thumb(&app, &uid, "?width=160&height=120&time=1s&fit=crop").await;
    assert_eq!(again, at1);
    assert_eq!(
        std::fs::metadata(&cached).unwrap().modified().unwrap(),
        mtime,
        "served from the store, not cut again"
    );
    // Past the end: the last frame, not an error.
    assert_eq!(
        thumb(&app, &uid, "?time=1h&width=32&height=24").await.0,
        200
    );

    for bad in [
        "?width=0",
        "?height=100000",
        "?fit=banana",
        "?time=soon",
        "?width=abc",
    ] {
        let (status, body, _) = thumb(&app, &uid, bad).await;
        assert_eq!(status, 400, "{bad}");
        assert!(
            String::from_utf8_lossy(&body).starts_with("invalid "),
            "{bad}"
        );
    }

    // Private: the uid is a 401 for any parameters; a token gets a private response.
    app.edit(&uid, json!({"requireSignedURLs": true})).await;
    assert_eq!(thumb(&app, &uid, "?width=100").await.0, 401);
    let token = app.token(&uid, json!({})).await;
    let (status, jpeg, cc) = thumb(&app, &token, "?width=100").await;
    assert_eq!(status, 200);
    assert_eq!(jpeg_size(&jpeg), (100, 76));
    assert!(cc.starts_with("private"), "{cc}");
}
