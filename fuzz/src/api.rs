//! A real management API in-process: SQLite and file blobs in a scratch directory, one
//! account with its API token, one video, and the routers nested as `usher serve` nests
//! them. Requests go through `tower::ServiceExt::oneshot`, so a fuzz input meets the
//! same routing, extractors, body limits and handlers as a request over a socket — only
//! the socket and hyper's own parsing of the request head are left out.
//!
//! The state is rebuilt every [`RESET_EVERY`] requests, so that the uploads the fuzzer
//! completes do not pile up; its directory is removed then and when the target exits
//! normally.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use tower::ServiceExt;
use usher_api::{ApiConfig, ApiState};
use usher_core::secret::{generate_api_key, generate_api_token};
use usher_core::time_fmt::now_micros;
use usher_core::{AccountId, Video, VideoId, VideoState};
use usher_store::master_key::MasterKeys;
use usher_store::{AccountRecord, Blobs, Db};

/// Requests served by one state before it is thrown away and built again.
pub const RESET_EVERY: u64 = 2_000;
/// The upload limits of the fuzzed API: far above what a fuzz input holds, far below
/// what could fill the disk between two resets.
pub const MAX_UPLOAD_BYTES: u64 = 1 << 20;
/// Most of a response body read back.
const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// Where the scratch directories go (else the system's temporary directory).
pub const SCRATCH_ENV: &str = "USHER_FUZZ_SCRATCH";

/// A response, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// Panics (a finding) on a 5xx: a client's bytes must never make the server fail.
    pub fn assert_client_error_at_worst(&self, what: &str) {
        assert!(
            self.status.as_u16() < 500,
            "{what} answered {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
    }
}

pub struct Api {
    rt: tokio::runtime::Runtime,
    app: Router,
    /// The account's id, for `/client/v4/accounts/{account}/…`.
    pub account: String,
    /// A video of the account (queued, never packaged).
    pub video: String,
    /// `Bearer {api token}`.
    pub authorization: String,
    dir: PathBuf,
    requests: u64,
}

impl Default for Api {
    fn default() -> Self {
        Self::new()
    }
}

impl Api {
    pub fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let dir = std::env::var_os(SCRATCH_ENV)
            .map_or_else(std::env::temp_dir, PathBuf::from)
            .join(format!("usher-fuzz-{}", std::process::id()));
        let (app, account, video, authorization) = rt.block_on(build(&dir));
        Self {
            rt,
            app,
            account,
            video,
            authorization,
            dir,
            requests: 0,
        }
    }

    /// Sends one request and reads the whole answer.
    pub fn send(&mut self, req: Request<Body>) -> Answer {
        self.requests += 1;
        if self.requests % RESET_EVERY == 0 {
            self.reset();
        }
        let app = self.app.clone();
        self.rt.block_on(async move {
            let resp = match app.oneshot(req).await {
                Ok(resp) => resp,
                Err(e) => match e {},
            };
            let (parts, body) = resp.into_parts();
            let body = axum::body::to_bytes(body, MAX_RESPONSE_BYTES)
                .await
                .expect("a response body within the bound");
            Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            }
        })
    }

    /// A request builder with the account's credentials.
    pub fn authed(&self) -> axum::http::request::Builder {
        Request::builder().header("authorization", &self.authorization)
    }

    fn reset(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let (app, account, video, authorization) = self.rt.block_on(build(&self.dir));
        self.app = app;
        self.account = account;
        self.video = video;
        self.authorization = authorization;
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh state in `dir`: the routers, the account id, a video uid, the Authorization
/// value.
async fn build(dir: &std::path::Path) -> (Router, String, String, String) {
    std::fs::create_dir_all(dir).expect("the scratch directory");
    let db = Db::connect(&format!("sqlite://{}", dir.join("usher.db").display()))
        .await
        .expect("a SQLite database");
    let blobs =
        Blobs::open(&format!("file://{}", dir.join("media").display())).expect("a file blob store");
    let (master_keys, _) =
        MasterKeys::load_or_create(&dir.join("master.key")).expect("a master key");

    let account = AccountId::generate();
    let token = generate_api_token();
    db.insert_account(&AccountRecord {
        id: account.clone(),
        email: "fuzz@example.com".into(),
        api_token_hash: token.digest_hex(),
        api_key_hash: generate_api_key().digest_hex(),
        created: now_micros(),
    })
    .await
    .expect("an account");
    let video = Video::new(
        VideoId::generate(),
        account.clone(),
        VideoState::Queued,
        now_micros(),
    );
    db.insert_video(&video, None).await.expect("a video");

    let state = ApiState::new(
        db,
        blobs,
        ApiConfig {
            public_url: "http://fuzz.invalid".into(),
            edge_url: "http://fuzz.invalid".into(),
            max_upload_bytes: MAX_UPLOAD_BYTES,
            max_video_bytes: MAX_UPLOAD_BYTES,
            ..ApiConfig::default()
        },
        Arc::new(master_keys),
    );
    // As `usher serve` assembles them.
    let app = Router::new()
        .nest("/client/v4", usher_api::router(state.clone()))
        .merge(usher_api::upload_router(state));
    (
        app,
        account.as_str().to_owned(),
        video.uid.as_str().to_owned(),
        format!("Bearer {}", token.expose()),
    )
}
