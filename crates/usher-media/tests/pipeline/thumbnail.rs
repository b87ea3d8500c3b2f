//! Poster frames.

use usher_media::{probe, thumbnail, thumbnail_time};

use crate::*;

#[tokio::test]
async fn thumbnails_are_jpegs_of_the_requested_width() {
    let tmp = tempfile::tempdir().unwrap();
    let input = h264_aac_720p(tmp.path());
    let tools = tools();
    let duration = probe(&tools, &input).await.unwrap().duration_secs;

    let small = tmp.path().join("small.jpg");
    thumbnail(
        &tools,
        &input,
        thumbnail_time(0.5, duration),
        &small,
        Some(320),
    )
    .await
    .unwrap();
    let bytes = std::fs::read(&small).unwrap();
    assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "JPEG magic");
    let info = ffprobe(&small);
    assert_eq!(info["streams"][0]["codec_name"], "mjpeg");
    assert_eq!(
        (
            info["streams"][0]["width"].as_u64(),
            info["streams"][0]["height"].as_u64()
        ),
        (Some(320), Some(180))
    );

    // No upscaling past the source, and no width means the source's.
    let full = tmp.path().join("full.jpg");
    thumbnail(&tools, &input, 0.0, &full, Some(4000))
        .await
        .unwrap();
    assert_eq!(ffprobe(&full)["streams"][0]["width"], 1280);

    // The last moment of the video, and beyond it, still give a frame.
    for (i, at) in [thumbnail_time(1.0, duration), 60.0]
        .into_iter()
        .enumerate()
    {
        let end = tmp.path().join(format!("end{i}.jpg"));
        thumbnail(&tools, &input, at, &end, None).await.unwrap();
        assert_eq!(ffprobe(&end)["streams"][0]["width"], 1280);
    }
}
