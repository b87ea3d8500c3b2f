//! Videos copied from a URL. The video (`downloading`), its source URL and the `copy`
//! job that fetches it are written together; when the file is stored, the video moves
//! to `queued` and its `package` job is enqueued in the same transaction, so a crash
//! never leaves a fetched video that nothing will package.

use usher_core::time_fmt::Micros;
use usher_core::{Video, VideoId, VideoState};

use crate::db::Db;
use crate::error::Result;
use crate::jobs::{self, NewJob};
use crate::videos::queue_uploaded_in;

impl Db {
    /// Inserts a `downloading` video, its source URL and its copy job together.
    pub async fn insert_copy(&self, v: &Video, url: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        crate::videos::insert_in(&mut tx, v).await?;
        sqlx::query("INSERT INTO copy_sources (uid, url, created) VALUES ($1, $2, $3)")
            .bind(v.uid.as_str())
            .bind(url)
            .bind(v.created)
            .execute(&mut *tx)
            .await?;
        jobs::insert(
            &mut tx,
            &v.uid,
            NewJob {
                kind: crate::COPY_JOB,
            },
            v.created,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The URL a copied video is fetched from; `None` if it was not copied (or is gone).
    pub async fn copy_source(&self, uid: &VideoId) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT url FROM copy_sources WHERE uid = $1")
                .bind(uid.as_str())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Records the fetched file and queues the video for packaging, in one transaction.
    /// False if the video is gone or no longer `downloading` (deleted meanwhile).
    pub async fn complete_copy(&self, uid: &VideoId, size: i64, now: Micros) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        if !queue_uploaded_in(&mut tx, uid, VideoState::Downloading, size, now).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }
}
