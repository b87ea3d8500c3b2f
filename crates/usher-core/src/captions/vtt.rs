//! WebVTT validation, following the W3C WebVTT parser (§6.1) where it decides what a
//! player shows, and refusing what that parser would silently drop or misread:
//!
//! - the `WEBVTT` signature on line 1, optionally followed by a space or tab and text;
//! - header lines up to the first blank line (old files carry `Kind:`/`Language:` there);
//!   a timing line inside the header would be ignored by players, so it is refused;
//! - blocks separated by blank lines: `NOTE` comments anywhere, `STYLE` and `REGION`
//!   blocks only before the first cue (players ignore them after it), and cues: an
//!   optional identifier line, a timing line `start --> end [settings]`, payload lines;
//! - a timing line that does not parse, an end not after its start, settings that are
//!   not WebVTT's, `-->` inside a comment, style, region or cue payload (which a player
//!   reads as the start of another cue), or a file with no cue at all.
//!
//! Cues out of start order are accepted: players sort them, as the parser does.

use super::timestamp::{self, Millis, format_vtt_timestamp};
use super::{CaptionError, vtt_settings};

pub(crate) const SIGNATURE: &str = "WEBVTT";
const ARROW: &str = "-->";
/// How much of an offending line an error message quotes.
const QUOTE_CHARS: usize = 40;

/// What a valid file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VttSummary {
    pub(crate) cues: usize,
    pub(crate) last_cue_end: Millis,
}

/// Checks normalised WebVTT text (LF line endings, no byte-order mark).
pub(crate) fn validate(text: &str) -> Result<VttSummary, CaptionError> {
    let lines: Vec<&str> = text.split('\n').collect();
    check_signature(lines.first().copied().unwrap_or(""))?;

    // The header: everything up to the first blank line.
    let mut i = 1;
    while i < lines.len() && !lines[i].is_empty() {
        if lines[i].contains(ARROW) {
            return Err(CaptionError::new(
                i + 1,
                "a blank line must separate the WEBVTT header from the first cue",
            ));
        }
        i += 1;
    }

    let mut summary = VttSummary {
        cues: 0,
        last_cue_end: 0,
    };
    loop {
        while i < lines.len() && lines[i].is_empty() {
            i += 1;
        }
        if i >= lines.len() {
            break;
        }
        let start = i;
        while i < lines.len() && !lines[i].is_empty() {
            i += 1;
        }
        block(&lines[start..i], start + 1, &mut summary)?;
    }
    if summary.cues == 0 {
        let last = lines.iter().rposition(|l| !l.is_empty()).unwrap_or(0) + 1;
        return Err(CaptionError::new(
            last,
            "the file has no cues (a cue is a line like \"00:00:01.000 --> 00:00:04.000\" \
             followed by its text)",
        ));
    }
    Ok(summary)
}

fn check_signature(first: &str) -> Result<(), CaptionError> {
    let Some(rest) = first.strip_prefix(SIGNATURE) else {
        return Err(CaptionError::new(
            1,
            "a WebVTT file must start with the line WEBVTT",
        ));
    };
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return Err(CaptionError::new(
            1,
            "WEBVTT must be followed by a space, a tab or the end of the line",
        ));
    }
    if rest.contains(ARROW) {
        return Err(CaptionError::new(
            1,
            "the WEBVTT line must not contain \"-->\" (put the first cue after a blank line)",
        ));
    }
    Ok(())
}

/// `NOTE`, then a space, a tab or the end of the line.
fn is_keyword_line(line: &str, keyword: &str, text_may_follow: bool) -> bool {
    line.strip_prefix(keyword).is_some_and(|rest| {
        if text_may_follow {
            rest.is_empty() || rest.starts_with([' ', '\t'])
        } else {
            rest.bytes().all(|b| b == b' ' || b == b'\t')
        }
    })
}

