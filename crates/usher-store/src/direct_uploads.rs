//! One-time upload URLs. The video row exists from the start (`pendingupload`); the
//! URL is claimed while an upload is in flight, so two uploads can never race, and used
//! up when one completes, in the same transaction that queues the video.

use usher_core::time_fmt::Micros;
use usher_core::{Video, VideoId, VideoState};

use crate::db::Db;
use crate::error::Result;
use crate::videos::queue_uploaded_in;

/// What presenting an upload URL's secret found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadClaim {
    /// Claimed for this upload: the video to fill.
    Claimed(VideoId),
    /// Already used, or an upload through it is in flight.
    Used,
    Expired,
    Unknown,
}

impl Db {
    /// Inserts a `pendingupload` video and its one-time URL (by digest) together.
    pub async fn insert_direct_upload(
        &self,
        v: &Video,
        token_hash: &str,
        expires: Micros,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        crate::videos::insert_in(&mut tx, v).await?;
        sqlx::query(
            "INSERT INTO direct_uploads (uid, token_hash, expires, state) \
             VALUES ($1, $2, $3, 'open')",
        )
        .bind(v.uid.as_str())
        .bind(token_hash)
        .bind(expires)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims the URL whose secret has digest `token_hash` for one upload.
    pub async fn claim_direct_upload(&self, token_hash: &str, now: Micros) -> Result<UploadClaim> {
        let mut tx = self.write_tx().await?;
        let row: Option<(String, i64, String)> =
            sqlx::query_as("SELECT uid, expires, state FROM direct_uploads WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((uid, expires, state)) = row else {
            return Ok(UploadClaim::Unknown);
        };
        if state != "open" {
            return Ok(UploadClaim::Used);
        }
        if expires <= now {
            return Ok(UploadClaim::Expired);
        }
        // Conditional: on PostgreSQL two requests may both have read `open`; the one
        // whose update finds it no longer open lost the race.
        let claimed = sqlx::query(
            "UPDATE direct_uploads SET state = 'receiving' WHERE uid = $1 AND state = 'open'",
        )
        .bind(&uid)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(UploadClaim::Used);
        }
        tx.commit().await?;
        Ok(uid
            .parse()
            .map(UploadClaim::Claimed)
            .unwrap_or(UploadClaim::Unknown))
    }

    /// Gives a claimed URL back after a failed upload, so it can be tried again.
    pub async fn release_direct_upload(&self, uid: &VideoId) -> Result<()> {
        sqlx::query(
            "UPDATE direct_uploads SET state = 'open' WHERE uid = $1 AND state = 'receiving'",
        )
        .bind(uid.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the stored upload, uses up the URL and queues the video for processing,
    /// in one transaction. False if the video is gone (deleted meanwhile).
    pub async fn complete_direct_upload(
        &self,
        uid: &VideoId,
        size: i64,
        now: Micros,
    ) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        if !queue_uploaded_in(&mut tx, uid, VideoState::PendingUpload, size, now).await? {
            return Ok(false);
        }
        sqlx::query("UPDATE direct_uploads SET state = 'used' WHERE uid = $1")
            .bind(uid.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
