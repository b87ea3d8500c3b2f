//! Additional audio tracks (`…/stream/{uid}/audio`). A track is added `queued` with its
//! source URL; an `audio` job fetches and encodes every queued track of its video once
//! the video is ready (the packaging job enqueues it if tracks were added before), and
//! records each one `ready` (with its segment index) or `error`. Every change a viewer
//! could notice moves the video's tracks version, so its masters get republished.

use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use usher_core::time_fmt::Micros;
use usher_core::{AccountId, AudioTrackId, VideoId, VideoState};

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::jobs::{self, NewJob};
use crate::publish::tracks_changed_in;
use crate::row::{flag, get, parse};
use crate::videos::owned_in;

/// The job that fetches and encodes a video's queued audio tracks.
pub const AUDIO_JOB: &str = "audio";
/// Additional audio tracks per video: enough for a dubbed film's languages and a
/// commentary or two; each is encoded and listed in every master.
pub const MAX_AUDIO_TRACKS: i64 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioTrackStatus {
    Queued,
    Ready,
    Error,
}

impl AudioTrackStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Ready => "ready",
            Self::Error => "error",
        }
    }
}

impl std::str::FromStr for AudioTrackStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "queued" => Self::Queued,
            "ready" => Self::Ready,
            "error" => Self::Error,
            other => return Err(StoreError::Corrupt(format!("audio track status {other:?}"))),
        })
    }
}

/// An additional audio track as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioTrackRecord {
    pub uid: AudioTrackId,
    pub video_uid: VideoId,
    pub label: String,
    pub default: bool,
    pub status: AudioTrackStatus,
    pub source_url: String,
    pub created: Micros,
    pub modified: Micros,
}

fn from_row(r: &AnyRow) -> Result<AudioTrackRecord> {
    Ok(AudioTrackRecord {
        uid: parse(r, "uid")?,
        video_uid: parse(r, "video_uid")?,
        label: get(r, "label")?,
        default: flag(r, "is_default")?,
        status: parse(r, "status")?,
        source_url: get(r, "source_url")?,
        created: get(r, "created")?,
        modified: get(r, "modified")?,
    })
}

const COLUMNS: &str = "uid, video_uid, label, is_default, status, source_url, created, modified";

/// Why a change to a track was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioTrackRefusal {
    /// No such video of the account's, or no such track of the video.
    NotFound,
    /// Another track of the video has this label.
    LabelTaken,
    /// The video has [`MAX_AUDIO_TRACKS`] already.
    TooMany,
    /// The default track cannot be deleted (Cloudflare's rule): make another default,
    /// or unset it, first.
    IsDefault,
}

/// A track edit: `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct AudioTrackEdit {
    pub label: Option<String>,
    pub default: Option<bool>,
}

async fn label_taken(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    uid: &VideoId,
    label: &str,
    except: Option<&AudioTrackId>,
) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audio_tracks WHERE video_uid = $1 AND label = $2 AND uid <> $3",
    )
    .bind(uid.as_str())
    .bind(label)
    .bind(except.map_or("", |t| t.as_str()))
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

async fn track_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    uid: &VideoId,
    track: &AudioTrackId,
) -> Result<Option<AudioTrackRecord>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM audio_tracks WHERE uid = $1 AND video_uid = $2"
    )))
    .bind(track.as_str())
    .bind(uid.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Enqueues the job that encodes the video's queued tracks, unless one is already
/// waiting to start (it will see this track too).
pub(crate) async fn enqueue_audio_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    uid: &VideoId,
    now: Micros,
) -> Result<()> {
    let waiting: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE video_uid = $1 AND kind = $2 AND state = 'queued'",
    )
    .bind(uid.as_str())
    .bind(AUDIO_JOB)
    .fetch_one(&mut **tx)
    .await?;
    if waiting == 0 {
        jobs::insert(tx, uid, NewJob { kind: AUDIO_JOB }, now).await?;
    }
    Ok(())
}

/// After the video became ready inside `tx`: the tracks added while it was processed
/// can now be encoded against its duration.
pub(crate) async fn enqueue_if_queued_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    uid: &VideoId,
    now: Micros,
) -> Result<()> {
    let queued: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audio_tracks WHERE video_uid = $1 AND status = 'queued'",
    )
    .bind(uid.as_str())
    .fetch_one(&mut **tx)
    .await?;
    if queued > 0 {
        enqueue_audio_in(tx, uid, now).await?;
    }
    Ok(())
}

