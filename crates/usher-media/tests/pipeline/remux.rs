//! H.264/AAC input: copied, not re-encoded, into the top rendition of HLS + DASH and
//! the MP4, with the lower rungs of the ladder encoded below it.

use std::path::{Path, PathBuf};

use usher_media::{Track, package, plan, probe};

use crate::*;

#[tokio::test]
async fn h264_aac_720p_is_remuxed_into_playable_hls_dash_and_mp4() {
    let tmp = tempfile::tempdir().unwrap();
    let input = h264_aac_720p(tmp.path());
    let tools = tools();
    let probed = probe(&tools, &input).await.unwrap();
    let chosen = plan(&probed);
    assert!(chosen.is_remux(), "{chosen:?}");

    let out = tmp.path().join("out");
    let progress = Progress::default();
    let packaged = package(&tools, &input, &probed, &chosen, &out, progress.callback())
        .await
        .unwrap();
    progress.assert_complete();
    assert_eq!(packaged.plan, chosen);

    // The exact layout, and nothing else on disk (ffmpeg's own playlists are gone).
    let mut expected: Vec<PathBuf> = [
        "downloads/default.mp4",
        "manifest/index.json",
        "manifest/video.m3u8",
        "manifest/video.mpd",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    for id in ["v0", "v1", "v2", "v3", "a0"] {
        for file in [
            "index.m3u8",
            "init.mp4",
            "seg_00001.m4s",
            "seg_00002.m4s",
            "seg_00003.m4s",
        ] {
            expected.push(Path::new("manifest").join(id).join(file));
        }
    }
    expected.sort();
    assert_eq!(packaged.files, expected);
    assert_eq!(files_on_disk(&out), expected);

    // 10 s cut at ~4 s: 3 segments per track.
    assert_eq!((packaged.width, packaged.height), (1280, 720));
    assert!(
        (packaged.duration_secs - 10.0).abs() < 0.1,
        "{}",
        packaged.duration_secs
    );
    let v0 = &packaged.index.renditions[0];
    let secs: Vec<f64> = v0.segments.iter().map(|s| v0.seconds(s.duration)).collect();
    assert_eq!(secs, vec![4.0, 4.0, 2.0]);
    assert_eq!(
        v0.track,
        Track::Video {
            width: 1280,
            height: 720,
            frame_rate: 30.0
        }
    );
    assert_eq!(
        packaged
            .renditions
            .iter()
            .map(|r| r.segment_count)
            .collect::<Vec<_>>(),
        vec![3, 3, 3, 3, 3]
    );
    // The ladder below the copy, cut where the copy is cut.
    let sizes: Vec<(u32, u32)> = packaged
        .index
        .video()
        .map(|r| match r.track {
            Track::Video { width, height, .. } => (width, height),
            Track::Audio { .. } => unreachable!(),
        })
        .collect();
    assert_eq!(sizes, [(1280, 720), (852, 480), (640, 360), (426, 240)]);
    for r in packaged.index.video() {
        let cuts: Vec<f64> = r.segments.iter().map(|s| r.seconds(s.duration)).collect();
        assert_eq!(cuts, secs, "{}", r.id);
    }

    // Codec strings come from the stream: High profile (0x64), level 3.1 (0x1f).
    let master = std::fs::read_to_string(out.join("manifest/video.m3u8")).unwrap();
    assert!(
        master.contains("CODECS=\"avc1.64001f,mp4a.40.2\""),
        "{master}"
    );
    assert_eq!(master.matches("#EXT-X-STREAM-INF").count(), 4, "{master}");
    assert!(
        master.contains("#EXT-X-MEDIA:TYPE=AUDIO")
            && master.contains("RESOLUTION=1280x720")
            && master.contains("AUDIO=\"audio\"")
    );
    let variant = std::fs::read_to_string(out.join("manifest/v0/index.m3u8")).unwrap();
    for line in [
        "#EXT-X-VERSION:7",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-TARGETDURATION:4",
        "#EXT-X-MAP:URI=\"init.mp4\"",
        "#EXT-X-ENDLIST",
    ] {
        assert!(variant.contains(line), "{line} missing from {variant}");
    }
    assert!(!variant.contains("PROGRAM-DATE-TIME"));
    let mpd = std::fs::read_to_string(out.join("manifest/video.mpd")).unwrap();
    for text in [
        &master,
        &variant,
        &mpd,
        &std::fs::read_to_string(out.join("manifest/a0/index.m3u8")).unwrap(),
    ] {
        assert_relative_only(text, &out);
    }
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest/index.json")).unwrap()).unwrap();
    assert_eq!(index, serde_json::to_value(&packaged.index).unwrap());

    // The download: H.264 + AAC, full length, index first.
    let mp4 = ffprobe(&out.join("downloads/default.mp4"));
    assert_eq!(codecs_of(&mp4), ["h264", "aac"]);
    assert!((duration_of(&mp4) - 10.0).abs() < 0.5);
    let head = std::fs::read(out.join("downloads/default.mp4")).unwrap();
    assert!(
        head.windows(4).position(|w| w == b"moov") < head.windows(4).position(|w| w == b"mdat"),
        "not faststart"
    );

    // ffmpeg as an HLS client and as a DASH client (from the MPD's directory).
    let manifest_dir = out.join("manifest");
    for (manifest, name) in [
        ("video.m3u8", "from_hls.mp4"),
        ("video.mpd", "from_dash.mp4"),
    ] {
        let played = play_with_ffmpeg(&manifest_dir, manifest, &tmp.path().join(name));
        assert_eq!(codecs_of(&played), ["h264", "aac"], "{manifest}");
        assert!(
            (duration_of(&played) - 10.0).abs() < 0.5,
            "{manifest}: {}",
            duration_of(&played)
        );
    }

    // Not re-encoded: the compressed video and audio packets are byte-identical.
    let original = (packet_hash(&input, "v"), packet_hash(&input, "a"));
    for copy in [
        out.join("downloads/default.mp4"),
        tmp.path().join("from_hls.mp4"),
        tmp.path().join("from_dash.mp4"),
    ] {
        assert_eq!(
            (packet_hash(&copy, "v"), packet_hash(&copy, "a")),
            original,
            "{}",
            copy.display()
        );
    }
}

#[tokio::test]
async fn video_without_audio_has_no_audio_rendition() {
    let tmp = tempfile::tempdir().unwrap();
    let input = make_clip(
        tmp.path(),
        "silent.mp4",
        "640x360",
        25,
        3,
        false,
        &[
            "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-pix_fmt", "yuv420p",
        ],
    );
    let tools = tools();
    let probed = probe(&tools, &input).await.unwrap();
    assert!(probed.audio.is_none());
    let chosen = plan(&probed);
    assert!(chosen.is_remux());
    let out = tmp.path().join("out");
    let packaged = package(&tools, &input, &probed, &chosen, &out, |_| {})
        .await
        .unwrap();
    assert_eq!(
        packaged
            .renditions
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["v0", "v1"],
        "360p and 240p, no audio"
    );
    assert!(!out.join("manifest/a0").exists());
    let master = std::fs::read_to_string(out.join("manifest/video.m3u8")).unwrap();
    assert!(
        !master.contains("AUDIO") && master.contains("CODECS=\"avc1.64001e\""),
        "{master}"
    );
    let played = play_with_ffmpeg(
        &out.join("manifest"),
        "video.mpd",
        &tmp.path().join("dash.mp4"),
    );
    assert_eq!(codecs_of(&played), ["h264"]);
    assert_eq!(
        codecs_of(&ffprobe(&out.join("downloads/default.mp4"))),
        ["h264"]
    );
}

#[tokio::test]
async fn mpeg_ts_input_is_remuxed_too() {
    // TS carries H.264 in Annex B and AAC in ADTS frames: both need converting for MP4.
    let tmp = tempfile::tempdir().unwrap();
    let input = make_clip(
        tmp.path(),
        "camera.ts",
        "640x360",
        25,
        4,
        true,
        &[
            "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-pix_fmt", "yuv420p", "-c:a",
            "aac", "-f", "mpegts",
        ],
    );
    let tools = tools();
    let probed = probe(&tools, &input).await.unwrap();
    let chosen = plan(&probed);
    assert!(chosen.is_remux());
    let out = tmp.path().join("out");
    let packaged = package(&tools, &input, &probed, &chosen, &out, |_| {})
        .await
        .unwrap();
    assert!(packaged.plan.is_remux(), "TS timestamps line up too");
    assert_eq!(packaged.index.video().count(), 2);
    let mp4 = ffprobe(&out.join("downloads/default.mp4"));
    assert_eq!(codecs_of(&mp4), ["h264", "aac"]);
    let played = play_with_ffmpeg(
        &out.join("manifest"),
        "video.m3u8",
        &tmp.path().join("hls.mp4"),
    );
    assert!((duration_of(&played) - 4.0).abs() < 0.5);
}

#[tokio::test]
async fn refuses_a_non_empty_output_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let input = h264_aac_720p(tmp.path());
    let tools = tools();
    let probed = probe(&tools, &input).await.unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("stale"), "x").unwrap();
    let err = package(&tools, &input, &probed, &plan(&probed), &out, |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
}

#[tokio::test]
async fn a_stream_without_a_stated_duration_is_measured_then_packaged() {
    // A raw H.264 elementary stream has no container duration at all (ffprobe says N/A),
    // like WebM from some recorders: probe counts the packets instead of refusing it.
    let tmp = tempfile::tempdir().unwrap();
    let input = make_clip(
        tmp.path(),
        "raw.h264",
        "320x240",
        25,
        3,
        false,
        &[
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-f", "h264",
        ],
    );
    let tools = tools();
    let probed = probe(&tools, &input).await.unwrap();
    assert!(
        (probed.duration_secs - 3.0).abs() < 0.3,
        "{}",
        probed.duration_secs
    );
    let chosen = plan(&probed);
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
    assert!(
        (packaged.duration_secs - 3.0).abs() < 0.3,
        "{}",
        packaged.duration_secs
    );
}
