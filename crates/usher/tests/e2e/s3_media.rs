//! The whole server on an S3-compatible store (`--media-url s3://…`), where no blob is a
//! local file: the upload goes to the store, the worker reads it back into scratch
//! space, and the edge serves manifests, segments (whole and by range), the MP4
//! download and thumbnails from the store, for a signed token.
//!
//! Needs `USHER_TEST_S3_URL` (`s3://bucket`) and the standard `AWS_*` variables, which
//! the spawned server inherits; `scripts/test-services` provides them. Without them
//! the test is skipped, unless `USHER_TEST_REQUIRE_SERVICES=1` says it must run.

use std::path::Path;

use serde_json::json;
use usher_store::Blobs;

use crate::H264_AAC;
use crate::app::spawn_app;
use crate::media::{clip, duration, play_to_mp4, video_packets_md5};
use crate::thumbnails::jpeg_size;

/// The store's base URL, or `None` (after saying so) when the test is to be skipped.
fn s3_url() -> Option<String> {
    match std::env::var("USHER_TEST_S3_URL") {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_owned()),
        _ if std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") => {
            panic!("USHER_TEST_S3_URL is not set: run the tests under scripts/test-services")
        }
        _ => {
            eprintln!("skipped: USHER_TEST_S3_URL is not set (scripts/test-services sets it)");
            None
        }
    }
}

