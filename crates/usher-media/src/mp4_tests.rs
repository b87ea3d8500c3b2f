//! Box-level tests on hand-built boxes; real ffmpeg output is covered by the pipeline tests.

use super::*;

fn bx(fourcc: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(fourcc);
    out.extend_from_slice(payload);
    out
}

fn full(fourcc: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut payload = (u32::from(version) << 24 | flags).to_be_bytes().to_vec();
    payload.extend_from_slice(body);
    bx(fourcc, &payload)
}

fn init(sample_entry: Vec<u8>, timescale: u32, trex_duration: u32) -> Vec<u8> {
    let mut mdhd = vec![0u8; 8];
    mdhd.extend_from_slice(&timescale.to_be_bytes());
    mdhd.extend_from_slice(&[0; 8]);
    let mut stsd_body = 1u32.to_be_bytes().to_vec();
    stsd_body.extend_from_slice(&sample_entry);
    let stbl = bx(b"stbl", &full(b"stsd", 0, 0, &stsd_body));
    let mdia = [full(b"mdhd", 0, 0, &mdhd), bx(b"minf", &stbl)].concat();
    let trak = bx(b"trak", &bx(b"mdia", &mdia));
    let trex_body: Vec<u8> = [1u32, 1, trex_duration, 0, 0]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let mvex = bx(b"mvex", &full(b"trex", 0, 0, &trex_body));
    [bx(b"ftyp", b"iso6"), bx(b"moov", &[trak, mvex].concat())].concat()
}

fn avc1(width: u16, height: u16, avcc: &[u8]) -> Vec<u8> {
    let mut body = vec![0u8; 78];
    body[24..26].copy_from_slice(&width.to_be_bytes());
    body[26..28].copy_from_slice(&height.to_be_bytes());
    body.extend_from_slice(&bx(b"avcC", avcc));
    bx(b"avc1", &body)
}

