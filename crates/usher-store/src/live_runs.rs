//! Which broadcast run each live input has on air: the claim that makes a second
//! publisher fail on every ingest process, and what the edges read to find the live
//! files. Starting and ending a run moves the access version, so edges see a broadcast
//! begin or end within one poll.

use std::time::Duration;

use usher_core::time_fmt::{Micros, now_micros};
use usher_core::{ErrorReason, LiveInputId, VideoId, VideoState};

use crate::db::Db;
use crate::error::Result;
use crate::videos::queue_uploaded_in;

fn micros(d: Duration) -> Micros {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl Db {
    /// Puts `run` on air for `input` if no other run holds it (or the holder's lease has
    /// run out); `false` if another run is on air.
    pub async fn claim_live_run(&self, input: &str, run: &str, lease: Duration) -> Result<bool> {
        let now = now_micros();
        let mut tx = self.write_tx().await?;
        let claimed = sqlx::query(
            "INSERT INTO live_runs (live_input_uid, run_id, started, lease_until) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (live_input_uid) DO UPDATE SET \
             run_id = excluded.run_id, started = excluded.started, \
             lease_until = excluded.lease_until WHERE live_runs.lease_until < $3",
        )
        .bind(input)
        .bind(run)
        .bind(now)
        .bind(now.saturating_add(micros(lease)))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if claimed {
            self.bump_access_version(&mut *tx).await?;
        }
        tx.commit().await?;
        if claimed {
            self.mark_access_stale();
        }
        Ok(claimed)
    }

    /// Extends the lease of `run`; `false` if it is no longer on air (taken over after
    /// its lease ran out, or ended).
    pub async fn renew_live_run(&self, input: &str, run: &str, lease: Duration) -> Result<bool> {
        let until = now_micros().saturating_add(micros(lease));
        let done = sqlx::query(
            "UPDATE live_runs SET lease_until = $3 WHERE live_input_uid = $1 AND run_id = $2",
        )
        .bind(input)
        .bind(run)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes `run` off air (nothing if another run holds the input by now).
    pub async fn end_live_run(&self, input: &str, run: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let ended = sqlx::query("DELETE FROM live_runs WHERE live_input_uid = $1 AND run_id = $2")
            .bind(input)
            .bind(run)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if ended {
            self.bump_access_version(&mut *tx).await?;
        }
        tx.commit().await?;
        if ended {
            self.mark_access_stale();
        }
        Ok(())
    }

    /// The run on air for `input`, if its lease holds.
    pub async fn live_run(&self, input: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT run_id FROM live_runs WHERE live_input_uid = $1 AND lease_until >= $2",
        )
        .bind(input)
        .bind(now_micros())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A broadcast ended and its recording's bytes (`size`) are stored: the
    /// `live-inprogress` video is queued for packaging like any upload. False if it is no
    /// longer recording (deleted meanwhile).
    pub async fn finish_recording(&self, uid: &VideoId, size: i64) -> Result<bool> {
        let now = now_micros();
        let mut tx = self.write_tx().await?;
        if !queue_uploaded_in(&mut tx, uid, VideoState::LiveInProgress, size, now).await? {
            return Ok(false);
        }
        // The edges stop serving it live.
        self.bump_access_version(&mut *tx).await?;
        tx.commit().await?;
        self.mark_access_stale();
        Ok(true)
    }

    /// The recordings of `input` still `live-inprogress`: called by the run that has
    /// just claimed the input, so any such recording belongs to an earlier run whose
    /// ingest died (its bytes died with it). Each is marked errored; returns them.
    pub async fn orphaned_recordings(&self, input: &LiveInputId) -> Result<Vec<VideoId>> {
        let uids: Vec<String> = sqlx::query_scalar(
            "SELECT uid FROM videos WHERE live_input = $1 AND state = 'live-inprogress'",
        )
        .bind(input.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for uid in uids {
            let Ok(uid) = uid.parse::<VideoId>() else {
                continue;
            };
            self.mark_error(&uid, ErrorReason::Unknown, now_micros())
                .await?;
            out.push(uid);
        }
        Ok(out)
    }
}