/// Whole-file and ranged answers, checked against the bytes in the store.
async fn check_file(http: &reqwest::Client, url: &str, stored: &[u8], content_type: &str) {
    let r = http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    let h = r.headers().clone();
    assert_eq!(h["content-type"], content_type, "{url}");
    assert_eq!(h["cache-control"], "private, max-age=300", "{url}");
    assert_eq!(h["accept-ranges"], "bytes", "{url}");
    assert_eq!(
        h["content-length"],
        stored.len().to_string().as_str(),
        "{url}"
    );
    assert!(
        h.contains_key("etag") && h.contains_key("last-modified"),
        "{url}"
    );
    let body = r.bytes().await.unwrap();
    assert!(body == stored, "{url}: body differs from the stored blob");

    let start = stored.len() / 3;
    let end = (start + 999).min(stored.len() - 1);
    let r = http
        .get(url)
        .header("range", format!("bytes={start}-{end}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206, "{url}");
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes {start}-{end}/{}", stored.len()).as_str()
    );
    assert_eq!(
        r.headers()["etag"],
        h["etag"],
        "{url}: one validator per file"
    );
    assert!(
        r.bytes().await.unwrap() == stored[start..=end],
        "{url}: range"
    );

    let r = http
        .get(url)
        .header("if-none-match", h["etag"].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304, "{url}");
    let r = http
        .get(url)
        .header("range", format!("bytes={}-", stored.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416, "{url}");
}

async fn stored(blobs: &Blobs, key: &str, dir: &Path) -> Vec<u8> {
    let file = dir.join("stored");
    blobs.download_to(key, &file).await.unwrap();
    std::fs::read(&file).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_video_on_s3_is_packaged_and_served_from_the_store_for_a_token() {
    let Some(base) = s3_url() else { return };
    // Short: s3s-fs keeps each multipart upload's metadata in a file named by the
    // base64 of its key, and names over 255 bytes fail.
    let media_url = format!("{base}/{}", &usher_core::ids::random_hex_id()[..8]);
    let app = spawn_app(&["--media-url", &media_url]);
    let tmp = tempfile::tempdir().unwrap();
    // Padded to a constant 24 Mb/s, so the MP4 (~12 MB) is over the edge's in-memory
    // limit and streams from the store, while each 2 s segment (~6 MB) is under it.
    let mut codecs = H264_AAC.to_vec();
    codecs.extend([
        "-b:v",
        "24M",
        "-minrate",
        "24M",
        "-maxrate",
        "24M",
        "-bufsize",
        "4M",
        "-x264-params",
        "nal-hrd=cbr",
    ]);
    let src = clip(tmp.path(), "s3.mp4", "640x360", 4, &codecs);
    let uid = app.upload_ready(&src).await;
    for local in ["media/uploads", "media/videos"] {
        assert!(!app.data_dir.join(local).exists(), "{local} is not used");
    }

    app.edit(&uid, json!({"requireSignedURLs": true})).await;
    app.post(&format!("/stream/{uid}/downloads"), json!({}))
        .await;
    let token = app.token(&uid, json!({"downloadable": true})).await;
    let video = app.video(&uid).await;
    assert_eq!(video["status"]["state"], "ready");

    // The test reads the same store as the server, to know what it must send.
    let blobs = Blobs::open(&media_url).unwrap();
    // Beside the generation sits `masters/`, the published master manifests.
    let dirs = blobs.list_dirs(&format!("videos/{uid}")).await.unwrap();
    let generations: Vec<_> = dirs
        .iter()
        .map(|d| d.trim_end_matches('/'))
        .filter(|d| {
            d.rsplit('/')
                .next()
                .is_some_and(usher_store::layout::is_generation)
        })
        .collect();
    assert_eq!(generations.len(), 1, "{dirs:?}");
    let prefix = generations[0].to_owned();
    let at = |rest: &str| format!("{}/{token}/{rest}", app.url);
    for (rest, content_type) in [
        ("manifest/video.m3u8", "application/vnd.apple.mpegurl"),
        ("manifest/video.mpd", "application/dash+xml"),
        ("manifest/v0/index.m3u8", "application/vnd.apple.mpegurl"),
        ("manifest/v0/init.mp4", "video/mp4"),
        ("manifest/v0/seg_00001.m4s", "video/mp4"),
        ("manifest/a0/seg_00002.m4s", "video/mp4"),
        ("downloads/default.mp4", "video/mp4"),
    ] {
        let bytes = stored(&blobs, &format!("{prefix}/{rest}"), tmp.path()).await;
        check_file(&app.http, &at(rest), &bytes, content_type).await;
    }
    let mp4 = blobs
        .head(&format!("{prefix}/downloads/default.mp4"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        mp4.size > 8 << 20,
        "the download must take the streamed path: {mp4:?}"
    );

    // What a viewer gets is the upload's own bitstream: ffmpeg plays HLS over HTTP,
    // and the download is a remux of the source.
    let played = play_to_mp4(&at("manifest/video.m3u8"), &tmp.path().join("hls.mp4"));
    assert!((duration(&played) - 4.0).abs() < 0.5);
    let downloaded = tmp.path().join("download.mp4");
    let r = app
        .http
        .get(at("downloads/default.mp4"))
        .send()
        .await
        .unwrap();
    std::fs::write(&downloaded, r.bytes().await.unwrap()).unwrap();
    assert_eq!(video_packets_md5(&downloaded), video_packets_md5(&src));
    assert_eq!(
        app.http
            .get(format!("{}/{uid}/manifest/video.m3u8", app.url))
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "private: the uid alone is refused"
    );

    // The stored poster, and a size cut on demand from the MP4 in the store.
    let r = app
        .http
        .get(at("thumbnails/thumbnail.jpg"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(jpeg_size(&r.bytes().await.unwrap()), (640, 360));
    let r = app
        .http
        .get(at("thumbnails/thumbnail.jpg?time=2s&width=160&height=90"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    assert_eq!(jpeg_size(&r.bytes().await.unwrap()), (160, 90));
    assert!(
        blobs
            .exists(&format!("{prefix}/thumbnails/t_2000_160x90_crop.jpg"))
            .await
            .unwrap(),
        "the cut is stored for the next viewer"
    );

    // Deleting the video empties its part of the store.
    let r = app
        .auth(app.http.delete(app.api(&format!("/stream/{uid}"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(blobs.list("").await.unwrap().is_empty());
}
