//! The recorded parts of an unfinished upload: which blobs, in which order, hold its
//! acknowledged bytes. A part is recorded in the same transaction that moves the
//! offset, by compare-and-set from where the part starts and only for the writer
//! holding the upload, so the recorded parts always tile `[0, received)` exactly and two
//! writers can never both advance it.

use sqlx::any::AnyRow;
use usher_core::VideoId;
use usher_core::time_fmt::Micros;

use crate::db::Db;
use crate::error::Result;
use crate::layout::tus_part_key;
use crate::row::get;

/// One staged part: the upload's bytes `[start, end)`, in the blob [`TusPart::key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TusPart {
    pub start: i64,
    pub end: i64,
    /// The writer that staged it, which names its blob.
    pub writer: String,
}

impl TusPart {
    pub fn len(&self) -> i64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// Its blob.
    pub fn key(&self, uid: &VideoId) -> String {
        tus_part_key(uid, self.start, &self.writer)
    }
}

fn from_row(r: &AnyRow) -> Result<TusPart> {
    Ok(TusPart {
        start: get(r, "start_offset")?,
        end: get(r, "end_offset")?,
        writer: get(r, "writer")?,
    })
}

impl Db {
    /// Records `part` (staged and durable) and moves the offset from its start to its
    /// end, renewing the writer's lease to `until`; false, recording nothing, if the
    /// upload is not at `part.start`, is complete or gone, or is not `part.writer`'s.
    pub async fn record_tus_part(
        &self,
        uid: &VideoId,
        part: &TusPart,
        until: Micros,
    ) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let moved = sqlx::query(
            "UPDATE tus_uploads SET received = $1, writer_until = $2 \
             WHERE uid = $3 AND received = $4 AND writer = $5 AND done = 0",
        )
        .bind(part.end)
        .bind(until)
        .bind(uid.as_str())
        .bind(part.start)
        .bind(&part.writer)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO tus_parts (uid, start_offset, end_offset, writer) VALUES ($1, $2, $3, $4)",
        )
        .bind(uid.as_str())
        .bind(part.start)
        .bind(part.end)
        .bind(&part.writer)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The upload's recorded parts, in order.
    pub async fn tus_parts(&self, uid: &VideoId) -> Result<Vec<TusPart>> {
        let rows = sqlx::query(
            "SELECT start_offset, end_offset, writer FROM tus_parts WHERE uid = $1 \
             ORDER BY start_offset",
        )
        .bind(uid.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Takes the upload back from `from` to `to` (a refused `PATCH` is undone whole; a
    /// lost part costs what follows it): the offset moves back and the parts from `to`
    /// on are forgotten, and returned so their blobs can go. `None`, changing nothing,
    /// if the upload is not at `from`, is complete or gone, or is not `writer`'s.
    pub async fn rewind_tus_upload(
        &self,
        uid: &VideoId,
        writer: &str,
        from: i64,
        to: i64,
    ) -> Result<Option<Vec<TusPart>>> {
        let mut tx = self.write_tx().await?;
        let moved = sqlx::query(
            "UPDATE tus_uploads SET received = $1 \
             WHERE uid = $2 AND received = $3 AND writer = $4 AND done = 0",
        )
        .bind(to)
        .bind(uid.as_str())
        .bind(from)
        .bind(writer)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT start_offset, end_offset, writer FROM tus_parts \
             WHERE uid = $1 AND start_offset >= $2 ORDER BY start_offset",
        )
        .bind(uid.as_str())
        .bind(to)
        .fetch_all(&mut *tx)
        .await?;
        let dropped = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        sqlx::query("DELETE FROM tus_parts WHERE uid = $1 AND start_offset >= $2")
            .bind(uid.as_str())
            .bind(to)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(dropped))
    }
}
