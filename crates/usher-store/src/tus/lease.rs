//! Who may write an upload: one request at a time, on any API process, holds it by a
//! lease in its `tus_uploads` row (`writer`, `writer_until`). The holder renews it while
//! it works; a process that dies simply lets it lapse, and the next request takes over.
//! The lease is what keeps two `PATCH`es of one upload apart; correctness does not rest
//! on its timing, though: every move of the offset names the writer (see [`super::parts`]),
//! so a writer whose lease was taken over can no longer record anything.

use usher_core::VideoId;
use usher_core::time_fmt::Micros;

use crate::db::Db;
use crate::error::Result;

/// Passed as the offset to [`Db::claim_tus_upload`] to claim the upload wherever it
/// stands (to terminate it).
pub const ANY_OFFSET: i64 = -1;

/// What a claim came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TusClaim {
    /// The upload is the caller's until its lease lapses. `took_over` when it was held by
    /// a writer whose lease had lapsed (a process that died mid-request): what that
    /// writer staged but never recorded may lie in the store.
    Claimed { took_over: bool },
    /// Another writer holds it.
    Busy,
    /// Not at that offset, complete, or gone.
    Refused,
}

impl Db {
    /// Claims the upload for `writer` until `until` if it stands at `offset` (or
    /// anywhere, with [`ANY_OFFSET`]), is unfinished, and no live lease holds it at
    /// `now`.
    pub async fn claim_tus_upload(
        &self,
        uid: &VideoId,
        offset: i64,
        writer: &str,
        now: Micros,
        until: Micros,
    ) -> Result<TusClaim> {
        const CLAIMABLE: &str = "uid = $3 AND done = 0 AND ($4 < 0 OR received = $4)";
        // Free, or held by a lapsed lease: two statements, so the caller learns which.
        let free = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE tus_uploads SET writer = $1, writer_until = $2 \
             WHERE {CLAIMABLE} AND writer IS NULL"
        )))
        .bind(writer)
        .bind(until)
        .bind(uid.as_str())
        .bind(offset)
        .execute(&self.pool)
        .await?;
        if free.rows_affected() > 0 {
            return Ok(TusClaim::Claimed { took_over: false });
        }
        let lapsed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE tus_uploads SET writer = $1, writer_until = $2 \
             WHERE {CLAIMABLE} AND writer IS NOT NULL AND writer_until <= $5"
        )))
        .bind(writer)
        .bind(until)
        .bind(uid.as_str())
        .bind(offset)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if lapsed.rows_affected() > 0 {
            return Ok(TusClaim::Claimed { took_over: true });
        }
        // Neither: held by a live lease, or not claimable at all. A claimable row without
        // a writer was let go between the statements above: busy too, so the caller
        // asks again and gets it.
        let held: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(1 AS BIGINT) FROM tus_uploads WHERE uid = $1 AND done = 0 \
             AND ($2 < 0 OR received = $2)",
        )
        .bind(uid.as_str())
        .bind(offset)
        .fetch_optional(&self.pool)
        .await?;
        Ok(if held.is_some() {
            TusClaim::Busy
        } else {
            TusClaim::Refused
        })
    }

    /// Extends `writer`'s lease to `until`; false if it no longer holds the upload.
    pub async fn renew_tus_claim(
        &self,
        uid: &VideoId,
        writer: &str,
        until: Micros,
    ) -> Result<bool> {
        let renewed = sqlx::query(
            "UPDATE tus_uploads SET writer_until = $1 WHERE uid = $2 AND writer = $3 AND done = 0",
        )
        .bind(until)
        .bind(uid.as_str())
        .bind(writer)
        .execute(&self.pool)
        .await?;
        Ok(renewed.rows_affected() > 0)
    }

    /// Lets go of the upload, if `writer` still holds it, so the next request need not
    /// wait for the lease to lapse.
    pub async fn release_tus_claim(&self, uid: &VideoId, writer: &str) -> Result<()> {
        sqlx::query(
            "UPDATE tus_uploads SET writer = NULL, writer_until = NULL \
             WHERE uid = $1 AND writer = $2",
        )
        .bind(uid.as_str())
        .bind(writer)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
