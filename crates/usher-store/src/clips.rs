//! Clips (`POST /stream/clip`): a new video made of a span of another. It is inserted
//! with its packaging job only while its source is still the account's and `ready`,
//! checked under a lock in the same transaction, so a source deleted at the same moment
//! never leaves a clip queued with nothing to cut from.

use sqlx::AssertSqlSafe;

use crate::db::Db;
use crate::error::Result;
use crate::jobs::{self, NewJob};

impl Db {
    /// Inserts the clip (`clip.clipped_from` names its source, in `clip.account_id`)
    /// and its packaging job together; false, inserting nothing, if the source is gone,
    /// another account's or not `ready`.
    pub async fn insert_clip(&self, clip: &usher_core::Video) -> Result<bool> {
        let Some(source) = &clip.clipped_from else {
            return Ok(false);
        };
        let mut tx = self.write_tx().await?;
        let ready: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT uid FROM videos WHERE uid = $1 AND account_id = $2 AND state = 'ready'{}",
            self.lock_read()
        )))
        .bind(source.as_str())
        .bind(clip.account_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if ready.is_none() {
            return Ok(false);
        }
        crate::videos::insert_in(&mut tx, clip).await?;
        jobs::insert(
            &mut tx,
            &clip.uid,
            NewJob {
                kind: crate::PACKAGE_JOB,
            },
            clip.created,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
