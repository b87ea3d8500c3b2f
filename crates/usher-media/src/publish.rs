//! Publishing a video's master manifests with its captions and additional audio tracks.
//!
//! A generation (the ladder) is immutable, and so is what the edge caches of it. The
//! masters that also list captions and audio tracks change whenever those do, so they
//! are written as a new *revision* beside the generation —
//! `videos/{uid}/masters/{revision}/` holding `video.m3u8`, `video.mpd` and each
//! caption's `cc-{lang}/index.m3u8` and `cc-{lang}/captions.vtt` — and switched to in one
//! conditional database update ([`usher_store::Db::set_masters`]). Revision names begin
//! with the tracks version they show, so stale ones can be told from ones still being
//! written by a concurrent publisher.
//!
//! Anyone who changes a video's tracks calls [`republish`] after committing; the
//! packaging job renders a revision with [`prepare`] before it marks the video ready,
//! then calls [`republish`] to catch up with changes made meanwhile. Both are safe to run
//! concurrently from any number of processes: the newest rendering wins.

use bytes::Bytes;
use usher_core::VideoId;
use usher_core::ids::random_hex_id;
use usher_store::layout::{generation_prefix, masters_dir, masters_prefix};
use usher_store::{Blobs, Db, Masters, StoreError, TracksSnapshot};

use crate::command::MANIFEST_DIR;
use crate::index::{PLAYLIST_FILE, Rendition, SegmentIndex};
use crate::manifest::{
    self, AudioTrack, CAPTIONS_FILE, Caption, DASH_MPD_FILE, HLS_MASTER_FILE, Tracks, caption_dir,
};
use crate::package::INDEX_FILE;

/// Largest segment index read back from the store (a ten-hour ladder is a few MB).
pub const MAX_INDEX_BYTES: u64 = 64 << 20;
/// Times [`republish`] renders again because the tracks changed while it worked. The
/// writer of a later change calls it too, so giving up here loses nothing.
const MAX_ROUNDS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("published media is unreadable: {0}")]
    Corrupt(String),
}

/// What [`republish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// No such video, or it is not ready: its packaging job will publish the tracks.
    NotReady,
    /// The published masters already showed the tracks.
    UpToDate,
    /// Switched to this revision.
    Switched(String),
}

/// Brings the video's published masters up to date with its tracks.
pub async fn republish(db: &Db, blobs: &Blobs, uid: &VideoId) -> Result<Published, PublishError> {
    let mut outcome = Published::UpToDate;
    for _ in 0..MAX_ROUNDS {
        let Some(snapshot) = db.tracks_snapshot(uid).await? else {
            return Ok(Published::NotReady);
        };
        let Some(generation) = snapshot
            .generation
            .clone()
            .filter(|_| snapshot.state == usher_core::VideoState::Ready)
        else {
            return Ok(Published::NotReady);
        };
        if snapshot.is_published() {
            return Ok(outcome);
        }
        let index = read_index(blobs, uid, &generation).await?;
        let masters = write_revision(blobs, uid, &index, &snapshot).await?;
        match db.set_masters(uid, &generation, &masters).await? {
            Some(replaced) => {
                tracing::info!(video = %uid, revision = masters.revision, "published tracks");
                remove_stale(blobs, uid, &masters, replaced.as_deref()).await;
                outcome = Published::Switched(masters.revision);
            }
            None => {
                // Someone published a newer version, or the generation moved on.
                blobs
                    .delete_prefix(&masters_prefix(uid, &masters.revision))
                    .await?;
            }
        }
    }
    Ok(outcome)
}

/// Renders and writes a revision over a generation about to be published, from the
/// video's tracks as they are now; the caller switches to it with `mark_ready`.
pub async fn prepare(
    db: &Db,
    blobs: &Blobs,
    uid: &VideoId,
    index: &SegmentIndex,
) -> Result<Masters, PublishError> {
    let snapshot = db
        .tracks_snapshot(uid)
        .await?
        .ok_or_else(|| PublishError::Corrupt(format!("video {uid} is gone")))?;
    write_revision(blobs, uid, index, &snapshot).await
}

