//! Blobs: writes stream in (in parts, on S3), appear only once finished, read back
//! byte for byte, and leave nothing behind when abandoned.

use std::path::Path;

use bytes::Bytes;
use usher_store::{Blobs, Concat, PART_SIZE};

use crate::{Backend, Fixture};

const MIB: usize = 1024 * 1024;

/// Bytes that differ from part to part, so a part stored twice, dropped or out of
/// order shows (a constant fill would hide all three).
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Every file under `dir`, for checking what the local store left on disk.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out
}

async fn read_back(f: &Fixture, key: &str) -> Vec<u8> {
    let path = f.dir.path().join(format!("read-{}", key.replace('/', "_")));
    let n = f.blobs.download_to(key, &path).await.unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(n, bytes.len() as u64);
    std::fs::remove_file(&path).unwrap();
    bytes
}

async fn blobs_stream_in_and_only_finished_writes_appear(f: &Fixture) {
    let mut w = f.blobs.writer("uploads/x/original").await.unwrap();
    for _ in 0..3 {
        w.write(Bytes::from(vec![7u8; 5 * MIB])).await.unwrap();
    }
    assert!(
        !f.blobs.exists("uploads/x/original").await.unwrap(),
        "invisible until finished"
    );
    assert_eq!(w.finish().await.unwrap(), 15 * MIB as u64);
    match f.backend {
        Backend::SqliteLocal => {
            let path = f.blobs.local_path("uploads/x/original").unwrap();
            assert_eq!(std::fs::metadata(&path).unwrap().len(), 15 * MIB as u64);
        }
        Backend::PostgresS3 => {
            assert!(f.blobs.local_path("uploads/x/original").is_none());
            assert!(f.blobs.exists("uploads/x/original").await.unwrap());
        }
    }

    let mut w = f.blobs.writer("uploads/y/original").await.unwrap();
    w.write(Bytes::from_static(b"partial")).await.unwrap();
    w.abort().await;
    assert!(!f.blobs.exists("uploads/y/original").await.unwrap());

    let copy = f.dir.path().join("copy");
    assert_eq!(
        f.blobs
            .download_to("uploads/x/original", &copy)
            .await
            .unwrap(),
        15 * MIB as u64
    );
    f.blobs
        .put_file("videos/v/g1/manifest/a.m3u8", &copy)
        .await
        .unwrap();
    f.blobs
        .put_file("videos/v/g2/manifest/a.m3u8", &copy)
        .await
        .unwrap();
    let mut dirs = f.blobs.list_dirs("videos/v").await.unwrap();
    dirs.sort();
    assert_eq!(dirs, vec!["videos/v/g1", "videos/v/g2"]);
    assert_eq!(f.blobs.delete_prefix("videos/v").await.unwrap(), 2);
    assert!(f.blobs.list("videos").await.unwrap().is_empty());
    if let Some(root) = &f.root {
        assert!(root.exists());
    }
}

async fn blob_keys_cannot_escape_the_store(f: &Fixture) {
    assert!(f.blobs.writer("../escape").await.is_err());
    assert!(f.blobs.local_path("../../etc/passwd").is_none());
}

/// Larger than two parts and not a whole number of them, written in uneven chunks: on
/// S3 a real multipart upload of three parts.
async fn a_multipart_blob_reads_back_identical_and_appears_only_when_finished(f: &Fixture) {
    let len = 2 * PART_SIZE + 4 * MIB + 123;
    assert!(len > 20 * MIB);
    let data = pattern(len);
    let key = "uploads/big/original";
    let mut w = f.blobs.writer(key).await.unwrap();
    for chunk in data.chunks(3 * MIB + 17) {
        w.write(Bytes::copy_from_slice(chunk)).await.unwrap();
        assert!(!f.blobs.exists(key).await.unwrap(), "visible before finish");
    }
    assert_eq!(w.written(), len as u64);
    assert!(f.blobs.list("uploads").await.unwrap().is_empty());
    assert_eq!(w.finish().await.unwrap(), len as u64);
    assert_eq!(f.blobs.list("uploads").await.unwrap(), vec![key]);
    assert!(read_back(f, key).await == data, "read back differs");
}

