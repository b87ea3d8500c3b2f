//! Parser and classification tests over real ffprobe output (`tests/fixtures/`).

use usher_core::ErrorReason;

use super::*;
use crate::ffprobe_json::{parse_clock, parse_ratio};

fn fixture(name: &str) -> Probe {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let json = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse_ffprobe_json(&json).unwrap()
}

fn reason(probe: &Probe) -> Option<ErrorReason> {
    classify(probe).err().map(|e| e.reason())
}

#[test]
fn h264_aac_mp4() {
    let p = fixture("h264_aac_720p.mp4");
    assert_eq!(p.duration_secs, 10.0);
    assert_eq!(p.format_name, "mov,mp4,m4a,3gp,3g2,mj2");
    assert!(p.size_bytes.unwrap() > 1_000_000);
    let v = p.video.as_ref().unwrap();
    assert_eq!(
        (v.index, v.codec.as_str(), v.width, v.height),
        (0, "h264", 1280, 720)
    );
    assert_eq!(v.pix_fmt.as_deref(), Some("yuv420p"));
    assert_eq!(v.profile.as_deref(), Some("High"));
    assert_eq!(v.level, Some(31));
    assert_eq!(v.fps, Some(30.0));
    assert_eq!(
        (v.rotation, v.sample_aspect_ratio, v.frame_count),
        (0, None, Some(300))
    );
    assert!(v.bit_rate.unwrap() > 1_000_000);
    let a = p.audio.as_ref().unwrap();
    assert_eq!(
        (a.index, a.codec.as_str(), a.profile.as_deref()),
        (1, "aac", Some("LC"))
    );
    assert_eq!((a.channels, a.sample_rate), (Some(2), Some(48000)));
    assert_eq!(reason(&p), None);
}

#[test]
fn rotated_phone_video_reports_display_size() {
    let p = fixture("h264_rotated_90.mp4");
    let v = p.video.as_ref().unwrap();
    assert_eq!(v.rotation, 90);
    assert_eq!(v.display_size(), (720, 1280));
    assert_eq!(reason(&p), None);
}

#[test]
fn vp9_opus_webm_takes_durations_from_tags_when_needed() {
    let p = fixture("vp9_opus_480p.webm");
    assert!((p.duration_secs - 6.008).abs() < 1e-9);
    let v = p.video.as_ref().unwrap();
    assert_eq!(
        (v.codec.as_str(), v.width, v.height, v.fps),
        ("vp9", 854, 480, Some(25.0))
    );
    assert_eq!(v.bit_rate, None, "WebM streams carry no bit rate");
    assert_eq!(p.audio.as_ref().unwrap().codec, "opus");
    assert_eq!(reason(&p), None);

    // Without the container duration, the per-stream DURATION tags are used.
    let mut json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/fixtures/vp9_opus_480p.webm.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    json["format"].as_object_mut().unwrap().remove("duration");
    let p = parse_ffprobe_json(json.to_string().as_bytes()).unwrap();
    assert!(
        (p.duration_secs - 6.008).abs() < 1e-9,
        "{}",
        p.duration_secs
    );
}

#[test]
fn audio_only_is_not_a_video() {
    let p = fixture("aac_audio_only.m4a");
    assert!(p.video.is_none());
    assert_eq!(p.audio.as_ref().unwrap().sample_rate, Some(44100));
    assert_eq!(reason(&p), Some(ErrorReason::NonVideo));
}

#[test]
fn cover_art_does_not_make_an_mp3_a_video() {
    let p = fixture("mp3_with_cover_art.mp3");
    assert!(p.video.is_none(), "{:?}", p.video);
    assert_eq!(p.audio.as_ref().unwrap().codec, "mp3");
    assert_eq!(reason(&p), Some(ErrorReason::NonVideo));
}

#[test]
fn a_still_image_is_not_a_video() {
    let p = fixture("still_image.png");
    assert_eq!(p.duration_secs, 0.0);
    assert_eq!(p.video.as_ref().unwrap().codec, "png");
    assert_eq!(reason(&p), Some(ErrorReason::NonVideo));
}

#[test]
fn tiny_or_sizeless_videos() {
    let mut p = fixture("h264_aac_720p.mp4");
    p.duration_secs = 0.04;
    assert_eq!(reason(&p), Some(ErrorReason::DurationTooShort));
    p.duration_secs = 10.0;
    p.video.as_mut().unwrap().width = 0;
    assert_eq!(reason(&p), Some(ErrorReason::MalformedVideo));
}

