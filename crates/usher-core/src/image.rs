//! Recognising a watermark image by its content, not its name or declared type: a PNG
//! (signature, a well-formed `IHDR` with a valid CRC, chunks that walk to `IEND`) or a
//! JPEG (`SOI`, then marker segments up to a baseline, extended or progressive
//! Huffman frame header and a scan). Only the headers are read — decoding the pixels
//! is the media pipeline's job — but what passes here is something every decoder
//! (ffmpeg's included) opens, at a size it can afford.

/// The largest width or height accepted. A watermark covers at most the frame of a 4K
/// video; a larger image only costs the decoder memory (a few KiB of PNG can declare
/// gigapixels).
pub const MAX_IMAGE_SIDE: u32 = 4096;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
/// PNG chunk lengths are at most 2^31 − 1 (PNG spec §5.3).
const PNG_MAX_CHUNK: u32 = 0x7fff_ffff;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
}

impl ImageFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpeg",
        }
    }
}

/// What the headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

/// Why bytes are not an acceptable image. The messages complete "the image …"-less
/// sentences, for an API error naming the field first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("the file is empty")]
    Empty,
    #[error("not a PNG or JPEG image")]
    UnknownFormat,
    #[error("the PNG is malformed: {0}")]
    BadPng(&'static str),
    #[error("the JPEG is malformed: {0}")]
    BadJpeg(&'static str),
    #[error(
        "the JPEG uses a coding that is not supported (only baseline, extended and progressive Huffman)"
    )]
    UnsupportedJpeg,
    #[error("the image is {width}x{height} pixels: at most {MAX_IMAGE_SIDE} on each side")]
    TooLarge { width: u32, height: u32 },
}

/// Identifies `bytes` as a PNG or JPEG and reads its size.
pub fn sniff(bytes: &[u8]) -> Result<ImageInfo, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    let info = if bytes.starts_with(&PNG_SIGNATURE) {
        png(bytes)?
    } else if bytes.starts_with(&[0xff, 0xd8]) {
        jpeg(bytes)?
    } else {
        return Err(ImageError::UnknownFormat);
    };
    if info.width > MAX_IMAGE_SIDE || info.height > MAX_IMAGE_SIDE {
        return Err(ImageError::TooLarge {
            width: info.width,
            height: info.height,
        });
    }
    Ok(info)
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn png(bytes: &[u8]) -> Result<ImageInfo, ImageError> {
    let mut rest = &bytes[PNG_SIGNATURE.len()..];
    let mut header = None;
    let mut has_data = false;
    loop {
        if rest.len() < 12 {
            return Err(ImageError::BadPng("truncated before IEND"));
        }
        let len = be32(rest);
        if len > PNG_MAX_CHUNK {
            return Err(ImageError::BadPng("a chunk length is out of range"));
        }
        let len = len as usize;
        let Some(chunk) = rest.get(4..12 + len) else {
            return Err(ImageError::BadPng("truncated inside a chunk"));
        };
        let (typed, crc) = chunk.split_at(4 + len);
        if crc32(typed) != be32(crc) {
            return Err(ImageError::BadPng("a chunk's CRC does not match"));
        }
        let (kind, data) = typed.split_at(4);
        match (kind, header.is_some()) {
            (b"IHDR", false) => header = Some(ihdr(data)?),
            (b"IHDR", true) => return Err(ImageError::BadPng("two IHDR chunks")),
            (_, false) => return Err(ImageError::BadPng("IHDR is not the first chunk")),
            (b"IDAT", true) => has_data = true,
            (b"IEND", true) => break,
            _ => {}
        }
        rest = &rest[12 + len..];
    }
    let Some((width, height)) = header else {
        return Err(ImageError::BadPng("no IHDR"));
    };
    if !has_data {
        return Err(ImageError::BadPng("no image data (IDAT)"));
    }
    Ok(ImageInfo {
        format: ImageFormat::Png,
        width,
        height,
    })
}

