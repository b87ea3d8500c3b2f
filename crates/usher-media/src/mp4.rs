//! Just enough ISO-BMFF (MP4) reading to index the fMP4 segments ffmpeg writes: the
//! track's timescale and RFC 6381 codec string from an init segment, and each media
//! segment's start time and exact duration from its `moof` boxes.
//!
//! Reading the boxes rather than trusting ffmpeg's playlists gives DASH's
//! SegmentTimeline exact integer durations (EXTINF is rounded to microseconds) and
//! codec strings taken from the stream itself (`avc1.64001f` from the `avcC` bytes, not
//! guessed from a profile name).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Largest `moof` we will read. A 4-second fragment of 60 fps video has a few hundred
/// samples at 16 bytes each; anything near this is not a file we wrote.
pub const MAX_MOOF_BYTES: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum Mp4Error {
    #[error("box {0} is truncated")]
    Truncated(&'static str),
    #[error("no {0} box")]
    Missing(&'static str),
    #[error("unsupported sample entry {0:?}")]
    Unsupported(String),
    #[error("moof of {0} bytes is larger than the limit")]
    TooLarge(u64),
    #[error("corrupt sample: {0}")]
    CorruptSample(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// What an init segment says about its (single) track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitInfo {
    /// Ticks per second of the track's media time.
    pub timescale: u32,
    /// RFC 6381 codec string, e.g. `avc1.64001f` or `mp4a.40.2`.
    pub codecs: String,
    pub entry: SampleEntry,
    /// `trex` default, used by fragments whose `tfhd`/`trun` carry no durations.
    pub default_sample_duration: u32,
    /// `trex` default, used by fragments whose `tfhd`/`trun` carry no sizes.
    pub default_sample_size: u32,
    /// What the track's edit list adds to a sample's media presentation time to place
    /// it on the movie's timeline, in the track's timescale: the empty edits before the
    /// media, less where the media starts. 0 without an edit list.
    pub edit_shift: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleEntry {
    /// `nal_length_size`: bytes of the length prefix before each NAL unit in a sample.
    Video {
        width: u16,
        height: u16,
        nal_length_size: u8,
    },
    Audio {
        channels: u16,
    },
}

/// Timing of one media segment, in the track's timescale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentTiming {
    /// `tfdt` of the first fragment: decode time of its first sample.
    pub start: u64,
    /// Sum of all sample durations.
    pub duration: u64,
    pub samples: u64,
    /// Earliest presentation time of any sample (decode time + composition offset),
    /// before the init segment's edit list is applied.
    pub earliest_presentation: i64,
}

pub fn parse_init(data: &[u8]) -> Result<InitInfo, Mp4Error> {
    let moov = child(data, b"moov")?.ok_or(Mp4Error::Missing("moov"))?;
    let trak = child(moov, b"trak")?.ok_or(Mp4Error::Missing("trak"))?;
    let movie_timescale = match child(moov, b"mvhd")? {
        Some(mvhd) if mvhd.first() == Some(&1) => be32(mvhd, 20, "mvhd")?,
        Some(mvhd) => be32(mvhd, 12, "mvhd")?,
        None => 0,
    };
    let mdia = child(trak, b"mdia")?.ok_or(Mp4Error::Missing("mdia"))?;
    let mdhd = child(mdia, b"mdhd")?.ok_or(Mp4Error::Missing("mdhd"))?;
    let timescale = if mdhd.first() == Some(&1) {
        be32(mdhd, 20, "mdhd")?
    } else {
        be32(mdhd, 12, "mdhd")?
    };
    let minf = child(mdia, b"minf")?.ok_or(Mp4Error::Missing("minf"))?;
    let stbl = child(minf, b"stbl")?.ok_or(Mp4Error::Missing("stbl"))?;
    let stsd = child(stbl, b"stsd")?.ok_or(Mp4Error::Missing("stsd"))?;
    let entries = stsd.get(8..).ok_or(Mp4Error::Truncated("stsd"))?;
    let (fourcc, entry) = Boxes(entries)
        .next()
        .ok_or(Mp4Error::Missing("sample entry"))??;
    let (codecs, entry) = match &fourcc {
        b"avc1" | b"avc3" => {
            let width = be16(entry, 24, "avc1")?;
            let height = be16(entry, 26, "avc1")?;
            let avcc = child(entry.get(78..).ok_or(Mp4Error::Truncated("avc1"))?, b"avcC")?
                .ok_or(Mp4Error::Missing("avcC"))?;
            let pcl = avcc.get(1..5).ok_or(Mp4Error::Truncated("avcC"))?;
            let nal_length_size = (pcl[3] & 0x03) + 1;
            let name = String::from_utf8_lossy(&fourcc);
            (
                format!("{name}.{:02x}{:02x}{:02x}", pcl[0], pcl[1], pcl[2]),
                SampleEntry::Video {
                    width,
                    height,
                    nal_length_size,
                },
            )
        }
        b"mp4a" => {
            // MP4 muxers write the template value 2 into the sample entry's channel
            // count whatever the stream; the AudioSpecificConfig has the real layout.
            let entry_channels = be16(entry, 16, "mp4a")?;
            let esds = child(entry.get(28..).ok_or(Mp4Error::Truncated("mp4a"))?, b"esds")?
                .ok_or(Mp4Error::Missing("esds"))?;
            let (codecs, configured) =
                esds_codec(esds.get(4..).ok_or(Mp4Error::Truncated("esds"))?)?;
            (
                codecs,
                SampleEntry::Audio {
                    channels: configured.unwrap_or(entry_channels),
                },
            )
        }
        other => {
            return Err(Mp4Error::Unsupported(
                String::from_utf8_lossy(other).into_owned(),
            ));
        }
    };
    let trex = match child(moov, b"mvex")? {
        Some(mvex) => child(mvex, b"trex")?,
        None => None,
    };
    let (default_sample_duration, default_sample_size) = match trex {
        Some(trex) => (be32(trex, 12, "trex")?, be32(trex, 16, "trex")?),
        None => (0, 0),
    };
    let edit_shift = match child(trak, b"edts")? {
        Some(edts) => match child(edts, b"elst")? {
            Some(elst) => edit_shift(elst, movie_timescale, timescale)?,
            None => 0,
        },
        None => 0,
    };
    Ok(InitInfo {
        timescale,
        codecs,
        entry,
        default_sample_duration,
        default_sample_size,
        edit_shift,
    })
}

/// The presentation shift an `elst` payload describes (see [`InitInfo::edit_shift`]):
/// the durations of the leading empty edits (media time −1), converted from the movie's
/// timescale to the track's, less the media time of the first edit that plays media.
fn edit_shift(elst: &[u8], movie_timescale: u32, track_timescale: u32) -> Result<i64, Mp4Error> {
    let version = *elst.first().ok_or(Mp4Error::Truncated("elst"))?;
    let count = be32(elst, 4, "elst")?;
    let entry_len = if version == 1 { 20 } else { 12 };
    let mut empty = 0i64;
    for i in 0..count as usize {
        let at = 8 + i * entry_len;
        let (duration, media_time) = if version == 1 {
            (
                be64(elst, at, "elst")? as i64,
                be64(elst, at + 8, "elst")? as i64,
            )
        } else {
            (
                i64::from(be32(elst, at, "elst")?),
                i64::from(be32(elst, at + 4, "elst")? as i32),
            )
        };
        if media_time == -1 {
            if movie_timescale > 0 {
                empty += duration * i64::from(track_timescale) / i64::from(movie_timescale);
            }
            continue;
        }
        return Ok(empty - media_time);
    }
    Ok(empty)
}

/// `mp4a.40.<audio object type>` from an `esds` payload (after version/flags), and the
/// channel count its AudioSpecificConfig gives, if it gives one.
fn esds_codec(mut data: &[u8]) -> Result<(String, Option<u16>), Mp4Error> {
    let truncated = || Mp4Error::Truncated("esds");
    let mut object_type = None;
    while let Some((&tag, rest)) = data.split_first() {
        let (len, rest) = descriptor_len(rest).ok_or_else(truncated)?;
        let body = rest.get(..len).ok_or_else(truncated)?;
        match tag {
            // ES_Descriptor: ES_ID, flags, optional fields, then nested descriptors.
            0x03 => {
                let flags = *body.get(2).ok_or_else(truncated)?;
                let mut skip = 3;
                if flags & 0x80 != 0 {
                    skip += 2;
                }
                if flags & 0x40 != 0 {
                    skip += 1 + usize::from(*body.get(skip).ok_or_else(truncated)?);
                }
                if flags & 0x20 != 0 {
                    skip += 2;
                }
                data = body.get(skip..).ok_or_else(truncated)?;
                continue;
            }
            // DecoderConfigDescriptor: objectTypeIndication, then 12 bytes, then DSI.
            0x04 => {
                object_type = Some(*body.first().ok_or_else(truncated)?);
                data = body.get(13..).ok_or_else(truncated)?;
                continue;
            }
            // DecoderSpecificInfo = AudioSpecificConfig: 5-bit object type, 31 escapes to 6 more bits.
            0x05 if object_type == Some(0x40) => {
                let mut bits = Bits { data: body, pos: 0 };
                let mut aot = bits.take(5).ok_or_else(truncated)?;
                if aot == 31 {
                    aot = 32 + bits.take(6).ok_or_else(truncated)?;
                }
                // samplingFrequencyIndex; 15 means an explicit 24-bit frequency follows.
                if bits.take(4) == Some(15) {
                    bits.take(24);
                }
                let channels = match bits.take(4) {
                    Some(c @ 1..=6) => Some(c as u16),
                    Some(7) => Some(8),
                    _ => None,
                };
                return Ok((format!("mp4a.40.{aot}"), channels));
            }
            _ => {}
        }
        data = &rest[len..];
    }
    match object_type {
        Some(oti) => Ok((format!("mp4a.{oti:02x}"), None)),
        None => Err(Mp4Error::Missing("DecoderConfigDescriptor")),
    }
}

/// Reads big-endian bit fields.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn take(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.data.get(self.pos / 8)?;
            v = (v << 1) | u32::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Some(v)
    }
}

fn descriptor_len(data: &[u8]) -> Option<(usize, &[u8])> {
    let mut len = 0usize;
    for (i, &b) in data.iter().enumerate().take(4) {
        len = (len << 7) | usize::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Some((len, &data[i + 1..]));
        }
    }
    None
}

