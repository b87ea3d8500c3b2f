//! The scaled-out storage the test setup starts (`scripts/test-services`): a PostgreSQL
//! server and an S3 server, named by `USHER_TEST_POSTGRES_URL` and `USHER_TEST_S3_URL`
//! (with the standard `AWS_*` variables, which spawned servers inherit). Each test gets
//! its own database and its own key prefix.

use std::process::Command;

use usher_core::ids::random_hex_id;

pub struct Scaled {
    /// `--database-url`: a database of this test's own.
    pub database_url: String,
    /// `--media-url`: a prefix of this test's own.
    pub media_url: String,
}

impl Scaled {
    /// The storage flags for `usher serve` and `usher account create`.
    pub fn flags(&self) -> [&str; 4] {
        [
            "--database-url",
            &self.database_url,
            "--media-url",
            &self.media_url,
        ]
    }
}

/// A fresh database and prefix, or `None` (with a note) when the services are not
/// running and the run does not require them; `scripts/test` requires them.
pub fn scaled(test: &str) -> Option<Scaled> {
    let (Ok(admin), Ok(s3)) = (
        std::env::var("USHER_TEST_POSTGRES_URL"),
        std::env::var("USHER_TEST_S3_URL"),
    ) else {
        assert!(
            std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "USHER_TEST_POSTGRES_URL and USHER_TEST_S3_URL are unset: run under \
             `eval \"$(scripts/test-services start DIR)\"` (scripts/test does)"
        );
        eprintln!("{test}: skipped, no PostgreSQL and S3 (see scripts/test-services)");
        return None;
    };
    let id = &random_hex_id()[..12];
    let name = format!("usher_e2e_{id}");
    let out = Command::new("psql")
        .args([&admin, "-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "CREATE DATABASE: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some(Scaled {
        database_url: format!("{base}/{name}"),
        // Short: s3s-fs names a file after each key, and file names end at 255 bytes.
        media_url: format!("{}/e{id}", s3.trim_end_matches('/')),
    })
}