fn mp4a(channels: u16, asc: &[u8]) -> Vec<u8> {
    let mut body = vec![0u8; 28];
    body[16..18].copy_from_slice(&channels.to_be_bytes());
    let mut dcd = vec![0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    dcd.extend_from_slice(&[0x05, asc.len() as u8]);
    dcd.extend_from_slice(asc);
    // ES_Descriptor with a 4-byte (0x80-continued) length, as ffmpeg writes it.
    let mut es = vec![0, 1, 0, 0x04, 0x80, 0x80, 0x80, dcd.len() as u8];
    es.extend_from_slice(&dcd);
    let mut esds = vec![0x03, 0x80, 0x80, 0x80, es.len() as u8];
    esds.extend_from_slice(&es);
    body.extend_from_slice(&full(b"esds", 0, 0, &esds));
    bx(b"mp4a", &body)
}

#[test]
fn video_init_gives_timescale_size_and_avc_codec_string() {
    let data = init(avc1(1280, 720, &[1, 0x64, 0x00, 0x1f, 0xff]), 15360, 512);
    let info = parse_init(&data).unwrap();
    assert_eq!(info.timescale, 15360);
    assert_eq!(info.codecs, "avc1.64001f");
    assert_eq!(
        info.entry,
        SampleEntry::Video {
            width: 1280,
            height: 720,
            nal_length_size: 4
        }
    );
    assert_eq!(info.default_sample_duration, 512);
}

#[test]
fn audio_init_gives_the_aac_object_type() {
    let info = parse_init(&init(mp4a(2, &[0x11, 0x90]), 48000, 1024)).unwrap();
    assert_eq!(
        (info.codecs.as_str(), info.entry),
        ("mp4a.40.2", SampleEntry::Audio { channels: 2 })
    );
    // HE-AAC signalled explicitly (object type 5).
    assert_eq!(
        parse_init(&init(mp4a(2, &[0x2b, 0x92, 0x08]), 48000, 0))
            .unwrap()
            .codecs,
        "mp4a.40.5"
    );
}

#[test]
fn other_sample_entries_and_garbage_are_errors() {
    assert!(matches!(
        parse_init(&init(bx(b"hvc1", &[0; 90]), 90000, 0)),
        Err(Mp4Error::Unsupported(_))
    ));
    assert!(parse_init(b"not an mp4 at all").is_err());
    let mut truncated = init(avc1(1, 1, &[1, 0x42, 0xc0, 0x1e]), 90000, 0);
    truncated.truncate(truncated.len() - 30);
    assert!(parse_init(&truncated).is_err());
}

fn moof(tfdt_v1: Option<u64>, tfhd_default: Option<u32>, trun: Vec<u8>) -> Vec<u8> {
    let tfhd = match tfhd_default {
        Some(d) => full(
            b"tfhd",
            0,
            0x020008,
            &[1u32.to_be_bytes(), d.to_be_bytes()].concat(),
        ),
        None => full(b"tfhd", 0, 0x020000, &1u32.to_be_bytes()),
    };
    let tfdt = match tfdt_v1 {
        Some(t) => full(b"tfdt", 1, 0, &t.to_be_bytes()),
        None => full(b"tfdt", 0, 0, &7u32.to_be_bytes()),
    };
    let traf = bx(b"traf", &[tfhd, tfdt, trun].concat());
    bx(
        b"moof",
        &[full(b"mfhd", 0, 0, &1u32.to_be_bytes()), traf].concat(),
    )
}

#[test]
fn fragment_durations_from_defaults_and_per_sample_values() {
    // Default durations from tfhd: 120 samples of 512 ticks.
    let trun = full(
        b"trun",
        0,
        0x000201,
        &[120u32.to_be_bytes(), 0u32.to_be_bytes()].concat(),
    );
    let t = parse_fragments(&moof(Some(61440), Some(512), trun.clone()), 0).unwrap();
    assert_eq!(
        t,
        FragmentTiming {
            start: 61440,
            duration: 61440,
            samples: 120,
            earliest_presentation: 61440,
        }
    );
    // No tfhd default: the trex default applies.
    let t = parse_fragments(&moof(None, None, trun), 1000).unwrap();
    assert_eq!(
        t,
        FragmentTiming {
            start: 7,
            duration: 120_000,
            samples: 120,
            earliest_presentation: 7,
        }
    );
    // Per-sample durations (flag 0x100) with sizes interleaved (0x200) and a first-sample-flags field.
    let body: Vec<u8> = [3u32, 0, 0x0200_0000, 1000, 10, 1024, 11, 990, 12]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let trun = full(b"trun", 0, 0x000305, &body);
    let t = parse_fragments(&moof(Some(0), Some(5), trun), 0).unwrap();
    assert_eq!((t.duration, t.samples), (3014, 3));
}

#[test]
fn earliest_presentation_adds_composition_offsets() {
    // I P B B in decode order, 512 ticks each, with x264-style offsets: the I frame is
    // shown 2 frames after it is decoded, the Bs in between.
    let body: Vec<u8> = [4u32, 0, 512, 1024, 512, 2048, 512, 512, 512, 512]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let trun = full(b"trun", 0, 0x000901, &body);
    let t = parse_fragments(&moof(Some(10_000), None, trun), 0).unwrap();
    assert_eq!(
        (t.start, t.duration, t.earliest_presentation),
        (10_000, 2048, 11_024)
    );
    // Version 1: signed offsets (the I frame shown at its decode time, a B before it).
    let body: Vec<u8> = [2u32, 0, 512, 0, 512, (-512i32) as u32]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let trun = full(b"trun", 1, 0x000901, &body);
    let t = parse_fragments(&moof(Some(1024), None, trun), 0).unwrap();
    assert_eq!(t.earliest_presentation, 1024);
}

#[test]
fn edit_lists_shift_presentation() {
    let with_edits = |elst: Vec<u8>| {
        let data = init(avc1(640, 360, &[1, 0x64, 0x00, 0x1e, 0xff]), 15360, 512);
        // Put an mvhd (movie timescale 1000) and edts/elst into the moov.
        let mut mvhd = vec![0u8; 8];
        mvhd.extend_from_slice(&1000u32.to_be_bytes());
        mvhd.extend_from_slice(&[0; 84]);
        let moov = child(&data, b"moov").unwrap().unwrap();
        let trak = child(moov, b"trak").unwrap().unwrap();
        let trak = bx(b"trak", &[bx(b"edts", &elst), trak.to_vec()].concat());
        let mvex = bx(b"mvex", child(moov, b"mvex").unwrap().unwrap());
        let moov = bx(b"moov", &[full(b"mvhd", 0, 0, &mvhd), trak, mvex].concat());
        parse_init(&[bx(b"ftyp", b"iso6"), moov].concat()).unwrap()
    };
    let entries = |list: &[(u32, i32)]| {
        let mut body = (list.len() as u32).to_be_bytes().to_vec();
        for (duration, media_time) in list {
            body.extend_from_slice(&duration.to_be_bytes());
            body.extend_from_slice(&media_time.to_be_bytes());
            body.extend_from_slice(&0x0001_0000u32.to_be_bytes());
        }
        full(b"elst", 0, 0, &body)
    };
    // ffmpeg's fMP4 for a stream with 2 frames of B-frame delay at 30 fps: 66 ms empty,
    // then the media from 1024 ticks on.
    assert_eq!(
        with_edits(entries(&[(66, -1), (0, 1024)])).edit_shift,
        1013 - 1024
    );
    assert_eq!(with_edits(entries(&[(0, 0)])).edit_shift, 0);
    assert_eq!(with_edits(entries(&[(0, 512)])).edit_shift, -512);
    assert_eq!(
        parse_init(&init(avc1(1, 1, &[1, 0x42, 0xc0, 0x1e, 0xff]), 90000, 0))
            .unwrap()
            .edit_shift,
        0,
        "no edit list"
    );
}

#[test]
fn moofs_are_read_without_the_media() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seg.m4s");
    let trun = full(
        b"trun",
        0,
        0x000001,
        &[2u32.to_be_bytes(), 0u32.to_be_bytes()].concat(),
    );
    let m = moof(Some(0), Some(10), trun);
    let file = [bx(b"styp", b"msdh"), m.clone(), bx(b"mdat", &[7u8; 5000])].concat();
    std::fs::write(&path, &file).unwrap();
    assert_eq!(read_moofs(&path).unwrap(), m);

    std::fs::write(&path, &file[..file.len() - 10]).unwrap();
    assert!(matches!(read_moofs(&path), Err(Mp4Error::Truncated(_))));
}

