//! The bit-rate ladder: every rendition's size, codec and bit rate, and every rendition
//! cut at the same instants, checked with ffprobe — for a 1080p H.264 upload, for
//! sources whose timing is awkward to follow (variable frame rate, no B-frames), and
//! for sources whose key frames are too sparse to follow at all.

use std::path::Path;

use usher_media::{Plan, Track, package, plan, probe};

use crate::*;

/// H.264/AAC at `size`, 30 fps, with a key frame every `gop` frames.
fn h264_clip(dir: &Path, name: &str, size: &str, secs: u32, gop: u32, extra: &[&str]) -> PathBuf {
    let gop = gop.to_string();
    let mut args = vec![
        "-c:v", "libx264", "-preset", "veryfast", "-g", &gop, "-pix_fmt", "yuv420p",
    ];
    args.extend(extra);
    args.extend(["-c:a", "aac", "-ac", "2"]);
    make_clip(dir, name, size, 30, secs, true, &args)
}

/// Every video rendition's segments start at the same instants, by ffprobe.
fn assert_aligned(out: &Path, ids: &[&str]) -> Vec<f64> {
    let starts: Vec<Vec<f64>> = ids
        .iter()
        .map(|id| segment_start_times(&out.join("manifest").join(id)))
        .collect();
    for (id, s) in ids.iter().zip(&starts) {
        assert_eq!(s.len(), starts[0].len(), "{id}: {starts:?}");
        for (a, b) in s.iter().zip(&starts[0]) {
            assert!(
                (a - b).abs() < 0.001,
                "{id} starts {s:?}, v0 {:?}",
                starts[0]
            );
        }
    }
    starts[0].clone()
}

#[tokio::test]
async fn a_1080p_h264_upload_keeps_its_stream_on_top_of_a_five_rung_ladder() {
    let tmp = tempfile::tempdir().unwrap();
    // Key frames every 2.5 s, as some cameras write them: segments follow the source.
    let input = h264_clip(tmp.path(), "camera.mp4", "1920x1080", 8, 75, &[]);
    let tools = tools();
    let probed = probe(&tools, &input).await.unwrap();
    let chosen = plan(&probed);
    let Plan::Remux { lower } = &chosen else {
        panic!("{chosen:?}")
    };
    assert_eq!(lower.len(), 4);
    let out = tmp.path().join("out");
    let packaged = package(&tools, &input, &probed, &chosen, &out, |_| {})
        .await
        .unwrap();
    assert_eq!(packaged.plan, chosen, "no fallback");

    // Sizes, codecs and frame rates, as ffprobe reads each variant playlist.
    let expected = [
        (1920, 1080),
        (1280, 720),
        (852, 480),
        (640, 360),
        (426, 240),
    ];
    let ids = ["v0", "v1", "v2", "v3", "v4"];
    for (id, (w, h)) in ids.iter().zip(expected) {
        let p = ffprobe(&out.join("manifest").join(id).join("index.m3u8"));
        let v = &p["streams"][0];
        assert_eq!(
            (
                v["codec_name"].as_str(),
                v["width"].as_i64(),
                v["height"].as_i64()
            ),
            (Some("h264"), Some(w), Some(h)),
            "{id}"
        );
        assert_eq!(v["avg_frame_rate"], "30/1", "{id}");
        assert!(
            (duration_of(&p) - 8.0).abs() < 0.2,
            "{id}: {}",
            duration_of(&p)
        );
    }
    // The top is the upload's own bitstream; the download is that top.
    let original = packet_hash(&input, "v");
    assert_eq!(
        packet_hash(&out.join("manifest/v0/index.m3u8"), "v"),
        original
    );
    assert_eq!(
        packet_hash(&out.join("downloads/default.mp4"), "v"),
        original
    );

    // Cut where the source has key frames, the same in every rendition.
    assert_eq!(assert_aligned(&out, &ids).len(), 2);
    let v0 = &packaged.index.renditions[0];
    let cuts: Vec<f64> = v0.segments.iter().map(|s| v0.seconds(s.duration)).collect();
    assert_eq!(
        cuts,
        [5.0, 3.0],
        "the first key frame past 4 s, then the rest"
    );

    // Rates fall down the ladder; none above the copied source's.
    let video: Vec<_> = packaged.index.video().collect();
    for pair in video.windows(2) {
        assert!(
            pair[1].average_bandwidth < pair[0].average_bandwidth,
            "{} {} ≥ {} {}",
            pair[1].id,
            pair[1].average_bandwidth,
            pair[0].id,
            pair[0].average_bandwidth
        );
    }

    // Manifests: every rendition in the master and in one DASH video AdaptationSet.
    let master = std::fs::read_to_string(out.join("manifest/video.m3u8")).unwrap();
    assert_eq!(master.matches("#EXT-X-STREAM-INF").count(), 5, "{master}");
    for (w, h) in expected {
        assert!(
            master.contains(&format!("RESOLUTION={w}x{h},FRAME-RATE=30.000")),
            "{master}"
        );
    }
    let mpd = std::fs::read_to_string(out.join("manifest/video.mpd")).unwrap();
    assert_eq!(mpd.matches("contentType=\"video\"").count(), 1, "{mpd}");
    assert!(
        mpd.contains(
            "segmentAlignment=\"true\" startWithSAP=\"1\" maxWidth=\"1920\" maxHeight=\"1080\""
        ),
        "{mpd}"
    );
    assert_eq!(
        mpd.matches("<Representation").count(),
        6,
        "5 video + audio: {mpd}"
    );

    // ffmpeg plays every variant, from its own playlist.
    for id in ids {
        let played = play_with_ffmpeg(
            &out.join("manifest").join(id),
            "index.m3u8",
            &tmp.path().join(format!("{id}.mp4")),
        );
        assert!((duration_of(&played) - 8.0).abs() < 0.2, "{id}");
    }
    assert_eq!(files_on_disk(&out), packaged.files);
}

