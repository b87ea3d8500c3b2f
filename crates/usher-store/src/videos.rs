//! Video records. The API edits settings columns, the worker edits processing columns,
//! and neither writes the other's, so concurrent edits never undo each other.

use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use usher_core::time_fmt::Micros;
use usher_core::{AccountId, ClipSpan, ErrorReason, Video, VideoId, VideoState};

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::jobs::{self, NewJob};
use crate::nullable::OptF64;
use crate::publish::Masters;
use crate::row::{flag, get, parse};
use crate::webhooks::{self, WEBHOOK_JOB};

/// The stored columns, in the order inserts bind them.
macro_rules! columns {
    () => {
        "uid, account_id, created, modified, uploaded, creator, meta, size, duration, width, \
         height, state, pct_complete, error_reason, ready_at, require_signed_urls, \
         allowed_origins, thumbnail_pct, max_duration_seconds, scheduled_deletion, \
         upload_expiry, media_generation, manifest_revision, published_audio, clipped_from, \
         clip_start, clip_end, watermark, live_input"
    };
}
const COLUMNS: &str = columns!();
/// [`COLUMNS`] plus what other tables say, for reading a video.
pub(crate) const SELECT_COLUMNS: &str = concat!(
    columns!(),
    ", CAST((SELECT COUNT(*) FROM video_downloads d WHERE d.uid = videos.uid) AS BIGINT) \
     AS downloads_enabled"
);