/// Start and duration of a media segment from its `moof` boxes (see [`read_moofs`]).
pub fn parse_fragments(
    moofs: &[u8],
    default_sample_duration: u32,
) -> Result<FragmentTiming, Mp4Error> {
    let mut timing: Option<FragmentTiming> = None;
    for item in Boxes(moofs) {
        let (fourcc, moof) = item?;
        if &fourcc != b"moof" {
            continue;
        }
        for traf in Boxes(moof)
            .filter_map(|b| b.ok())
            .filter(|(f, _)| f == b"traf")
            .map(|(_, p)| p)
        {
            let tfhd = child(traf, b"tfhd")?.ok_or(Mp4Error::Missing("tfhd"))?;
            let tfhd_flags = be32(tfhd, 0, "tfhd")? & 0x00ff_ffff;
            let mut default_duration = default_sample_duration;
            if tfhd_flags & 0x08 != 0 {
                let mut at = 8;
                at += if tfhd_flags & 0x01 != 0 { 8 } else { 0 };
                at += if tfhd_flags & 0x02 != 0 { 4 } else { 0 };
                default_duration = be32(tfhd, at, "tfhd")?;
            }
            let tfdt = child(traf, b"tfdt")?.ok_or(Mp4Error::Missing("tfdt"))?;
            let start = if tfdt.first() == Some(&1) {
                be64(tfdt, 4, "tfdt")?
            } else {
                u64::from(be32(tfdt, 4, "tfdt")?)
            };
            let t = timing.get_or_insert(FragmentTiming {
                start,
                duration: 0,
                samples: 0,
                earliest_presentation: i64::MAX,
            });
            let mut decode_time = start as i64;
            for (fourcc, trun) in Boxes(traf).filter_map(|b| b.ok()) {
                if &fourcc == b"trun" {
                    let run = trun_timing(trun, default_duration, decode_time)?;
                    t.duration += run.duration;
                    t.samples += run.samples;
                    t.earliest_presentation = t.earliest_presentation.min(run.earliest);
                    decode_time += run.duration as i64;
                }
            }
        }
    }
    timing.ok_or(Mp4Error::Missing("moof/traf"))
}

