//! Watermark profiles (`/stream/watermarks`). The row describes the image and how to
//! lay it over a video; the image itself is the blob
//! [`crate::layout::watermark_key`]. Videos never point at a profile: they carry a copy
//! of it (`videos.watermark`) and of its image, so deleting a profile changes nothing
//! already uploaded.

use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use usher_core::{AccountId, Watermark, WatermarkId};

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::row::{get, parse};

/// Profiles per account. The list has no pagination (Cloudflare's has none either), so
/// this bounds its answer.
pub const MAX_WATERMARKS: usize = 1000;

const COLUMNS: &str = "uid, account_id, name, size, width, height, opacity, padding, scale, \
                       position, downloaded_from, created";

fn from_row(r: &AnyRow) -> Result<Watermark> {
    Ok(Watermark {
        uid: parse(r, "uid")?,
        account_id: parse(r, "account_id")?,
        name: get(r, "name")?,
        size: get(r, "size")?,
        width: get(r, "width")?,
        height: get(r, "height")?,
        opacity: get(r, "opacity")?,
        padding: get(r, "padding")?,
        scale: get(r, "scale")?,
        position: parse(r, "position")?,
        downloaded_from: get(r, "downloaded_from")?,
        created: get(r, "created")?,
    })
}

impl Db {
    /// Inserts a profile; refuses once the account has [`MAX_WATERMARKS`].
    pub async fn insert_watermark(&self, w: &Watermark) -> Result<()> {
        let mut tx = self.write_tx().await?;
        // Two inserts racing on PostgreSQL could both count below the limit; locking
        // the account row makes them count one after the other.
        sqlx::query(AssertSqlSafe(format!(
            "SELECT id FROM accounts WHERE id = $1{}",
            self.lock_read()
        )))
        .bind(w.account_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM watermarks WHERE account_id = $1")
            .bind(w.account_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if usize::try_from(n).unwrap_or(usize::MAX) >= MAX_WATERMARKS {
            return Err(StoreError::LimitReached("watermark profiles"));
        }
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO watermarks ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        )))
        .bind(w.uid.as_str())
        .bind(w.account_id.as_str())
        .bind(&w.name)
        .bind(w.size)
        .bind(w.width)
        .bind(w.height)
        .bind(w.opacity)
        .bind(w.padding)
        .bind(w.scale)
        .bind(w.position.as_str())
        .bind(&w.downloaded_from)
        .bind(w.created)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account's profile, or `None` (another account's is `None` too).
    pub async fn watermark(
        &self,
        account: &AccountId,
        uid: &WatermarkId,
    ) -> Result<Option<Watermark>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM watermarks WHERE uid = $1 AND account_id = $2"
        )))
        .bind(uid.as_str())
        .bind(account.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The account's profiles, oldest first.
    pub async fn list_watermarks(&self, account: &AccountId) -> Result<Vec<Watermark>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM watermarks WHERE account_id = $1 ORDER BY created, uid"
        )))
        .bind(account.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Deletes the account's profile and returns it (its image is the caller's to
    /// delete), or `None` if the account has no such profile.
    pub async fn delete_watermark(
        &self,
        account: &AccountId,
        uid: &WatermarkId,
    ) -> Result<Option<Watermark>> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM watermarks WHERE uid = $1 AND account_id = $2{}",
            self.lock_read()
        )))
        .bind(uid.as_str())
        .bind(account.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(w) = row.as_ref().map(from_row).transpose()? else {
            return Ok(None);
        };
        sqlx::query("DELETE FROM watermarks WHERE uid = $1")
            .bind(uid.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(w))
    }
}
