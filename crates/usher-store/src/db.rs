//! Connecting to the metadata database by URL and bringing its schema up to date.
//!
//! SQLite and PostgreSQL speak one SQL text through sqlx's `Any` driver. The few places
//! where they must differ are here: how a writing transaction starts, how a read inside
//! it locks what it read, how the claim query skips rows other claimers hold, and how
//! processes starting together take turns migrating.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, AssertSqlSafe, Executor};

use crate::error::{Result, StoreError};

/// Connections per process on PostgreSQL. Deployments scale by adding processes rather
/// than connections, and the server's own limit (100 by default) is shared by them all.
pub const MAX_CONNECTIONS: u32 = 16;
/// Connections per process on SQLite: it allows one writer at a time anyway, and a few
/// readers are enough to keep the edge from waiting behind one.
pub const SQLITE_CONNECTIONS: u32 = 4;
/// How long a query waits for a connection before the request fails.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long SQLite waits for another process's write lock (several `usher serve`
/// processes may share one database file).
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;
/// The PostgreSQL advisory lock that migrating processes take turns on (any constant
/// works, as long as nothing else on the server uses it: this one spells "usher-mg").
const MIGRATION_LOCK: i64 = 0x7573_6865_722d_6d67;

/// Migrations in order; each is applied once, recorded in `usher_migrations`.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_access_version.sql")),
    (3, include_str!("../migrations/0003_video_downloads.sql")),
    (4, include_str!("../migrations/0004_direct_uploads.sql")),
    (5, include_str!("../migrations/0005_tus_uploads.sql")),
    (6, include_str!("../migrations/0006_copy_sources.sql")),
    (7, include_str!("../migrations/0007_webhooks.sql")),
    (8, include_str!("../migrations/0008_adaptive.sql")),
    (9, include_str!("../migrations/0009_sealed_keys.sql")),
    (10, include_str!("../migrations/0010_revoked_tokens.sql")),
    (11, include_str!("../migrations/0011_rate_counters.sql")),
    (12, include_str!("../migrations/0012_tus_parts.sql")),
    (13, include_str!("../migrations/0013_live_inputs.sql")),
    (14, include_str!("../migrations/0014_live_runs.sql")),
    (15, include_str!("../migrations/0015_live_events.sql")),
    (16, include_str!("../migrations/0016_view_stats.sql")),
];

/// How to open the metadata database.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Pool size; `None` for the dialect's default ([`MAX_CONNECTIONS`] on PostgreSQL,
    /// [`SQLITE_CONNECTIONS`] on SQLite).
    pub max_connections: Option<u32>,
    /// How long a query waits for a free connection.
    pub acquire_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            acquire_timeout: ACQUIRE_TIMEOUT,
        }
    }
}

/// Which SQL dialect the database speaks, where the two must differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

/// The metadata database: a pool plus which dialect it speaks.
#[derive(Clone, Debug)]
pub struct Db {
    pub(crate) pool: AnyPool,
    dialect: Dialect,
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

/// The URL sqlx should open, and its dialect; creates a SQLite file's directory.
fn resolve_url(url: &str) -> Result<(String, Dialect)> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if let Some(parent) = Path::new(path.split('?').next().unwrap_or(path)).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        let url = if path.contains('?') {
            url.to_owned()
        } else {
            format!("{url}?mode=rwc")
        };
        Ok((url, Dialect::Sqlite))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok((url.to_owned(), Dialect::Postgres))
    } else {
        Err(StoreError::Config(
            "database URL must start with sqlite:// or postgres://".into(),
        ))
    }
}

impl Db {
    /// Opens `url` (`sqlite://path` or `postgres://…`) with the default pool, and
    /// migrates it.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, &DbOptions::default()).await
    }

    /// Opens `url` (`sqlite://path` or `postgres://…`) and migrates it. Any number of
    /// processes may do this at once on one database.
    pub async fn connect_with(url: &str, options: &DbOptions) -> Result<Self> {
        install_default_drivers();
        let (url, dialect) = resolve_url(url)?;
        let max_connections = options.max_connections.unwrap_or(match dialect {
            Dialect::Postgres => MAX_CONNECTIONS,
            Dialect::Sqlite => SQLITE_CONNECTIONS,
        });
        if max_connections == 0 {
            return Err(StoreError::Config(
                "the database pool needs at least one connection".into(),
            ));
        }
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute(AssertSqlSafe(format!(
                            "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; \
                             PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA secure_delete = ON;"
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
            dialect,
            access: Arc::new(AccessEpoch {
                epoch: AtomicU64::new(0),
                seen: AtomicI64::new(-1),
            }),
        };
        db.migrate().await?;
        Ok(db)
    }

    pub fn is_postgres(&self) -> bool {
        self.dialect == Dialect::Postgres
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes fails with
    /// SQLITE_BUSY_SNAPSHOT (517) when another connection committed in between, which no
    /// busy timeout can wait out. PostgreSQL row locks need no such care.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.dialect {
            Dialect::Postgres => self.pool.begin().await?,
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
        })
    }

    /// Appended to a `SELECT` inside [`Db::write_tx`] whose later writes depend on what it
    /// read. PostgreSQL (read committed) lets another transaction change the row between
    /// the read and the write unless the read locks it; on SQLite the transaction already
    /// holds the database's one write lock, and `FOR UPDATE` is not SQLite syntax.
    pub(crate) fn lock_read(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        }
    }

    /// Appended to the claim query's row choice: on PostgreSQL a claimer skips the rows
    /// that concurrent claimers have locked and takes the next one, instead of waiting
    /// for them and then finding its row gone. SQLite claims one at a time anyway.
    pub(crate) fn skip_locked(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        }
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

    /// Applies the missing migrations in one transaction that processes take turns on:
    /// on SQLite the database's write lock (`BEGIN IMMEDIATE`), on PostgreSQL an advisory
    /// lock, since concurrent `CREATE TABLE IF NOT EXISTS` there can fail on a catalog
    /// unique index. Which versions are applied is read only once the lock is held, so a
    /// process that waited finds the work done.
    async fn migrate(&self) -> Result<()> {
        let mut tx = self.write_tx().await?;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        tx.execute(
            "CREATE TABLE IF NOT EXISTS usher_migrations \
             (version BIGINT PRIMARY KEY, applied BIGINT NOT NULL)",
        )
        .await?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM usher_migrations")
            .fetch_all(&mut *tx)
            .await?;
        for (version, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            // Comments go first: they may contain semicolons.
            let sql: String = sql
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                tx.execute(AssertSqlSafe(stmt.to_owned())).await?;
            }
            sqlx::query("INSERT INTO usher_migrations (version, applied) VALUES ($1, $2)")
                .bind(version)
                .bind(usher_core::time_fmt::now_micros())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Overwrites what deleted and updated rows left behind in the database files, so
    /// that a secret replaced in place (a key sealed that was stored in the clear) is
    /// gone from the disk too. SQLite zeroes freed content as it goes
    /// (`secure_delete`); this empties its write-ahead log, which still holds old page
    /// images. PostgreSQL keeps old row versions until a full vacuum rewrites the table.
    pub async fn scrub_signing_keys(&self) -> Result<()> {
        match self.dialect {
            Dialect::Sqlite => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&self.pool)
                    .await?;
            }
            Dialect::Postgres => {
                sqlx::query("VACUUM FULL signing_keys")
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