/// One block of non-blank lines, the first being line `first_line` of the file.
fn block(lines: &[&str], first_line: usize, summary: &mut VttSummary) -> Result<(), CaptionError> {
    let first = lines.first().copied().unwrap_or("");
    // (what the block is, whether it may only come before the first cue)
    let kind = if is_keyword_line(first, "NOTE", true) {
        Some(("NOTE comment", false))
    } else if is_keyword_line(first, "STYLE", false) {
        Some(("STYLE block", true))
    } else if is_keyword_line(first, "REGION", false) {
        Some(("REGION block", true))
    } else {
        None
    };
    if let Some((kind, before_cues)) = kind {
        if before_cues && summary.cues > 0 {
            return Err(CaptionError::new(
                first_line,
                format!("a {kind} must come before the first cue (players ignore it after)"),
            ));
        }
        if let Some(n) = lines.iter().position(|l| l.contains(ARROW)) {
            return Err(CaptionError::new(
                first_line + n,
                format!(
                    "a {kind} must not contain \"-->\" (is a blank line missing before this cue?)"
                ),
            ));
        }
        return Ok(());
    }

    // A cue: the timing line is the first line, or the second after an identifier.
    let timing = if first.contains(ARROW) {
        0
    } else if lines.get(1).is_some_and(|l| l.contains(ARROW)) {
        1
    } else {
        let (at, after) = if lines.len() > 1 {
            (
                first_line + 1,
                format!(" after the cue identifier {}", quote(first)),
            )
        } else {
            (first_line, format!(", found {}", quote(first)))
        };
        return Err(CaptionError::new(
            at,
            format!("expected a cue timing line such as \"00:00:01.000 --> 00:00:04.000\"{after}"),
        ));
    };
    let timing_line = first_line + timing;
    let (start, end) =
        timing_line_times(lines[timing]).map_err(|m| CaptionError::new(timing_line, m))?;
    if end <= start {
        return Err(CaptionError::new(
            timing_line,
            format!(
                "the cue ends ({}) {} it starts ({})",
                format_vtt_timestamp(end),
                if end == start { "when" } else { "before" },
                format_vtt_timestamp(start)
            ),
        ));
    }
    if let Some(n) = lines[timing + 1..].iter().position(|l| l.contains(ARROW)) {
        return Err(CaptionError::new(
            timing_line + 1 + n,
            "cue text must not contain \"-->\" (is a blank line missing before this cue?)",
        ));
    }
    summary.cues += 1;
    summary.last_cue_end = summary.last_cue_end.max(end);
    Ok(())
}

/// `start --> end [settings]`, as the parser's "collect WebVTT cue timings and settings".
fn timing_line_times(line: &str) -> Result<(Millis, Millis), String> {
    let rest = line.trim_start_matches(is_ws);
    let (start, rest) = timestamp::parse_vtt(rest)
        .map_err(|e| format!("bad start time {}: {e}", quote(word(rest))))?;
    let rest = rest.trim_start_matches(is_ws);
    let Some(rest) = rest.strip_prefix(ARROW) else {
        return Err(format!(
            "expected \"-->\" after the start time, found {}",
            quote(rest)
        ));
    };
    let rest = rest.trim_start_matches(is_ws);
    let (end, settings) = timestamp::parse_vtt(rest)
        .map_err(|e| format!("bad end time {}: {e}", quote(word(rest))))?;
    if !(settings.is_empty() || settings.starts_with(is_ws)) {
        return Err(format!(
            "bad end time {}: unexpected text after the milliseconds",
            quote(word(rest))
        ));
    }
    if settings.contains(ARROW) {
        return Err("a timing line has one \"-->\"".into());
    }
    vtt_settings::check(settings)?;
    Ok((start, end))
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0C')
}

/// The text up to the first whitespace.
fn word(s: &str) -> &str {
    s.split(is_ws).next().unwrap_or("")
}