pub(crate) fn from_row(r: &AnyRow) -> Result<Video> {
    let meta: String = get(r, "meta")?;
    let origins: String = get(r, "allowed_origins")?;
    let reason: Option<String> = get(r, "error_reason")?;
    let clipped_from: Option<String> = get(r, "clipped_from")?;
    let watermark: Option<String> = get(r, "watermark")?;
    let published_audio: String = get(r, "published_audio")?;
    let live_input: Option<String> = get(r, "live_input")?;
    Ok(Video {
        uid: parse(r, "uid")?,
        account_id: parse(r, "account_id")?,
        created: get(r, "created")?,
        modified: get(r, "modified")?,
        uploaded: get(r, "uploaded")?,
        creator: get(r, "creator")?,
        meta: serde_json::from_str(&meta).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        size: get(r, "size")?,
        duration: get(r, "duration")?,
        width: get(r, "width")?,
        height: get(r, "height")?,
        state: parse(r, "state")?,
        pct_complete: get(r, "pct_complete")?,
        error_reason: reason.as_deref().and_then(ErrorReason::from_code),
        ready_at: get(r, "ready_at")?,
        require_signed_urls: flag(r, "require_signed_urls")?,
        allowed_origins: serde_json::from_str(&origins)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        thumbnail_pct: get(r, "thumbnail_pct")?,
        max_duration_seconds: get(r, "max_duration_seconds")?,
        scheduled_deletion: get(r, "scheduled_deletion")?,
        upload_expiry: get(r, "upload_expiry")?,
        media_generation: get(r, "media_generation")?,
        downloads_enabled: flag(r, "downloads_enabled")?,
        manifest_revision: get(r, "manifest_revision")?,
        published_audio: serde_json::from_str(&published_audio)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        clipped_from: clipped_from
            .map(|s| {
                s.parse()
                    .map_err(|_| StoreError::Corrupt(format!("clipped_from holds {s:?}")))
            })
            .transpose()?,
        clip: match (get(r, "clip_start")?, get(r, "clip_end")?) {
            (Some(start), Some(end)) => Some(ClipSpan { start, end }),
            _ => None,
        },
        watermark: watermark
            .map(|w| serde_json::from_str(&w).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()?,
        live_input: live_input
            .map(|s| {
                s.parse()
                    .map_err(|_| StoreError::Corrupt(format!("live_input holds {s:?}")))
            })
            .transpose()?,
    })
}

fn json(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Settings a user may change with `POST /stream/{uid}`; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct VideoEdit {
    pub require_signed_urls: Option<bool>,
    pub allowed_origins: Option<Vec<String>>,
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
    pub creator: Option<Option<String>>,
    pub thumbnail_pct: Option<f64>,
    pub scheduled_deletion: Option<Option<Micros>>,
    pub max_duration_seconds: Option<Option<i64>>,
}

impl VideoEdit {
    /// Sets on `v` every field this edit names.
    pub fn apply_to(&self, v: &mut Video) {
        if let Some(x) = self.require_signed_urls {
            v.require_signed_urls = x;
        }
        if let Some(x) = &self.allowed_origins {
            v.allowed_origins.clone_from(x);
        }
        if let Some(x) = &self.meta {
            v.meta.clone_from(x);
        }
        if let Some(x) = &self.creator {
            v.creator.clone_from(x);
        }
        if let Some(x) = self.thumbnail_pct {
            v.thumbnail_pct = x;
        }
        if let Some(x) = self.scheduled_deletion {
            v.scheduled_deletion = x;
        }
        if let Some(x) = self.max_duration_seconds {
            v.max_duration_seconds = x;
        }
    }
}

/// `GET /stream` filters.
#[derive(Debug, Clone, Default)]
pub struct VideoFilter {
    pub state: Option<VideoState>,
    /// Case-insensitive substring of `meta.name`.
    pub search: Option<String>,
    pub creator: Option<String>,
    /// Created at or after.
    pub start: Option<Micros>,
    /// Created strictly after.
    pub after: Option<Micros>,
    /// Created at or before.
    pub end: Option<Micros>,
    /// Created strictly before.
    pub before: Option<Micros>,
    pub asc: bool,
    pub limit: i64,
    pub include_counts: bool,
}

#[derive(Debug, Clone)]
pub struct VideoPage {
    pub videos: Vec<Video>,
    pub total: Option<i64>,
}

enum Arg {
    Text(String),
    Int(i64),
}

/// Processing columns the worker moves forward.
#[derive(Debug, Clone, Default)]
pub struct ProcessingUpdate {
    pub duration: Option<f64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The account's video, read and locked inside `tx`, so that the caller's update is
/// computed from the row as it stays until the commit (an edit racing another edit
/// would otherwise write back the other's fields as they were before it).
pub(crate) async fn owned_in(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account: &AccountId,
    uid: &VideoId,
) -> Result<Option<Video>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SELECT_COLUMNS} FROM videos WHERE uid = $1 AND account_id = $2{}",
        db.lock_read()
    )))
    .bind(uid.as_str())
    .bind(account.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Inside `tx`: records that the video's bytes are stored (`size`, `uploaded`), moves it
/// from `from` to `queued` and enqueues its packaging job. False if the video is not in
/// `from` (deleted meanwhile, or completed by someone else); the caller then rolls back.
pub(crate) async fn queue_uploaded_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    uid: &VideoId,
    from: VideoState,
    size: i64,
    now: Micros,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE videos SET state = 'queued', size = $1, uploaded = $2, modified = $2 \
         WHERE uid = $3 AND state = $4",
    )
    .bind(size)
    .bind(now)
    .bind(uid.as_str())
    .bind(from.as_str())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    jobs::insert(
        tx,
        uid,
        NewJob {
            kind: crate::PACKAGE_JOB,
        },
        now,
    )
    .await?;
    Ok(true)
}