/// What one `trun` adds up to.
struct RunTiming {
    duration: u64,
    samples: u64,
    /// Earliest decode time + composition offset of its samples (`i64::MAX` if none).
    earliest: i64,
}

/// Durations and presentation times of a `trun`'s samples, the first decoded at
/// `decode_time`.
fn trun_timing(
    trun: &[u8],
    default_duration: u32,
    decode_time: i64,
) -> Result<RunTiming, Mp4Error> {
    let version = *trun.first().ok_or(Mp4Error::Truncated("trun"))?;
    let flags = be32(trun, 0, "trun")? & 0x00ff_ffff;
    let count = be32(trun, 4, "trun")?;
    let mut at = 8 + if flags & 0x01 != 0 { 4 } else { 0 } + if flags & 0x04 != 0 { 4 } else { 0 };
    let mut timing = RunTiming {
        duration: 0,
        samples: u64::from(count),
        earliest: i64::MAX,
    };
    let mut dts = decode_time;
    for _ in 0..count {
        let mut duration = default_duration;
        if flags & 0x100 != 0 {
            duration = be32(trun, at, "trun")?;
            at += 4;
        }
        at += if flags & 0x200 != 0 { 4 } else { 0 };
        at += if flags & 0x400 != 0 { 4 } else { 0 };
        let mut offset = 0i64;
        if flags & 0x800 != 0 {
            let raw = be32(trun, at, "trun")?;
            // Version 1 offsets are signed; version 0 ones are not.
            offset = if version == 1 {
                i64::from(raw as i32)
            } else {
                i64::from(raw)
            };
            at += 4;
        }
        timing.earliest = timing.earliest.min(dts + offset);
        dts += i64::from(duration);
        timing.duration += u64::from(duration);
    }
    Ok(timing)
}

