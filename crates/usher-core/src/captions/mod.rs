//! Caption files and caption languages (SPEC §7 "Captions"), parsed before anything is
//! stored: an uploaded file is WebVTT (checked against the W3C WebVTT rules that decide
//! whether players show it) or SRT (converted to WebVTT), and a caption's language is a
//! BCP 47 tag with a label in that language. Pure functions over bytes and strings, so
//! the API, the publisher and the property tests share one reading of a file.

mod endonyms;
mod language;
mod srt;
mod text;
mod timestamp;
mod vtt;
mod vtt_settings;

#[cfg(test)]
mod proptests;

pub use language::{LanguageTag, LanguageTagError, MAX_LANGUAGE_TAG_LEN};
pub use timestamp::{Millis, format_vtt_timestamp};

/// A refused caption file: the line (1-based, counted in the file as uploaded) and what
/// is wrong there, worded for the person who made the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CaptionError {
    pub line: usize,
    pub message: String,
}

impl CaptionError {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

/// What the uploaded file was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptionFormat {
    WebVtt,
    /// SubRip (`.srt`), converted to WebVTT.
    Srt,
}

/// An accepted caption file, as WebVTT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptionFile {
    pub format: CaptionFormat,
    /// The WebVTT text: UTF-8, no byte-order mark, LF line endings, ending in a newline.
    pub webvtt: String,
    /// How many cues it has (at least one).
    pub cues: usize,
    /// When the last cue to end ends.
    pub last_cue_end: Millis,
}

/// Reads an uploaded caption file: WebVTT when it starts with `WEBVTT` (after an optional
/// byte-order mark), otherwise SRT, which is converted. Refuses anything a player would
/// not show as written, naming the line.
pub fn read_caption_file(bytes: &[u8]) -> Result<CaptionFile, CaptionError> {
    let text = text::normalise(bytes)?;
    if text.trim().is_empty() {
        return Err(CaptionError::new(1, "the file is empty"));
    }
    if text.starts_with(vtt::SIGNATURE) {
        let summary = vtt::validate(&text)?;
        let mut webvtt = text;
        if !webvtt.ends_with('\n') {
            webvtt.push('\n');
        }
        return Ok(CaptionFile {
            format: CaptionFormat::WebVtt,
            webvtt,
            cues: summary.cues,
            last_cue_end: summary.last_cue_end,
        });
    }
    let webvtt = srt::to_webvtt(&text)?;
    // The conversion writes only what the validator accepts; checking anyway keeps a
    // converter bug from storing a file players would drop.
    let summary = vtt::validate(&webvtt).map_err(|e| {
        CaptionError::new(
            e.line,
            format!("the SRT file converts to invalid WebVTT: {}", e.message),
        )
    })?;
    Ok(CaptionFile {
        format: CaptionFormat::Srt,
        webvtt,
        cues: summary.cues,
        last_cue_end: summary.last_cue_end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webvtt_is_recognised_and_normalised() {
        let f = read_caption_file(
            b"\xEF\xBB\xBFWEBVTT\r\n\r\n00:01.000 --> 00:02.500\r\nHello\r\n\r\n\
              00:03.000 --> 00:04.000\rBye",
        )
        .unwrap();
        assert_eq!(f.format, CaptionFormat::WebVtt);
        assert_eq!(
            f.webvtt,
            "WEBVTT\n\n00:01.000 --> 00:02.500\nHello\n\n00:03.000 --> 00:04.000\nBye\n"
        );
        assert_eq!((f.cues, f.last_cue_end), (2, 4000));
    }

    #[test]
    fn srt_is_converted() {
        let f = read_caption_file(
            b"1\r\n00:00:01,000 --> 00:00:02,500\r\nHello <i>there</i>\r\n\r\n\
              2\r\n00:00:03,000 --> 00:00:04,000\r\nA & B\r\n",
        )
        .unwrap();
        assert_eq!(f.format, CaptionFormat::Srt);
        assert_eq!(
            f.webvtt,
            "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.500\nHello <i>there</i>\n\n\
             2\n00:00:03.000 --> 00:00:04.000\nA &amp; B\n"
        );
        assert_eq!((f.cues, f.last_cue_end), (2, 4000));
    }

    #[test]
    fn neither_format_is_refused_at_line_one() {
        let e = read_caption_file(b"hello world\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("neither WebVTT"), "{e}");
        let e = read_caption_file(b"  \n\n").unwrap_err();
        assert_eq!(e.to_string(), "line 1: the file is empty");
        let e = read_caption_file(b"").unwrap_err();
        assert_eq!(e.to_string(), "line 1: the file is empty");
    }
}