/// An upload given up after some parts were sent leaves no blob, no listing entry and
/// (locally) no staging file.
async fn an_aborted_write_leaves_nothing(f: &Fixture) {
    let key = "uploads/gone/original";
    let mut w = f.blobs.writer(key).await.unwrap();
    for chunk in pattern(PART_SIZE + 3 * MIB).chunks(MIB) {
        w.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    w.abort().await;
    assert!(!f.blobs.exists(key).await.unwrap());
    assert!(f.blobs.list("").await.unwrap().is_empty());
    if let Some(root) = &f.root {
        assert_eq!(files_under(root), Vec::<std::path::PathBuf>::new());
    }
}

/// Parts stored durably are joined in order into one blob (locally an in-kernel copy
/// into a staging file; on S3 a multipart upload of bounded parts), larger than one
/// store part so the join spans several. A missing part, or one of the wrong size, is
/// named and nothing is written.
async fn parts_concatenate_in_order_and_a_bad_part_writes_nothing(f: &Fixture) {
    let data = pattern(PART_SIZE + 3 * MIB + 7);
    let cuts = [0, 5, MIB, PART_SIZE - 1, PART_SIZE + 2 * MIB, data.len()];
    let mut parts = Vec::new();
    for (i, w) in cuts.windows(2).enumerate() {
        let key = format!("uploads/cat/parts/{i}");
        let piece = Bytes::copy_from_slice(&data[w[0]..w[1]]);
        // Handed over in several chunks, as a request body arrives.
        let (a, b) = piece.split_at(piece.len() / 2);
        f.blobs
            .put_durably(
                &key,
                vec![Bytes::copy_from_slice(a), Bytes::copy_from_slice(b)],
            )
            .await
            .unwrap();
        parts.push((key, (w[1] - w[0]) as u64));
    }
    let to = "uploads/cat/original";
    assert_eq!(
        f.blobs.concat(&parts, to).await.unwrap(),
        Concat::Done(data.len() as u64)
    );
    assert!(read_back(f, to).await == data, "joined blob differs");
    assert_eq!(f.blobs.list("uploads/cat/parts").await.unwrap().len(), 5);

    let mut wrong = parts.clone();
    wrong[2].1 += 1;
    let missing = [parts[0].clone(), ("uploads/cat/parts/none".to_owned(), 3)];
    for (bad, index) in [(&wrong[..], 2), (&missing[..], 1)] {
        assert_eq!(
            f.blobs.concat(bad, "uploads/dog/original").await.unwrap(),
            Concat::BadPart(index)
        );
        assert!(!f.blobs.exists("uploads/dog/original").await.unwrap());
    }
    if let Some(root) = &f.root {
        let left: Vec<_> = files_under(root)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains('#'))
            .collect();
        assert!(left.is_empty(), "staging files left behind: {left:?}");
    }
}

/// Prefixes are whole path segments (`videos/v` is not a prefix of `videos/v2/…`), and
/// stores opened on different prefixes of one bucket see nothing of each other.
async fn prefixes_are_whole_segments_and_stores_do_not_overlap(f: &Fixture) {
    for key in ["videos/v/g1/a.ts", "videos/v2/g1/a.ts", "videos/vx"] {
        f.blobs.put_file(key, &write_small(f, key)).await.unwrap();
    }
    assert_eq!(
        f.blobs.list("videos/v").await.unwrap(),
        vec!["videos/v/g1/a.ts"]
    );
    assert_eq!(f.blobs.delete_prefix("videos/v").await.unwrap(), 1);
    let mut left = f.blobs.list("videos").await.unwrap();
    left.sort();
    assert_eq!(left, vec!["videos/v2/g1/a.ts", "videos/vx"]);

    let same = Blobs::open(&f.media_url).unwrap();
    assert!(same.exists("videos/vx").await.unwrap());
    let other = Blobs::open(&format!("{}-other", f.media_url)).unwrap();
    assert!(!other.exists("videos/vx").await.unwrap());
    assert!(other.list("").await.unwrap().is_empty());
}

/// A copy inside the store: the same bytes under the new key, the original untouched,
/// and a later delete of the original (a generation replaced) leaves the copy whole.
async fn a_copy_survives_its_original(f: &Fixture) {
    let data = pattern(PART_SIZE + 3);
    let file = f.dir.path().join("seg");
    std::fs::write(&file, &data).unwrap();
    f.blobs
        .put_file("videos/v/g1/seg.m4s", &file)
        .await
        .unwrap();
    f.blobs
        .copy("videos/v/g1/seg.m4s", "videos/v/g2/seg.m4s")
        .await
        .unwrap();
    assert!(read_back(f, "videos/v/g2/seg.m4s").await == data);
    assert_eq!(f.blobs.delete_prefix("videos/v/g1").await.unwrap(), 1);
    assert!(
        read_back(f, "videos/v/g2/seg.m4s").await == data,
        "copy lost"
    );
    assert!(
        f.blobs
            .copy("videos/v/g1/seg.m4s", "videos/v/g3/x")
            .await
            .is_err(),
        "nothing to copy"
    );
}

fn write_small(f: &Fixture, key: &str) -> std::path::PathBuf {
    let path = f.dir.path().join(key.replace('/', "_"));
    std::fs::write(&path, key.as_bytes()).unwrap();
    path
}

conformance!(
    blobs_stream_in_and_only_finished_writes_appear,
    blob_keys_cannot_escape_the_store,
    a_multipart_blob_reads_back_identical_and_appears_only_when_finished,
    an_aborted_write_leaves_nothing,
    parts_concatenate_in_order_and_a_bad_part_writes_nothing,
    prefixes_are_whole_segments_and_stores_do_not_overlap,
    a_copy_survives_its_original,
);