/// Removes the revisions no edge should need any more: every one rendered from a
/// version up to the one just published, except it and the one it replaced (an edge may
/// still serve that for the moment until it reloads). Newer ones may be a concurrent
/// publisher's, still being written. A failure here only leaves litter, so it is logged.
pub async fn remove_stale(blobs: &Blobs, uid: &VideoId, current: &Masters, replaced: Option<&str>) {
    let dirs = match blobs.list_dirs(&masters_dir(uid)).await {
        Ok(dirs) => dirs,
        Err(e) => {
            tracing::warn!(video = %uid, error = %e, "could not list masters revisions");
            return;
        }
    };
    for dir in dirs {
        let name = dir.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        let stale = revision_version(name).is_some_and(|v| v <= current.version)
            && name != current.revision
            && Some(name) != replaced;
        if stale && let Err(e) = blobs.delete_prefix(&dir).await {
            tracing::warn!(video = %uid, error = %e, "could not remove a stale masters revision");
        }
    }
}

/// `{version}-{random}`: the version first, so stale revisions are known by name.
fn revision_name(version: i64) -> String {
    format!("{version:012}-{}", &random_hex_id()[..12])
}

fn revision_version(name: &str) -> Option<i64> {
    name.split_once('-')?.0.parse().ok()
}

async fn read_index(
    blobs: &Blobs,
    uid: &VideoId,
    generation: &str,
) -> Result<SegmentIndex, PublishError> {
    let key = format!(
        "{}/{MANIFEST_DIR}/{INDEX_FILE}",
        generation_prefix(uid, generation)
    );
    let bytes = blobs
        .get_bytes(&key, MAX_INDEX_BYTES)
        .await?
        .ok_or_else(|| PublishError::Corrupt(format!("{key} is missing")))?;
    serde_json::from_slice(&bytes).map_err(|e| PublishError::Corrupt(format!("{key}: {e}")))
}

/// The manifests' view of the snapshot's tracks. A track whose stored index does not
/// parse is left out (and logged) rather than failing every other track's publication.
pub fn tracks_of(uid: &VideoId, snapshot: &TracksSnapshot) -> Tracks {
    let audio = snapshot
        .audio
        .iter()
        .filter_map(|t| match serde_json::from_str::<Rendition>(&t.rendition) {
            Ok(mut rendition) => {
                rendition.id = audio_track_dir(&t.uid);
                Some(AudioTrack {
                    rendition,
                    label: t.label.clone(),
                    default: t.default,
                })
            }
            Err(e) => {
                tracing::error!(video = %uid, track = %t.uid, error = %e, "audio track index unreadable; left out");
                None
            }
        })
        .collect();
    let captions = snapshot
        .captions
        .iter()
        .map(|c| Caption {
            id: caption_dir(&c.language),
            language: c.language.clone(),
            label: c.label.clone(),
        })
        .collect();
    Tracks { audio, captions }
}

/// Directory under `manifest/` of an additional audio track: `t{uid}`.
pub fn audio_track_dir(track: &usher_core::AudioTrackId) -> String {
    format!("t{track}")
}

async fn write_revision(
    blobs: &Blobs,
    uid: &VideoId,
    index: &SegmentIndex,
    snapshot: &TracksSnapshot,
) -> Result<Masters, PublishError> {
    let tracks = tracks_of(uid, snapshot);
    let masters = Masters {
        revision: revision_name(snapshot.version),
        version: snapshot.version,
        audio: snapshot
            .audio
            .iter()
            .filter(|t| {
                let dir = audio_track_dir(&t.uid);
                tracks.audio.iter().any(|a| a.rendition.id == dir)
            })
            .map(|t| t.uid.clone())
            .collect(),
    };
    let prefix = masters_prefix(uid, &masters.revision);
    let mut files: Vec<(String, Bytes)> = vec![
        (
            HLS_MASTER_FILE.to_owned(),
            manifest::hls_master_with(index, &tracks).into(),
        ),
        (
            DASH_MPD_FILE.to_owned(),
            manifest::dash_mpd_with(index, &tracks).into(),
        ),
    ];
    for c in &snapshot.captions {
        let dir = caption_dir(&c.language);
        files.push((
            format!("{dir}/{PLAYLIST_FILE}"),
            manifest::hls_subtitles(index.duration_secs).into(),
        ));
        files.push((format!("{dir}/{CAPTIONS_FILE}"), c.vtt.clone().into()));
    }
    // The masters go last: a revision is complete once they exist, and nothing points
    // at it before the switch anyway.
    files.rotate_left(2);
    for (name, bytes) in files {
        blobs.put_bytes(&format!("{prefix}/{name}"), bytes).await?;
    }
    Ok(masters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_names_carry_their_version() {
        let name = revision_name(42);
        assert_eq!(revision_version(&name), Some(42));
        assert!(name.starts_with("000000000042-"), "{name}");
        assert_ne!(revision_name(42), name);
        assert_eq!(revision_version("garbage"), None);
        assert_eq!(revision_version("x-y"), None);
    }
}