/// Inserts a video row inside `tx`.
pub(crate) async fn insert_in(tx: &mut sqlx::Transaction<'_, sqlx::Any>, v: &Video) -> Result<()> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO videos ({COLUMNS}, name_lower) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
         $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, \
         $27, $28, $29, $30)"
    )))
    .bind(v.uid.as_str())
    .bind(v.account_id.as_str())
    .bind(v.created)
    .bind(v.modified)
    .bind(v.uploaded)
    .bind(&v.creator)
    .bind(json(&v.meta)?)
    .bind(v.size)
    .bind(v.duration)
    .bind(v.width)
    .bind(v.height)
    .bind(v.state.as_str())
    .bind(v.pct_complete)
    .bind(v.error_reason.map(|r| r.code()))
    .bind(v.ready_at)
    .bind(i64::from(v.require_signed_urls))
    .bind(json(&v.allowed_origins)?)
    .bind(v.thumbnail_pct)
    .bind(v.max_duration_seconds)
    .bind(v.scheduled_deletion)
    .bind(v.upload_expiry)
    .bind(&v.media_generation)
    .bind(&v.manifest_revision)
    .bind(json(&v.published_audio)?)
    .bind(v.clipped_from.as_ref().map(|u| u.as_str().to_owned()))
    .bind(OptF64(v.clip.map(|c| c.start)))
    .bind(OptF64(v.clip.map(|c| c.end)))
    .bind(v.watermark.as_ref().map(json).transpose()?)
    .bind(v.live_input.as_ref().map(|u| u.as_str().to_owned()))
    .bind(v.name().map(str::to_lowercase))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Enqueues the webhook notification for a video that just became ready or errored, if
/// its account subscribes. In the caller's transaction: the notification exists exactly
/// when the state change it reports does, and survives a crash right after the commit.
async fn notify_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    uid: &VideoId,
    now: Micros,
) -> Result<()> {
    if webhooks::video_account_subscribed(tx, uid.as_str()).await? {
        jobs::insert(tx, uid, NewJob { kind: WEBHOOK_JOB }, now).await?;
    }
    Ok(())
}

