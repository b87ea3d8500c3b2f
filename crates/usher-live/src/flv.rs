//! FLV framing of what an RTMP publisher sends. RTMP audio and video messages carry
//! exactly the bodies of FLV audio and video tags, so a broadcast becomes an FLV stream
//! that ffmpeg reads from a pipe without any re-parsing on our side.

/// Which kind of tag a body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    Audio = 8,
    Video = 9,
}

/// The FLV file header (audio and video present) followed by the first
/// `PreviousTagSize` (always 0).
pub fn header() -> [u8; 13] {
    [
        b'F',
        b'L',
        b'V',
        1,
        0b0000_0101,
        0,
        0,
        0,
        9, // header, 9 bytes
        0,
        0,
        0,
        0, // PreviousTagSize0
    ]
}

/// The 11 bytes before a tag body of `len` bytes at `timestamp_ms`; after the body
/// comes [`trailer`]. `None` if the body is larger than a tag can say (16 MiB).
pub fn tag_head(kind: TagKind, timestamp_ms: u32, len: usize) -> Option<[u8; 11]> {
    let len = u32::try_from(len).ok().filter(|l| *l < 1 << 24)?;
    let [_, l2, l1, l0] = len.to_be_bytes();
    let [ext, t2, t1, t0] = timestamp_ms.to_be_bytes();
    Some([kind as u8, l2, l1, l0, t2, t1, t0, ext, 0, 0, 0])
}

/// The `PreviousTagSize` that follows a tag body of `len` bytes.
pub fn trailer(len: usize) -> [u8; 4] {
    // tag_head has already refused bodies whose size does not fit.
    ((len as u32).wrapping_add(11)).to_be_bytes()
}

/// A tag head read back: its type byte (8 audio, 9 video, 18 script), body size and
/// timestamp in milliseconds.
pub fn read_tag_head(head: &[u8; 11]) -> (u8, usize, u32) {
    let size = usize::from(head[1]) << 16 | usize::from(head[2]) << 8 | usize::from(head[3]);
    let ts = u32::from_be_bytes([head[7], head[4], head[5], head[6]]);
    (head[0] & 0x1f, size, ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_framed_as_the_flv_spec_says() {
        let head = tag_head(TagKind::Video, 0x0123_4567, 0x0a0b0c).unwrap();
        // Size 24-bit big-endian, then the low 24 bits of time and the high 8 bits.
        assert_eq!(head, [9, 0x0a, 0x0b, 0x0c, 0x23, 0x45, 0x67, 0x01, 0, 0, 0]);
        assert_eq!(trailer(5), [0, 0, 0, 16]);
        assert_eq!(tag_head(TagKind::Audio, 0, 1 << 24), None);
        assert_eq!(&header()[..3], b"FLV");
        assert_eq!(read_tag_head(&head), (9, 0x0a0b0c, 0x0123_4567));
    }
}
