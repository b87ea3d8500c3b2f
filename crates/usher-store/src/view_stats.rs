//! Viewing analytics (SPEC §10): what the edges counted, per video (or live input) per
//! UTC day. Edges add to it in batches ([`Db::apply_view_batch`]); a batch is applied
//! at most once, whatever happens between its commit and its sender hearing about it,
//! and a viewer is one view per 30-minute window across every edge.

use std::collections::BTreeMap;

use usher_core::AccountId;
use usher_core::time_fmt::{format_day, now_micros};

use crate::db::Db;
use crate::error::Result;
use crate::row::get;

/// The window in which one viewer of one video is one view.
pub const VIEW_WINDOW_SECS: i64 = 30 * 60;

/// How many rows one query of [`Db::view_stats`] answers at most.
pub const MAX_VIEW_STATS_ROWS: i64 = 10_000;

/// One video's counts for one day, as an edge flushes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewDelta {
    pub account: String,
    pub uid: String,
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub millis: i64,
    pub bytes: i64,
    pub denials: Vec<(String, i64)>,
    /// Viewers seen, by hash, each with its window (unix seconds / [`VIEW_WINDOW_SECS`]):
    /// a view unless some edge already counted that viewer in that window.
    pub sessions: Vec<(String, i64)>,
}

/// A row of the analytics as the API answers it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewStat {
    pub uid: String,
    /// `YYYY-MM-DD`.
    pub day: String,
    pub views: i64,
    pub millis: i64,
    pub bytes: i64,
    pub denials: BTreeMap<String, i64>,
}

/// Which rows [`Db::view_stats`] reads: days `since..=until`.
#[derive(Debug, Clone, Default)]
pub struct ViewQuery {
    pub since: i64,
    pub until: i64,
    pub uid: Option<String>,
    /// Only videos with this `creator` (live inputs have none).
    pub creator: Option<String>,
}

