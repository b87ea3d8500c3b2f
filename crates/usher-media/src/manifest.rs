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

/// What a video's masters list beside its ladder: additional audio tracks and captions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tracks {
    /// Additional audio renditions, in the order players should list them.
    pub audio: Vec<AudioTrack>,
    /// Captions, in the order players should list them.
    pub captions: Vec<Caption>,
}

/// An additional audio track: its rendition (whose `id` is its directory under
/// `manifest/`, `t{uid}`), the label shown to viewers and whether it plays by default.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioTrack {
    pub rendition: Rendition,
    pub label: String,
    pub default: bool,
}

/// A caption track: a single WebVTT file per language under `manifest/{id}/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caption {
    /// Its directory under `manifest/`: [`caption_dir`] of the language.
    pub id: String,
    /// BCP 47 tag.
    pub language: String,
    pub label: String,
}

/// HLS `GROUP-ID` of the captions.
pub const SUBTITLES_GROUP: &str = "subs";
/// The WebVTT file inside a caption's directory.
pub const CAPTIONS_FILE: &str = "captions.vtt";
/// HLS `NAME` of the video's own audio when additional tracks are listed beside it.
pub const ORIGINAL_AUDIO_LABEL: &str = "Original";
/// Nominal bit rate of a caption track in DASH (`@bandwidth` is mandatory): text is tiny
/// next to any media.
const CAPTION_BANDWIDTH: u64 = 256;

/// Directory under `manifest/` of the captions in `language` (a BCP 47 tag).
pub fn caption_dir(language: &str) -> String {
    format!("cc-{language}")
}

/// One entry of an audio group: the ladder's own audio or an additional track.
struct AudioEntry<'a> {
    rendition: &'a Rendition,
    name: String,
    default: bool,
}

/// The audio group: the ladder's own audio first ("Original" once other tracks stand
/// beside it), then the additional tracks. Exactly one is the default: the track marked
/// so, else the original, else the first.
fn audio_entries<'a>(index: &'a SegmentIndex, tracks: &'a Tracks) -> Vec<AudioEntry<'a>> {
    let extra_default = tracks.audio.iter().position(|t| t.default);
    let mut entries: Vec<AudioEntry> = index
        .audio()
        .enumerate()
        .map(|(i, r)| AudioEntry {
            rendition: r,
            name: if tracks.audio.is_empty() {
                format!("audio {i}")
            } else {
                ORIGINAL_AUDIO_LABEL.to_owned()
            },
            default: false,
        })
        .collect();
    let originals = entries.len();
    entries.extend(tracks.audio.iter().map(|t| AudioEntry {
        rendition: &t.rendition,
        name: t.label.clone(),
        default: false,
    }));
    let default = match extra_default {
        Some(i) => originals + i,
        None => 0,
    };
    if let Some(e) = entries.get_mut(default) {
        e.default = true;
    }
    unique_names(entries.iter_mut().map(|e| &mut e.name));
    entries
}

/// HLS requires `NAME`s unique within a group: later duplicates get a number.
fn unique_names<'a>(names: impl Iterator<Item = &'a mut String>) {
    let mut seen: Vec<String> = Vec::new();
    for name in names {
        let base = name.clone();
        let mut n = 2;
        while seen.contains(name) {
            *name = format!("{base} {n}");
            n += 1;
        }
        seen.push(name.clone());
    }
}

/// A value for an HLS quoted-string attribute: no double quotes, no line breaks.
fn quoted(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// The master playlist without additional tracks (what packaging writes into a
/// generation).
pub fn hls_master(index: &SegmentIndex) -> String {
    hls_master_with(index, &Tracks::default())
}

/// The master playlist: one `EXT-X-STREAM-INF` per video rendition, audio as an
/// alternate rendition group so that video and audio segments stay separate files, and
/// captions as a `SUBTITLES` group.
pub fn hls_master_with(index: &SegmentIndex, tracks: &Tracks) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    let audio = audio_entries(index, tracks);
    for a in &audio {
        let default = if a.default { "YES" } else { "NO" };
        let channels = match a.rendition.track {
            Track::Audio { channels, .. } => format!(",CHANNELS=\"{channels}\""),
            Track::Video { .. } => String::new(),
        };
        let _ = writeln!(
            out,
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{AUDIO_GROUP}\",NAME=\"{}\",DEFAULT={default},AUTOSELECT={default}{channels},URI=\"{}/{PLAYLIST_FILE}\"",
            quoted(&a.name),
            a.rendition.id
        );
    }
    let mut caption_names: Vec<String> = tracks.captions.iter().map(|c| c.label.clone()).collect();
    unique_names(caption_names.iter_mut());
    for (c, name) in tracks.captions.iter().zip(&caption_names) {
        let _ = writeln!(
            out,
            "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"{SUBTITLES_GROUP}\",NAME=\"{}\",LANGUAGE=\"{}\",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI=\"{}/{PLAYLIST_FILE}\"",
            quoted(name),
            quoted(&c.language),
            c.id
        );
    }
    // The group's heaviest rendition, which a client may pair with any video variant.
    let audio_peak = audio
        .iter()
        .map(|a| a.rendition.bandwidth)
        .max()
        .unwrap_or(0);
    let audio_average = audio
        .iter()
        .map(|a| a.rendition.average_bandwidth)
        .max()
        .unwrap_or(0);
    let mut audio_codecs: Vec<&str> = Vec::new();
    for a in &audio {
        if !audio_codecs.contains(&a.rendition.codecs.as_str()) {
            audio_codecs.push(&a.rendition.codecs);
        }
    }
    for v in index.video() {
        let codecs = std::iter::once(v.codecs.as_str())
            .chain(audio_codecs.iter().copied())
            .collect::<Vec<_>>()
            .join(",");
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
        if !tracks.captions.is_empty() {
            let _ = write!(out, ",SUBTITLES=\"{SUBTITLES_GROUP}\"");
        }
        let _ = writeln!(out, "\n{}/{PLAYLIST_FILE}", v.id);
    }
    out
}

