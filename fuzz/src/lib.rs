//! What the fuzz targets share: splitting an input into the fields a target needs (text
//! lines, so that seed files stay readable and dictionaries apply), and a real API
//! running in-process ([`api`]) for the targets that fuzz request handling.
//!
//! Each target in `fuzz_targets/` feeds one parser of untrusted bytes, checks what it
//! can about the answer (a round trip, a bound, a status under 500), and panics on
//! anything wrong: libFuzzer records every panic as a finding.

pub mod api;

/// The first `n` lines of `data` (without their `\n`; missing lines are empty) and the
/// bytes after them.
pub fn lines(data: &[u8], n: usize) -> (Vec<&[u8]>, &[u8]) {
    let mut fields = Vec::with_capacity(n);
    let mut rest = data;
    for _ in 0..n {
        match rest.iter().position(|&b| b == b'\n') {
            Some(at) => {
                fields.push(&rest[..at]);
                rest = &rest[at + 1..];
            }
            None => {
                fields.push(rest);
                rest = &[];
            }
        }
    }
    (fields, rest)
}

/// The bytes as text, replacing what is not UTF-8 (headers and URLs reach the parsers
/// as `&str`; the lossy form keeps every input useful instead of discarding most).
pub fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}