#[tokio::test]
async fn a_variable_frame_rate_phone_video_stays_aligned() {
    // Timestamps jitter by up to 8 ms around a 30 fps grid, in a 90 kHz timescale, as
    // phones record.
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("phone.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "7",
        "-vf",
        "settb=1/90000,setpts='(N/30+0.008*sin(N*1.7))/TB'",
        "-fps_mode",
        "passthrough",
        "-enc_time_base",
        "1/90000",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-g",
        "75",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-video_track_timescale",
        "90000",
        input.to_str().unwrap(),
    ]);
    let tools = tools();
    let probed = probe(&tools, &input).await.unwrap();
    let chosen = plan(&probed);
    assert!(chosen.is_remux());
    let out = tmp.path().join("out");
    let packaged = package(&tools, &input, &probed, &chosen, &out, |_| {})
        .await
        .unwrap();
    assert!(packaged.plan.is_remux(), "no fallback: {:?}", packaged.plan);
    let starts = assert_aligned(&out, &["v0", "v1"]);
    // Cut at the source's key frame 5 s in, ± its jitter: not on a 30 fps grid.
    let off_grid = (starts[1] - starts[0] - 5.0).abs();
    assert!(off_grid > 0.0005 && off_grid < 0.02, "{starts:?}");
}

#[tokio::test]
async fn a_source_without_b_frames_gets_rungs_without_them() {
    let tmp = tempfile::tempdir().unwrap();
    let input = h264_clip(
        tmp.path(),
        "baseline.mp4",
        "640x360",
        6,
        60,
        &["-profile:v", "baseline"],
    );
    let tools = tools();
    let probed = probe(&tools, &input).await.unwrap();
    assert_eq!(probed.video.as_ref().unwrap().reorder_depth, Some(0));
    let chosen = plan(&probed);
    let out = tmp.path().join("out");
    let packaged = package(&tools, &input, &probed, &chosen, &out, |_| {})
        .await
        .unwrap();
    assert!(packaged.plan.is_remux(), "no fallback: {:?}", packaged.plan);
    let starts = assert_aligned(&out, &["v0", "v1"]);
    assert_eq!(starts[0], 0.0, "nothing to reorder, nothing delayed");
}