/// The image header: size, and a bit depth and colour type PNG allows together.
fn ihdr(d: &[u8]) -> Result<(u32, u32), ImageError> {
    if d.len() != 13 {
        return Err(ImageError::BadPng("IHDR is not 13 bytes"));
    }
    let (width, height) = (be32(&d[0..4]), be32(&d[4..8]));
    if width == 0 || height == 0 || width > PNG_MAX_CHUNK || height > PNG_MAX_CHUNK {
        return Err(ImageError::BadPng("width or height out of range"));
    }
    let depth_ok = match d[9] {
        0 => matches!(d[8], 1 | 2 | 4 | 8 | 16),
        3 => matches!(d[8], 1 | 2 | 4 | 8),
        2 | 4 | 6 => matches!(d[8], 8 | 16),
        _ => false,
    };
    if !depth_ok || d[10] != 0 || d[11] != 0 || d[12] > 1 {
        return Err(ImageError::BadPng(
            "invalid colour type, bit depth or method",
        ));
    }
    Ok((width, height))
}

/// CRC-32 (ISO 3309, as PNG uses it).
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut n = 0;
        while n < 256 {
            let mut c = n as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[n] = c;
            n += 1;
        }
        table
    };
    let mut c = 0xffff_ffffu32;
    for &b in data {
        c = TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    c ^ 0xffff_ffff
}

fn jpeg(bytes: &[u8]) -> Result<ImageInfo, ImageError> {
    let mut pos = 2;
    let mut frame = None;
    loop {
        // Markers are 0xFF, any number of 0xFF fill bytes, then the marker code.
        if bytes.get(pos) != Some(&0xff) {
            return Err(ImageError::BadJpeg("expected a marker"));
        }
        while bytes.get(pos) == Some(&0xff) {
            pos += 1;
        }
        let Some(&marker) = bytes.get(pos) else {
            return Err(ImageError::BadJpeg("truncated"));
        };
        pos += 1;
        match marker {
            // Standalone markers carry no length.
            0x01 | 0xd0..=0xd7 => continue,
            0xd8 => return Err(ImageError::BadJpeg("a second start of image")),
            0xd9 => return Err(ImageError::BadJpeg("ends before its scan")),
            0x00 => return Err(ImageError::BadJpeg("expected a marker")),
            _ => {}
        }
        let Some(len) = bytes.get(pos..pos + 2).map(be16) else {
            return Err(ImageError::BadJpeg("truncated"));
        };
        let len = usize::from(len);
        if len < 2 {
            return Err(ImageError::BadJpeg("a segment length is out of range"));
        }
        let Some(segment) = bytes.get(pos + 2..pos + len) else {
            return Err(ImageError::BadJpeg("truncated inside a segment"));
        };
        match marker {
            // Start of frame, Huffman coded: baseline, extended sequential, progressive.
            0xc0..=0xc2 => {
                if frame.is_some() {
                    return Err(ImageError::BadJpeg("two frame headers"));
                }
                frame = Some(sof(segment)?);
            }
            // Other frame types (lossless, hierarchical, arithmetic coding). 0xC4 (DHT),
            // 0xC8 (reserved) and 0xCC (DAC) are not frames.
            0xc3 | 0xc5..=0xc7 | 0xc9..=0xcb | 0xcd..=0xcf => {
                return Err(ImageError::UnsupportedJpeg);
            }
            // Start of scan: the frame header must have come first.
            0xda => {
                let Some((width, height)) = frame else {
                    return Err(ImageError::BadJpeg("a scan before the frame header"));
                };
                return Ok(ImageInfo {
                    format: ImageFormat::Jpeg,
                    width,
                    height,
                });
            }
            _ => {}
        }
        pos += len;
    }
}

/// A frame header: precision, height, width, then the components.
fn sof(s: &[u8]) -> Result<(u32, u32), ImageError> {
    if s.len() < 6 {
        return Err(ImageError::BadJpeg("the frame header is too short"));
    }
    let (height, width, components) = (be16(&s[1..3]), be16(&s[3..5]), s[5]);
    if width == 0 || height == 0 {
        return Err(ImageError::BadJpeg("width or height is zero"));
    }
    if !matches!(components, 1 | 3 | 4) || s.len() != 6 + 3 * usize::from(components) {
        return Err(ImageError::BadJpeg("invalid frame components"));
    }
    Ok((u32::from(width), u32::from(height)))
}

#[cfg(test)]
#[path = "image_tests.rs"]
mod tests;
