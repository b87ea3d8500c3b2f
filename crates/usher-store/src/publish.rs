//! What publishing a video's master manifests reads and writes: a consistent view of
//! its captions and ready audio tracks (the "tracks"), and the switch to a new masters
//! revision. `tracks_version` moves with every change to the tracks; the switch only
//! happens if the revision was rendered from a newer version than the published one,
//! so when two publishers race the newest rendering wins, whichever finishes first.

use sqlx::AssertSqlSafe;
use usher_core::{AudioTrackId, VideoId, VideoState};

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::row::{flag, get, parse};

/// A caption as the manifests need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptionTrack {
    pub language: String,
    pub label: String,
    pub vtt: String,
}

/// A ready additional audio track as the manifests need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioRendition {
    pub uid: AudioTrackId,
    pub label: String,
    pub default: bool,
    /// The track's segment index (JSON, written by the media worker).
    pub rendition: String,
}

/// The tracks of a video as of `version` (or later: the version is read first, so
/// what follows is never older than it).
#[derive(Debug, Clone)]
pub struct TracksSnapshot {
    pub state: VideoState,
    pub generation: Option<String>,
    pub revision: Option<String>,
    pub version: i64,
    pub published_version: i64,
    pub captions: Vec<CaptionTrack>,
    pub audio: Vec<AudioRendition>,
}

/// A masters revision as the video row records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masters {
    pub revision: String,
    /// The tracks version it was rendered from.
    pub version: i64,
    /// The additional audio tracks it lists.
    pub audio: Vec<AudioTrackId>,
}

impl TracksSnapshot {
    /// Whether the published masters already show this version of the tracks.
    pub fn is_published(&self) -> bool {
        self.revision.is_some() && self.published_version >= self.version
    }
}

/// Records, inside the writer's transaction, that the video's tracks changed: the
/// published masters are stale until a publisher renders this version.
pub(crate) async fn tracks_changed_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    uid: &VideoId,
) -> Result<()> {
    sqlx::query("UPDATE videos SET tracks_version = tracks_version + 1 WHERE uid = $1")
        .bind(uid.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Db {
    /// The video's tracks and publication state, or `None` if there is no such video.
    pub async fn tracks_snapshot(&self, uid: &VideoId) -> Result<Option<TracksSnapshot>> {
        let Some(row) = sqlx::query(
            "SELECT state, media_generation, manifest_revision, tracks_version, \
             published_tracks_version FROM videos WHERE uid = $1",
        )
        .bind(uid.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let captions = sqlx::query(
            "SELECT language, label, vtt FROM captions WHERE video_uid = $1 AND status = 'ready' \
             ORDER BY language",
        )
        .bind(uid.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(CaptionTrack {
                language: get(r, "language")?,
                label: get(r, "label")?,
                vtt: get(r, "vtt")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let audio = sqlx::query(
            "SELECT uid, label, is_default, rendition FROM audio_tracks \
             WHERE video_uid = $1 AND status = 'ready' AND rendition IS NOT NULL ORDER BY created, uid",
        )
        .bind(uid.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(AudioRendition {
                uid: parse(r, "uid")?,
                label: get(r, "label")?,
                default: flag(r, "is_default")?,
                rendition: get(r, "rendition")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(Some(TracksSnapshot {
            state: parse(&row, "state")?,
            generation: get(&row, "media_generation")?,
            revision: get(&row, "manifest_revision")?,
            version: get(&row, "tracks_version")?,
            published_version: get(&row, "published_tracks_version")?,
            captions,
            audio,
        }))
    }

    /// Switches the ready video to `masters`, rendered over `generation`, unless the
    /// generation moved on or a revision of the same or a newer tracks version is
    /// already published. Returns the revision replaced (`Some(None)` when there was
    /// none), or `None` when nothing was switched (the caller then deletes what it
    /// wrote).
    pub async fn set_masters(
        &self,
        uid: &VideoId,
        generation: &str,
        masters: &Masters,
    ) -> Result<Option<Option<String>>> {
        let mut tx = self.write_tx().await?;
        let current: Option<Option<String>> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT manifest_revision FROM videos WHERE uid = $1 AND state = 'ready' \
             AND media_generation = $2 AND published_tracks_version < $3{}",
            self.lock_read()
        )))
        .bind(uid.as_str())
        .bind(generation)
        .bind(masters.version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(old) = current else {
            return Ok(None);
        };
        let done = sqlx::query(
            "UPDATE videos SET manifest_revision = $1, published_tracks_version = $2, \
             published_audio = $3 WHERE uid = $4",
        )
        .bind(&masters.revision)
        .bind(masters.version)
        .bind(
            serde_json::to_string(&masters.audio)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        )
        .bind(uid.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Corrupt(format!(
                "video {uid} changed while locked"
            )));
        }
        // Edges cache the video row, and with it the revision they map manifests to.
        self.bump_access_version(&mut *tx).await?;
        tx.commit().await?;
        self.mark_access_stale();
        Ok(Some(old))
    }
}
