//! HLS and DASH manifests rendered from a [`SegmentIndex`] — pure text, no I/O.
//!
//! Every URI is relative to the manifest that contains it (`v0/index.m3u8`,
//! `seg_00001.m4s`, `a0/init.mp4`): the edge serves `/{uid-or-token}/manifest/…` by
//! mapping the path onto files, so a relative URI carries the viewer's token to every
//! request without us rewriting anything, and no host is ever baked in.

use std::fmt::Write;

use crate::index::{
    DASH_SEGMENT_TEMPLATE, FIRST_SEGMENT_NUMBER, INIT_FILE, PLAYLIST_FILE, Rendition, SegmentIndex,
    Track, segment_file,
};

/// The HLS master playlist, under `manifest/`.
pub const HLS_MASTER_FILE: &str = "video.m3u8";
/// The DASH MPD, under `manifest/`.
pub const DASH_MPD_FILE: &str = "video.mpd";
/// HLS `GROUP-ID` of the audio renditions.
pub const AUDIO_GROUP: &str = "audio";

/// The master playlist: one `EXT-X-STREAM-INF` per video rendition, audio as an
/// alternate rendition group so that video and audio segments stay separate files.
pub fn hls_master(index: &SegmentIndex) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    let audio: Vec<&Rendition> = index.audio().collect();
    for (i, a) in audio.iter().enumerate() {
        let default = if i == 0 { "YES" } else { "NO" };
        let channels = match a.track {
            Track::Audio { channels, .. } => format!(",CHANNELS=\"{channels}\""),
            Track::Video { .. } => String::new(),
        };
        let _ = writeln!(
            out,
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{AUDIO_GROUP}\",NAME=\"audio {i}\",DEFAULT={default},AUTOSELECT={default}{channels},URI=\"{}/{PLAYLIST_FILE}\"",
            a.id
        );
    }
    // The group's heaviest rendition, which a client may pair with any video variant.
    let audio_peak = audio.iter().map(|a| a.bandwidth).max().unwrap_or(0);
    let audio_average = audio.iter().map(|a| a.average_bandwidth).max().unwrap_or(0);
    for v in index.video() {
        let mut codecs = v.codecs.clone();
        if let Some(a) = audio.first() {
            codecs = format!("{codecs},{}", a.codecs);
        }
        let _ = write!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{codecs}\"",
            v.bandwidth + audio_peak,
            v.average_bandwidth + audio_average
        );
        if let Track::Video {
            width,
            height,
            frame_rate,
        } = v.track
        {
            let _ = write!(
                out,
                ",RESOLUTION={width}x{height},FRAME-RATE={frame_rate:.3}"
            );
        }
        if !audio.is_empty() {
            let _ = write!(out, ",AUDIO=\"{AUDIO_GROUP}\"");
        }
        let _ = writeln!(out, "\n{}/{PLAYLIST_FILE}", v.id);
    }
    out
}

/// A rendition's media playlist (VOD, fMP4).
pub fn hls_variant(rendition: &Rendition) -> String {
    let extinf: Vec<f64> = rendition
        .segments
        .iter()
        .map(|s| rendition.seconds(s.duration))
        .collect();
    // RFC 8216: every EXTINF, rounded to the nearest integer, must not exceed it.
    let target = extinf
        .iter()
        .map(|d| d.round() as u64)
        .max()
        .unwrap_or(1)
        .max(1);
    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-PLAYLIST-TYPE:VOD\n\
         #EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"{INIT_FILE}\"\n"
    );
    for (i, secs) in extinf.iter().enumerate() {
        let _ = writeln!(
            out,
            "#EXTINF:{secs:.6},\n{}",
            segment_file(FIRST_SEGMENT_NUMBER + i as u32)
        );
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

/// A static MPD over the same segments: one AdaptationSet for video, one for audio,
/// each Representation with a SegmentTemplate and an exact SegmentTimeline.
pub fn dash_mpd(index: &SegmentIndex) -> String {
    let max_segment = index
        .renditions
        .iter()
        .flat_map(|r| r.segments.iter().map(move |s| r.seconds(s.duration)))
        .fold(0.0, f64::max);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" \
         type=\"static\" mediaPresentationDuration=\"{}\" minBufferTime=\"{}\">\n  <Period id=\"0\" start=\"PT0S\">\n",
        duration(index.duration_secs),
        duration(max_segment),
    );
    let video: Vec<&Rendition> = index.video().collect();
    if let Some(first) = video.first() {
        let aligned = video.iter().all(|v| same_timeline(v, first));
        let (max_w, max_h) = video.iter().fold((0, 0), |(w, h), v| match v.track {
            Track::Video { width, height, .. } => (w.max(width), h.max(height)),
            Track::Audio { .. } => (w, h),
        });
        let _ = writeln!(
            out,
            "    <AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\" segmentAlignment=\"{aligned}\" \
             startWithSAP=\"1\" maxWidth=\"{max_w}\" maxHeight=\"{max_h}\">"
        );
        for v in &video {
            representation(&mut out, v);
        }
        out.push_str("    </AdaptationSet>\n");
    }
    let audio: Vec<&Rendition> = index.audio().collect();
    if !audio.is_empty() {
        out.push_str(
            "    <AdaptationSet id=\"1\" contentType=\"audio\" mimeType=\"audio/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\">\n",
        );
        for a in &audio {
            representation(&mut out, a);
        }
        out.push_str("    </AdaptationSet>\n");
    }
    out.push_str("  </Period>\n</MPD>\n");
    out
}

