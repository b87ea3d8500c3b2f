//! The remux/transcode decision, ladder shapes and bit-rate rules.

use super::*;

fn video(codec: &str, width: u32, height: u32) -> VideoStream {
    VideoStream {
        index: 0,
        codec: codec.into(),
        width,
        height,
        pix_fmt: Some("yuv420p".into()),
        fps: Some(30.0),
        profile: Some("High".into()),
        level: Some(40),
        bit_rate: None,
        rotation: 0,
        sample_aspect_ratio: None,
        frame_count: None,
        reorder_depth: Some(2),
        max_keyframe_interval: Some(2.0),
    }
}

fn aac() -> AudioStream {
    AudioStream {
        index: 1,
        codec: "aac".into(),
        profile: Some("LC".into()),
        channels: Some(2),
        sample_rate: Some(48000),
        bit_rate: None,
    }
}

fn probe(video: VideoStream, audio: Option<AudioStream>) -> Probe {
    Probe {
        duration_secs: 10.0,
        format_name: "mov,mp4".into(),
        size_bytes: None,
        video: Some(video),
        audio,
    }
}

fn sizes(rungs: &[Rung]) -> Vec<(u32, u32)> {
    rungs.iter().map(|r| (r.width, r.height)).collect()
}

fn transcoded(plan: &Plan) -> Vec<(u32, u32)> {
    match plan {
        Plan::Transcode { ladder, .. } => sizes(ladder),
        _ => panic!("expected a transcode: {plan:?}"),
    }
}

fn lower(plan: &Plan) -> Vec<Rung> {
    match plan {
        Plan::Remux { lower } => lower.clone(),
        _ => panic!("expected a remux: {plan:?}"),
    }
}

fn kbps(rungs: &[Rung]) -> Vec<u32> {
    rungs.iter().map(|r| r.video_bitrate_kbps).collect()
}

#[test]
fn browser_ready_h264_is_remuxed_with_the_ladder_below_it() {
    let full_hd = plan(&probe(video("h264", 1920, 1080), None));
    assert_eq!(
        sizes(&lower(&full_hd)),
        vec![(1280, 720), (852, 480), (640, 360), (426, 240)],
        "a 1080p source: 5 renditions"
    );
    let hd = plan(&probe(video("h264", 1280, 720), Some(aac())));
    assert_eq!(
        sizes(&lower(&hd)),
        vec![(852, 480), (640, 360), (426, 240)],
        "a 720p source: 4 renditions"
    );
    assert_eq!(
        sizes(&lower(&plan(&probe(
            video("h264", 1080, 1920),
            Some(aac())
        )))),
        vec![(720, 1280), (480, 852), (360, 640), (240, 426)],
        "portrait fits too"
    );
    // A rung the size of the source is the source itself; below the smallest, nothing.
    assert_eq!(
        sizes(&lower(&plan(&probe(video("h264", 640, 360), None)))),
        vec![(426, 240)]
    );
    assert!(lower(&plan(&probe(video("h264", 320, 240), None))).is_empty());
}

#[test]
fn anything_else_is_transcoded() {
    let mut v = video("h264", 1280, 720);
    v.pix_fmt = Some("yuv422p".into());
    assert_eq!(
        transcoded(&plan(&probe(v, None))),
        vec![(1280, 720), (852, 480), (640, 360), (426, 240)]
    );

    let mut v = video("h264", 1280, 720);
    v.profile = Some("High 10".into());
    assert!(remux_blocker(&v, None).unwrap().contains("High 10"));

    let mut opus = aac();
    opus.codec = "opus".into();
    assert!(remux_blocker(&video("h264", 1280, 720), Some(&opus)).is_some());
    assert!(remux_blocker(&video("h264", 2560, 1440), None).is_some());
    let mut rotated = video("h264", 1280, 720);
    rotated.rotation = 90;
    assert!(remux_blocker(&rotated, None).is_some());
    let mut fast = video("h264", 1280, 720);
    fast.fps = Some(120.0);
    assert!(remux_blocker(&fast, None).is_some());
}