impl Db {
    /// Adds a queued track to the account's video; it is encoded by an `audio` job as
    /// soon as the video is ready.
    pub async fn insert_audio_track(
        &self,
        account: &AccountId,
        uid: &VideoId,
        label: &str,
        source_url: &str,
        now: Micros,
    ) -> Result<Result<AudioTrackRecord, AudioTrackRefusal>> {
        let mut tx = self.write_tx().await?;
        let Some(video) = owned_in(self, &mut tx, account, uid).await? else {
            return Ok(Err(AudioTrackRefusal::NotFound));
        };
        if label_taken(&mut tx, uid, label, None).await? {
            return Ok(Err(AudioTrackRefusal::LabelTaken));
        }
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audio_tracks WHERE video_uid = $1")
                .bind(uid.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if count >= MAX_AUDIO_TRACKS {
            return Ok(Err(AudioTrackRefusal::TooMany));
        }
        let track = AudioTrackRecord {
            uid: AudioTrackId::generate(),
            video_uid: uid.clone(),
            label: label.to_owned(),
            default: false,
            status: AudioTrackStatus::Queued,
            source_url: source_url.to_owned(),
            created: now,
            modified: now,
        };
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO audio_tracks ({COLUMNS}) VALUES ($1, $2, $3, 0, $4, $5, $6, $6)"
        )))
        .bind(track.uid.as_str())
        .bind(uid.as_str())
        .bind(label)
        .bind(track.status.as_str())
        .bind(source_url)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if video.state == VideoState::Ready {
            enqueue_audio_in(&mut tx, uid, now).await?;
        }
        tx.commit().await?;
        Ok(Ok(track))
    }

    /// The account's video's tracks, oldest first; `None` if the account has no such
    /// video.
    pub async fn audio_tracks(
        &self,
        account: &AccountId,
        uid: &VideoId,
    ) -> Result<Option<Vec<AudioTrackRecord>>> {
        if self.video(account, uid).await?.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM audio_tracks WHERE video_uid = $1 ORDER BY created, uid"
        )))
        .bind(uid.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(from_row)
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// Relabels a track or changes which one plays by default (making one the default
    /// makes every other not).
    pub async fn edit_audio_track(
        &self,
        account: &AccountId,
        uid: &VideoId,
        track: &AudioTrackId,
        edit: &AudioTrackEdit,
        now: Micros,
    ) -> Result<Result<AudioTrackRecord, AudioTrackRefusal>> {
        let mut tx = self.write_tx().await?;
        if owned_in(self, &mut tx, account, uid).await?.is_none() {
            return Ok(Err(AudioTrackRefusal::NotFound));
        }
        let Some(mut t) = track_in(&mut tx, uid, track).await? else {
            return Ok(Err(AudioTrackRefusal::NotFound));
        };
        if let Some(label) = &edit.label {
            if label_taken(&mut tx, uid, label, Some(track)).await? {
                return Ok(Err(AudioTrackRefusal::LabelTaken));
            }
            t.label.clone_from(label);
        }
        if edit.default == Some(true) {
            sqlx::query(
                "UPDATE audio_tracks SET is_default = 0 WHERE video_uid = $1 AND uid <> $2",
            )
            .bind(uid.as_str())
            .bind(track.as_str())
            .execute(&mut *tx)
            .await?;
        }
        if let Some(d) = edit.default {
            t.default = d;
        }
        t.modified = now;
        sqlx::query(
            "UPDATE audio_tracks SET label = $1, is_default = $2, modified = $3 WHERE uid = $4",
        )
        .bind(&t.label)
        .bind(i64::from(t.default))
        .bind(now)
        .bind(track.as_str())
        .execute(&mut *tx)
        .await?;
        tracks_changed_in(&mut tx, uid).await?;
        tx.commit().await?;
        Ok(Ok(t))
    }

    /// Deletes a track that is not the default; the caller then republishes the
    /// masters and removes its media.
    pub async fn delete_audio_track(
        &self,
        account: &AccountId,
        uid: &VideoId,
        track: &AudioTrackId,
    ) -> Result<Result<AudioTrackRecord, AudioTrackRefusal>> {
        let mut tx = self.write_tx().await?;
        if owned_in(self, &mut tx, account, uid).await?.is_none() {
            return Ok(Err(AudioTrackRefusal::NotFound));
        }
        let Some(t) = track_in(&mut tx, uid, track).await? else {
            return Ok(Err(AudioTrackRefusal::NotFound));
        };
        if t.default {
            return Ok(Err(AudioTrackRefusal::IsDefault));
        }
        sqlx::query("DELETE FROM audio_tracks WHERE uid = $1")
            .bind(track.as_str())
            .execute(&mut *tx)
            .await?;
        tracks_changed_in(&mut tx, uid).await?;
        tx.commit().await?;
        Ok(Ok(t))
    }

    /// The video's tracks still to encode, with their source URLs (for the worker).
    pub async fn queued_audio_tracks(&self, uid: &VideoId) -> Result<Vec<AudioTrackRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM audio_tracks WHERE video_uid = $1 AND status = 'queued' \
             ORDER BY created, uid"
        )))
        .bind(uid.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Records a queued track as encoded, with its segment index (JSON); false if it was
    /// deleted (or finished by another worker) meanwhile.
    pub async fn audio_track_ready(
        &self,
        uid: &VideoId,
        track: &AudioTrackId,
        rendition: &str,
        now: Micros,
    ) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE audio_tracks SET status = 'ready', rendition = $1, error = NULL, modified = $2 \
             WHERE uid = $3 AND video_uid = $4 AND status = 'queued'",
        )
        .bind(rendition)
        .bind(now)
        .bind(track.as_str())
        .bind(uid.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        tracks_changed_in(&mut tx, uid).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Whether the track still exists, whatever its status.
    pub async fn audio_track_exists(&self, uid: &VideoId, track: &AudioTrackId) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audio_tracks WHERE uid = $1 AND video_uid = $2",
        )
        .bind(track.as_str())
        .bind(uid.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Records why a queued track could not be encoded.
    pub async fn audio_track_failed(
        &self,
        uid: &VideoId,
        track: &AudioTrackId,
        error: &str,
        now: Micros,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE audio_tracks SET status = 'error', error = $1, modified = $2 \
             WHERE uid = $3 AND video_uid = $4 AND status = 'queued'",
        )
        .bind(error)
        .bind(now)
        .bind(track.as_str())
        .bind(uid.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
