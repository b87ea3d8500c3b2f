//! Golden-file tests for the manifests (`tests/golden/`). After an intended change,
//! regenerate with `USHER_UPDATE_GOLDEN=1 cargo test -p usher-media manifest` and review
//! the diff.

use crate::index::Segment;

use super::*;

fn golden(name: &str, actual: &str) {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("USHER_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(actual, expected, "{name} differs from the golden file");
}

fn segments(timescale: u64, secs: &[f64], bytes: u64) -> Vec<Segment> {
    let mut start = 0;
    secs.iter()
        .map(|s| {
            let duration = (s * timescale as f64).round() as u64;
            let seg = Segment {
                start,
                duration,
                bytes,
                presentation: start as i64,
            };
            start += duration;
            seg
        })
        .collect()
}

fn video(id: &str, width: u32, height: u32, bandwidth: u64) -> Rendition {
    Rendition {
        id: id.into(),
        track: Track::Video {
            width,
            height,
            frame_rate: 30.0,
        },
        codecs: "avc1.64001f".into(),
        bandwidth,
        average_bandwidth: bandwidth * 9 / 10,
        timescale: 15360,
        edit_shift: 0,
        segments: segments(15360, &[4.0, 4.0, 2.0], bandwidth / 2),
    }
}

fn audio() -> Rendition {
    Rendition {
        id: "a0".into(),
        track: Track::Audio {
            channels: 2,
            sample_rate: 48000,
        },
        codecs: "mp4a.40.2".into(),
        bandwidth: 131_000,
        average_bandwidth: 129_000,
        timescale: 48000,
        edit_shift: 0,
        // AAC frames of 1024 samples do not divide 4 s evenly.
        segments: segments(48000, &[4.010667, 3.989333, 2.021333], 65_000),
    }
}

fn ladder() -> SegmentIndex {
    SegmentIndex::new(vec![
        video("v0", 1280, 720, 3_000_000),
        video("v1", 640, 360, 900_000),
        audio(),
    ])
}

#[test]
fn hls_master_golden() {
    golden("ladder_video.m3u8", &hls_master(&ladder()));
}

#[test]
fn hls_variant_golden() {
    golden(
        "ladder_v0_index.m3u8",
        &hls_variant(&ladder().renditions[0]),
    );
    golden(
        "ladder_a0_index.m3u8",
        &hls_variant(&ladder().renditions[2]),
    );
}

#[test]
fn dash_mpd_golden() {
    golden("ladder_video.mpd", &dash_mpd(&ladder()));
}

#[test]
fn video_only_has_no_audio_group() {
    let index = SegmentIndex::new(vec![video("v0", 1280, 720, 3_000_000)]);
    let master = hls_master(&index);
    assert!(
        !master.contains("EXT-X-MEDIA:") && !master.contains("AUDIO="),
        "{master}"
    );
    assert!(master.contains("CODECS=\"avc1.64001f\","));
    let mpd = dash_mpd(&index);
    assert!(!mpd.contains("contentType=\"audio\""));
}

#[test]
fn every_uri_is_relative() {
    let index = ladder();
    let texts = [
        hls_master(&index),
        hls_variant(&index.renditions[0]),
        dash_mpd(&index),
    ];
    for text in &texts {
        assert!(!text.contains("http"), "{text}");
        assert!(
            !text.contains("=\"/") && !text.lines().any(|l| l.starts_with('/')),
            "{text}"
        );
        assert!(!text.contains("PROGRAM-DATE-TIME"));
    }
}

#[test]
fn target_duration_rounds_extinf() {
    let mut r = video("v0", 1280, 720, 1);
    r.timescale = 1000;
    r.segments = segments(1000, &[4.4, 4.6, 1.0], 1);
    assert!(hls_variant(&r).contains("#EXT-X-TARGETDURATION:5\n"));
}

#[test]
fn timeline_restates_t_after_a_gap() {
    let mut r = audio();
    r.segments = vec![
        Segment {
            start: 100,
            duration: 10,
            bytes: 1,
            presentation: 100,
        },
        Segment {
            start: 110,
            duration: 10,
            bytes: 1,
            presentation: 110,
        },
        Segment {
            start: 125,
            duration: 10,
            bytes: 1,
            presentation: 125,
        },
        Segment {
            start: 135,
            duration: 7,
            bytes: 1,
            presentation: 135,
        },
    ];
    let mpd = dash_mpd(&SegmentIndex::new(vec![r]));
    assert!(mpd.contains("<S t=\"100\" d=\"10\" r=\"1\"/>\n            <S t=\"125\" d=\"10\"/>\n            <S d=\"7\"/>"), "{mpd}");
}

#[test]
fn frame_rates() {
    assert_eq!(frame_rate_fraction(30.0), "30");
    assert_eq!(frame_rate_fraction(29.97), "30000/1001");
    assert_eq!(frame_rate_fraction(23.976), "24000/1001");
    assert_eq!(frame_rate_fraction(12.345), "12345/1000");
}

/// The ladder of a 1080p upload: the copied top, four rungs below it, and audio.
fn five_rungs() -> SegmentIndex {
    let mut renditions: Vec<Rendition> = [
        ("v0", 1920, 1080, 5_476_000),
        ("v1", 1280, 720, 1_207_000),
        ("v2", 852, 480, 486_000),
        ("v3", 640, 360, 300_000),
        ("v4", 426, 240, 158_000),
    ]
    .into_iter()
    .map(|(id, w, h, peak)| video(id, w, h, peak))
    .collect();
    renditions[0].codecs = "avc1.640028".into();
    renditions.push(audio());
    SegmentIndex::new(renditions)
}

#[test]
fn a_five_rung_ladder_golden() {
    let index = five_rungs();
    let master = hls_master(&index);
    golden("ladder5_video.m3u8", &master);
    golden("ladder5_video.mpd", &dash_mpd(&index));
    // Every variant, highest first, with what players choose by.
    let tags: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF:"))
        .collect();
    assert_eq!(tags.len(), 5);
    for tag in &tags {
        for attribute in [
            "BANDWIDTH=",
            ",AVERAGE-BANDWIDTH=",
            ",CODECS=\"avc1.",
            ",RESOLUTION=",
            ",FRAME-RATE=30.000",
            ",AUDIO=\"audio\"",
        ] {
            assert!(tag.contains(attribute), "{attribute} missing: {tag}");
        }
    }
    assert!(tags[4].contains("RESOLUTION=426x240"));
    let mpd = dash_mpd(&index);
    assert_eq!(mpd.matches("contentType=\"video\"").count(), 1);
    assert!(mpd.contains(
        "segmentAlignment=\"true\" startWithSAP=\"1\" maxWidth=\"1920\" maxHeight=\"1080\""
    ));
    assert_eq!(mpd.matches("<Representation id=\"v").count(), 5);
}

#[test]
fn renditions_cut_differently_are_not_declared_aligned() {
    let mut index = five_rungs();
    index.renditions[3].segments = segments(15360, &[5.0, 3.0, 2.0], 1);
    let mpd = dash_mpd(&index);
    assert!(mpd.contains("segmentAlignment=\"false\""), "{mpd}");
}
