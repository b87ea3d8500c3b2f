//! Resumable (tus) uploads: how much of each has arrived, and where. The bytes are
//! staged in the media store as part blobs that any API process can add to ([`parts`]);
//! this record says which prefix of the upload the recorded parts hold, durable and
//! acknowledged, so a restart or another process resumes from there. One request at a
//! time appends to an upload, holding it by a lease in the database ([`lease`]); the
//! [`TusWriter`] does both for the API. When every byte is in, the parts are assembled
//! into the original ([`complete`]). The video row exists from creation on
//! (`pendingupload`) and is queued in the same transaction that marks the upload
//! complete.

mod complete;
mod lease;
mod parts;
mod writer;

pub use complete::Finished;
pub use lease::{ANY_OFFSET, TusClaim};
pub use parts::TusPart;
pub use writer::{CHECKPOINT_BYTES, CLAIM_WAIT, Claim, LEASE, RENEW_EVERY, TusWriter};

use sqlx::any::AnyRow;
use usher_core::time_fmt::Micros;
use usher_core::{AccountId, Video, VideoId, VideoState};

use crate::db::Db;
use crate::error::Result;
use crate::row::{flag, get, parse};
use crate::videos::queue_uploaded_in;

/// One resumable upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TusUpload {
    pub uid: VideoId,
    pub account_id: AccountId,
    /// The declared `Upload-Length`.
    pub length: i64,
    /// Bytes durably stored and acknowledged.
    pub received: i64,
    /// The `Upload-Metadata` header as sent at creation, echoed back by `HEAD`.
    pub metadata: String,
    /// Created with `?direct_user=true`: its URL works without API credentials.
    pub direct_user: bool,
    pub expires: Micros,
    /// Every byte is in and the video is queued.
    pub done: bool,
}

const COLUMNS: &str = "uid, account_id, length, received, metadata, secret_hash, expires, done";

fn from_row(r: &AnyRow) -> Result<TusUpload> {
    let secret: Option<String> = get(r, "secret_hash")?;
    Ok(TusUpload {
        uid: parse(r, "uid")?,
        account_id: parse(r, "account_id")?,
        length: get(r, "length")?,
        received: get(r, "received")?,
        metadata: get(r, "metadata")?,
        direct_user: secret.is_some(),
        expires: get(r, "expires")?,
        done: flag(r, "done")?,
    })
}

impl Db {
    /// Inserts the `pendingupload` video and its upload record together.
    pub async fn insert_tus_upload(
        &self,
        v: &Video,
        length: i64,
        metadata: &str,
        secret_hash: Option<&str>,
        expires: Micros,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        crate::videos::insert_in(&mut tx, v).await?;
        sqlx::query(
            "INSERT INTO tus_uploads (uid, account_id, length, received, metadata, \
             secret_hash, expires, done, created) VALUES ($1, $2, $3, 0, $4, $5, $6, 0, $7)",
        )
        .bind(v.uid.as_str())
        .bind(v.account_id.as_str())
        .bind(length)
        .bind(metadata)
        .bind(secret_hash)
        .bind(expires)
        .bind(v.created)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn tus_upload(&self, uid: &VideoId) -> Result<Option<TusUpload>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM tus_uploads WHERE uid = $1"
        )))
        .bind(uid.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The `direct_user` upload whose URL secret has digest `secret_hash`.
    pub async fn tus_upload_by_secret(&self, secret_hash: &str) -> Result<Option<TusUpload>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM tus_uploads WHERE secret_hash = $1"
        )))
        .bind(secret_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Marks the upload complete, records the stored size, forgets its parts (their
    /// bytes are in the original now) and queues the video for processing, in one
    /// transaction; `writer` must hold the upload. False if the video is gone or no
    /// longer pending (deleted meanwhile, or completed by another request), or the claim
    /// was lost.
    pub async fn complete_tus_upload(
        &self,
        uid: &VideoId,
        writer: &str,
        length: i64,
        now: Micros,
    ) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let marked = sqlx::query(
            "UPDATE tus_uploads SET received = $1, done = 1, writer = NULL, writer_until = NULL \
             WHERE uid = $2 AND done = 0 AND writer = $3",
        )
        .bind(length)
        .bind(uid.as_str())
        .bind(writer)
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() == 0
            || !queue_uploaded_in(&mut tx, uid, VideoState::PendingUpload, length, now).await?
        {
            return Ok(false);
        }
        sqlx::query("DELETE FROM tus_parts WHERE uid = $1")
            .bind(uid.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
