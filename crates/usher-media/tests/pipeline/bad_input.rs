//! Files that are not videos, or are broken ones: a reason code, never a panic, and no
//! retry for what a retry cannot fix.

use std::path::Path;

use usher_core::ErrorReason;
use usher_media::{MediaError, Plan, package, probe};

use crate::*;

async fn probe_reason(path: &Path) -> ErrorReason {
    let err = probe(&tools(), path).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    err.reason()
}

#[tokio::test]
async fn a_text_file_is_not_a_video() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("notes.txt");
    std::fs::write(
        &path,
        "Hello! These are my notes, not a video.\n".repeat(50),
    )
    .unwrap();
    assert_eq!(probe_reason(&path).await, ErrorReason::NonVideo);
    let empty = tmp.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(probe_reason(&empty).await, ErrorReason::NonVideo);
}

#[tokio::test]
async fn audio_only_and_still_images_are_not_videos() {
    let tmp = tempfile::tempdir().unwrap();
    let m4a = tmp.path().join("song.m4a");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440",
        "-t",
        "2",
        "-c:a",
        "aac",
        m4a.to_str().unwrap(),
    ]);
    assert_eq!(probe_reason(&m4a).await, ErrorReason::NonVideo);
    let mp3 = tmp.path().join("song.mp3");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440",
        "-t",
        "2",
        mp3.to_str().unwrap(),
    ]);
    assert_eq!(probe_reason(&mp3).await, ErrorReason::NonVideo);
    let png = tmp.path().join("photo.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240",
        "-frames:v",
        "1",
        png.to_str().unwrap(),
    ]);
    assert_eq!(probe_reason(&png).await, ErrorReason::NonVideo);
}

#[tokio::test]
async fn a_playlist_cannot_make_ffmpeg_read_other_files() {
    // An uploaded "video" that is really a playlist pointing at a file on the server.
    let tmp = tempfile::tempdir().unwrap();
    let input = h264_aac_720p(tmp.path());
    let playlist = tmp.path().join("upload.m3u8");
    std::fs::write(
        &playlist,
        format!(
            "#EXTM3U\n#EXTINF:10,\n{}\n#EXT-X-ENDLIST\n",
            input.display()
        ),
    )
    .unwrap();
    assert_eq!(probe_reason(&playlist).await, ErrorReason::NonVideo);
}

#[tokio::test]
async fn an_mp4_cut_short_before_its_index_is_malformed() {
    let tmp = tempfile::tempdir().unwrap();
    let input = h264_aac_720p(tmp.path());
    let bytes = std::fs::read(&input).unwrap();
    let truncated = tmp.path().join("truncated.mp4");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = probe(&tools(), &truncated).await.unwrap_err();
    assert_eq!(err.reason(), ErrorReason::MalformedVideo);
    assert!(
        err.stderr_tail().unwrap().contains("moov atom not found"),
        "{:?}",
        err.stderr_tail()
    );
}

/// A `+faststart` MP4 (index first) whose media is cut or overwritten: it probes fine,
/// and the damage only shows while packaging. Packaged as a copy alone (no rungs
/// below it, which would decode it), to test what notices damage in copied media.
async fn package_damaged(damage: impl FnOnce(Vec<u8>) -> Vec<u8>) -> MediaError {
    package_damaged_as(damage, |_| Plan::Remux { lower: vec![] }).await
}

async fn package_damaged_as(
    damage: impl FnOnce(Vec<u8>) -> Vec<u8>,
    plan_for: impl FnOnce(&usher_media::Probe) -> Plan,
) -> MediaError {
    let tmp = tempfile::tempdir().unwrap();
    let input = h264_aac_720p(tmp.path());
    let faststart = tmp.path().join("faststart.mp4");
    ffmpeg(&[
        "-i",
        input.to_str().unwrap(),
        "-c",
        "copy",
        "-movflags",
        "+faststart",
        faststart.to_str().unwrap(),
    ]);
    let damaged = tmp.path().join("damaged.mp4");
    std::fs::write(&damaged, damage(std::fs::read(&faststart).unwrap())).unwrap();
    let tools = tools();
    let probed = probe(&tools, &damaged).await.unwrap();
    assert_eq!(
        probed.duration_secs, 10.0,
        "the index still claims the full length"
    );
    package(
        &tools,
        &damaged,
        &probed,
        &plan_for(&probed),
        &tmp.path().join("out"),
        |_| {},
    )
    .await
    .unwrap_err()
}

#[tokio::test]
async fn garbage_after_the_header_is_malformed() {
    let err = package_damaged(|mut bytes| {
        // Keep the header and the first ~60 KB of media, overwrite the rest with noise.
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for b in bytes.iter_mut().skip(60_000) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        bytes
    })
    .await;
    assert_eq!(err.reason(), ErrorReason::MalformedVideo, "{err}");
    assert!(!err.is_retryable());
    // ffmpeg copies the noise without complaint; the sample walk (integrity.rs) finds it.
    assert!(err.to_string().contains("NAL"), "{err}");
}

/// The same noise under the whole ladder: the rungs below the copy decode it, and ffmpeg
/// (`-xerror`) stops at the first undecodable frame.
#[tokio::test]
async fn garbage_under_a_ladder_is_malformed() {
    let err = package_damaged_as(
        |mut bytes| {
            let mut x = 0x2545_f491_4f6c_dd1d_u64;
            for b in bytes.iter_mut().skip(60_000) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            bytes
        },
        usher_media::plan,
    )
    .await;
    assert_eq!(err.reason(), ErrorReason::MalformedVideo, "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_truncated_faststart_mp4_is_malformed() {
    let err = package_damaged(|mut bytes| {
        bytes.truncate(bytes.len() / 2);
        bytes
    })
    .await;
    assert_eq!(err.reason(), ErrorReason::MalformedVideo, "{err}");
    assert!(!err.is_retryable());
}
