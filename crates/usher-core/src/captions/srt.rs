//! SubRip (`.srt`) to WebVTT. An SRT file is blocks separated by blank lines: a cue
//! number, a timing line `hh:mm:ss,mmm --> hh:mm:ss,mmm` (SubRip's optional `X1:… Y2:…`
//! coordinates after it are dropped), and text lines. The number is kept as the cue's
//! identifier. The text is SubRip's loose HTML: `<i> <b> <u>` are WebVTT tags too and
//! are kept, `<font …>` and `{\an8}`-style overrides are dropped, and every other `<`,
//! `&` and `>` is escaped, so nothing in the text can read as WebVTT markup or as a
//! `-->`. Broken input is refused naming the line, never guessed at.

use super::CaptionError;
use super::timestamp::{self, Millis, format_vtt_timestamp};
use super::vtt::quote;

/// How far a `<…>` tag or `{\…}` override may reach; anything longer is text. Bounds the
/// work per character, so no input makes conversion quadratic.
const MAX_TAG_LEN: usize = 256;

/// Converts normalised SRT text (LF line endings, no byte-order mark) to WebVTT.
pub(crate) fn to_webvtt(text: &str) -> Result<String, CaptionError> {
    let lines: Vec<&str> = text.split('\n').collect();
    let blank = |l: &str| l.trim().is_empty();
    let mut out = String::with_capacity(text.len() + text.len() / 8 + 16);
    out.push_str("WEBVTT\n");
    let mut first_block = true;
    let mut i = 0;
    loop {
        while i < lines.len() && blank(lines[i]) {
            i += 1;
        }
        if i >= lines.len() {
            break;
        }
        let head = lines[i].trim();
        let number = if !head.is_empty() && head.bytes().all(|b| b.is_ascii_digit()) {
            i += 1;
            Some(head)
        } else if head.contains("-->") {
            // A missing cue number is a common slip and harmless: the timing line says
            // where the cue starts.
            None
        } else {
            let expected = format!("expected a cue number, found {}", quote(head));
            let message = if first_block {
                format!("the file is neither WebVTT (which starts with WEBVTT) nor SRT: {expected}")
            } else {
                expected
            };
            return Err(CaptionError::new(i + 1, message));
        };
        first_block = false;
        let Some(timing) = lines.get(i).filter(|l| !blank(l)) else {
            return Err(CaptionError::new(
                i + 1,
                "expected a timing line such as \"00:00:01,000 --> 00:00:04,000\" after the cue number",
            ));
        };
        let (start, end) = timing_line(timing).map_err(|m| CaptionError::new(i + 1, m))?;
        if end <= start {
            return Err(CaptionError::new(
                i + 1,
                format!(
                    "the cue ends ({}) {} it starts ({})",
                    format_vtt_timestamp(end),
                    if end == start { "when" } else { "before" },
                    format_vtt_timestamp(start)
                ),
            ));
        }
        i += 1;
        out.push('\n');
        if let Some(n) = number {
            out.push_str(n);
            out.push('\n');
        }
        out.push_str(&format_vtt_timestamp(start));
        out.push_str(" --> ");
        out.push_str(&format_vtt_timestamp(end));
        out.push('\n');
        while i < lines.len() && !blank(lines[i]) {
            if lines[i].contains("-->") {
                return Err(CaptionError::new(
                    i + 1,
                    "cue text must not contain \"-->\" (is a blank line missing before this cue?)",
                ));
            }
            let converted = payload(lines[i]);
            // An empty line would end the cue in WebVTT.
            if !converted.trim().is_empty() {
                out.push_str(&converted);
                out.push('\n');
            }
            i += 1;
        }
    }
    if first_block {
        return Err(CaptionError::new(1, "the file is empty"));
    }
    Ok(out)
}

/// `start --> end [X1:… X2:… Y1:… Y2:…]`.
fn timing_line(line: &str) -> Result<(Millis, Millis), String> {
    let Some((start, rest)) = line.split_once("-->") else {
        return Err(format!(
            "expected a timing line such as \"00:00:01,000 --> 00:00:04,000\", found {}",
            quote(line.trim())
        ));
    };
    let start = start.trim();
    let end = rest.split_whitespace().next().unwrap_or("");
    if rest.contains("-->") {
        return Err("a timing line has one \"-->\"".into());
    }
    let start = timestamp::parse_srt(start).map_err(|e| format!("bad start time: {e}"))?;
    let end = timestamp::parse_srt(end).map_err(|e| format!("bad end time: {e}"))?;
    Ok((start, end))
}

