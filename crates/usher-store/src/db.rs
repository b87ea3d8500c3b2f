//! Connecting to the metadata database by URL and bringing its schema up to date.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, AssertSqlSafe, Executor};

use crate::error::{Result, StoreError};

/// Connections per process. SQLite allows one writer at a time anyway; PostgreSQL
/// deployments scale by adding processes rather than connections.
pub const MAX_CONNECTIONS: u32 = 16;
/// How long a query waits for a connection before the request fails.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long SQLite waits for another process's write lock (several `usher serve`
/// processes may share one database file).
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

/// Migrations in order; each is applied once, recorded in `usher_migrations`.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_access_version.sql")),
    (3, include_str!("../migrations/0003_video_downloads.sql")),
    (4, include_str!("../migrations/0004_direct_uploads.sql")),
    (5, include_str!("../migrations/0005_tus_uploads.sql")),
    (6, include_str!("../migrations/0006_copy_sources.sql")),
    (7, include_str!("../migrations/0007_webhooks.sql")),
];

/// The metadata database: a pool plus which dialect it speaks.
#[derive(Clone, Debug)]
pub struct Db {
    pub(crate) pool: AnyPool,
    postgres: bool,
    access: Arc<AccessEpoch>,
}

/// This process's view of the database's `access_version`: an epoch that moves
/// whenever this process changes something an edge decision depends on, or sees
/// (by polling) that another process did. Edge caches tag entries with the epoch they
/// were loaded under and ignore entries from an older one.
#[derive(Debug, Default)]
struct AccessEpoch {
    epoch: AtomicU64,
    /// The last `access_version` polled; -1 before the first poll.
    seen: AtomicI64,
}

impl Db {
    /// Opens `url` (`sqlite://path` or `postgres://…`) and migrates it.
    pub async fn connect(url: &str) -> Result<Self> {
        install_default_drivers();
        let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
        let url = if let Some(path) = url.strip_prefix("sqlite://") {
            if let Some(parent) = Path::new(path.split('?').next().unwrap_or(path)).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)?;
            }
            if path.contains('?') {
                url.to_owned()
            } else {
                format!("{url}?mode=rwc")
            }
        } else if postgres {
            url.to_owned()
        } else {
            return Err(StoreError::Config(
                "database URL must start with sqlite:// or postgres://".into(),
            ));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if postgres { MAX_CONNECTIONS } else { 4 })
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if !postgres {
                        conn.execute(AssertSqlSafe(format!(
                            "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; \
                             PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                        )))
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let db = Self {
            pool,
            postgres,
            access: Arc::new(AccessEpoch {
                epoch: AtomicU64::new(0),
                seen: AtomicI64::new(-1),
            }),
        };
        db.migrate().await?;
        Ok(db)
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes fails with
    /// SQLITE_BUSY_SNAPSHOT (517) when another connection committed in between, which no
    /// busy timeout can wait out. PostgreSQL row locks need no such care.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(if self.postgres {
            self.pool.begin().await?
        } else {
            self.pool.begin_with("BEGIN IMMEDIATE").await?
        })
    }

    /// The current access epoch (see [`Db::poll_access_version`]).
    pub fn access_epoch(&self) -> u64 {
        self.access.epoch.load(Ordering::Acquire)
    }

    /// Reads the shared `access_version`; when another process moved it since the last
    /// poll, moves this process's epoch so every cache entry loaded before is stale.
    /// Returns whether it moved.
    pub async fn poll_access_version(&self) -> Result<bool> {
        let v: i64 = sqlx::query_scalar("SELECT version FROM access_version WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let before = self.access.seen.swap(v, Ordering::AcqRel);
        let moved = before != v;
        if moved {
            self.access.epoch.fetch_add(1, Ordering::AcqRel);
        }
        Ok(moved)
    }

    /// Records, inside the writer's transaction, that an edge decision may have changed.
    pub(crate) async fn bump_access_version<'c, E>(&self, conn: E) -> Result<()>
    where
        E: Executor<'c, Database = sqlx::Any>,
    {
        sqlx::query("UPDATE access_version SET version = version + 1 WHERE id = 1")
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Makes every cache entry loaded so far stale. Writers call it after their commit,
    /// so this process does not wait for its own poll.
    pub fn mark_access_stale(&self) {
        self.access.epoch.fetch_add(1, Ordering::AcqRel);
    }

    async fn migrate(&self) -> Result<()> {
        self.pool
            .execute(
                "CREATE TABLE IF NOT EXISTS usher_migrations \
                 (version BIGINT PRIMARY KEY, applied BIGINT NOT NULL)",
            )
            .await?;
        for (version, sql) in MIGRATIONS {
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM usher_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&self.pool)
                    .await?;
            if done.is_some() {
                continue;
            }
            let mut tx = self.write_tx().await?;
            // Statements are idempotent (IF NOT EXISTS), so two processes starting at once
            // both succeed; the version row is written by whichever commits first.
            // Comments go first: they may contain semicolons.
            let sql: String = sql
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                tx.execute(AssertSqlSafe(stmt.to_owned())).await?;
            }
            sqlx::query(
                "INSERT INTO usher_migrations (version, applied) VALUES ($1, $2) \
                 ON CONFLICT (version) DO NOTHING",
            )
            .bind(version)
            .bind(usher_core::time_fmt::now_micros())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
