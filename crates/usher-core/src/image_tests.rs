//! Real files made by ffmpeg (`testdata/`), hand-built edge cases, and the parser's
//! refusals, each beside the file it refuses a variant of.

use proptest::prelude::*;

use super::*;

/// `ffmpeg -f lavfi -i "color=c=red@0.5:s=48x16,format=rgba" -frames:v 1 logo.png`
const PNG: &[u8] = include_bytes!("../testdata/logo.png");
/// `ffmpeg -f lavfi -i testsrc2=s=40x24 -frames:v 1 -q:v 8 logo.jpg` (DHT before SOF0)
const JPEG: &[u8] = include_bytes!("../testdata/logo.jpg");

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut typed = kind.to_vec();
    typed.extend_from_slice(data);
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&typed);
    out.extend_from_slice(&crc32(&typed).to_be_bytes());
    out
}

/// A PNG of the given size and colour type/depth with a placeholder IDAT (the parser
/// reads headers only).
fn png_of(width: u32, height: u32, depth: u8, colour: u8) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    let mut out = PNG_SIGNATURE.to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00]));
    out.extend(chunk(b"IEND", &[]));
    out
}

#[test]
fn crc32_matches_the_reference_value() {
    // The CRC-32 check value of "123456789".
    assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
}

#[test]
fn real_files_are_recognised_with_their_size() {
    assert_eq!(
        sniff(PNG),
        Ok(ImageInfo {
            format: ImageFormat::Png,
            width: 48,
            height: 16
        })
    );
    assert_eq!(
        sniff(JPEG),
        Ok(ImageInfo {
            format: ImageFormat::Jpeg,
            width: 40,
            height: 24
        })
    );
}

#[test]
fn every_truncation_is_refused() {
    for file in [PNG, JPEG] {
        // A JPEG cut inside its scan still has every header; that is for the decoder.
        let headers_end = if file == JPEG {
            let sos = file.windows(2).position(|w| w == [0xff, 0xda]).unwrap();
            sos + 2 + usize::from(be16(&file[sos + 2..]))
        } else {
            file.len()
        };
        for n in 0..headers_end {
            assert!(sniff(&file[..n]).is_err(), "a {n}-byte prefix was accepted");
        }
    }
    assert_eq!(sniff(b""), Err(ImageError::Empty));
}

#[test]
fn other_content_is_refused() {
    for bytes in [
        &b"GIF89a\x01\x00\x01\x00"[..],
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"\x00\x00\x00\x18ftypmp42",
        b"not an image at all",
    ] {
        assert_eq!(sniff(bytes), Err(ImageError::UnknownFormat));
    }
}

#[test]
fn png_header_rules() {
    assert!(sniff(&png_of(10, 10, 8, 6)).is_ok());
    assert!(sniff(&png_of(10, 10, 1, 0)).is_ok());
    assert!(sniff(&png_of(MAX_IMAGE_SIDE, 1, 8, 2)).is_ok());
    assert_eq!(
        sniff(&png_of(MAX_IMAGE_SIDE + 1, 1, 8, 2)),
        Err(ImageError::TooLarge {
            width: MAX_IMAGE_SIDE + 1,
            height: 1
        })
    );
    for (w, h, depth, colour) in [(0, 1, 8, 6), (1, 0, 8, 6), (1, 1, 4, 6), (1, 1, 16, 3)] {
        assert!(
            matches!(
                sniff(&png_of(w, h, depth, colour)),
                Err(ImageError::BadPng(_))
            ),
            "{w}x{h} depth {depth} colour {colour}"
        );
    }
    // A flipped bit anywhere in a chunk fails its CRC.
    let mut bad = PNG.to_vec();
    bad[20] ^= 0x01;
    assert_eq!(
        sniff(&bad),
        Err(ImageError::BadPng("a chunk's CRC does not match"))
    );
    // IHDR must come first; IDAT must exist.
    let mut late = PNG_SIGNATURE.to_vec();
    late.extend(chunk(b"tEXt", b"a\0b"));
    late.extend_from_slice(&png_of(1, 1, 8, 6)[8..]);
    assert!(matches!(sniff(&late), Err(ImageError::BadPng(_))));
    let mut no_data = PNG_SIGNATURE.to_vec();
    no_data.extend_from_slice(&png_of(1, 1, 8, 6)[8..8 + 25]);
    no_data.extend(chunk(b"IEND", &[]));
    assert_eq!(
        sniff(&no_data),
        Err(ImageError::BadPng("no image data (IDAT)"))
    );
}

#[test]
fn jpeg_frame_rules() {
    let sof = JPEG.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
    // Progressive is fine; arithmetic coding and lossless are not.
    for (code, ok) in [(0xc1, true), (0xc2, true), (0xc3, false), (0xc9, false)] {
        let mut f = JPEG.to_vec();
        f[sof + 1] = code;
        assert_eq!(sniff(&f).is_ok(), ok, "SOF {code:#x}");
    }
    // Zero height.
    let mut f = JPEG.to_vec();
    f[sof + 5] = 0;
    f[sof + 6] = 0;
    assert_eq!(
        sniff(&f),
        Err(ImageError::BadJpeg("width or height is zero"))
    );
    // No frame header before the scan.
    let mut f = JPEG[..sof].to_vec();
    f.extend_from_slice(&JPEG[sof + 19..]);
    assert_eq!(
        sniff(&f),
        Err(ImageError::BadJpeg("a scan before the frame header"))
    );
}

proptest! {
    #[test]
    fn never_panics_on_anything(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = sniff(&bytes);
    }

    #[test]
    fn never_panics_on_damaged_real_files(
        which in any::<bool>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut f = if which { PNG.to_vec() } else { JPEG.to_vec() };
        for (at, byte) in edits {
            let i = at.index(f.len());
            f[i] = byte;
        }
        let n = cut.index(f.len() + 1);
        if let Ok(info) = sniff(&f[..n]) {
            prop_assert!(info.width > 0 && info.height > 0);
            prop_assert!(info.width <= MAX_IMAGE_SIDE && info.height <= MAX_IMAGE_SIDE);
        }
    }
}
