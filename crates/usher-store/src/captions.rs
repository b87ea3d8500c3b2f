//! Captions (`…/stream/{uid}/captions/{language}`): one per video and language, its
//! WebVTT text kept in the row (captions are small, and row and text then change
//! together). Every change locks the video's row first, so changes to one video's
//! captions take turns, and moves the video's `tracks_version` in the same transaction:
//! the publisher ([`Db::tracks_snapshot`], [`Db::set_masters`]) renders the masters for a
//! version and only ever replaces an older one. The access version is not moved here:
//! edges serve captions from the published masters, and switching those moves it.
//! Reads are scoped to the account that owns the video.

use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use usher_core::captions::LanguageTag;
use usher_core::time_fmt::Micros;
use usher_core::{AccountId, VideoId};

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::publish::tracks_changed_in;
use crate::row::{flag, get, parse};
use crate::videos::owned_in;

/// Cloudflare's caption states; uploaded captions are `ready` at once, the others are
/// for generated ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptionStatus {
    Ready,
    InProgress,
    Error,
}

impl CaptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::InProgress => "inprogress",
            Self::Error => "error",
        }
    }
}

impl std::str::FromStr for CaptionStatus {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "ready" => Ok(Self::Ready),
            "inprogress" => Ok(Self::InProgress),
            "error" => Ok(Self::Error),
            _ => Err(()),
        }
    }
}

/// A caption without its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptionRecord {
    pub video_uid: VideoId,
    /// The BCP 47 tag in canonical case.
    pub language: String,
    /// The language's name in that language.
    pub label: String,
    pub generated: bool,
    pub status: CaptionStatus,
    pub created: Micros,
    pub modified: Micros,
}

const COLUMNS: &str =
    "c.video_uid, c.language, c.label, c.generated, c.status, c.created, c.modified";

fn from_row(r: &AnyRow) -> Result<CaptionRecord> {
    Ok(CaptionRecord {
        video_uid: parse(r, "video_uid")?,
        language: get(r, "language")?,
        label: get(r, "label")?,
        generated: flag(r, "generated")?,
        status: parse(r, "status")?,
        created: get(r, "created")?,
        modified: get(r, "modified")?,
    })
}

impl Db {
    /// Adds the caption for `language` or replaces its text (a `PUT`); `None` when the
    /// account has no such video. A new language beyond `max_per_video` is refused
    /// with [`StoreError::LimitReached`]`("captions")`.
    pub async fn put_caption(
        &self,
        account: &AccountId,
        uid: &VideoId,
        language: &LanguageTag,
        vtt: &str,
        now: Micros,
        max_per_video: usize,
    ) -> Result<Option<CaptionRecord>> {
        let mut tx = self.write_tx().await?;
        if owned_in(self, &mut tx, account, uid).await?.is_none() {
            return Ok(None);
        }
        let created: Option<i64> = sqlx::query_scalar(
            "SELECT created FROM captions WHERE video_uid = $1 AND language = $2",
        )
        .bind(uid.as_str())
        .bind(language.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if created.is_none() {
            let count: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM captions WHERE video_uid = $1")
                    .bind(uid.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
            if usize::try_from(count).unwrap_or(usize::MAX) >= max_per_video {
                return Err(StoreError::LimitReached("captions"));
            }
        }
        let record = CaptionRecord {
            video_uid: uid.clone(),
            language: language.as_str().to_owned(),
            label: language.label(),
            generated: false,
            status: CaptionStatus::Ready,
            created: created.unwrap_or(now),
            modified: now,
        };
        // The video's row is locked, so no other writer can add this language between
        // the read above and here; the upsert only keeps that true by construction.
        sqlx::query(
            "INSERT INTO captions (video_uid, language, label, generated, status, vtt, created, \
             modified) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (video_uid, language) DO UPDATE SET label = excluded.label, \
             generated = excluded.generated, status = excluded.status, vtt = excluded.vtt, \
             modified = excluded.modified",
        )
        .bind(uid.as_str())
        .bind(&record.language)
        .bind(&record.label)
        .bind(i64::from(record.generated))
        .bind(record.status.as_str())
        .bind(vtt)
        .bind(record.created)
        .bind(record.modified)
        .execute(&mut *tx)
        .await?;
        tracks_changed_in(&mut tx, uid).await?;
        tx.commit().await?;
        Ok(Some(record))
    }

    /// The video's captions, in the order their languages were added; empty when the
    /// account has no such video (the caller tells the two apart by the video).
    pub async fn captions(&self, account: &AccountId, uid: &VideoId) -> Result<Vec<CaptionRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM captions c JOIN videos v ON v.uid = c.video_uid \
             WHERE c.video_uid = $1 AND v.account_id = $2 ORDER BY c.created, c.language"
        )))
        .bind(uid.as_str())
        .bind(account.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// One caption, if the account's video has it.
    pub async fn caption(
        &self,
        account: &AccountId,
        uid: &VideoId,
        language: &LanguageTag,
    ) -> Result<Option<CaptionRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM captions c JOIN videos v ON v.uid = c.video_uid \
             WHERE c.video_uid = $1 AND c.language = $2 AND v.account_id = $3"
        )))
        .bind(uid.as_str())
        .bind(language.as_str())
        .bind(account.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// One caption's WebVTT text, if the account's video has it.
    pub async fn caption_vtt(
        &self,
        account: &AccountId,
        uid: &VideoId,
        language: &LanguageTag,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT c.vtt FROM captions c JOIN videos v ON v.uid = c.video_uid \
             WHERE c.video_uid = $1 AND c.language = $2 AND v.account_id = $3",
        )
        .bind(uid.as_str())
        .bind(language.as_str())
        .bind(account.as_str())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Deletes a caption: `None` when the account has no such video, `Some(false)` when
    /// the video has no caption in that language.
    pub async fn delete_caption(
        &self,
        account: &AccountId,
        uid: &VideoId,
        language: &LanguageTag,
    ) -> Result<Option<bool>> {
        let mut tx = self.write_tx().await?;
        if owned_in(self, &mut tx, account, uid).await?.is_none() {
            return Ok(None);
        }
        let done = sqlx::query("DELETE FROM captions WHERE video_uid = $1 AND language = $2")
            .bind(uid.as_str())
            .bind(language.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(Some(false));
        }
        tracks_changed_in(&mut tx, uid).await?;
        tx.commit().await?;
        Ok(Some(true))
    }
}
