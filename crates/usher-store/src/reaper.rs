//! Deleting videos: the one function that removes a video's record and then its bytes
//! (used by `DELETE …/stream/{uid}` and by the reaper alike), and the reaper, a periodic
//! task that deletes what is due — videos whose `scheduledDeletion` has passed, and
//! `pendingupload` videos whose one-time upload URL expired and was never used.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use usher_core::time_fmt::Micros;
use usher_core::{AccountId, Video, VideoId};

use crate::blobs::Blobs;
use crate::db::Db;
use crate::error::Result;
use crate::layout::media_prefixes;
use crate::row::parse;
use crate::videos::{SELECT_COLUMNS, from_row};

/// How long after its `uploadExpiry` a `pendingupload` video is kept: an upload that
/// started just before the URL expired may still be arriving, and deleting under it
/// would leave the creator a confusing failure.
pub const PENDING_UPLOAD_GRACE: Duration = Duration::from_secs(60 * 60);
/// How long an unfinished blob write's staging file must sit untouched before the
/// reaper takes it for abandoned (its writer died). Live writers touch theirs
/// continuously; an hour leaves room for a stalled one to recover.
pub const ABANDONED_STAGING_AGE: Duration = Duration::from_secs(60 * 60);
/// Videos deleted per query; the reaper loops until nothing more is due.
pub const REAP_BATCH: usize = 100;

/// Which video may be deleted, and on whose say-so.
#[derive(Debug, Clone, Copy)]
pub enum Deletion<'a> {
    /// A tenant's `DELETE`: only a video of that account.
    Owned(&'a AccountId),
    /// The reaper: only while the video is still due at this time (an edit may have
    /// moved `scheduledDeletion` since it was found).
    Due(Micros),
}

/// Deletes the video's record (with its jobs, download flag and upload URL; edges stop
/// serving it at once) and then every blob it has, staged parts of a resumable upload
/// included. Returns the deleted video, or `None`
/// if there was nothing to delete on those terms. The record goes first: once it is gone
/// nothing serves or processes the bytes, so a crash in between leaves only orphaned
/// bytes, never a video whose media is half missing.
pub async fn delete_video_and_media(
    db: &Db,
    blobs: &Blobs,
    uid: &VideoId,
    which: Deletion<'_>,
) -> Result<Option<Video>> {
    let deleted = match which {
        Deletion::Owned(account) => db.delete_video(account, uid).await?,
        Deletion::Due(now) => db.delete_video_if_due(uid, now).await?,
    };
    let Some(v) = deleted else {
        return Ok(None);
    };
    for prefix in media_prefixes(&v.uid) {
        blobs.delete_prefix(&prefix).await?;
    }
    Ok(Some(v))
}

/// The due test; `$1` is now, `$2` is now minus [`PENDING_UPLOAD_GRACE`].
const DUE: &str = "(scheduled_deletion <= $1 \
                   OR (state = 'pendingupload' AND upload_expiry <= $2))";

fn grace_micros() -> Micros {
    i64::try_from(PENDING_UPLOAD_GRACE.as_micros()).unwrap_or(i64::MAX)
}

impl Db {
    /// Up to `limit` videos due for deletion at `now`.
    pub async fn videos_due_for_deletion(&self, now: Micros, limit: usize) -> Result<Vec<VideoId>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT uid FROM videos WHERE {DUE} ORDER BY uid LIMIT {limit}"
        )))
        .bind(now)
        .bind(now.saturating_sub(grace_micros()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| parse(r, "uid")).collect()
    }

    /// Deletes the video if it is still due at `now`, re-checked inside the transaction.
    async fn delete_video_if_due(&self, uid: &VideoId, now: Micros) -> Result<Option<Video>> {
        let mut tx = self.write_tx().await?;
        // Locked, so an edit that moves `scheduledDeletion` either commits first (and the
        // video is no longer due) or waits for the deletion.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SELECT_COLUMNS} FROM videos WHERE uid = $3 AND {DUE}{}",
            self.lock_read()
        )))
        .bind(now)
        .bind(now.saturating_sub(grace_micros()))
        .bind(uid.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(v) = row.as_ref().map(from_row).transpose()? else {
            return Ok(None);
        };
        self.delete_in(tx, uid).await?;
        Ok(Some(v))
    }
}

/// The periodic deleter. Several processes may run one on the same database: each
/// deletion re-checks its condition in its own transaction, so they never conflict.
#[derive(Debug, Clone)]
pub struct Reaper {
    db: Db,
    blobs: Blobs,
}

impl Reaper {
    pub fn new(db: Db, blobs: Blobs) -> Self {
        Self { db, blobs }
    }

    /// Deletes everything due at `now`; returns how many videos it deleted. Tests step the
    /// reaper with this instead of waiting for its interval.
    pub async fn run_once(&self, now: Micros) -> Result<usize> {
        let mut deleted = 0;
        loop {
            let due = self.db.videos_due_for_deletion(now, REAP_BATCH).await?;
            let mut this_batch = 0;
            for uid in &due {
                if delete_video_and_media(&self.db, &self.blobs, uid, Deletion::Due(now))
                    .await?
                    .is_some()
                {
                    tracing::info!(video = %uid, "reaped a video past its deletion time");
                    this_batch += 1;
                }
            }
            deleted += this_batch;
            // A short batch is the last; a batch that deleted nothing (another process
            // got there first) must not spin.
            if due.len() < REAP_BATCH || this_batch == 0 {
                return Ok(deleted);
            }
        }
    }

    /// Runs [`Reaper::run_once`] every `interval` until `shutdown`, and removes what
    /// writers killed mid-write left behind.
    pub async fn run(&self, interval: Duration, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.run_once(usher_core::time_fmt::now_micros()).await {
                tracing::error!(error = %e, "reaper could not delete due videos");
            }
            match self
                .blobs
                .remove_abandoned_staging(ABANDONED_STAGING_AGE)
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(files = n, "removed abandoned partial writes"),
                Err(e) => tracing::warn!(error = %e, "could not sweep abandoned partial writes"),
            }
            // Revoked tokens past their expiry are refused anyway. The entries already
            // carry the edges' clock skew, so none is needed here.
            if let Err(e) = self
                .db
                .forget_expired_revocations(usher_core::time_fmt::now_secs(), 0)
                .await
            {
                tracing::warn!(error = %e, "could not forget expired token revocations");
            }
            if let Err(e) = self
                .db
                .forget_old_rate_windows(usher_core::time_fmt::now_secs() / 60)
                .await
            {
                tracing::warn!(error = %e, "could not forget old rate-limit windows");
            }
            // Edges flush within seconds, and retry a batch for minutes at most: two
            // hours of viewers and a day of batch ids leave a wide margin.
            let now = usher_core::time_fmt::now_secs();
            if let Err(e) = self
                .db
                .forget_old_view_sessions(
                    now / crate::VIEW_WINDOW_SECS - 4,
                    (now - usher_core::time_fmt::DAY_SECS).saturating_mul(1_000_000),
                )
                .await
            {
                tracing::warn!(error = %e, "could not forget old view sessions");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}
