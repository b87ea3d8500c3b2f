//! The backends every conformance test runs on, and what each test starts from: a fresh
//! database and an empty blob store of its own.

use std::io::Write;
use std::path::PathBuf;

use sqlx::{AssertSqlSafe, Connection, Executor};
use usher_core::ids::random_hex_id;
use usher_core::time_fmt::now_micros;
use usher_core::{AccountId, KeyId, Video, VideoId, VideoState};
use usher_store::{AccountRecord, Blobs, Db, KeyKind, KeyRecord, NewJob, PACKAGE_JOB};

/// Where the PostgreSQL admin URL comes from; each test creates its own database there.
const POSTGRES_URL_VAR: &str = "USHER_TEST_POSTGRES_URL";
/// Where the S3 bucket URL comes from; each test works under its own prefix in it.
const S3_URL_VAR: &str = "USHER_TEST_S3_URL";
/// Set (to 1) where the PostgreSQL + S3 variants must run rather than be skipped.
const REQUIRE_VAR: &str = "USHER_TEST_REQUIRE_SERVICES";

/// Runs each named test function (`async fn NAME(f: &Fixture)`) once per backend, as
/// `NAME::sqlite_local` and `NAME::postgres_s3`, each on a fixture of its own that is
/// torn down after it. A test function left out of the list is dead code, which the
/// lints refuse, so none is silently skipped.
macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use $crate::support::{Backend, Fixture};

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_local() {
                    if let Some(f) = Fixture::new(Backend::SqliteLocal, stringify!($name)).await {
                        super::$name(&f).await;
                        f.teardown().await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_s3() {
                    if let Some(f) = Fixture::new(Backend::PostgresS3, stringify!($name)).await {
                        super::$name(&f).await;
                        f.teardown().await;
                    }
                }
            }
        )+
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// The embedded defaults: a SQLite file and media as plain files.
    SqliteLocal,
    /// Scaled out: PostgreSQL and an S3-compatible server (see scripts/test-services).
    PostgresS3,
}

pub(crate) struct Fixture {
    pub(crate) backend: Backend,
    /// Scratch space for local files (and the SQLite database and media, locally).
    pub(crate) dir: tempfile::TempDir,
    pub(crate) db_url: String,
    pub(crate) db: Db,
    pub(crate) blobs: Blobs,
    /// The URL `blobs` was opened with.
    pub(crate) media_url: String,
    /// The media directory, on the local backend.
    pub(crate) root: Option<PathBuf>,
    postgres: Option<Postgres>,
}

/// The PostgreSQL server a test runs on, and the databases it created there.
struct Postgres {
    admin: String,
    created: std::sync::Mutex<Vec<String>>,
}

impl Fixture {
    /// A fresh database and blob store on `backend`, or `None` when the PostgreSQL + S3
    /// services are not configured and not required.
    pub(crate) async fn new(backend: Backend, test: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let (media_url, root, postgres) = match backend {
            Backend::SqliteLocal => {
                let root = dir.path().join("media");
                (format!("file://{}", root.display()), Some(root), None)
            }
            Backend::PostgresS3 => {
                let (Ok(admin), Ok(bucket)) =
                    (std::env::var(POSTGRES_URL_VAR), std::env::var(S3_URL_VAR))
                else {
                    if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") {
                        panic!(
                            "{REQUIRE_VAR}=1 but {POSTGRES_URL_VAR} or {S3_URL_VAR} is unset: \
                             run under scripts/test-services \
                             (eval \"$(scripts/test-services start DIR)\")"
                        );
                    }
                    // Once per run, and past the test harness's capture, so the skip is
                    // seen without a screenful of copies.
                    static SKIPPED: std::sync::Once = std::sync::Once::new();
                    SKIPPED.call_once(|| {
                        let _ = writeln!(
                            std::io::stderr(),
                            "skipped: the PostgreSQL+S3 variants of the store conformance \
                             tests ({POSTGRES_URL_VAR} and {S3_URL_VAR} unset; \
                             scripts/test-services starts both), first: {test}"
                        );
                    });
                    return None;
                };
                let media_url =
                    format!("{}/test-{}", bucket.trim_end_matches('/'), random_hex_id());
                let postgres = Postgres {
                    admin,
                    created: std::sync::Mutex::new(Vec::new()),
                };
                (media_url, None, Some(postgres))
            }
        };
        let blobs = Blobs::open(&media_url).unwrap();
        let db_url = fresh_database_url(&dir, postgres.as_ref()).await;
        let db = Db::connect(&db_url).await.unwrap();
        Some(Self {
            backend,
            dir,
            db_url,
            db,
            blobs,
            media_url,
            root,
            postgres,
        })
    }

    /// The URL of a new, empty database on this backend (not yet migrated).
    pub(crate) async fn fresh_database_url(&self) -> String {
        fresh_database_url(&self.dir, self.postgres.as_ref()).await
    }

    /// Drops the databases this test created (its blobs go with the services' directory).
    pub(crate) async fn teardown(self) {
        self.db.close().await;
        if let Some(pg) = &self.postgres {
            let names = std::mem::take(&mut *pg.created.lock().unwrap());
            for name in names {
                // FORCE: a test may leave a second pool open on it.
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                admin_execute(&pg.admin, &drop).await;
            }
        }
    }
}

async fn fresh_database_url(dir: &tempfile::TempDir, postgres: Option<&Postgres>) -> String {
    let Some(pg) = postgres else {
        return format!("sqlite://{}/{}.db", dir.path().display(), random_hex_id());
    };
    let name = format!("usher_test_{}", random_hex_id());
    admin_execute(&pg.admin, &format!("CREATE DATABASE {name}")).await;
    pg.created.lock().unwrap().push(name.clone());
    with_database(&pg.admin, &name)
}

async fn admin_execute(admin: &str, sql: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("connecting to {admin}: {e}"));
    conn.execute(AssertSqlSafe(sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.unwrap();
}

/// `admin` with its database name replaced by `name`.
fn with_database(admin: &str, name: &str) -> String {
    let (scheme, rest) = admin.split_once("://").unwrap();
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let authority = rest.split('/').next().unwrap();
    match query {
        Some(q) => format!("{scheme}://{authority}/{name}?{q}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

pub(crate) async fn account(db: &Db) -> AccountId {
    let id = AccountId::generate();
    db.insert_account(&AccountRecord {
        id: id.clone(),
        email: "a@example.com".into(),
        api_token_hash: "t".into(),
        api_key_hash: "k".into(),
        created: now_micros(),
    })
    .await
    .unwrap();
    id
}

pub(crate) async fn video(db: &Db, acct: &AccountId, created: i64, name: &str) -> VideoId {
    let uid = VideoId::generate();
    let mut v = Video::new(uid.clone(), acct.clone(), VideoState::Queued, created);
    v.meta.insert("name".into(), name.into());
    db.insert_video(&v, Some(NewJob { kind: PACKAGE_JOB }))
        .await
        .unwrap();
    uid
}

pub(crate) fn key(acct: &AccountId) -> KeyRecord {
    KeyRecord {
        id: KeyId::generate(),
        account_id: acct.clone(),
        kind: KeyKind::User,
        public_key: "cHVi".into(),
        private_key: None,
        master_key_id: None,
        created: now_micros(),
        revoked_at: None,
    }
}

#[test]
fn a_database_url_is_the_admin_url_with_another_name() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
        "postgres://postgres@127.0.0.1:5432/t1"
    );
    assert_eq!(
        with_database("postgresql://u:p@h/db?sslmode=disable", "t2"),
        "postgresql://u:p@h/t2?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h:1", "t3"), "postgres://h:1/t3");
}