/// The top-level `moof` boxes of a segment file, skipping `mdat` payloads with seeks so
/// that indexing never reads the media itself.
pub fn read_moofs(path: &Path) -> Result<Vec<u8>, Mp4Error> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut pos = 0u64;
    let mut out = Vec::new();
    while pos + 8 <= len {
        let mut header = [0u8; 16];
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut header[..8])?;
        let mut size = u64::from(u32::from_be_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        let mut header_len = 8;
        if size == 1 {
            file.read_exact(&mut header[8..16])?;
            size = u64::from_be_bytes([
                header[8], header[9], header[10], header[11], header[12], header[13], header[14],
                header[15],
            ]);
            header_len = 16;
        } else if size == 0 {
            size = len - pos;
        }
        if size < header_len as u64 || pos + size > len {
            return Err(Mp4Error::Truncated("top-level box"));
        }
        if &header[4..8] == b"moof" {
            if size > MAX_MOOF_BYTES {
                return Err(Mp4Error::TooLarge(size));
            }
            let start = out.len();
            out.extend_from_slice(&header[..header_len]);
            out.resize(start + size as usize, 0);
            file.read_exact(&mut out[start + header_len..])?;
        }
        pos += size;
    }
    Ok(out)
}

/// Iterates the boxes in `data` as (fourcc, payload).
pub(crate) struct Boxes<'a>(pub(crate) &'a [u8]);

impl<'a> Iterator for Boxes<'a> {
    type Item = Result<([u8; 4], &'a [u8]), Mp4Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.len() < 8 {
            return None;
        }
        let data = self.0;
        let size32 = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as u64;
        let fourcc = [data[4], data[5], data[6], data[7]];
        let (size, header) = match size32 {
            0 => (data.len() as u64, 8),
            1 => match data.get(8..16) {
                Some(b) => (
                    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                    16,
                ),
                None => return Some(Err(Mp4Error::Truncated("box header"))),
            },
            n => (n, 8),
        };
        if size < header as u64 || size > data.len() as u64 {
            self.0 = &[];
            return Some(Err(Mp4Error::Truncated("box")));
        }
        self.0 = &data[size as usize..];
        Some(Ok((fourcc, &data[header..size as usize])))
    }
}

pub(crate) fn child<'a>(data: &'a [u8], name: &[u8; 4]) -> Result<Option<&'a [u8]>, Mp4Error> {
    for item in Boxes(data) {
        let (fourcc, payload) = item?;
        if &fourcc == name {
            return Ok(Some(payload));
        }
    }
    Ok(None)
}

pub(crate) fn be16(data: &[u8], at: usize, what: &'static str) -> Result<u16, Mp4Error> {
    let b = data.get(at..at + 2).ok_or(Mp4Error::Truncated(what))?;
    Ok(u16::from_be_bytes([b[0], b[1]]))
}

pub(crate) fn be32(data: &[u8], at: usize, what: &'static str) -> Result<u32, Mp4Error> {
    let b = data.get(at..at + 4).ok_or(Mp4Error::Truncated(what))?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

pub(crate) fn be64(data: &[u8], at: usize, what: &'static str) -> Result<u64, Mp4Error> {
    let b = data.get(at..at + 8).ok_or(Mp4Error::Truncated(what))?;
    Ok(u64::from_be_bytes([
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
    ]))
}

#[cfg(test)]
#[path = "mp4_tests.rs"]
mod tests;
