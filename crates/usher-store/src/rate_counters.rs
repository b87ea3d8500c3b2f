//! Counters in one-minute windows, shared by every process on the database, so that a
//! limit means the same with one API process or ten. A hit is one upsert; a check reads
//! the current and the previous window, from which callers estimate a sliding minute.

use crate::db::Db;
use crate::error::Result;

/// Hits of one counter in the current and the previous minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    pub current: i64,
    pub previous: i64,
}

impl Window {
    /// Hits in the sliding minute ending `secs_into_minute` into the current one: all
    /// of the current window, and the share of the previous one still inside it.
    pub fn sliding(&self, secs_into_minute: i64) -> f64 {
        let left = (60 - secs_into_minute.clamp(0, 60)) as f64 / 60.0;
        self.current as f64 + self.previous as f64 * left
    }
}

impl Db {
    /// Counts one hit of `counter` in minute `minute`; returns the window after it.
    pub async fn rate_hit(&self, counter: &str, minute: i64) -> Result<Window> {
        let current: i64 = sqlx::query_scalar(
            "INSERT INTO rate_counters (counter, minute, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (counter, minute) DO UPDATE SET hits = rate_counters.hits + 1 \
             RETURNING hits",
        )
        .bind(counter)
        .bind(minute)
        .fetch_one(&self.pool)
        .await?;
        let previous = self.rate_hits(counter, minute - 1).await?;
        Ok(Window { current, previous })
    }

    /// The window of `counter` at minute `minute`, without counting.
    pub async fn rate_window(&self, counter: &str, minute: i64) -> Result<Window> {
        Ok(Window {
            current: self.rate_hits(counter, minute).await?,
            previous: self.rate_hits(counter, minute - 1).await?,
        })
    }

    async fn rate_hits(&self, counter: &str, minute: i64) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT hits FROM rate_counters WHERE counter = $1 AND minute = $2")
                .bind(counter)
                .bind(minute)
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or(0),
        )
    }

    /// Deletes windows before `minute` - 1 (no longer read); returns how many.
    pub async fn forget_old_rate_windows(&self, minute: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM rate_counters WHERE minute < $1")
            .bind(minute - 1)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sliding_minute_weighs_the_previous_window_by_what_is_left_of_it() {
        let w = Window {
            current: 10,
            previous: 60,
        };
        assert_eq!(w.sliding(0), 70.0);
        assert_eq!(w.sliding(30), 40.0);
        assert_eq!(w.sliding(60), 10.0);
        assert_eq!(w.sliding(99), 10.0);
    }
}