/// A caption's media playlist: the whole WebVTT file as one segment spanning the video.
pub fn hls_subtitles(duration_secs: f64) -> String {
    let duration = duration_secs.max(0.001);
    format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{}\n#EXT-X-PLAYLIST-TYPE:VOD\n\
         #EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:{duration:.6},\n{CAPTIONS_FILE}\n#EXT-X-ENDLIST\n",
        duration.ceil() as u64
    )
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

/// The MPD without additional tracks (what packaging writes into a generation).
pub fn dash_mpd(index: &SegmentIndex) -> String {
    dash_mpd_with(index, &Tracks::default())
}

/// A static MPD over the same segments: one AdaptationSet for all the video, one per
/// audio track (they are different content, not bit rates of one), one per caption;
/// every Representation with a SegmentTemplate and an exact SegmentTimeline.
pub fn dash_mpd_with(index: &SegmentIndex, tracks: &Tracks) -> String {
    let max_segment = index
        .renditions
        .iter()
        .chain(tracks.audio.iter().map(|t| &t.rendition))
        .flat_map(|r| r.segments.iter().map(move |s| r.seconds(s.duration)))
        .fold(0.0, f64::max);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" \
         type=\"static\" mediaPresentationDuration=\"{}\" minBufferTime=\"{}\">\n  <Period id=\"0\" start=\"PT0S\">\n",
        duration(index.duration_secs),
        duration(max_segment),
    );
    let mut set_id = 0;
    let video: Vec<&Rendition> = index.video().collect();
    if let Some(first) = video.first() {
        let aligned = video.iter().all(|v| same_timeline(v, first));
        let (max_w, max_h) = video.iter().fold((0, 0), |(w, h), v| match v.track {
            Track::Video { width, height, .. } => (w.max(width), h.max(height)),
            Track::Audio { .. } => (w, h),
        });
        let _ = writeln!(
            out,
            "    <AdaptationSet id=\"{set_id}\" contentType=\"video\" mimeType=\"video/mp4\" segmentAlignment=\"{aligned}\" \
             startWithSAP=\"1\" maxWidth=\"{max_w}\" maxHeight=\"{max_h}\">"
        );
        for v in &video {
            representation(&mut out, v);
        }
        out.push_str("    </AdaptationSet>\n");
        set_id += 1;
    }
    let audio = audio_entries(index, tracks);
    let labelled = !tracks.audio.is_empty();
    for a in &audio {
        let _ = writeln!(
            out,
            "    <AdaptationSet id=\"{set_id}\" contentType=\"audio\" mimeType=\"audio/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\">"
        );
        if labelled {
            let role = if a.default { "main" } else { "alternate" };
            let _ = writeln!(
                out,
                "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"{role}\"/>\n      <Label>{}</Label>",
                xml_escape(&a.name)
            );
        }
        representation(&mut out, a.rendition);
        out.push_str("    </AdaptationSet>\n");
        set_id += 1;
    }
    for c in &tracks.captions {
        let _ = writeln!(
            out,
            "    <AdaptationSet id=\"{set_id}\" contentType=\"text\" mimeType=\"text/vtt\" lang=\"{}\">\n\
             \x20     <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"subtitle\"/>\n\
             \x20     <Label>{}</Label>\n\
             \x20     <Representation id=\"{}\" bandwidth=\"{CAPTION_BANDWIDTH}\">\n\
             \x20       <BaseURL>{}/{CAPTIONS_FILE}</BaseURL>\n\
             \x20     </Representation>\n    </AdaptationSet>",
            xml_escape(&c.language),
            xml_escape(&c.label),
            xml_escape(&c.id),
            xml_escape(&c.id),
        );
        set_id += 1;
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