#[test]
fn sparse_key_frames_are_transcoded_and_ten_seconds_is_not_sparse() {
    let mut v = video("h264", 1280, 720);
    v.max_keyframe_interval = Some(MAX_REMUX_KEYFRAME_INTERVAL_SECS + 0.5);
    assert!(
        remux_blocker(&v, None)
            .unwrap()
            .contains("key frames 10.5s apart")
    );
    assert!(!plan(&probe(v.clone(), None)).is_remux());
    v.max_keyframe_interval = Some(MAX_REMUX_KEYFRAME_INTERVAL_SECS);
    assert_eq!(remux_blocker(&v, None), None);
    v.max_keyframe_interval = None; // not scanned: the packaging checks the segments
    assert_eq!(remux_blocker(&v, None), None);
}

#[test]
fn clips_and_watermarks_force_a_transcode() {
    let p = probe(video("h264", 1280, 720), Some(aac()));
    let clip = Edits {
        clip: Some(ClipSpan {
            start: 1.0,
            end: 4.5,
        }),
        watermark: None,
    };
    let chosen = plan_with(&p, clip.clone());
    assert_eq!(
        transcoded(&chosen),
        vec![(1280, 720), (852, 480), (640, 360), (426, 240)]
    );
    assert_eq!(chosen.clip(), clip.clip);
    assert_eq!(chosen.output_duration(&p), 3.5);
    let marked = Edits {
        clip: None,
        watermark: Some(Overlay {
            image: "wm.png".into(),
            width: 100,
            height: 50,
            opacity: 1.0,
            padding: 0.05,
            scale: 0.15,
            position: WatermarkPosition::UpperRight,
        }),
    };
    let chosen = plan_with(&p, marked.clone());
    assert!(matches!(&chosen, Plan::Transcode { edits, .. } if *edits == marked));
    assert_eq!(chosen.output_duration(&p), 10.0);
}

#[test]
fn clip_durations_stay_inside_the_source() {
    let span = |start, end| ClipSpan { start, end };
    assert_eq!(clip_duration(span(2.0, 5.0), 10.0), 3.0);
    assert_eq!(clip_duration(span(8.0, 12.0), 10.0), 2.0);
    assert_eq!(clip_duration(span(11.0, 12.0), 10.0), 0.0);
    assert_eq!(
        clip_duration(span(2.0, 5.0), 0.0),
        3.0,
        "unknown source length"
    );
}

#[test]
fn the_ladder_never_upscales_and_has_every_height_the_source_reaches() {
    assert_eq!(
        transcoded(&plan(&probe(video("hevc", 3840, 2160), None))),
        vec![
            (1920, 1080),
            (1280, 720),
            (852, 480),
            (640, 360),
            (426, 240)
        ]
    );
    assert_eq!(
        transcoded(&plan(&probe(video("vp9", 854, 480), None))),
        vec![(854, 480), (640, 360), (426, 240)]
    );
    assert_eq!(
        transcoded(&plan(&probe(video("vp9", 900, 500), None))),
        vec![(864, 480), (648, 360), (432, 240)]
    );
}

#[test]
fn small_inputs_get_one_rung_at_their_own_even_size() {
    let p = plan(&probe(video("mpeg4", 301, 201), None));
    assert_eq!(transcoded(&p), vec![(300, 200)]);
    let Plan::Transcode { ladder, .. } = p else {
        unreachable!()
    };
    assert!(ladder[0].video_bitrate_kbps >= MIN_VIDEO_KBPS && ladder[0].video_bitrate_kbps < 400);
}

#[test]
fn portrait_and_rotated_inputs_keep_their_orientation() {
    assert_eq!(
        transcoded(&plan(&probe(video("vp9", 720, 1280), None))),
        vec![(720, 1280), (480, 852), (360, 640), (240, 426)]
    );
    let mut phone = video("h264", 1920, 1080);
    phone.rotation = 270;
    assert_eq!(
        transcoded(&plan(&probe(phone, None))),
        vec![
            (1080, 1920),
            (720, 1280),
            (480, 852),
            (360, 640),
            (240, 426)
        ]
    );
}

