//! Command-line shape for each plan; the pipeline tests run these against ffmpeg.

use super::*;
use crate::probe::VideoStream;

fn probe(codec: &str, audio: Option<&str>) -> Probe {
    Probe {
        duration_secs: 10.0,
        format_name: "mov".into(),
        size_bytes: None,
        video: Some(VideoStream {
            index: 0,
            codec: codec.into(),
            width: 1280,
            height: 720,
            pix_fmt: Some("yuv420p".into()),
            fps: Some(25.0),
            profile: Some("High".into()),
            level: None,
            bit_rate: None,
            rotation: 0,
            sample_aspect_ratio: None,
            frame_count: None,
        }),
        audio: audio.map(|codec| AudioStream {
            index: 1,
            codec: codec.into(),
            profile: None,
            channels: Some(6),
            sample_rate: Some(48000),
            bit_rate: None,
        }),
    }
}

#[test]
fn remux_copies_everything_in_one_tee() {
    let (args, layout) = output_args(&probe("h264", Some("aac")), &Plan::Remux).unwrap();
    let line = args.join(" ");
    assert!(
        line.starts_with("-map 0:0 -map 0:1 -c copy -tag:v avc1 -tag:a mp4a -bsf:a aac_adtstoasc "),
        "{line}"
    );
    assert!(!line.contains("libx264") && !line.contains("filter_complex"));
    assert_eq!(layout.ids().collect::<Vec<_>>(), ["v0", "a0"]);
    assert_eq!(input_options(&Plan::Remux), ["-xerror"]);
    let tee = args.last().unwrap();
    assert_eq!(tee.matches("[f=hls:").count(), 2);
    assert!(
        tee.contains("select=\\'v:0\\']manifest/v0/ffmpeg.m3u8"),
        "{tee}"
    );
    assert!(tee.contains(
        "hls_segment_filename=manifest/a0/seg_%05d.m4s:select=\\'a\\']manifest/a0/ffmpeg.m3u8"
    ));
    assert!(tee.ends_with("[f=mp4:movflags=+faststart:select=\\'v:0,a\\']downloads/default.mp4"));
}

#[test]
fn transcode_encodes_each_rung_once_with_aligned_gops() {
    let ladder = crate::plan::ladder(probe("vp9", None).video.as_ref().unwrap());
    let (args, layout) =
        output_args(&probe("vp9", Some("opus")), &Plan::Transcode { ladder }).unwrap();
    let line = args.join(" ");
    assert!(line.contains("[0:0]split=3[s0][s1][s2];[s0]scale=1280:720,setsar=1[o0];[s1]scale=852:480,setsar=1[o1];[s2]scale=640:360,setsar=1[o2]"), "{line}");
    assert!(line.contains("-g 50 -keyint_min 50 -sc_threshold 0"));
    assert!(line.contains("-maxrate:v:2 800k -bufsize:v:2 1600k"));
    assert!(
        line.contains("-map 0:1 -c:a aac -b:a 128k -ac 2"),
        "opus 5.1 becomes stereo AAC: {line}"
    );
    assert_eq!(layout.ids().collect::<Vec<_>>(), ["v0", "v1", "v2", "a0"]);
    assert!(
        args.last()
            .unwrap()
            .contains("select=\\'v:2\\']manifest/v2/")
    );
    assert!(input_options(&Plan::Transcode { ladder: vec![] }).is_empty());
}

#[test]
fn stereo_aac_is_copied_even_in_a_transcode() {
    let mut p = probe("vp9", Some("aac"));
    p.audio.as_mut().unwrap().channels = Some(2);
    let (args, _) = output_args(
        &p,
        &Plan::Transcode {
            ladder: vec![Rung {
                width: 320,
                height: 240,
                video_bitrate_kbps: 300,
            }],
        },
    )
    .unwrap();
    let line = args.join(" ");
    assert!(
        line.contains("[0:0]scale=320:240,setsar=1[o0]")
            && line.contains("-c:a copy -tag:a mp4a -bsf:a aac_adtstoasc"),
        "{line}"
    );
}

#[test]
fn slow_motion_is_resampled() {
    let mut p = probe("vp9", None);
    p.video.as_mut().unwrap().fps = Some(240.0);
    let (args, layout) = output_args(
        &p,
        &Plan::Transcode {
            ladder: vec![Rung {
                width: 640,
                height: 360,
                video_bitrate_kbps: 800,
            }],
        },
    )
    .unwrap();
    let line = args.join(" ");
    assert!(
        line.contains("[0:0]fps=60,scale=640:360") && line.contains("-g 120 "),
        "{line}"
    );
    assert!(
        layout.audio_id.is_none()
            && args
                .last()
                .unwrap()
                .ends_with("select=\\'v:0\\']downloads/default.mp4")
    );
}

#[test]
fn nothing_to_encode_is_refused() {
    assert!(output_args(&probe("vp9", None), &Plan::Transcode { ladder: vec![] }).is_err());
    let mut p = probe("h264", None);
    p.video = None;
    assert_eq!(
        output_args(&p, &Plan::Remux).unwrap_err().reason(),
        usher_core::ErrorReason::NonVideo
    );
}