/// `s` in quotes, shortened for an error message.
pub(crate) fn quote(s: &str) -> String {
    if s.chars().count() > QUOTE_CHARS {
        let short: String = s.chars().take(QUOTE_CHARS).collect();
        format!("{:?}…", short)
    } else {
        format!("{s:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> VttSummary {
        validate(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn err(text: &str) -> CaptionError {
        validate(text).expect_err(text)
    }

    #[test]
    fn the_spec_examples_are_accepted() {
        let s = ok("WEBVTT\n\n00:11.000 --> 00:13.000\n<v Roger Bingham>We are in New York City\n");
        assert_eq!(
            s,
            VttSummary {
                cues: 1,
                last_cue_end: 13_000
            }
        );
        let s = ok(
            "WEBVTT - This file has cues.\nKind: captions\nLanguage: en\n\n\
                    NOTE\nThis is a comment\nover two lines\n\n\
                    STYLE\n::cue { color: lime }\n\n\
                    REGION\nid:fred\nwidth:40%\n\n\
                    1\n00:00:00.000 --> 00:00:02.000 align:start region:fred\nHello\n\n\
                    NOTE a comment between cues\n\n\
                    intro-2\n01:00:00.000 --> 01:00:02.500\nline one\nline two\n\n\
                    00:00:05.000-->00:00:06.000\n\n\n",
        );
        assert_eq!(
            s,
            VttSummary {
                cues: 3,
                last_cue_end: 3_602_500
            }
        );
        // Out of order, tabs as separators, an empty payload.
        let s = ok("WEBVTT\t\n\n00:05.000\t-->\t00:06.000\nb\n\n00:01.000 --> 00:02.000\n");
        assert_eq!(
            s,
            VttSummary {
                cues: 2,
                last_cue_end: 6_000
            }
        );
    }

    #[test]
    fn each_refusal_names_its_line() {
        for (text, line, want) in [
            ("WEBVT\n", 1, "must start with the line WEBVTT"),
            (
                "WEBVTTX\n\n00:01.000 --> 00:02.000\n",
                1,
                "followed by a space",
            ),
            ("webvtt\n", 1, "must start with"),
            ("WEBVTT --> x\n", 1, "must not contain"),
            (
                "WEBVTT\n00:01.000 --> 00:02.000\nhi\n",
                2,
                "blank line must separate",
            ),
            ("WEBVTT\n", 1, "no cues"),
            ("WEBVTT\n\nNOTE only a note\n", 3, "no cues"),
            ("WEBVTT\n\nhello\n", 3, "expected a cue timing line"),
            (
                "WEBVTT\n\nid\nhello\n",
                4,
                "after the cue identifier \"id\"",
            ),
            (
                "WEBVTT\n\n1\n00:00:01,000 --> 00:00:02,000\nx\n",
                4,
                "not a \",\" as in SRT",
            ),
            (
                "WEBVTT\n\n00:01.000 -> 00:02.000\n",
                3,
                "expected a cue timing line",
            ),
            (
                "WEBVTT\n\n00:01.000 x --> 00:02.000\n",
                3,
                "expected \"-->\" after the start",
            ),
            (
                "WEBVTT\n\n00:02.000 --> 00:01.000\n",
                3,
                "ends (00:00:01.000) before it starts",
            ),
            ("WEBVTT\n\n00:02.000 --> 00:02.000\n", 3, "when it starts"),
            ("WEBVTT\n\n00:01.000 --> 00:02.000x\n", 3, "unexpected text"),
            (
                "WEBVTT\n\n00:01.000 --> 00:02.000 --> 00:03.000\n",
                3,
                "one \"-->\"",
            ),
            (
                "WEBVTT\n\n00:01.000 --> 00:02.000 align:centre\n",
                3,
                "invalid value",
            ),
            (
                "WEBVTT\n\n00:01.000 --> 00:02.000\na\n00:03.000 --> 00:04.000\n",
                5,
                "cue text",
            ),
            (
                "WEBVTT\n\nNOTE\n00:01.000 --> 00:02.000\n",
                4,
                "a NOTE comment must not",
            ),
            (
                "WEBVTT\n\n00:01.000 --> 00:02.000\n\nSTYLE\n::cue {}\n",
                5,
                "STYLE block must come before",
            ),
            (
                "WEBVTT\n\n00:01.000 --> 00:02.000\n\nREGION\nid:x\n",
                5,
                "REGION block must come before",
            ),
            ("WEBVTT\n\nSTYLE\na --> b\n", 4, "a STYLE block must not"),
            (
                "WEBVTT\n\n00:01.000 --> 00:02.000\n\nx\n",
                5,
                "expected a cue timing line",
            ),
        ] {
            let e = err(text);
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn keyword_lines_need_their_separator() {
        // "NOTEBOOK" is not a comment, so it must be a cue identifier.
        let e = err("WEBVTT\n\nNOTEBOOK\nx\n");
        assert!(e.message.contains("after the cue identifier"), "{e}");
        assert_eq!(ok("WEBVTT\n\nNOTEBOOK\n00:01.000 --> 00:02.000\n").cues, 1);
        assert_eq!(
            ok("WEBVTT\n\nSTYLE \t\n\n00:01.000 --> 00:02.000\n").cues,
            1
        );
    }

    #[test]
    fn long_lines_are_quoted_short() {
        let e = err(&format!("WEBVTT\n\n{}\n", "z".repeat(500)));
        assert!(e.message.len() < 200, "{e}");
        assert!(e.message.ends_with('…'), "{e}");
    }
}