impl Db {
    /// Adds `deltas` under batch `id`; `false` (and nothing added) if a batch with that
    /// id was applied before.
    pub async fn apply_view_batch(&self, id: &str, deltas: &[ViewDelta]) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let fresh = sqlx::query(
            "INSERT INTO view_batches (id, applied) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(now_micros())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            tx.rollback().await?;
            return Ok(false);
        }
        for d in deltas {
            let mut views: i64 = 0;
            for (viewer, bucket) in &d.sessions {
                let added = sqlx::query(
                    "INSERT INTO view_sessions (uid, viewer, bucket) VALUES ($1, $2, $3) \
                     ON CONFLICT (uid, viewer, bucket) DO NOTHING",
                )
                .bind(&d.uid)
                .bind(viewer)
                .bind(*bucket)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                views = views.saturating_add(i64::try_from(added).unwrap_or(0));
            }
            let day = format_day(d.day);
            sqlx::query(
                "INSERT INTO view_stats (account_id, uid, day, views, millis_delivered, \
                 bytes_delivered) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (account_id, uid, day) DO UPDATE SET \
                 views = view_stats.views + excluded.views, \
                 millis_delivered = view_stats.millis_delivered + excluded.millis_delivered, \
                 bytes_delivered = view_stats.bytes_delivered + excluded.bytes_delivered",
            )
            .bind(&d.account)
            .bind(&d.uid)
            .bind(&day)
            .bind(views)
            .bind(d.millis)
            .bind(d.bytes)
            .execute(&mut *tx)
            .await?;
            for (reason, n) in &d.denials {
                sqlx::query(
                    "INSERT INTO view_denials (account_id, uid, day, reason, denials) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (account_id, uid, day, reason) DO UPDATE SET \
                     denials = view_denials.denials + excluded.denials",
                )
                .bind(&d.account)
                .bind(&d.uid)
                .bind(&day)
                .bind(reason)
                .bind(*n)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The account's analytics for `q`, by day then uid; at most
    /// [`MAX_VIEW_STATS_ROWS`] rows.
    pub async fn view_stats(&self, account: &AccountId, q: &ViewQuery) -> Result<Vec<ViewStat>> {
        let (since, until) = (format_day(q.since), format_day(q.until));
        // The optional filters as `$n IS NULL OR …`, so one SQL text serves every case.
        let filters = "s.account_id = $1 AND s.day >= $2 AND s.day <= $3 \
             AND ($4 IS NULL OR s.uid = $4) \
             AND ($5 IS NULL OR EXISTS (SELECT 1 FROM videos v WHERE v.uid = s.uid \
             AND v.account_id = s.account_id AND v.creator = $5))";
        let filtered = |sql: String| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(account.as_str())
                .bind(&since)
                .bind(&until)
                .bind(q.uid.as_deref())
                .bind(q.creator.as_deref())
        };
        let rows = filtered(format!(
            "SELECT s.uid, s.day, s.views, s.millis_delivered, s.bytes_delivered \
             FROM view_stats s WHERE {filters} ORDER BY s.day, s.uid LIMIT {MAX_VIEW_STATS_ROWS}"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut stats = Vec::with_capacity(rows.len());
        let mut at = BTreeMap::new();
        for row in &rows {
            let s = ViewStat {
                uid: get(row, "uid")?,
                day: get(row, "day")?,
                views: get(row, "views")?,
                millis: get(row, "millis_delivered")?,
                bytes: get(row, "bytes_delivered")?,
                denials: BTreeMap::new(),
            };
            at.insert((s.day.clone(), s.uid.clone()), stats.len());
            stats.push(s);
        }
        let denials = filtered(format!(
            "SELECT s.uid, s.day, s.reason, s.denials FROM view_denials s WHERE {filters}"
        ))
        .fetch_all(&self.pool)
        .await?;
        for row in &denials {
            let key: (String, String) = (get(row, "day")?, get(row, "uid")?);
            if let Some(&i) = at.get(&key) {
                stats[i]
                    .denials
                    .insert(get(row, "reason")?, get(row, "denials")?);
            }
        }
        Ok(stats)
    }

    /// Forgets viewers of windows before `bucket` and batch ids applied before
    /// `applied_before` (unix µs): neither can be sent again by then.
    pub async fn forget_old_view_sessions(&self, bucket: i64, applied_before: i64) -> Result<u64> {
        let sessions = sqlx::query("DELETE FROM view_sessions WHERE bucket < $1")
            .bind(bucket)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let batches = sqlx::query("DELETE FROM view_batches WHERE applied < $1")
            .bind(applied_before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(sessions + batches)
    }
}

impl Db {
    /// Records how many viewers edge process `edge` sees on each live input now.
    pub async fn report_live_viewers(&self, edge: &str, counts: &[(String, i64)]) -> Result<()> {
        let now = now_micros();
        let mut tx = self.write_tx().await?;
        for (input, viewers) in counts {
            sqlx::query(
                "INSERT INTO live_viewers (edge, live_input_uid, viewers, reported) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (edge, live_input_uid) DO UPDATE SET \
                 viewers = excluded.viewers, reported = excluded.reported",
            )
            .bind(edge)
            .bind(input)
            .bind(*viewers)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        // An edge's rows it no longer reports, and every edge's stale ones, go.
        sqlx::query(
            "DELETE FROM live_viewers WHERE (edge = $1 AND reported < $2) OR reported < $3",
        )
        .bind(edge)
        .bind(now)
        .bind(now.saturating_sub(LIVE_VIEWERS_FRESH_MICROS * 10))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Viewers of `input` now: the sum of what the edges reported lately.
    pub async fn live_viewers(&self, input: &str) -> Result<i64> {
        let sum: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(viewers) AS BIGINT) FROM live_viewers \
             WHERE live_input_uid = $1 AND reported >= $2",
        )
        .bind(input)
        .bind(now_micros().saturating_sub(LIVE_VIEWERS_FRESH_MICROS))
        .fetch_one(&self.pool)
        .await?;
        Ok(sum.unwrap_or(0))
    }
}

/// How recent an edge's report of live viewers must be to count: three flushes.
pub const LIVE_VIEWERS_FRESH_MICROS: i64 = 15_000_000;
