//! Watermarks: burnt into every rendition at the profile's position, scale, opacity and
//! padding — seen by decoding frames and comparing them with the unwatermarked source.

use usher_core::WatermarkPosition;
use usher_media::probe::image_size;
use usher_media::{Edits, Overlay, Plan, package, plan_with, probe};

use crate::*;

/// A solid red 64x32 PNG.
fn red_png(dir: &Path) -> PathBuf {
    let path = dir.join("mark.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=64x32",
        "-frames:v",
        "1",
        path.to_str().unwrap(),
    ]);
    path
}

/// Red minus green, on average over a rectangle: how red it looks.
fn redness(rgb: [f64; 3]) -> f64 {
    rgb[0] - rgb[1]
}

#[tokio::test]
async fn a_watermark_is_drawn_where_asked_in_every_rendition_and_nowhere_else() {
    let tmp = tempfile::tempdir().unwrap();
    let input = make_clip(
        tmp.path(),
        "talk.mp4",
        "1280x720",
        30,
        4,
        true,
        &[
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac",
        ],
    );
    let image = red_png(tmp.path());
    let tools = tools();
    assert_eq!(image_size(&tools, &image).await.unwrap(), (64, 32));
    let probed = probe(&tools, &input).await.unwrap();
    // 10 % of 1280x720 is 128x72: the 2:1 image becomes 128x64. Padding 5 % of 720 =
    // 36 px from the top and the right edge: x 1116..1244, y 36..100. Half opacity.
    let mark = Overlay {
        image,
        width: 64,
        height: 32,
        opacity: 0.5,
        padding: 0.05,
        scale: 0.1,
        position: WatermarkPosition::UpperRight,
    };
    let chosen = plan_with(
        &probed,
        Edits {
            clip: None,
            watermark: Some(mark),
        },
    );
    let Plan::Transcode { ladder, .. } = &chosen else {
        panic!("a watermark forces a transcode: {chosen:?}")
    };
    assert_eq!(ladder.len(), 4);
    let out = tmp.path().join("out");
    package(&tools, &input, &probed, &chosen, &out, |_| {})
        .await
        .unwrap();

    let at = 3.0;
    let source = rgb_frame(&input, at);
    let (w, h) = (1280usize, 720usize);
    let marked = rgb_frame(&out.join("downloads/default.mp4"), at);
    assert_eq!((source.len(), marked.len()), (w * h * 3, w * h * 3));
    let inside = ((1122, 1238), (42, 94));
    let before = mean_rgb(&source, w, inside.0, inside.1);
    let after = mean_rgb(&marked, w, inside.0, inside.1);
    // Half-opaque red over the picture: half-way to (255, 0, 0).
    for c in 0..3 {
        let expected = (before[c] + [255.0, 0.0, 0.0][c]) / 2.0;
        assert!(
            (after[c] - expected).abs() < 12.0,
            "channel {c}: {after:?} vs {before:?}"
        );
    }
    assert!(
        redness(after) > redness(before) + 80.0,
        "{after:?} vs {before:?}"
    );
    // The padding is left alone, and the opposite corner too.
    for (xs, ys) in [
        ((1246, 1276), (42, 94)),
        ((1122, 1238), (4, 32)),
        ((20, 200), (620, 700)),
    ] {
        let (a, b) = (mean_rgb(&source, w, xs, ys), mean_rgb(&marked, w, xs, ys));
        for c in 0..3 {
            assert!((a[c] - b[c]).abs() < 6.0, "{xs:?}x{ys:?}: {a:?} vs {b:?}");
        }
    }

    // The lowest rung (426x240) carries it too, scaled with the picture.
    let low = rgb_frame(&out.join("manifest/v3/index.m3u8"), 0.0);
    let low_source = rgb_frame_scaled(&input, 426, 240);
    let spot = ((374, 412), (14, 31));
    let (a, b) = (
        mean_rgb(&low_source, 426, spot.0, spot.1),
        mean_rgb(&low, 426, spot.0, spot.1),
    );
    assert!(redness(b) > redness(a) + 80.0, "{b:?} vs {a:?}");
    let far = ((10, 60), (200, 235));
    let (a, b) = (
        mean_rgb(&low_source, 426, far.0, far.1),
        mean_rgb(&low, 426, far.0, far.1),
    );
    assert!((redness(a) - redness(b)).abs() < 6.0, "{b:?} vs {a:?}");
}

/// The source's first frame scaled to `width` x `height`, for comparing with a rung.
fn rgb_frame_scaled(input: &Path, width: u32, height: u32) -> Vec<u8> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(input)
        .args(["-frames:v", "1", "-vf", &format!("scale={width}:{height}")])
        .args(["-pix_fmt", "rgb24", "-f", "rawvideo", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

#[tokio::test]
async fn an_image_ffprobe_cannot_read_is_refused_before_encoding() {
    let tmp = tempfile::tempdir().unwrap();
    let not_an_image = tmp.path().join("mark.png");
    std::fs::write(&not_an_image, "<svg/>").unwrap();
    let err = image_size(&tools(), &not_an_image).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("watermark image"), "{err}");
    // A video is not an image either: only the PNG and JPEG readers may open it.
    let video = h264_aac_720p(tmp.path());
    assert!(image_size(&tools(), &video).await.is_err());
}
