//! Property tests of the caption parsers: no input makes them panic; generated valid
//! WebVTT is accepted with its cue count and end, and comes back unchanged; generated
//! SRT converts to WebVTT that the validator accepts, with the same cues; well-formed
//! tags of known languages parse in any case to one canonical spelling.

use proptest::prelude::*;

use super::endonyms::LANGUAGES;
use super::timestamp::format_vtt_timestamp;
use super::{CaptionFormat, LanguageTag, read_caption_file};

#[derive(Debug, Clone)]
struct Cue {
    id: Option<String>,
    start: u64,
    duration: u64,
    settings: &'static str,
    lines: Vec<String>,
}

fn cue() -> impl Strategy<Value = Cue> {
    (
        proptest::option::of("[a-z0-9][a-z0-9 _-]{0,11}"),
        0u64..20_000_000_000,
        1u64..600_000,
        prop::sample::select(vec![
            "",
            " align:start",
            " line:0 position:50%,center size:80%",
            "\tvertical:rl",
        ]),
        prop::collection::vec("[a-zA-Z0-9 ,.!?'<>&/éü日本-]{1,30}", 0..4),
    )
        .prop_map(|(id, start, duration, settings, lines)| Cue {
            id,
            start,
            duration,
            settings,
            lines,
        })
        // Payload lines may hold anything but "-->" and must not be blank.
        .prop_filter("payload", |c| {
            c.lines
                .iter()
                .all(|l| !l.contains("-->") && !l.trim().is_empty())
        })
}

/// `mm:ss.ttt` when the time allows and `short` is asked for, else `hh:mm:ss.ttt`.
fn vtt_time(t: u64, short: bool) -> String {
    let long = format_vtt_timestamp(t);
    if short && t < 3_600_000 {
        long[3..].to_owned()
    } else {
        long
    }
}

fn webvtt(cues: &[Cue], short: bool) -> String {
    let mut out = String::from("WEBVTT\n");
    for c in cues {
        out.push('\n');
        if let Some(id) = &c.id {
            out.push_str(id);
            out.push('\n');
        }
        let end = c.start + c.duration;
        out.push_str(&format!(
            "{} --> {}{}\n",
            vtt_time(c.start, short),
            vtt_time(end, short),
            c.settings
        ));
        for l in &c.lines {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

fn srt_time(t: u64) -> String {
    format_vtt_timestamp(t).replace('.', ",")
}

fn srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (n, c) in cues.iter().enumerate() {
        out.push_str(&format!(
            "{}\r\n{} --> {}\r\n",
            n + 1,
            srt_time(c.start),
            srt_time(c.start + c.duration)
        ));
        for l in &c.lines {
            out.push_str(l);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
    }
    out
}

fn last_end(cues: &[Cue]) -> u64 {
    cues.iter().map(|c| c.start + c.duration).max().unwrap_or(0)
}

/// A well-formed tag of a known language, in random case.
fn language_tag() -> impl Strategy<Value = String> {
    (
        prop::sample::select(LANGUAGES.iter().map(|(c, _)| *c).collect::<Vec<_>>()),
        proptest::option::of("[A-Za-z]{4}"),
        proptest::option::of(prop_oneof!["[A-Za-z]{2}", "[0-9]{3}"]),
        proptest::option::of("[0-9][A-Za-z0-9]{3}|[A-Za-z0-9]{5,8}"),
        proptest::option::of("[A-Za-z0-9]{2,8}(-[A-Za-z0-9]{2,8}){0,2}"),
        proptest::option::of("[A-Za-z0-9]{1,8}"),
        any::<u64>(),
    )
        .prop_map(|(lang, script, region, variant, ext, private, case)| {
            let mut parts = vec![lang.to_owned()];
            parts.extend(script);
            parts.extend(region);
            parts.extend(variant);
            if let Some(e) = ext {
                parts.push("u".into());
                parts.push(e);
            }
            if let Some(p) = private {
                parts.push("x".into());
                parts.push(p);
            }
            let tag = parts.join("-");
            tag.chars()
                .enumerate()
                .map(|(i, c)| {
                    if case >> (i % 64) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect()
        })
        .prop_filter("fits", |t: &String| t.len() <= super::MAX_LANGUAGE_TAG_LEN)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_bytes_make_the_reader_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = read_caption_file(&bytes);
    }

    #[test]
    fn no_near_miss_text_makes_the_reader_panic(
        text in "(WEBVTT|1|NOTE|\u{FEFF}WEBVTT)[\r\n\t 0-9:.,>x-]{0,300}"
    ) {
        let _ = read_caption_file(text.as_bytes());
    }

    #[test]
    fn generated_webvtt_is_accepted_and_round_trips(
        cues in prop::collection::vec(cue(), 1..12),
        short in any::<bool>(),
    ) {
        let text = webvtt(&cues, short);
        let f = read_caption_file(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(f.format, CaptionFormat::WebVtt);
        prop_assert_eq!(f.cues, cues.len());
        prop_assert_eq!(f.last_cue_end, last_end(&cues));
        prop_assert_eq!(&f.webvtt, &text);
        // The same file with Windows line endings and a byte-order mark reads the same.
        let crlf = format!("\u{FEFF}{}", text.replace('\n', "\r\n"));
        prop_assert_eq!(read_caption_file(crlf.as_bytes()).unwrap().webvtt, text);
    }

    #[test]
    fn generated_srt_converts_to_valid_webvtt(cues in prop::collection::vec(cue(), 1..12)) {
        let text = srt(&cues);
        let f = read_caption_file(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(f.format, CaptionFormat::Srt);
        prop_assert_eq!(f.cues, cues.len());
        prop_assert_eq!(f.last_cue_end, last_end(&cues));
        // The converted file is itself accepted as WebVTT, unchanged.
        let again = read_caption_file(f.webvtt.as_bytes()).unwrap();
        prop_assert_eq!(again.format, CaptionFormat::WebVtt);
        prop_assert_eq!(again.cues, cues.len());
        prop_assert_eq!(&again.webvtt, &f.webvtt);
    }

    #[test]
    fn no_string_makes_the_tag_parser_panic(s in "\\PC{0,80}") {
        if let Ok(t) = LanguageTag::parse(&s) {
            prop_assert!(!t.label().is_empty());
        }
    }

    #[test]
    fn well_formed_tags_parse_to_one_canonical_spelling(tag in language_tag()) {
        let t = LanguageTag::parse(&tag).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(t.as_str().eq_ignore_ascii_case(&tag));
        prop_assert_eq!(LanguageTag::parse(&tag.to_ascii_lowercase()).unwrap(), t.clone());
        prop_assert_eq!(LanguageTag::parse(&tag.to_ascii_uppercase()).unwrap(), t.clone());
        let again = LanguageTag::parse(t.as_str()).unwrap();
        prop_assert_eq!(again.as_str(), t.as_str());
        prop_assert!(!t.label().is_empty());
    }
}
