//! Command-line shape for each plan; the pipeline tests run these against ffmpeg.

use usher_core::{ClipSpan, WatermarkPosition};

use super::*;
use crate::plan::{Overlay, plan, plan_with};
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
            reorder_depth: Some(2),
            max_keyframe_interval: Some(2.0),
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

fn rung(width: u32, height: u32, video_bitrate_kbps: u32) -> Rung {
    Rung {
        width,
        height,
        video_bitrate_kbps,
    }
}

fn transcode(ladder: Vec<Rung>) -> Plan {
    Plan::Transcode {
        ladder,
        edits: Edits::default(),
    }
}

#[test]
fn a_remux_without_lower_rungs_copies_everything_in_one_tee() {
    let plan = Plan::Remux { lower: vec![] };
    let (args, layout) = output_args(&probe("h264", Some("aac")), &plan).unwrap();
    let line = args.join(" ");
    assert!(
        line.starts_with(
            "-map 0:0 -c:v:0 copy -tag:v avc1 -map 0:1 -c:a copy -tag:a mp4a -bsf:a aac_adtstoasc "
        ),
        "{line}"
    );
    assert!(!line.contains("libx264") && !line.contains("filter_complex"));
    assert_eq!(layout.ids().collect::<Vec<_>>(), ["v0", "a0"]);
    assert_eq!(layout.copied_video_id.as_deref(), Some("v0"));
    assert_eq!(input_options(&plan), ["-xerror"]);
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
fn a_remux_encodes_the_rungs_below_the_copy_on_the_source_key_frames() {
    let p = probe("h264", Some("aac"));
    let chosen = plan(&p);
    let (args, layout) = output_args(&p, &chosen).unwrap();
    let line = args.join(" ");
    assert!(
        line.starts_with(
            "-filter_complex [0:0]split=3[s1][s2][s3];[s1]scale=852:480,setsar=1[o1];\
             [s2]scale=640:360,setsar=1[o2];[s3]scale=426:240,setsar=1[o3] \
             -map 0:0 -map [o1] -map [o2] -map [o3] -c:v:0 copy -tag:v avc1 "
        ),
        "{line}"
    );
    assert!(
        line.contains(
            "-c:v:3 libx264 -preset:v:3 veryfast -profile:v:3 high -pix_fmt:v:3 yuv420p \
         -crf:v:3 23 -maxrate:v:3 358k -bufsize:v:3 716k -force_key_frames:v:3 source \
         -g:v:3 100000 -sc_threshold:v:3 0 -fps_mode:v:3 passthrough -enc_time_base:v:3 -1 "
        ),
        "{line}"
    );
    assert!(
        !line.contains("-bf:") && !line.contains("b-pyramid"),
        "x264 reorders as deep"
    );
    assert!(!line.contains("-c:v:0 libx264") && !line.contains("-g:v:0"));
    assert_eq!(
        layout.ids().collect::<Vec<_>>(),
        ["v0", "v1", "v2", "v3", "a0"]
    );
    assert_eq!(layout.copied_video_id.as_deref(), Some("v0"));
    let tee = args.last().unwrap();
    assert!(
        tee.contains("select=\\'v:3\\']manifest/v3/ffmpeg.m3u8"),
        "{tee}"
    );
    assert!(
        tee.ends_with("select=\\'v:0,a\\']downloads/default.mp4"),
        "the copy is the download"
    );
}

#[test]
fn rungs_below_a_copy_reorder_b_frames_as_deeply_as_the_source() {
    let lower = vec![rung(640, 360, 800)];
    let line = |depth: Option<u32>| {
        let mut p = probe("h264", None);
        p.video.as_mut().unwrap().reorder_depth = depth;
        output_args(
            &p,
            &Plan::Remux {
                lower: lower.clone(),
            },
        )
        .unwrap()
        .0
        .join(" ")
    };
    assert!(line(Some(0)).contains("-bf:v:1 0"), "Baseline: no B-frames");
    assert!(line(Some(1)).contains("-b-pyramid:v:1 none"));
    for deep in [Some(2), Some(4), None] {
        let l = line(deep);
        assert!(
            !l.contains("-bf:v:1") && !l.contains("b-pyramid"),
            "{deep:?}: {l}"
        );
    }
    assert!(line(Some(0)).starts_with("-filter_complex [0:0]scale=640:360,setsar=1[o1] "));
}

#[test]
fn a_transcode_encodes_each_rung_once_with_aligned_gops() {
    let p = probe("vp9", Some("opus"));
    let chosen = plan(&p);
    let (args, layout) = output_args(&p, &chosen).unwrap();
    let line = args.join(" ");
    assert!(line.contains("[0:0]split=4[s0][s1][s2][s3];[s0]scale=1280:720,setsar=1[o0];[s1]scale=852:480,setsar=1[o1];[s2]scale=640:360,setsar=1[o2];[s3]scale=426:240,setsar=1[o3]"), "{line}");
    assert!(
        line.contains("-g:v:0 50 -keyint_min:v:0 50 -sc_threshold:v:0 0"),
        "{line}"
    );
    assert!(
        line.contains("-g:v:3 50 -keyint_min:v:3 50 -sc_threshold:v:3 0"),
        "{line}"
    );
    assert!(
        line.contains("-maxrate:v:2 717k -bufsize:v:2 1434k"),
        "25 fps: {line}"
    );
    assert!(
        !line.contains("force_key_frames") && !line.contains("copy"),
        "{line}"
    );
    assert!(
        line.contains("-map 0:1 -c:a aac -b:a 128k -ac 2"),
        "opus 5.1 becomes stereo AAC: {line}"
    );
    assert_eq!(
        layout.ids().collect::<Vec<_>>(),
        ["v0", "v1", "v2", "v3", "a0"]
    );
    assert_eq!(layout.copied_video_id, None);
    assert!(
        args.last()
            .unwrap()
            .contains("select=\\'v:2\\']manifest/v2/")
    );
    assert!(input_options(&transcode(vec![])).is_empty());
}

#[test]
fn stereo_aac_is_copied_even_in_a_transcode() {
    let mut p = probe("vp9", Some("aac"));
    p.audio.as_mut().unwrap().channels = Some(2);
    let (args, _) = output_args(&p, &transcode(vec![rung(320, 240, 300)])).unwrap();
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
    let (args, layout) = output_args(&p, &transcode(vec![rung(640, 360, 800)])).unwrap();
    let line = args.join(" ");
    assert!(
        line.contains("[0:0]fps=60,scale=640:360") && line.contains("-g:v:0 120 "),
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
fn a_clip_seeks_decodes_and_cuts_every_stream() {
    let mut p = probe("h264", Some("aac"));
    p.audio.as_mut().unwrap().channels = Some(2);
    let span = ClipSpan {
        start: 2.5,
        end: 6.25,
    };
    let chosen = plan_with(
        &p,
        Edits {
            clip: Some(span),
            watermark: None,
        },
    );
    assert_eq!(input_options(&chosen), ["-ss", "2.500000"]);
    let (args, _) = output_args(&p, &chosen).unwrap();
    let line = args.join(" ");
    assert!(
        line.contains("-c:v:0 libx264"),
        "the top is encoded: {line}"
    );
    assert!(
        line.contains("-map 0:1 -c:a aac -b:a 128k -ac 2 -t 3.750000 "),
        "AAC is re-encoded so it starts on the cut: {line}"
    );
    let (all, _) = ffmpeg_args(std::path::Path::new("/in.mp4"), &p, &chosen).unwrap();
    let all: Vec<String> = all
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let at = all.iter().position(|a| a == "-ss").unwrap();
    let input = all.iter().position(|a| a == "file:/in.mp4").unwrap();
    assert!(at < input, "-ss is an input option: {all:?}");
}

#[test]
fn a_watermark_is_drawn_once_before_the_split() {
    let p = probe("h264", None);
    let mark = Overlay {
        image: "/scratch/watermark".into(),
        width: 200,
        height: 100,
        opacity: 0.5,
        padding: 0.05,
        scale: 0.1,
        position: WatermarkPosition::LowerLeft,
    };
    let chosen = plan_with(
        &p,
        Edits {
            clip: None,
            watermark: Some(mark),
        },
    );
    let (args, layout) = ffmpeg_args(std::path::Path::new("/in.mp4"), &p, &chosen).unwrap();
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let line = args.join(" ");
    // 10 % of 1280x720 → 128x64; padding 5 % of 720 = 36.
    assert!(
        line.contains(
            "-filter_complex [0:0]scale=1280:720,setsar=1[base];\
             [1:v]format=rgba,colorchannelmixer=aa=0.5000,scale=128:64[mark];\
             [base][mark]overlay=x=36:y=620,split=4[o0][s1][s2][s3];\
             [s1]scale=852:480,setsar=1[o1];[s2]scale=640:360,setsar=1[o2];[s3]scale=426:240,setsar=1[o3] "
        ),
        "{line}"
    );
    assert!(
        line.contains(
            "-i file:/in.mp4 -protocol_whitelist file -format_whitelist png_pipe,jpeg_pipe -i file:/scratch/watermark "
        ),
        "the image is the second input, read as an image only: {line}"
    );
    assert_eq!(layout.video_ids.len(), 4);
    // One rung: no split.
    let one = Plan::Transcode {
        ladder: vec![rung(320, 240, 300)],
        edits: match chosen {
            Plan::Transcode { edits, .. } => edits,
            _ => unreachable!(),
        },
    };
    let line = output_args(&p, &one).unwrap().0.join(" ");
    assert!(line.contains("overlay=x=12:y=212[o0] "), "{line}");
}

#[test]
fn nothing_to_encode_is_refused() {
    assert!(output_args(&probe("vp9", None), &transcode(vec![])).is_err());
    let mut p = probe("h264", None);
    p.video = None;
    assert_eq!(
        output_args(&p, &Plan::Remux { lower: vec![] })
            .unwrap_err()
            .reason(),
        usher_core::ErrorReason::NonVideo
    );
}
