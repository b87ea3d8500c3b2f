//! Inputs browsers cannot play as they are: re-encoded into an H.264/AAC ladder.

use usher_media::{Plan, Track, package, plan, probe};

use crate::*;

#[tokio::test]
async fn vp9_opus_webm_becomes_an_h264_aac_ladder_no_larger_than_the_input() {
    let tmp = tempfile::tempdir().unwrap();
    let input = make_clip(
        tmp.path(),
        "vp9.webm",
        "854x480",
        25,
        6,
        true,
        &[
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            "500k",
            "-c:a",
            "libopus",
        ],
    );
    let tools = tools();
    let probed = probe(&tools, &input).await.unwrap();
    let chosen = plan(&probed);
    let Plan::Transcode { ladder, .. } = &chosen else {
        panic!("{chosen:?}")
    };
    assert_eq!(
        ladder
            .iter()
            .map(|r| (r.width, r.height))
            .collect::<Vec<_>>(),
        vec![(854, 480), (640, 360), (426, 240)]
    );

    let out = tmp.path().join("out");
    let progress = Progress::default();
    let packaged = package(&tools, &input, &probed, &chosen, &out, progress.callback())
        .await
        .unwrap();
    progress.assert_complete();

    assert_eq!(
        packaged
            .renditions
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["v0", "v1", "v2", "a0"]
    );
    for r in packaged.index.video() {
        let Track::Video {
            width,
            height,
            frame_rate,
        } = r.track
        else {
            unreachable!()
        };
        assert!(width <= 854 && height <= 480, "{width}x{height}");
        assert_eq!(frame_rate, 25.0);
        assert!(r.codecs.starts_with("avc1."), "{}", r.codecs);
    }
    assert_eq!(packaged.index.audio().next().unwrap().codecs, "mp4a.40.2");
    assert_eq!((packaged.width, packaged.height), (854, 480));

    // Aligned GOPs: every rung is cut at the same instants (4 s, then the rest).
    let cuts: Vec<Vec<f64>> = packaged
        .index
        .video()
        .map(|r| r.segments.iter().map(|s| r.seconds(s.duration)).collect())
        .collect();
    assert!(cuts.iter().all(|c| *c == cuts[0]), "{cuts:?}");
    assert_eq!(cuts[0][0], 4.0);
    let mpd = std::fs::read_to_string(out.join("manifest/video.mpd")).unwrap();
    assert!(
        mpd.contains("segmentAlignment=\"true\" startWithSAP=\"1\" maxWidth=\"854\""),
        "{mpd}"
    );
    let master = std::fs::read_to_string(out.join("manifest/video.m3u8")).unwrap();
    assert_eq!(master.matches("#EXT-X-STREAM-INF").count(), 3);
    assert_relative_only(&master, &out);
    assert_relative_only(&mpd, &out);

    let mp4 = ffprobe(&out.join("downloads/default.mp4"));
    assert_eq!(codecs_of(&mp4), ["h264", "aac"]);
    assert_eq!(mp4["streams"][0]["width"], 854);
    assert!((duration_of(&mp4) - 6.0).abs() < 0.5);
    for manifest in ["video.m3u8", "video.mpd"] {
        let played = play_with_ffmpeg(
            &out.join("manifest"),
            manifest,
            &tmp.path().join(format!("{manifest}.mp4")),
        );
        assert_eq!(codecs_of(&played), ["h264", "aac"], "{manifest}");
        assert!((duration_of(&played) - 6.0).abs() < 0.5, "{manifest}");
    }
    assert_eq!(files_on_disk(&out), packaged.files);
}

#[tokio::test]
async fn mpeg2_mp2_with_a_small_frame_gets_one_rung_at_its_own_size() {
    let tmp = tempfile::tempdir().unwrap();
    let input = make_clip(
        tmp.path(),
        "old.mpg",
        "320x240",
        25,
        3,
        true,
        &["-c:v", "mpeg2video", "-c:a", "mp2", "-f", "mpeg"],
    );
    let tools = tools();
    let probed = probe(&tools, &input).await.unwrap();
    let chosen = plan(&probed);
    let Plan::Transcode { ladder, .. } = &chosen else {
        panic!("{chosen:?}")
    };
    assert_eq!(
        ladder
            .iter()
            .map(|r| (r.width, r.height))
            .collect::<Vec<_>>(),
        vec![(320, 240)]
    );
    let out = tmp.path().join("out");
    let packaged = package(&tools, &input, &probed, &chosen, &out, |_| {})
        .await
        .unwrap();
    assert_eq!((packaged.width, packaged.height), (320, 240));
    assert_eq!(
        codecs_of(&ffprobe(&out.join("downloads/default.mp4"))),
        ["h264", "aac"]
    );
}

#[tokio::test]
async fn phone_rotation_is_baked_into_the_frames() {
    let tmp = tempfile::tempdir().unwrap();
    let landscape = make_clip(
        tmp.path(),
        "raw.mp4",
        "640x360",
        30,
        2,
        false,
        &[
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ],
    );
    let input = tmp.path().join("phone.mp4");
    ffmpeg(&[
        "-i",
        landscape.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v",
        "rotate=90",
        input.to_str().unwrap(),
    ]);
    let tools = tools();
    let probed = probe(&tools, &input).await.unwrap();
    let chosen = plan(&probed);
    assert!(matches!(chosen, Plan::Transcode { .. }), "{chosen:?}");
    let packaged = package(
        &tools,
        &input,
        &probed,
        &chosen,
        &tmp.path().join("out"),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!((packaged.width, packaged.height), (360, 640));
}