#[tokio::test]
async fn sparse_key_frames_are_transcoded_and_a_remux_that_misses_them_falls_back() {
    let tmp = tempfile::tempdir().unwrap();
    // One key frame every 12 s (a screen recorder's habit).
    let input = h264_clip(tmp.path(), "screen.mp4", "640x360", 14, 360, &[]);
    let tools = tools();
    let mut probed = probe(&tools, &input).await.unwrap();
    assert_eq!(
        probed.video.as_ref().unwrap().max_keyframe_interval,
        Some(12.0)
    );
    let chosen = plan(&probed);
    assert!(!chosen.is_remux(), "{chosen:?}");

    // Had the scan not seen it (the gap further into a long file), the remux's own
    // segments show it, and the whole ladder is transcoded instead.
    probed.video.as_mut().unwrap().max_keyframe_interval = None;
    let chosen = plan(&probed);
    assert!(chosen.is_remux());
    let out = tmp.path().join("out");
    let progress = Progress::default();
    let packaged = package(&tools, &input, &probed, &chosen, &out, progress.callback())
        .await
        .unwrap();
    progress.assert_complete();
    let Plan::Transcode { ladder, .. } = &packaged.plan else {
        panic!("{:?}", packaged.plan)
    };
    assert_eq!(ladder.len(), 2);
    let v0 = &packaged.index.renditions[0];
    assert!(matches!(
        v0.track,
        Track::Video {
            width: 640,
            height: 360,
            ..
        }
    ));
    let cuts: Vec<f64> = v0.segments.iter().map(|s| v0.seconds(s.duration)).collect();
    assert_eq!(cuts, [4.0, 4.0, 4.0, 2.0]);
    assert_aligned(&out, &["v0", "v1"]);
    assert_eq!(
        files_on_disk(&out),
        packaged.files,
        "nothing left of the first try"
    );
}

#[tokio::test]
async fn a_recording_that_starts_between_key_frames_still_gets_an_aligned_ladder() {
    // MPEG-TS picked up mid-stream (a capture, a cut download): the first frames
    // reference pictures that are not in the file. The copy keeps them, the decoder
    // for the rungs cannot, so the ladder is checked and, if need be, transcoded.
    let tmp = tempfile::tempdir().unwrap();
    let whole = h264_clip(tmp.path(), "whole.mp4", "640x360", 8, 60, &[]);
    let ts = tmp.path().join("whole.ts");
    ffmpeg(&[
        "-i",
        whole.to_str().unwrap(),
        "-c",
        "copy",
        "-f",
        "mpegts",
        ts.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&ts).unwrap();
    let skip = bytes.len() / 188 / 5 * 188; // 20 % in, on a TS packet boundary
    let input = tmp.path().join("capture.ts");
    std::fs::write(&input, &bytes[skip..]).unwrap();

    let tools = tools();
    let probed = probe(&tools, &input).await.unwrap();
    let chosen = plan(&probed);
    let out = tmp.path().join("out");
    let packaged = package(&tools, &input, &probed, &chosen, &out, |_| {})
        .await
        .unwrap();
    // The copy would start with frames no player can show, ahead of the rungs' first
    // frame: the check sees it, and the whole ladder is encoded instead.
    assert!(!packaged.plan.is_remux(), "{:?}", packaged.plan);
    assert_eq!(packaged.index.video().count(), 2);
    assert_aligned(&out, &["v0", "v1"]);
    for manifest in ["video.m3u8", "video.mpd"] {
        let played = play_with_ffmpeg(
            &out.join("manifest"),
            manifest,
            &tmp.path().join(format!("{manifest}.mp4")),
        );
        assert!(duration_of(&played) > 5.0, "{manifest}");
    }
}