impl Db {
    /// Inserts a new video, and in the same transaction the job that will process it.
    pub async fn insert_video(&self, v: &Video, job: Option<NewJob<'_>>) -> Result<()> {
        let mut tx = self.write_tx().await?;
        insert_in(&mut tx, v).await?;
        if let Some(job) = job {
            jobs::insert(&mut tx, &v.uid, job, v.created).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The video, only if it belongs to `account`.
    pub async fn video(&self, account: &AccountId, uid: &VideoId) -> Result<Option<Video>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SELECT_COLUMNS} FROM videos WHERE uid = $1 AND account_id = $2"
        )))
        .bind(uid.as_str())
        .bind(account.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The video whatever its account: for the worker and the edge, which are handed a uid
    /// by trusted code (a job row, a verified token) rather than by a tenant.
    pub async fn video_by_uid(&self, uid: &VideoId) -> Result<Option<Video>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SELECT_COLUMNS} FROM videos WHERE uid = $1"
        )))
        .bind(uid.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list_videos(&self, account: &AccountId, f: &VideoFilter) -> Result<VideoPage> {
        let mut clauses = vec!["account_id = $1".to_owned()];
        let mut args = vec![Arg::Text(account.as_str().to_owned())];
        let mut push = |clause: &str, arg: Arg| {
            args.push(arg);
            clauses.push(clause.replace('?', &format!("${}", args.len())));
        };
        if let Some(st) = f.state {
            push("state = ?", Arg::Text(st.as_str().to_owned()));
        }
        if let Some(s) = &f.search {
            push(
                "name_lower LIKE ? ESCAPE '\\'",
                Arg::Text(format!("%{}%", escape_like(s))),
            );
        }
        if let Some(c) = &f.creator {
            push("creator = ?", Arg::Text(c.clone()));
        }
        for (bound, clause) in [
            (f.start, "created >= ?"),
            (f.after, "created > ?"),
            (f.end, "created <= ?"),
            (f.before, "created < ?"),
        ] {
            if let Some(t) = bound {
                push(clause, Arg::Int(t));
            }
        }
        let filter = clauses.join(" AND ");
        let order = if f.asc { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT {SELECT_COLUMNS} FROM videos WHERE {filter} ORDER BY created {order}, uid {order} \
             LIMIT {}",
            f.limit.max(0)
        );
        let bind = |sql: String| {
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for a in &args {
                q = match a {
                    Arg::Text(s) => q.bind(s.clone()),
                    Arg::Int(i) => q.bind(*i),
                };
            }
            q
        };
        let rows = bind(sql).fetch_all(&self.pool).await?;
        let videos = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        let total = if f.include_counts {
            let count_sql = format!("SELECT COUNT(*) AS n FROM videos WHERE {filter}");
            let row = bind(count_sql).fetch_one(&self.pool).await?;
            Some(get::<i64>(&row, "n")?)
        } else {
            None
        };
        Ok(VideoPage { videos, total })
    }

    /// Applies `edit` to the account's video and returns it, or `None` if there is none.
    pub async fn edit_video(
        &self,
        account: &AccountId,
        uid: &VideoId,
        edit: &VideoEdit,
        now: Micros,
    ) -> Result<Option<Video>> {
        let mut tx = self.write_tx().await?;
        let Some(mut v) = owned_in(self, &mut tx, account, uid).await? else {
            return Ok(None);
        };
        edit.apply_to(&mut v);
        v.modified = now;
        sqlx::query(
            "UPDATE videos SET require_signed_urls = $1, allowed_origins = $2, meta = $3, \
             name_lower = $4, creator = $5, thumbnail_pct = $6, scheduled_deletion = $7, \
             max_duration_seconds = $8, modified = $9 WHERE uid = $10",
        )
        .bind(i64::from(v.require_signed_urls))
        .bind(json(&v.allowed_origins)?)
        .bind(json(&v.meta)?)
        .bind(v.name().map(str::to_lowercase))
        .bind(&v.creator)
        .bind(v.thumbnail_pct)
        .bind(v.scheduled_deletion)
        .bind(v.max_duration_seconds)
        .bind(now)
        .bind(uid.as_str())
        .execute(&mut *tx)
        .await?;
        self.bump_access_version(&mut *tx).await?;
        tx.commit().await?;
        self.mark_access_stale();
        Ok(Some(v))
    }

    /// Deletes the account's video and its jobs; returns what was deleted so the caller
    /// can remove its blobs (see [`crate::delete_video_and_media`], which does both).
    pub async fn delete_video(&self, account: &AccountId, uid: &VideoId) -> Result<Option<Video>> {
        let mut tx = self.write_tx().await?;
        let Some(v) = owned_in(self, &mut tx, account, uid).await? else {
            return Ok(None);
        };
        self.delete_in(tx, uid).await?;
        Ok(Some(v))
    }

    /// Removes the video's row and everything keyed by it, commits, and tells edges.
    pub(crate) async fn delete_in(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Any>,
        uid: &VideoId,
    ) -> Result<()> {
        sqlx::query("DELETE FROM jobs WHERE video_uid = $1")
            .bind(uid.as_str())
            .execute(&mut *tx)
            .await?;
        for table in [
            "video_downloads",
            "direct_uploads",
            "tus_uploads",
            "tus_parts",
            "copy_sources",
        ] {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE uid = $1")))
                .bind(uid.as_str())
                .execute(&mut *tx)
                .await?;
        }
        for table in ["captions", "audio_tracks", "revoked_tokens"] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE video_uid = $1"
            )))
            .bind(uid.as_str())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM videos WHERE uid = $1")
            .bind(uid.as_str())
            .execute(&mut *tx)
            .await?;
        // Edges must stop serving the video at once, not when their caches age out.
        self.bump_access_version(&mut *tx).await?;
        tx.commit().await?;
        self.mark_access_stale();
        Ok(())
    }

    /// Enables or disables the account's video's MP4 download; returns the video as it
    /// is now, or `None` if the account has no such video.
    pub async fn set_downloads(
        &self,
        account: &AccountId,
        uid: &VideoId,
        enabled: bool,
        now: Micros,
    ) -> Result<Option<Video>> {
        let mut tx = self.write_tx().await?;
        let Some(mut v) = owned_in(self, &mut tx, account, uid).await? else {
            return Ok(None);
        };
        let q = if enabled {
            sqlx::query(
                "INSERT INTO video_downloads (uid, created) VALUES ($1, $2) \
                 ON CONFLICT (uid) DO NOTHING",
            )
            .bind(uid.as_str())
            .bind(now)
        } else {
            sqlx::query("DELETE FROM video_downloads WHERE uid = $1").bind(uid.as_str())
        };
        q.execute(&mut *tx).await?;
        self.bump_access_version(&mut *tx).await?;
        tx.commit().await?;
        self.mark_access_stale();
        v.downloads_enabled = enabled;
        Ok(Some(v))
    }

    /// Moves the video to `to` if its state is one of `from`; false otherwise (deleted, or
    /// moved on by someone else).
    pub async fn transition(
        &self,
        uid: &VideoId,
        from: &[VideoState],
        to: VideoState,
        now: Micros,
    ) -> Result<bool> {
        let allowed: Vec<&str> = from
            .iter()
            .filter(|f| f.can_become(to))
            .map(|f| f.as_str())
            .collect();
        if allowed.is_empty() {
            return Ok(false);
        }
        let list = (0..allowed.len())
            .map(|i| format!("${}", i + 4))
            .collect::<Vec<_>>()
            .join(", ");
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "UPDATE videos SET state = $1, modified = $2 WHERE uid = $3 AND state IN ({list})"
        )))
        .bind(to.as_str())
        .bind(now)
        .bind(uid.as_str());
        for s in allowed {
            q = q.bind(s);
        }
        let mut tx = self.write_tx().await?;
        if q.execute(&mut *tx).await?.rows_affected() == 0 {
            return Ok(false);
        }
        self.bump_access_version(&mut *tx).await?;
        tx.commit().await?;
        self.mark_access_stale();
        Ok(true)
    }

    pub async fn set_progress(&self, uid: &VideoId, pct: f64) -> Result<()> {
        sqlx::query("UPDATE videos SET pct_complete = $1 WHERE uid = $2 AND state = 'inprogress'")
            .bind(pct.clamp(0.0, 100.0))
            .bind(uid.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_probed(&self, uid: &VideoId, p: &ProcessingUpdate) -> Result<()> {
        sqlx::query(
            "UPDATE videos SET duration = COALESCE($1, duration), width = COALESCE($2, width), \
             height = COALESCE($3, height) WHERE uid = $4",
        )
        .bind(OptF64(p.duration))
        .bind(p.width)
        .bind(p.height)
        .bind(uid.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Publishes `generation` and marks the video ready in one statement; returns the
    /// generation it replaced, whose blobs the caller may now delete. `masters` is the
    /// masters revision rendered over this generation (see [`Db::set_masters`]); without
    /// one the edge serves the generation's own.
    pub async fn mark_ready(
        &self,
        uid: &VideoId,
        generation: &str,
        masters: Option<&Masters>,
        now: Micros,
    ) -> Result<Option<Option<String>>> {
        let mut tx = self.write_tx().await?;
        // Locked: a second worker finishing the same video (its lease had run out) must
        // see it ready and publish nothing, not replace this generation unseen.
        let old: Option<Option<String>> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT media_generation FROM videos WHERE uid = $1 AND state = 'inprogress'{}",
            self.lock_read()
        )))
        .bind(uid.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if old.is_none() {
            return Ok(None);
        }
        sqlx::query(
            "UPDATE videos SET state = 'ready', pct_complete = 100, media_generation = $1, \
             ready_at = $2, modified = $2, error_reason = NULL, manifest_revision = $3, \
             published_tracks_version = $4, published_audio = $5 WHERE uid = $6",
        )
        .bind(generation)
        .bind(now)
        .bind(masters.map(|m| m.revision.as_str()))
        .bind(masters.map_or(-1, |m| m.version))
        .bind(json(&masters.map_or(&[][..], |m| &m.audio[..]))?)
        .bind(uid.as_str())
        .execute(&mut *tx)
        .await?;
        notify_in(&mut tx, uid, now).await?;
        crate::audio_tracks::enqueue_if_queued_in(&mut tx, uid, now).await?;
        self.bump_access_version(&mut *tx).await?;
        tx.commit().await?;
        self.mark_access_stale();
        Ok(old)
    }

    /// Switches a ready video from generation `from` to `to` (a fuller set of outputs
    /// published beside it: the rest of a ladder whose top was published first), with
    /// `masters` rendered over `to` if given. Conditional, like [`Db::mark_ready`]: `None`,
    /// and nothing changed, if the video is gone, no longer ready, or on another
    /// generation — the caller then deletes `to`. Otherwise the masters revision it
    /// replaced. No webhook: the video was already announced ready.
    pub async fn replace_generation(
        &self,
        uid: &VideoId,
        from: &str,
        to: &str,
        masters: Option<&Masters>,
        now: Micros,
    ) -> Result<Option<Option<String>>> {
        let mut tx = self.write_tx().await?;
        let old: Option<Option<String>> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT manifest_revision FROM videos WHERE uid = $1 AND state = 'ready' \
             AND media_generation = $2{}",
            self.lock_read()
        )))
        .bind(uid.as_str())
        .bind(from)
        .fetch_optional(&mut *tx)
        .await?;
        if old.is_none() {
            return Ok(None);
        }
        // The masters go with the generation: they list its renditions. Tracks changed
        // meanwhile leave the version behind, for the caller's republish to catch up.
        let switched = match masters {
            Some(m) => sqlx::query(
                "UPDATE videos SET media_generation = $1, modified = $2, manifest_revision = $3, \
                 published_tracks_version = $4, published_audio = $5 WHERE uid = $6",
            )
            .bind(to)
            .bind(now)
            .bind(&m.revision)
            .bind(m.version)
            .bind(json(&m.audio)?)
            .bind(uid.as_str()),
            None => {
                sqlx::query("UPDATE videos SET media_generation = $1, modified = $2 WHERE uid = $3")
                    .bind(to)
                    .bind(now)
                    .bind(uid.as_str())
            }
        }
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if switched != 1 {
            return Err(StoreError::Corrupt(format!(
                "video {uid} changed while locked"
            )));
        }
        self.bump_access_version(&mut *tx).await?;
        tx.commit().await?;
        self.mark_access_stale();
        Ok(old)
    }

    pub async fn mark_error(&self, uid: &VideoId, reason: ErrorReason, now: Micros) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE videos SET state = 'error', error_reason = $1, modified = $2 \
             WHERE uid = $3 AND state <> 'ready'",
        )
        .bind(reason.code())
        .bind(now)
        .bind(uid.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            notify_in(&mut tx, uid, now).await?;
            // Tracks waiting for the video to be ready never will be.
            sqlx::query(
                "UPDATE audio_tracks SET status = 'error', error = 'the video failed', \
                 modified = $1 WHERE video_uid = $2 AND status = 'queued'",
            )
            .bind(now)
            .bind(uid.as_str())
            .execute(&mut *tx)
            .await?;
            self.bump_access_version(&mut *tx).await?;
        }
        tx.commit().await?;
        self.mark_access_stale();
        Ok(())
    }

    /// Records the stored upload's size and when it arrived.
    pub async fn set_uploaded(&self, uid: &VideoId, size: i64, now: Micros) -> Result<()> {
        sqlx::query("UPDATE videos SET size = $1, uploaded = $2, modified = $2 WHERE uid = $3")
            .bind(size)
            .bind(now)
            .bind(uid.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
