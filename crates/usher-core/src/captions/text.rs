//! An uploaded caption file's bytes as text the parsers read line by line. WebVTT is
//! UTF-8 by definition and most SRT files are too; Windows tools also write UTF-16 with
//! a byte-order mark, which is decoded. Anything else (Latin-1, Windows-1252) is refused
//! naming the first line that is not UTF-8, rather than stored as mojibake. The
//! byte-order mark is dropped, every line ending (CRLF, CR, LF) becomes LF, and NUL
//! becomes U+FFFD, as the WebVTT parser does.

use super::CaptionError;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const UTF16LE_BOM: &[u8] = b"\xFF\xFE";
const UTF16BE_BOM: &[u8] = b"\xFE\xFF";

/// The file's text with LF line endings and no byte-order mark.
pub(crate) fn normalise(bytes: &[u8]) -> Result<String, CaptionError> {
    let decoded = if let Some(rest) = bytes.strip_prefix(UTF16LE_BOM) {
        utf16(rest, u16::from_le_bytes)?
    } else if let Some(rest) = bytes.strip_prefix(UTF16BE_BOM) {
        utf16(rest, u16::from_be_bytes)?
    } else {
        let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        match std::str::from_utf8(body) {
            Ok(s) => s.to_owned(),
            Err(e) => {
                return Err(CaptionError::new(
                    line_of(&body[..e.valid_up_to()]),
                    "the file is not UTF-8 text (save it as UTF-8)",
                ));
            }
        }
    };
    let mut out = String::with_capacity(decoded.len());
    let mut chars = decoded.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, CaptionError> {
    let mut units = Vec::with_capacity(bytes.len() / 2);
    for pair in bytes.chunks(2) {
        match pair {
            [a, b] => units.push(unit([*a, *b])),
            _ => {
                return Err(CaptionError::new(
                    line_of_units(&units),
                    "the file is not UTF-16 text (an odd number of bytes)",
                ));
            }
        }
    }
    let mut out = String::with_capacity(units.len());
    let mut consumed = 0;
    for c in char::decode_utf16(units.iter().copied()) {
        match c {
            Ok(c) => {
                consumed += c.len_utf16();
                out.push(c);
            }
            Err(_) => {
                return Err(CaptionError::new(
                    line_of_units(&units[..consumed.min(units.len())]),
                    "the file is not valid UTF-16 text",
                ));
            }
        }
    }
    Ok(out)
}

/// The 1-based line that the byte after `before` is on (CRLF, CR and LF each end a line).
fn line_of(before: &[u8]) -> usize {
    let mut line = 1;
    let mut prev_cr = false;
    for &b in before {
        match b {
            b'\r' => line += 1,
            b'\n' if !prev_cr => line += 1,
            _ => {}
        }
        prev_cr = b == b'\r';
    }
    line
}

fn line_of_units(before: &[u16]) -> usize {
    let ascii: Vec<u8> = before
        .iter()
        .map(|&u| match u {
            0x0D => b'\r',
            0x0A => b'\n',
            _ => b'x',
        })
        .collect();
    line_of(&ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_bom_and_nul() {
        assert_eq!(
            normalise(b"\xEF\xBB\xBFa\r\nb\rc\nd\0").unwrap(),
            "a\nb\nc\nd\u{FFFD}"
        );
        assert_eq!(normalise(b"a\r\r\nb").unwrap(), "a\n\nb");
    }

    #[test]
    fn utf16_with_a_bom_is_decoded() {
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("hé\r\nx".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(normalise(&le).unwrap(), "hé\nx");
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("ok".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(normalise(&be).unwrap(), "ok");
        let odd = [0xFF, 0xFE, b'a', 0, b'\n', 0, b'b'];
        assert_eq!(normalise(&odd).unwrap_err().line, 2);
    }

    #[test]
    fn latin1_is_refused_naming_the_line() {
        let e = normalise(b"WEBVTT\r\n\r\ncaf\xe9").unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(
            e.to_string(),
            "line 3: the file is not UTF-8 text (save it as UTF-8)"
        );
        assert_eq!(normalise(b"a\rb\r\n\xff").unwrap_err().line, 3);
    }
}