#[test]
fn lenient_about_missing_and_odd_fields() {
    let p = parse_ffprobe_json(br#"{"streams":[{"codec_type":"video","codec_name":"h264","width":"640","height":360,"avg_frame_rate":"0/0","r_frame_rate":"30000/1001","sample_aspect_ratio":"0:1","side_data_list":[{"rotation":-90}]}]}"#).unwrap();
    let v = p.video.unwrap();
    assert_eq!(
        (v.width, v.height, v.rotation, v.sample_aspect_ratio),
        (640, 360, 270, None)
    );
    assert!((v.fps.unwrap() - 29.97).abs() < 0.01);
    assert_eq!(
        (p.duration_secs, p.format_name.as_str(), p.size_bytes),
        (0.0, "", None)
    );

    assert!(parse_ffprobe_json(b"{}").unwrap().video.is_none());
    let err = parse_ffprobe_json(b"not json").unwrap_err();
    assert_eq!(err.reason(), ErrorReason::Unknown);
}

#[test]
fn anamorphic_width_is_stretched() {
    let p = parse_ffprobe_json(br#"{"streams":[{"codec_type":"video","codec_name":"mpeg2video","width":720,"height":576,"sample_aspect_ratio":"64:45"}]}"#).unwrap();
    assert_eq!(p.video.unwrap().display_size(), (1024, 576));
}

#[test]
fn container_magic() {
    assert!(looks_like_video_container(b"\0\0\0\x20ftypisom\0\0\x02\0"));
    assert!(looks_like_video_container(&[0x1A, 0x45, 0xDF, 0xA3, 1, 2]));
    assert!(looks_like_video_container(b"RIFF\0\0\0\0AVI LIST"));
    assert!(!looks_like_video_container(b"RIFF\0\0\0\0WAVEfmt "));
    assert!(!looks_like_video_container(b"hello, world\n"));
    assert!(!looks_like_video_container(b"ID3\x04\0\0\0\0"));
    assert!(!looks_like_video_container(b""));
}

#[test]
fn clock_and_ratio_parsing() {
    assert_eq!(parse_clock("00:01:02.500000000"), Some(62.5));
    assert_eq!(parse_clock("1:00:00"), Some(3600.0));
    assert_eq!(parse_clock("nope"), None);
    assert_eq!(parse_ratio("25/1"), Some(25.0));
    assert_eq!(parse_ratio("0/0"), None);
}

#[test]
fn key_frame_spacing_comes_from_the_packet_scan() {
    let p = fixture("h264_sparse_keyframes.mp4");
    let v = p.video.as_ref().unwrap();
    // Key frames at 0 and 15 s; the scan ends at the last packet, 23.9 s.
    assert_eq!(v.max_keyframe_interval, Some(15.0));
    assert!(
        crate::plan::remux_blocker(v, None)
            .unwrap()
            .contains("key frames 15.0s apart")
    );
    assert_eq!(v.reorder_depth, Some(2));
    // Fixtures made without the scan know nothing of key frames, which is not a reason
    // to refuse a remux.
    let old = fixture("h264_aac_720p.mp4");
    assert_eq!(old.video.as_ref().unwrap().max_keyframe_interval, None);
    assert!(crate::plan::plan(&old).is_remux());
}

mod properties {
    //! ffprobe reports what an uploaded file's container says (sizes, rates, rotation,
    //! tags are the uploader's to choose): whatever it prints, parsing, classifying and
    //! planning give an answer or an error, never a panic.

    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::plan::{Plan, plan};

    /// Values ffprobe prints, and values a crafted container could make it print.
    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            (0u32..5000).prop_map(|n| json!(n.to_string())),
            prop::sample::select(vec![
                "N/A",
                "0/0",
                "1/0",
                "30000/1001",
                "25/1",
                "-1/2",
                "1:0",
                "0:1",
                "4:3",
                "4294967295:1",
                "-90",
                "90.0",
                "1e308",
                "-1e308",
                "NaN",
                "inf",
                "h264",
                "",
                "00:01:02.5",
                "99999999999:00:00",
            ])
            .prop_map(|s| json!(s)),
        ]
    }

    fn stream() -> impl Strategy<Value = Value> {
        let keys = prop::sample::select(vec![
            "index",
            "codec_name",
            "width",
            "height",
            "pix_fmt",
            "profile",
            "level",
            "bit_rate",
            "avg_frame_rate",
            "r_frame_rate",
            "nb_frames",
            "duration",
            "sample_aspect_ratio",
            "channels",
            "sample_rate",
        ]);
        (
            prop::sample::select(vec!["video", "audio", "subtitle", "data"]),
            prop::collection::btree_map(keys, value(), 0..12),
            value(),
            value(),
            any::<bool>(),
        )
            .prop_map(|(kind, fields, rotation, rotate, cover)| {
                let mut s = json!({
                    "codec_type": kind,
                    "side_data_list": [{"rotation": rotation}],
                    "tags": {"rotate": rotate},
                    "disposition": {"attached_pic": u8::from(cover)},
                });
                for (k, v) in fields {
                    s[k] = v;
                }
                s
            })
    }

    fn output() -> impl Strategy<Value = Value> {
        (
            prop::collection::vec(stream(), 0..4),
            value(),
            value(),
            prop::sample::select(vec![
                "mov,mp4,m4a,3gp,3g2,mj2",
                "matroska,webm",
                "png_pipe",
                "mp3",
            ]),
        )
            .prop_map(|(streams, duration, size, format_name)| {
                json!({
                    "streams": streams,
                    "format": {"duration": duration, "size": size, "format_name": format_name},
                })
            })
    }

    proptest! {
        #[test]
        fn any_ffprobe_shaped_output_is_read_classified_and_planned(doc in output()) {
            let probe = parse_ffprobe_json(&serde_json::to_vec(&doc).unwrap()).unwrap();
            if let Some(v) = &probe.video {
                let _ = v.display_size();
                prop_assert!(matches!(v.rotation, 0 | 90 | 180 | 270));
            }
            if classify(&probe).is_ok()
                && let Plan::Transcode { ladder, .. } = plan(&probe)
            {
                prop_assert!(!ladder.is_empty());
            }
        }

        #[test]
        fn any_bytes_are_read_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_ffprobe_json(&bytes);
        }
    }
}