fn representation(out: &mut String, r: &Rendition) {
    let id = xml_escape(&r.id);
    let _ = write!(
        out,
        "      <Representation id=\"{id}\" codecs=\"{}\" bandwidth=\"{}\"",
        xml_escape(&r.codecs),
        r.bandwidth
    );
    match r.track {
        Track::Video {
            width,
            height,
            frame_rate,
        } => {
            let _ = writeln!(
                out,
                " width=\"{width}\" height=\"{height}\" frameRate=\"{}\" sar=\"1:1\">",
                frame_rate_fraction(frame_rate)
            );
        }
        Track::Audio {
            channels,
            sample_rate,
        } => {
            let _ = writeln!(
                out,
                " audioSamplingRate=\"{sample_rate}\">\n        <AudioChannelConfiguration \
                 schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"{channels}\"/>"
            );
        }
    }
    let _ = writeln!(
        out,
        "        <SegmentTemplate timescale=\"{}\" initialization=\"{id}/{INIT_FILE}\" media=\"{id}/{DASH_SEGMENT_TEMPLATE}\" \
         startNumber=\"{FIRST_SEGMENT_NUMBER}\">\n          <SegmentTimeline>",
        r.timescale
    );
    // Run-length encode equal durations (`r` = extra repeats); restate `t` after a gap.
    let mut expected_start = None;
    let mut i = 0;
    while i < r.segments.len() {
        let s = r.segments[i];
        let mut repeats = 0;
        while r.segments.get(i + repeats + 1).is_some_and(|n| {
            n.duration == s.duration && n.start == s.start + (repeats as u64 + 1) * s.duration
        }) {
            repeats += 1;
        }
        let t = if expected_start == Some(s.start) {
            String::new()
        } else {
            format!(" t=\"{}\"", s.start)
        };
        let r_attr = if repeats > 0 {
            format!(" r=\"{repeats}\"")
        } else {
            String::new()
        };
        let _ = writeln!(out, "            <S{t} d=\"{}\"{r_attr}/>", s.duration);
        expected_start = Some(s.start + (repeats as u64 + 1) * s.duration);
        i += repeats + 1;
    }
    out.push_str(
        "          </SegmentTimeline>\n        </SegmentTemplate>\n      </Representation>\n",
    );
}

fn same_timeline(a: &Rendition, b: &Rendition) -> bool {
    a.segments.len() == b.segments.len()
        && a.segments.iter().zip(&b.segments).all(|(x, y)| {
            (a.seconds(x.start) - b.seconds(y.start)).abs() < 1e-3
                && (a.seconds(x.duration) - b.seconds(y.duration)).abs() < 1e-3
        })
}

/// xs:duration with millisecond precision.
fn duration(secs: f64) -> String {
    format!("PT{:.3}S", secs.max(0.0))
}

/// DASH `@frameRate` is an integer or a fraction, never a decimal: 30 → "30",
/// 29.97 → "30000/1001", anything else to the nearest 1/1000.
fn frame_rate_fraction(fps: f64) -> String {
    let ntsc = fps * 1.001;
    if (fps - fps.round()).abs() < 0.005 {
        format!("{}", fps.round() as u64)
    } else if (ntsc - ntsc.round()).abs() < 0.005 {
        format!("{}/1001", ntsc.round() as u64 * 1000)
    } else {
        format!("{}/1000", (fps * 1000.0).round() as u64)
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
