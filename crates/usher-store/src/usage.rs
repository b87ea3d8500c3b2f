//! `GET /stream/storage-usage`: how much video an account (or one of its creators)
//! keeps, in one aggregate query.

use usher_core::AccountId;

use crate::db::Db;
use crate::error::Result;
use crate::row::get;

/// States of a video whose bytes Usher holds: not `pendingupload` or `downloading`
/// (nothing stored yet) and not `error` (nothing playable is kept).
const STORED_STATES: &str = "('queued', 'inprogress', 'ready')";

/// An account's stored video.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StorageUsage {
    /// Videos in a stored state.
    pub video_count: i64,
    /// Their durations added up, in seconds; a video whose duration is not known yet
    /// (queued, not probed) counts for none.
    pub total_seconds: f64,
}

impl Db {
    /// The account's stored videos, or only those of `creator`.
    pub async fn storage_usage(
        &self,
        account: &AccountId,
        creator: Option<&str>,
    ) -> Result<StorageUsage> {
        // CASTs: PostgreSQL's COUNT is BIGINT but SQLite's COALESCE of an empty SUM
        // would otherwise be an integer 0, which does not decode as a float through
        // sqlx's Any driver.
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n, \
             CAST(COALESCE(SUM(CASE WHEN duration > 0 THEN duration ELSE 0.0 END), 0.0) \
             AS DOUBLE PRECISION) AS seconds \
             FROM videos WHERE account_id = $1 AND state IN {STORED_STATES}{}",
            if creator.is_some() {
                " AND creator = $2"
            } else {
                ""
            }
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account.as_str());
        if let Some(c) = creator {
            q = q.bind(c);
        }
        let row = q.fetch_one(&self.pool).await?;
        Ok(StorageUsage {
            video_count: get(&row, "n")?,
            total_seconds: get(&row, "seconds")?,
        })
    }
}
