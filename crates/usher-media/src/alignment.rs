//! Whether a packaged ladder can be switched at every segment, checked on what was
//! written rather than trusted from the command line: every video rendition must have
//! the same number of segments, each starting at the same instant — by decode time
//! (the DASH timeline), by presentation time as the fragments state it (what hls.js
//! and MSE place frames by), and after the init segment's edit list (what players that
//! honour edit lists show) — and lasting as long. A ladder that fails is never
//! published: `package.rs` re-encodes a remux's whole ladder, or fails the video.

use crate::index::{Rendition, SegmentIndex};

/// Largest difference between two renditions' timestamps that still counts as the same
/// instant: a tick of any timescale ffmpeg picks, far below a frame (16.7 ms at 60 fps).
pub const TOLERANCE_SECS: f64 = 0.001;

/// `Err` with the first difference found between the top video rendition and another.
pub fn check_ladder(index: &SegmentIndex) -> Result<(), String> {
    let video: Vec<&Rendition> = index.video().collect();
    let Some((top, rest)) = video.split_first() else {
        return Ok(());
    };
    for other in rest {
        compare(top, other)?;
    }
    Ok(())
}

fn compare(top: &Rendition, other: &Rendition) -> Result<(), String> {
    if top.segments.len() != other.segments.len() {
        return Err(format!(
            "{} has {} segments and {} has {}",
            top.id,
            top.segments.len(),
            other.id,
            other.segments.len()
        ));
    }
    for (i, (a, b)) in top.segments.iter().zip(&other.segments).enumerate() {
        let checks = [
            ("decode time", top.seconds(a.start), other.seconds(b.start)),
            (
                "presentation time",
                top.presentation_secs(a, false),
                other.presentation_secs(b, false),
            ),
            (
                "presentation time after the edit list",
                top.presentation_secs(a, true),
                other.presentation_secs(b, true),
            ),
            (
                "duration",
                top.seconds(a.duration),
                other.seconds(b.duration),
            ),
        ];
        for (what, x, y) in checks {
            if (x - y).abs() > TOLERANCE_SECS {
                return Err(format!(
                    "segment {} {what}: {x:.6}s in {} but {y:.6}s in {}",
                    i + 1,
                    top.id,
                    other.id
                ));
            }
        }
    }
    Ok(())
}

/// `Err` if a segment other than the last is longer than `max_secs`: the source's key
/// frames, where a copied rendition is cut, are further apart than that.
pub fn check_segment_lengths(rendition: &Rendition, max_secs: f64) -> Result<(), String> {
    let body = rendition.segments.split_last().map_or(&[][..], |(_, b)| b);
    match body
        .iter()
        .map(|s| rendition.seconds(s.duration))
        .find(|secs| *secs > max_secs + TOLERANCE_SECS)
    {
        Some(secs) => Err(format!(
            "{} has a {secs:.3}s segment: key frames further apart than {max_secs}s",
            rendition.id
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{Segment, Track};

    fn rendition(id: &str, timescale: u32, edit_shift: i64, cuts: &[(u64, u64, i64)]) -> Rendition {
        Rendition {
            id: id.into(),
            track: Track::Video {
                width: 640,
                height: 360,
                frame_rate: 30.0,
            },
            codecs: "avc1.64001e".into(),
            bandwidth: 1,
            average_bandwidth: 1,
            timescale,
            edit_shift,
            segments: cuts
                .iter()
                .map(|&(start, duration, presentation)| Segment {
                    start,
                    duration,
                    bytes: 1,
                    presentation,
                })
                .collect(),
        }
    }

    fn ladder(renditions: Vec<Rendition>) -> SegmentIndex {
        SegmentIndex::new(renditions)
    }

    /// The top rendition of a 30 fps source with 2 frames of B-frame delay, cut at 5 s.
    fn top() -> Rendition {
        rendition(
            "v0",
            15360,
            -11,
            &[
                (0, 76800, 1024),
                (76800, 76800, 77824),
                (153600, 30720, 154624),
            ],
        )
    }

    #[test]
    fn identical_cuts_in_another_timescale_pass() {
        let v1 = rendition(
            "v1",
            90000,
            -64,
            &[
                (0, 450000, 6000),
                (450000, 450000, 456000),
                (900000, 180000, 906000),
            ],
        );
        check_ladder(&ladder(vec![top(), v1])).unwrap();
        check_ladder(&ladder(vec![top()])).unwrap();
        check_ladder(&ladder(vec![])).unwrap();
    }

    #[test]
    fn a_different_number_of_segments_fails() {
        let v1 = rendition(
            "v1",
            15360,
            -11,
            &[(0, 153600, 1024), (153600, 30720, 154624)],
        );
        let err = check_ladder(&ladder(vec![top(), v1])).unwrap_err();
        assert_eq!(err, "v0 has 3 segments and v1 has 2");
    }

    #[test]
    fn a_b_frame_delay_that_differs_fails() {
        // Same decode times, but shown a frame later (one less frame of reordering).
        let v1 = rendition(
            "v1",
            15360,
            -11,
            &[
                (0, 76800, 512),
                (76800, 76800, 77312),
                (153600, 30720, 154112),
            ],
        );
        let err = check_ladder(&ladder(vec![top(), v1])).unwrap_err();
        assert!(
            err.starts_with("segment 1 presentation time: 0.066667s in v0"),
            "{err}"
        );
    }

    #[test]
    fn an_edit_list_that_differs_fails() {
        let mut v1 = top();
        v1.id = "v1".into();
        v1.edit_shift = 1013;
        let err = check_ladder(&ladder(vec![top(), v1])).unwrap_err();
        assert!(err.contains("after the edit list"), "{err}");
    }

    #[test]
    fn a_cut_a_frame_late_fails() {
        let v1 = rendition(
            "v1",
            15360,
            -11,
            &[
                (0, 77312, 1024),
                (77312, 76288, 78336),
                (153600, 30720, 154624),
            ],
        );
        let err = check_ladder(&ladder(vec![top(), v1])).unwrap_err();
        assert!(err.starts_with("segment 1 duration"), "{err}");
    }

    #[test]
    fn long_segments_fail_except_the_last() {
        check_segment_lengths(&top(), 5.0).unwrap();
        let err = check_segment_lengths(&top(), 4.0).unwrap_err();
        assert_eq!(
            err,
            "v0 has a 5.000s segment: key frames further apart than 4s"
        );
        let tail = rendition("v0", 1000, 0, &[(0, 4000, 0), (4000, 12000, 4000)]);
        check_segment_lengths(&tail, 10.0).unwrap();
    }
}
