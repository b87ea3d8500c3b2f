//! The job queue: rows in the metadata database, claimed atomically with a lease. A
//! worker that dies simply lets its lease run out and the job is claimed again.

use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use usher_core::VideoId;
use usher_core::ids::random_hex_id;
use usher_core::time_fmt::Micros;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::row::{get, parse};

/// The job that turns an upload into published outputs.
pub const PACKAGE_JOB: &str = "package";
/// The job that fetches a video's file from its source URL (`POST …/stream/copy`).
pub const COPY_JOB: &str = "copy";

/// A job to enqueue.
#[derive(Debug, Clone, Copy)]
pub struct NewJob<'a> {
    pub kind: &'a str,
}

/// A claimed job, held by one worker until it finishes or its lease runs out.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub video_uid: VideoId,
    pub kind: String,
    /// Including this one.
    pub attempts: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl std::str::FromStr for JobState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "done" => Self::Done,
            "failed" => Self::Failed,
            other => return Err(StoreError::Corrupt(format!("job state {other:?}"))),
        })
    }
}

/// A job row as stored, for inspection.
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: String,
    pub video_uid: VideoId,
    pub kind: String,
    pub state: JobState,
    pub attempts: i64,
    pub last_error: Option<String>,
}

pub(crate) async fn insert(
    tx: &mut Transaction<'_, Any>,
    uid: &VideoId,
    job: NewJob<'_>,
    now: Micros,
) -> Result<String> {
    let id = random_hex_id();
    sqlx::query(
        "INSERT INTO jobs (id, video_uid, kind, state, attempts, run_after, created, updated) \
         VALUES ($1, $2, $3, 'queued', 0, $4, $4, $4)",
    )
    .bind(&id)
    .bind(uid.as_str())
    .bind(job.kind)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

fn claimed(r: &AnyRow) -> Result<Job> {
    Ok(Job {
        id: get(r, "id")?,
        video_uid: parse(r, "video_uid")?,
        kind: get(r, "kind")?,
        attempts: get(r, "attempts")?,
    })
}

impl Db {
    pub async fn enqueue_job(&self, uid: &VideoId, job: NewJob<'_>, now: Micros) -> Result<String> {
        let mut tx = self.write_tx().await?;
        let id = insert(&mut tx, uid, job, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claims the oldest runnable job (queued and due, or running with an expired lease)
    /// of one of `kinds`: each kind has its own runner (the media worker packages, the
    /// webhook dispatcher delivers), so a slow one never holds up the others.
    /// On PostgreSQL the row choice locks the row and skips rows that other claimers hold,
    /// so concurrent claimers take different jobs. The outer `WHERE` repeats the
    /// eligibility test so that, should two claimers still race for one row, the loser's
    /// update matches nothing once the winner has committed.
    pub async fn claim_job(
        &self,
        kinds: &[&str],
        worker: &str,
        lease: Micros,
        now: Micros,
    ) -> Result<Option<Job>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        // $1..$3 are fixed; the kinds follow as $4…
        let list = (0..kinds.len())
            .map(|i| format!("${}", i + 4))
            .collect::<Vec<_>>()
            .join(", ");
        let eligible = format!(
            "(kind IN ({list}) AND ((state = 'queued' AND run_after <= $3) \
             OR (state = 'running' AND lease_until < $3)))"
        );
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET state = 'running', worker = $1, lease_until = $2, \
             attempts = attempts + 1, updated = $3 \
             WHERE id = (SELECT id FROM jobs WHERE {eligible} ORDER BY created, id LIMIT 1{skip}) \
             AND {eligible} RETURNING id, video_uid, kind, attempts",
            skip = self.skip_locked(),
        )))
        .bind(worker)
        .bind(now.saturating_add(lease))
        .bind(now);
        for kind in kinds {
            q = q.bind(*kind);
        }
        let row = q.fetch_optional(&self.pool).await?;
        row.as_ref().map(claimed).transpose()
    }

    /// Extends the lease; false if the job is no longer this worker's.
    pub async fn renew_lease(&self, job_id: &str, worker: &str, until: Micros) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND worker = $3 AND state = 'running'",
        )
        .bind(until)
        .bind(job_id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Running jobs and the workers holding them.
    pub async fn running_jobs(&self) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT id, worker FROM jobs WHERE state = 'running'")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, w)| w.map(|w| (id, w)))
            .collect())
    }

    /// Ends `worker`'s lease on a running job at once, so the next claim takes it; for
    /// jobs whose worker is known to be gone. False if the job had moved on.
    pub async fn expire_lease(&self, job_id: &str, worker: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = 0 WHERE id = $1 AND worker = $2 AND state = 'running'",
        )
        .bind(job_id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Hands a job back unfinished (the worker is shutting down), due at once; the
    /// attempt does not count, since nothing went wrong with the job.
    pub async fn hand_back_job(&self, job_id: &str, worker: &str, now: Micros) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_after = $1, \
             lease_until = NULL, updated = $1 WHERE id = $2 AND worker = $3 AND state = 'running'",
        )
        .bind(now)
        .bind(job_id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn finish_job(&self, job_id: &str, worker: &str, now: Micros) -> Result<()> {
        self.end_job(job_id, worker, "done", None, now, now).await
    }

    /// Puts the job back in the queue to run again after `run_after`.
    pub async fn retry_job(
        &self,
        job_id: &str,
        worker: &str,
        error: &str,
        run_after: Micros,
        now: Micros,
    ) -> Result<()> {
        self.end_job(job_id, worker, "queued", Some(error), run_after, now)
            .await
    }

    /// Gives up on the job for good.
    pub async fn fail_job(
        &self,
        job_id: &str,
        worker: &str,
        error: &str,
        now: Micros,
    ) -> Result<()> {
        self.end_job(job_id, worker, "failed", Some(error), now, now)
            .await
    }

    async fn end_job(
        &self,
        job_id: &str,
        worker: &str,
        state: &str,
        error: Option<&str>,
        run_after: Micros,
        now: Micros,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET state = $1, last_error = COALESCE($2, last_error), run_after = $3, \
             lease_until = NULL, updated = $4 WHERE id = $5 AND worker = $6",
        )
        .bind(state)
        .bind(error)
        .bind(run_after)
        .bind(now)
        .bind(job_id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn jobs_for_video(&self, uid: &VideoId) -> Result<Vec<JobRecord>> {
        let rows = sqlx::query(
            "SELECT id, video_uid, kind, state, attempts, last_error FROM jobs \
             WHERE video_uid = $1 ORDER BY created",
        )
        .bind(uid.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JobRecord {
                    id: get(r, "id")?,
                    video_uid: parse(r, "video_uid")?,
                    kind: get(r, "kind")?,
                    state: parse(r, "state")?,
                    attempts: get(r, "attempts")?,
                    last_error: get(r, "last_error")?,
                })
            })
            .collect()
    }
}

impl Db {
    /// How many jobs wait and run, by kind and state, across every process.
    pub async fn job_counts(&self) -> Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT kind, state, CAST(COUNT(*) AS BIGINT) AS n FROM jobs \
             WHERE state IN ('queued', 'running') GROUP BY kind, state ORDER BY kind, state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((get(r, "kind")?, get(r, "state")?, get(r, "n")?)))
            .collect()
    }

    /// Answers when the database does: what `/readyz` asks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
