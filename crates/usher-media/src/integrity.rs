//! Structural validation of copied H.264 samples.
//!
//! A remux copies packets without decoding them, so an upload whose container is intact
//! but whose media bytes are damaged (overwritten, or spliced from another file) would be
//! published as is. Decoding to check would cost more than the whole remux (decoder and
//! filter set-up alone is ~35 ms against ~150 ms for the copy), so instead every sample
//! of every video segment is walked: in AVC-in-MP4, a sample is a run of NAL units, each
//! behind a big-endian length prefix, and the lengths must tile the sample exactly with
//! a valid NAL header behind each. Random bytes fail this at the first sample they touch.
//! Only the prefixes are read (forward seeks over the payload), so this costs a few
//! milliseconds and a bounded amount of memory however large the segment.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::mp4::{self, Boxes, MAX_MOOF_BYTES, Mp4Error, SampleEntry, be32, be64, child};

/// Buffer for walking a segment; NAL prefixes of small frames are often within it.
const READ_BUFFER_BYTES: usize = 64 * 1024;
/// Zero bytes after a sample's last NAL unit that are tolerated: some muxers pad samples,
/// and decoders ignore it.
pub const MAX_SAMPLE_PADDING_BYTES: u64 = 4096;

/// Checks every sample of a video rendition's segments (`dir/init.mp4` + `segments`).
/// Returns `Ok(())` for non-AVC renditions, which are not checked.
pub fn check_video_rendition(dir: &Path, segments: &[&str]) -> Result<(), Mp4Error> {
    let init = mp4::parse_init(&std::fs::read(dir.join(crate::index::INIT_FILE))?)?;
    let SampleEntry::Video {
        nal_length_size, ..
    } = init.entry
    else {
        return Ok(());
    };
    for name in segments {
        check_avc_segment(&dir.join(name), nal_length_size, init.default_sample_size).map_err(
            |e| match e {
                Mp4Error::CorruptSample(what) => Mp4Error::CorruptSample(format!("{name}: {what}")),
                other => other,
            },
        )?;
    }
    Ok(())
}

/// Walks every sample of one fMP4 segment.
pub fn check_avc_segment(
    path: &Path,
    nal_length_size: u8,
    trex_default_size: u32,
) -> Result<(), Mp4Error> {
    let mut file = Walker::open(path)?;
    let len = file.len;
    let mut pos = 0u64;
    while pos + 8 <= len {
        let header = file.read_at(pos, 16.min((len - pos) as usize))?;
        let mut size = u64::from(be32(&header, 0, "box")?);
        let header_len = if size == 1 { 16 } else { 8 };
        if size == 1 {
            size = be64(&header, 8, "box")?;
        } else if size == 0 {
            size = len - pos;
        }
        if size < header_len || pos + size > len {
            return Err(Mp4Error::Truncated("top-level box"));
        }
        if &header[4..8] == b"moof" {
            if size > MAX_MOOF_BYTES {
                return Err(Mp4Error::TooLarge(size));
            }
            let moof = file.read_at(pos + header_len, (size - header_len) as usize)?;
            for sample in sample_ranges(&moof, pos, trex_default_size)? {
                file.check_sample(sample, nal_length_size, len)?;
            }
        }
        pos += size;
    }
    Ok(())
}