#[test]
fn descriptor_lengths() {
    assert_eq!(descriptor_len(&[0x05, 9]), Some((5, &[9u8][..])));
    assert_eq!(
        descriptor_len(&[0x80, 0x80, 0x80, 0x22]),
        Some((0x22, &[][..]))
    );
    assert_eq!(descriptor_len(&[0x80, 0x80]), None);
}

/// An `esds` payload (after version/flags) around an AudioSpecificConfig.
fn esds_with(asc: &[u8]) -> Vec<u8> {
    let mut dcd = vec![0x40, 0x15];
    dcd.extend_from_slice(&[0; 11]);
    dcd.push(0x05);
    dcd.push(asc.len() as u8);
    dcd.extend_from_slice(asc);
    let mut es = vec![0x00, 0x01, 0x00, 0x04, dcd.len() as u8];
    es.extend_from_slice(&dcd);
    let mut out = vec![0x03, es.len() as u8];
    out.extend_from_slice(&es);
    out
}

#[test]
fn aac_channels_come_from_the_audio_specific_config() {
    // AAC-LC, 44.1 kHz, mono: 00010 0100 0001 000.
    assert_eq!(
        esds_codec(&esds_with(&[0x12, 0x08])).unwrap(),
        ("mp4a.40.2".to_owned(), Some(1))
    );
    // AAC-LC, 48 kHz, stereo: 00010 0011 0010 000.
    assert_eq!(
        esds_codec(&esds_with(&[0x11, 0x90])).unwrap(),
        ("mp4a.40.2".to_owned(), Some(2))
    );
    // HE-AAC signalled explicitly (object type 5), 7.1 (configuration 7 = 8 channels).
    assert_eq!(esds_codec(&esds_with(&[0x29, 0xb8])).unwrap().1, Some(8));
    // Channel configuration 0 (a program config element): left to the sample entry.
    assert_eq!(esds_codec(&esds_with(&[0x12, 0x00])).unwrap().1, None);
    // Cut short: the codec is still known.
    assert_eq!(
        esds_codec(&esds_with(&[0x12])).unwrap(),
        ("mp4a.40.2".to_owned(), None)
    );
}