/// One line of SRT text as WebVTT cue text.
fn payload(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut rest = line.trim_end();
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                if let Some((kept, after)) = html_tag(rest) {
                    out.push_str(kept);
                    rest = after;
                    continue;
                }
                out.push_str("&lt;");
            }
            '{' if rest.starts_with("{\\") => {
                if let Some(end) = closing(rest, b'}') {
                    rest = &rest[end + 1..];
                    continue;
                }
                out.push('{');
            }
            '&' => out.push_str("&amp;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The byte index of `byte` within [`MAX_TAG_LEN`] of the start of `s`.
fn closing(s: &str, byte: u8) -> Option<usize> {
    s.as_bytes()
        .iter()
        .take(MAX_TAG_LEN)
        .position(|&b| b == byte)
}

/// The SubRip tag `s` starts with, as WebVTT (empty when dropped), and what follows it.
fn html_tag(s: &str) -> Option<(&'static str, &str)> {
    let end = closing(s, b'>')?;
    let inner = s[1..end].trim().to_ascii_lowercase();
    let kept = match inner.as_str() {
        "i" => "<i>",
        "/i" => "</i>",
        "b" => "<b>",
        "/b" => "</b>",
        "u" => "<u>",
        "/u" => "</u>",
        "font" | "/font" => "",
        other if other.starts_with("font ") => "",
        _ => return None,
    };
    Some((kept, &s[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_cues_become_webvtt() {
        let vtt = to_webvtt(
            "1\n00:00:01,000 --> 00:00:02,000 X1:10 X2:20 Y1:5 Y2:9\nOne\nTwo\n\n\n\
             2\n00:00:02,500 --> 00:00:03.000\n<I>tilted</I> <font color=\"red\">red</font>\n\n\
             00:00:04,000 --> 00:00:05,000\n{\\an8}top\n",
        )
        .unwrap();
        assert_eq!(
            vtt,
            "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nOne\nTwo\n\n\
             2\n00:00:02.500 --> 00:00:03.000\n<i>tilted</i> red\n\n\
             00:00:04.000 --> 00:00:05.000\ntop\n"
        );
    }

    #[test]
    fn text_cannot_become_markup() {
        assert_eq!(payload("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
        assert_eq!(
            payload("<c.red>x</c> <v Bob>"),
            "&lt;c.red&gt;x&lt;/c&gt; &lt;v Bob&gt;"
        );
        assert_eq!(payload("<b>bold</b><u>u</u>"), "<b>bold</b><u>u</u>");
        assert_eq!(payload("{not an override}"), "{not an override}");
        assert_eq!(payload("{\\unclosed"), "{\\unclosed");
        // A line that is only a dropped tag is dropped, not left as a blank line.
        let vtt = to_webvtt("1\n00:00:01,000 --> 00:00:02,000\n<font color=red>\nkept\n").unwrap();
        assert!(vtt.ends_with("00:00:02.000\nkept\n"), "{vtt}");
    }

    #[test]
    fn broken_srt_is_refused_naming_the_line() {
        for (text, line, want) in [
            ("hello\n", 1, "neither WebVTT"),
            ("1\n", 2, "expected a timing line"),
            (
                "1\n\n00:00:01,000 --> 00:00:02,000\n",
                2,
                "expected a timing line",
            ),
            (
                "1\n00:00:01,000 -> 00:00:02,000\n",
                2,
                "expected a timing line",
            ),
            ("1\n00:00:01 --> 00:00:02,000\n", 2, "bad start time"),
            ("1\n00:00:01,000 --> 2\n", 2, "bad end time"),
            (
                "1\n00:00:02,000 --> 00:00:01,000\nx\n",
                2,
                "before it starts",
            ),
            (
                "1\n00:00:01,000 --> 00:00:02,000 --> 00:00:03,000\n",
                2,
                "one \"-->\"",
            ),
            (
                "1\n00:00:01,000 --> 00:00:02,000\na\n2\n00:00:03,000 --> 00:00:04,000\nb\n",
                5,
                "blank line missing",
            ),
            (
                "1\n00:00:01,000 --> 00:00:02,000\na\n\nb\n",
                5,
                "expected a cue number, found \"b\"",
            ),
        ] {
            let e = to_webvtt(text).expect_err(text);
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(want), "{text:?}: {e}");
        }
    }
}