/// (file offset, size) of every sample the `moof` at `moof_start` describes.
fn sample_ranges(
    moof: &[u8],
    moof_start: u64,
    trex_default_size: u32,
) -> Result<Vec<(u64, u64)>, Mp4Error> {
    let mut ranges = Vec::new();
    for traf in Boxes(moof)
        .filter_map(Result::ok)
        .filter(|(f, _)| f == b"traf")
        .map(|(_, p)| p)
    {
        let tfhd = child(traf, b"tfhd")?.ok_or(Mp4Error::Missing("tfhd"))?;
        let flags = be32(tfhd, 0, "tfhd")? & 0x00ff_ffff;
        let mut at = 8;
        // Without an explicit base offset, data offsets count from the moof's first byte
        // (default-base-is-moof, which is what ffmpeg writes).
        let mut base = moof_start;
        if flags & 0x01 != 0 {
            base = be64(tfhd, at, "tfhd")?;
            at += 8;
        }
        at += if flags & 0x02 != 0 { 4 } else { 0 };
        at += if flags & 0x08 != 0 { 4 } else { 0 };
        let default_size = if flags & 0x10 != 0 {
            be32(tfhd, at, "tfhd")?
        } else {
            trex_default_size
        };
        let mut next = base;
        for (_, trun) in Boxes(traf)
            .filter_map(Result::ok)
            .filter(|(f, _)| f == b"trun")
        {
            let tr_flags = be32(trun, 0, "trun")? & 0x00ff_ffff;
            let count = be32(trun, 4, "trun")?;
            let mut at = 8;
            if tr_flags & 0x01 != 0 {
                let offset = be32(trun, at, "trun")? as i32;
                next = base
                    .checked_add_signed(i64::from(offset))
                    .ok_or(Mp4Error::Truncated("trun"))?;
                at += 4;
            }
            at += if tr_flags & 0x04 != 0 { 4 } else { 0 };
            for _ in 0..count {
                at += if tr_flags & 0x100 != 0 { 4 } else { 0 };
                let size = if tr_flags & 0x200 != 0 {
                    let s = be32(trun, at, "trun")?;
                    at += 4;
                    s
                } else {
                    default_size
                };
                at += 4 * [0x400, 0x800]
                    .iter()
                    .filter(|f| tr_flags & **f != 0)
                    .count();
                ranges.push((next, u64::from(size)));
                next += u64::from(size);
            }
        }
    }
    Ok(ranges)
}

/// A buffered reader that knows where it is, so forward jumps keep the buffer.
struct Walker {
    reader: BufReader<File>,
    at: u64,
    len: u64,
}

