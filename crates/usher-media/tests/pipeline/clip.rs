//! Clips: a span of the source, cut frame-accurately (decoded from the key frame before
//! the start, not cut at it), with the full ladder, and sound cut with the picture.

use usher_core::ClipSpan;
use usher_media::{Edits, Plan, package, plan_with, probe};

use crate::*;

/// Frames whose brightness is their frame number (luma N for frame N), 30 fps, with
/// key frames every 2 s and AAC audio: a decoded frame says where in the source it is.
fn numbered_frames(dir: &Path, secs: u32) -> PathBuf {
    let path = dir.join("numbered.mp4");
    let t = secs.to_string();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "nullsrc=s=640x360:r=30,geq=lum='N':cb=128:cr=128",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        &t,
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-g",
        "60",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        path.to_str().unwrap(),
    ]);
    path
}

/// The number of the frame `input` shows at `at` seconds (its mean luma, rounded).
fn frame_number(input: &Path, at: f64, width: usize, height: usize) -> i64 {
    let luma = luma_frame(input, at);
    let plane = &luma[..width * height];
    (plane.iter().map(|v| f64::from(*v)).sum::<f64>() / plane.len() as f64).round() as i64
}

fn stream_durations(probe: &serde_json::Value) -> Vec<f64> {
    probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["duration"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn a_clip_starts_on_the_frame_asked_for_and_lasts_as_long_as_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let input = numbered_frames(tmp.path(), 8);
    let tools = tools();
    let probed = probe(&tools, &input).await.unwrap();
    assert!(
        usher_media::plan(&probed).is_remux(),
        "a plain upload would be copied"
    );
    // Frame 69 starts at 2.3 s; the key frame before it is frame 60 (2.0 s).
    let span = ClipSpan {
        start: 2.3,
        end: 5.8,
    };
    let chosen = plan_with(
        &probed,
        Edits {
            clip: Some(span),
            watermark: None,
        },
    );
    let Plan::Transcode { ladder, .. } = &chosen else {
        panic!("{chosen:?}")
    };
    assert_eq!(ladder.len(), 2, "the full ladder: 360p and 240p");
    let out = tmp.path().join("out");
    let progress = Progress::default();
    let packaged = package(&tools, &input, &probed, &chosen, &out, progress.callback())
        .await
        .unwrap();
    progress.assert_complete();

    let asked = span.end - span.start;
    assert!(
        (packaged.duration_secs - asked).abs() < 0.1,
        "{}",
        packaged.duration_secs
    );
    for r in &packaged.index.renditions {
        assert!(
            (r.duration_secs() - asked).abs() < 0.1,
            "{}: {}",
            r.id,
            r.duration_secs()
        );
    }
    let mp4 = out.join("downloads/default.mp4");
    let p = ffprobe(&mp4);
    assert_eq!(codecs_of(&p), ["h264", "aac"], "the sound is cut too");
    assert!((duration_of(&p) - asked).abs() < 0.1, "{}", duration_of(&p));
    for d in stream_durations(&p) {
        assert!((d - asked).abs() < 0.1, "{:?}", stream_durations(&p));
    }

    // Frame-accurate: the first frame is frame 69, in the top rung and the lowest.
    assert_eq!(frame_number(&mp4, 0.0, 640, 360), 69);
    assert_eq!(
        frame_number(&out.join("manifest/v1/index.m3u8"), 0.0, 426, 240),
        69
    );
    // And the last is the one before 5.8 s (frame 173).
    let last = frame_number(&mp4, asked - 0.05, 640, 360);
    assert!((172..=173).contains(&last), "{last}");
    assert_eq!(
        segment_start_times(&out.join("manifest/v0")),
        segment_start_times(&out.join("manifest/v1"))
    );
}
