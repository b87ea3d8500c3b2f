//! Where each video's bytes live in the blob store. Published outputs sit under a
//! generation that the video record points at, so a new set is written beside the old
//! one and switched to atomically in the database.

use usher_core::{AccountId, AudioTrackId, VideoId, WatermarkId};

/// The uploaded file, as received.
pub fn original_key(uid: &VideoId) -> String {
    format!("uploads/{uid}/original")
}

/// Where an unfinished resumable upload's bytes are staged, one blob per part, until
/// they are assembled into [`original_key`]. Any API process can read and add to them,
/// so a tus `PATCH` may land on any of them.
pub fn tus_parts_prefix(uid: &VideoId) -> String {
    format!("uploads/{uid}/parts")
}

/// One staged part of a resumable upload: its bytes from offset `start` on, written by
/// the request holding the upload as `writer`. Unique per writer, so a writer that lost
/// its claim can never overwrite a part another one recorded; the offset is zero-padded
/// so that a listing sorts in upload order.
pub fn tus_part_key(uid: &VideoId, start: i64, writer: &str) -> String {
    format!("uploads/{uid}/parts/{start:020}-{writer}")
}

/// A file under a prefix of this module, built with one allocation and no formatting:
/// the edge builds one per request. Equal to `format!("{prefix}/{file}")` (tested).
pub fn published_file(uid: &VideoId, place: PublishedDir<'_>, file: &str) -> String {
    let (middle, name) = match place {
        PublishedDir::Generation(g) => ("/", g),
        PublishedDir::Masters(r) => ("/masters/", r),
        PublishedDir::AudioTrack(t) => ("/audio/", t.as_str()),
    };
    let parts = ["videos/", uid.as_str(), middle, name, "/", file];
    let mut key = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        key.push_str(p);
    }
    key
}

/// Which directory [`published_file`] looks in.
#[derive(Debug, Clone, Copy)]
pub enum PublishedDir<'a> {
    /// [`generation_prefix`]
    Generation(&'a str),
    /// [`masters_prefix`]
    Masters(&'a str),
    /// [`audio_track_prefix`]
    AudioTrack(&'a AudioTrackId),
}

/// A live broadcast run's files: written by the ingest (`usher_live`), served by the
/// edges while the run is on air, removed a little after it ends.
pub fn live_run_prefix(input: &str, run: &str) -> String {
    format!("live/{input}/{run}")
}

/// The HLS master playlist of a live run (the edge's `manifest/video.m3u8`).
pub const LIVE_HLS_MASTER: &str = "master.m3u8";
/// The DASH MPD of a live run (the edge's `manifest/video.mpd`).
pub const LIVE_DASH_MANIFEST: &str = "manifest.mpd";

/// The directory of the videos' outputs (all generations).
pub fn outputs_prefix(uid: &VideoId) -> String {
    format!("videos/{uid}")
}

/// One published set of outputs; the edge maps `/{id}/<rest>` to `<this>/<rest>`.
/// Generations are 32 hex characters, which is how they are told apart from the other
/// directories under [`outputs_prefix`] ([`is_generation`]).
pub fn generation_prefix(uid: &VideoId, generation: &str) -> String {
    format!("videos/{uid}/{generation}")
}

/// Whether a directory name under [`outputs_prefix`] is a generation (not `masters`,
/// `audio`, …).
pub fn is_generation(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// All published master-manifest revisions of the video.
pub fn masters_dir(uid: &VideoId) -> String {
    format!("videos/{uid}/masters")
}

/// One revision of the master manifests (with captions and audio tracks); the edge maps
/// `/{id}/manifest/video.m3u8` and the caption files to `<this>/…`.
pub fn masters_prefix(uid: &VideoId, revision: &str) -> String {
    format!("videos/{uid}/masters/{revision}")
}

/// The file an additional audio track was fetched from, kept like the video's own
/// upload so that a retried encode need not fetch it again.
pub fn audio_source_key(uid: &VideoId, track: &AudioTrackId) -> String {
    format!("uploads/{uid}/audio/{track}")
}

/// An additional audio track's segments and playlist.
pub fn audio_track_prefix(uid: &VideoId, track: &AudioTrackId) -> String {
    format!("videos/{uid}/audio/{track}")
}

/// The watermark image a video is burnt with, copied from its profile at upload so
/// that deleting the profile later cannot fail a video still in the queue.
pub fn video_watermark_key(uid: &VideoId) -> String {
    format!("uploads/{uid}/watermark")
}

/// A watermark profile's image.
pub fn watermark_key(account: &AccountId, watermark: &WatermarkId) -> String {
    format!("watermarks/{account}/{watermark}")
}

/// Every prefix that holds bytes of the video.
pub fn media_prefixes(uid: &VideoId) -> [String; 2] {
    [format!("uploads/{uid}"), outputs_prefix(uid)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_files_sit_under_their_prefixes() {
        let uid = VideoId::generate();
        let track = AudioTrackId::generate();
        for (dir, prefix) in [
            (
                PublishedDir::Generation("g1"),
                generation_prefix(&uid, "g1"),
            ),
            (PublishedDir::Masters("r1"), masters_prefix(&uid, "r1")),
            (
                PublishedDir::AudioTrack(&track),
                audio_track_prefix(&uid, &track),
            ),
        ] {
            assert_eq!(
                published_file(&uid, dir, "manifest/v0/init.mp4"),
                format!("{prefix}/manifest/v0/init.mp4")
            );
        }
    }
}