#[test]
fn ultra_wide_inputs_fit_the_long_side_cap() {
    let rungs = ladder(&video("vp9", 5760, 1080));
    assert_eq!(sizes(&rungs), vec![(1920, 360), (1280, 240)]);
    assert!(
        rungs
            .iter()
            .all(|r| r.width <= MAX_LONG_SIDE && r.width % 2 == 0 && r.height % 2 == 0)
    );
}

#[test]
fn anamorphic_sources_are_stretched() {
    let mut dvd = video("mpeg2video", 720, 576);
    dvd.sample_aspect_ratio = Some((64, 45));
    assert_eq!(
        transcoded(&plan(&probe(dvd, None))),
        vec![(852, 480), (640, 360), (426, 240)]
    );
}

#[test]
fn bit_rates_follow_the_ladder_by_area() {
    let rungs = ladder(&video("vp9", 1920, 1080));
    assert_eq!(kbps(&rungs), vec![5000, 2800, 1398, 800, 399]);
    // 4:3 at 480 has 75 % of the 16:9 frame's pixels.
    assert_eq!(rung_kbps(640, 480, (1400, 480), 30.0), 1050);
}

#[test]
fn bit_rates_follow_the_frame_rate() {
    assert_eq!(rung_kbps(1920, 1080, (5000, 1080), 60.0), 7579);
    assert_eq!(rung_kbps(1920, 1080, (5000, 1080), 24.0), 4373);
    assert_eq!(rung_kbps(1920, 1080, (5000, 1080), 25.0), 4482);
    assert_eq!(
        rung_kbps(1920, 1080, (5000, 1080), 240.0),
        7579,
        "transcodes resample to 60"
    );
    assert_eq!(rung_kbps(1920, 1080, (5000, 1080), f64::NAN), 5000);
    assert_eq!(rung_kbps(426, 240, (400, 240), 1.0), MIN_VIDEO_KBPS);
    let mut fast = video("vp9", 1280, 720);
    fast.fps = Some(60.0);
    assert_eq!(kbps(&ladder(&fast)), vec![4244, 2119, 1213, 605]);
}

#[test]
fn rungs_below_a_copied_source_never_ask_for_more_than_it_spends() {
    // A rich source: the ladder's own rates are below the cap.
    let mut v = video("h264", 1920, 1080);
    v.bit_rate = Some(5_400_000);
    let rich = lower(&plan(&probe(v.clone(), None)));
    assert_eq!(kbps(&rich), vec![2800, 1398, 800, 399]);
    // A lean one (a screen recording): the cap scales its rate by area^0.75.
    v.bit_rate = Some(1_000_000);
    let lean = lower(&plan(&probe(v.clone(), None)));
    assert_eq!(kbps(&lean), vec![544, 295, 192, 104]);
    assert!(lean.iter().all(|r| r.video_bitrate_kbps <= 1000));
    // Without a stated stream rate, the file's average less the audio.
    v.bit_rate = None;
    let mut p = probe(v, Some(aac()));
    p.size_bytes = Some(1_410_000); // 1.128 Mbit/s over 10 s
    p.audio.as_mut().unwrap().bit_rate = Some(128_000);
    assert_eq!(source_video_kbps(&p), Some(1000.0));
    assert_eq!(kbps(&lower(&plan(&p))), vec![544, 295, 192, 104]);
}

#[test]
fn rates_never_rise_down_the_ladder() {
    for (w, h) in [
        (1920, 1080),
        (1080, 1920),
        (5760, 1080),
        (1000, 1000),
        (854, 480),
    ] {
        let rungs = ladder(&video("vp9", w, h));
        assert!(
            rungs
                .windows(2)
                .all(|p| p[0].video_bitrate_kbps >= p[1].video_bitrate_kbps),
            "{w}x{h}: {rungs:?}"
        );
    }
}