impl Walker {
    fn open(path: &Path) -> Result<Self, Mp4Error> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Self {
            reader: BufReader::with_capacity(READ_BUFFER_BYTES, file),
            at: 0,
            len,
        })
    }

    fn read_at(&mut self, pos: u64, n: usize) -> Result<Vec<u8>, Mp4Error> {
        if pos >= self.at {
            self.reader.seek_relative((pos - self.at) as i64)?;
        } else {
            self.reader.seek(SeekFrom::Start(pos))?;
        }
        let mut buf = vec![0; n];
        self.reader.read_exact(&mut buf)?;
        self.at = pos + n as u64;
        Ok(buf)
    }

    fn is_zero_padding(&mut self, pos: u64, n: u64) -> Result<bool, Mp4Error> {
        if n > MAX_SAMPLE_PADDING_BYTES {
            return Ok(false);
        }
        Ok(self.read_at(pos, n as usize)?.iter().all(|b| *b == 0))
    }

    fn check_sample(
        &mut self,
        (start, size): (u64, u64),
        nal_length_size: u8,
        len: u64,
    ) -> Result<(), Mp4Error> {
        let corrupt = |what: String| {
            Err(Mp4Error::CorruptSample(format!(
                "sample at byte {start}: {what}"
            )))
        };
        if start.checked_add(size).is_none_or(|end| end > len) {
            return corrupt(format!("{size} bytes run past the end of the file"));
        }
        let prefix = u64::from(nal_length_size);
        let mut offset = 0u64;
        while offset < size {
            if size - offset < prefix + 1 {
                if self.is_zero_padding(start + offset, size - offset)? {
                    return Ok(());
                }
                return corrupt(format!(
                    "{} stray bytes after the last NAL unit",
                    size - offset
                ));
            }
            let head = self.read_at(start + offset, nal_length_size as usize + 1)?;
            let nal_len = head[..nal_length_size as usize]
                .iter()
                .fold(0u64, |n, b| (n << 8) | u64::from(*b));
            let nal_header = head[nal_length_size as usize];
            if nal_len == 0 || nal_len > size - offset - prefix {
                if self.is_zero_padding(start + offset, size - offset)? {
                    return Ok(());
                }
                return corrupt(format!(
                    "NAL length {nal_len} does not fit the {size}-byte sample"
                ));
            }
            // forbidden_zero_bit must be 0; types 0 and 24..=31 are unspecified in AVC.
            let nal_type = nal_header & 0x1f;
            if nal_header & 0x80 != 0 || nal_type == 0 || nal_type >= 24 {
                return corrupt(format!("invalid NAL header {nal_header:#04x}"));
            }
            offset += prefix + nal_len;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(fourcc: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(fourcc);
        out.extend_from_slice(payload);
        out
    }

    /// One fragment holding `samples` (already NAL-prefixed), sizes in trun.
    fn segment(samples: &[Vec<u8>]) -> Vec<u8> {
        let tfhd = bx(b"tfhd", &[0x00, 0x02, 0x00, 0x00, 0, 0, 0, 1]);
        let mut trun_body = vec![0x00, 0x00, 0x02, 0x01];
        trun_body.extend_from_slice(&(samples.len() as u32).to_be_bytes());
        trun_body.extend_from_slice(&[0; 4]); // data offset, patched below
        for s in samples {
            trun_body.extend_from_slice(&(s.len() as u32).to_be_bytes());
        }
        let traf_len = 8 + tfhd.len() + 8 + trun_body.len();
        let moof_len = 8 + traf_len;
        let data_offset = (moof_len + 8) as u32;
        trun_body[8..12].copy_from_slice(&data_offset.to_be_bytes());
        let moof = bx(
            b"moof",
            &bx(b"traf", &[tfhd, bx(b"trun", &trun_body)].concat()),
        );
        assert_eq!(moof.len(), moof_len);
        [moof, bx(b"mdat", &samples.concat())].concat()
    }

    fn nal(kind: u8, body_len: usize) -> Vec<u8> {
        let mut out = ((body_len + 1) as u32).to_be_bytes().to_vec();
        out.push(0x60 | kind);
        out.extend(std::iter::repeat_n(0xAB, body_len));
        out
    }

    fn check(bytes: &[u8]) -> Result<(), Mp4Error> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg.m4s");
        std::fs::write(&path, bytes).unwrap();
        check_avc_segment(&path, 4, 0)
    }

    #[test]
    fn well_formed_samples_pass() {
        let idr = [nal(7, 10), nal(8, 4), nal(5, 100_000)].concat();
        check(&segment(&[idr, nal(1, 3000), nal(1, 20)])).unwrap();
    }

    #[test]
    fn lengths_that_do_not_tile_the_sample_fail() {
        let mut sample = nal(1, 50);
        sample.push(0x55); // a stray non-zero byte after the last NAL
        assert!(matches!(
            check(&segment(&[sample])),
            Err(Mp4Error::CorruptSample(_))
        ));
        let mut sample = nal(1, 50);
        sample[3] = 200; // claims more than the sample holds
        assert!(matches!(
            check(&segment(&[sample])),
            Err(Mp4Error::CorruptSample(_))
        ));
    }

    #[test]
    fn zero_padding_after_the_last_nal_is_tolerated() {
        let mut sample = nal(1, 50);
        sample.extend_from_slice(&[0; 7]);
        check(&segment(&[sample, nal(1, 10)])).unwrap();
    }

    #[test]
    fn invalid_nal_headers_fail() {
        let mut sample = nal(1, 50);
        sample[4] = 0x80 | 1; // forbidden bit
        assert!(matches!(
            check(&segment(&[sample])),
            Err(Mp4Error::CorruptSample(_))
        ));
        assert!(matches!(
            check(&segment(&[nal(30, 5)])),
            Err(Mp4Error::CorruptSample(_))
        ));
    }

    #[test]
    fn noise_fails() {
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        let noise: Vec<u8> = (0..5000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(matches!(
            check(&segment(&[noise])),
            Err(Mp4Error::CorruptSample(_))
        ));
    }

    #[test]
    fn samples_past_the_end_of_the_file_fail() {
        let mut bytes = segment(&[nal(1, 500)]);
        bytes.truncate(bytes.len() - 100);
        assert!(check(&bytes).is_err());
    }
}
