//! What every API handler can reach: the stores and the API's settings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use usher_core::AccountId;
use usher_edge::client::Clients;
use usher_outbound::{AddressPolicy, Outbound};
use usher_store::master_key::MasterKeys;
use usher_store::{Blobs, Db};
use usher_token::SigningKey;

use crate::rate_limit::Limits;

/// Settings of the management API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Base of the URLs clients send uploads to (tus `Location`, direct `uploadURL`).
    pub public_url: String,
    /// Base of the delivery URLs in video objects (`playback`, `thumbnail`, `preview`,
    /// downloads, embed code): the edges, which may sit behind another host name.
    pub edge_url: String,
    /// Largest basic (multipart) upload, in bytes.
    pub max_upload_bytes: u64,
    /// `POST …/token` calls allowed per account per minute, across all API processes.
    pub token_requests_per_minute: u32,
    /// Failed authentications allowed per client address per minute.
    pub auth_failures_per_address: u32,
    /// Failed authentications allowed per account per minute, from all addresses.
    pub auth_failures_per_account: u32,
    /// Live signing keys per account.
    pub max_signing_keys: usize,
    /// Largest resumable (tus) upload, in bytes.
    pub max_video_bytes: u64,
    /// Which hosts `POST …/stream/copy` may name; the workers fetching must use the same.
    pub copy_policy: AddressPolicy,
    /// Seconds of clock difference the edges tolerate on token times (`token explain`
    /// decides as they do).
    pub clock_skew: i64,
    /// How long a request body may stall before reading it fails.
    pub body_idle_timeout: std::time::Duration,
    /// The RTMP URL publishers send to (a live input's `rtmps.url`); `None`: derived
    /// from `public_url`'s host.
    pub live_rtmp_url: Option<String>,
    /// The SRT URL publishers send to (a live input's `srt.url`); `None`: derived from
    /// `public_url`'s host.
    pub live_srt_url: Option<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8787".into(),
            edge_url: "http://127.0.0.1:8787".into(),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            token_requests_per_minute: DEFAULT_TOKEN_REQUESTS_PER_MINUTE,
            auth_failures_per_address: crate::rate_limit::DEFAULT_AUTH_FAILURES_PER_ADDRESS,
            auth_failures_per_account: crate::rate_limit::DEFAULT_AUTH_FAILURES_PER_ACCOUNT,
            max_signing_keys: MAX_SIGNING_KEYS,
            max_video_bytes: usher_core::video::DEFAULT_MAX_VIDEO_BYTES,
            copy_policy: AddressPolicy::public_only(),
            clock_skew: 30,
            body_idle_timeout: std::time::Duration::from_secs(
                crate::lingering::DEFAULT_BODY_IDLE_TIMEOUT_SECS,
            ),
            live_rtmp_url: None,
            live_srt_url: None,
        }
    }
}

/// SPEC §3: basic uploads default to 200 MB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 200 * 1000 * 1000;
/// Cloudflare suggests self-signing beyond ~10,000 tokens a day; a minute's burst of
/// 600 leaves ordinary use untouched.
pub const DEFAULT_TOKEN_REQUESTS_PER_MINUTE: u32 = 600;
/// SPEC §3: at most 1,000 live keys per account.
pub const MAX_SIGNING_KEYS: usize = 1000;

#[derive(Clone)]
pub struct ApiState {
    pub db: Db,
    pub blobs: Blobs,
    pub config: Arc<ApiConfig>,
    /// Seals and opens the private half of each account's own signing key.
    pub master_keys: Arc<MasterKeys>,
    /// Who is asking, and from which country (as the edges resolve viewers), for
    /// `token explain`.
    pub clients: Arc<Clients>,
    /// Parsed account keys, so `POST …/token` does not re-parse a private key per call.
    account_keys: Arc<Mutex<HashMap<AccountId, Arc<SigningKey>>>>,
    /// The client for URLs customers give the API itself (watermark images), under
    /// `copy_policy`; built on first use.
    outbound: Arc<OnceLock<Outbound>>,
}

impl ApiState {
    pub fn new(db: Db, blobs: Blobs, config: ApiConfig, master_keys: Arc<MasterKeys>) -> Self {
        Self {
            db,
            blobs,
            config: Arc::new(config),
            master_keys,
            clients: Arc::default(),
            account_keys: Arc::default(),
            outbound: Arc::default(),
        }
    }

    /// The outbound HTTP client under [`ApiConfig::copy_policy`].
    pub fn outbound(&self) -> Result<&Outbound, crate::ApiError> {
        if let Some(client) = self.outbound.get() {
            return Ok(client);
        }
        let client =
            Outbound::new(self.config.copy_policy.clone()).map_err(crate::ApiError::internal)?;
        // Two first uses may race; either client will do.
        Ok(self.outbound.get_or_init(|| client))
    }

    /// Reads request bodies the way every route should (see [`crate::lingering`]).
    pub fn linger_layer(&self) -> crate::lingering::LingerLayer {
        crate::lingering::LingerLayer {
            body_idle: self.config.body_idle_timeout,
        }
    }

    /// The shared request limits.
    pub fn limits(&self) -> Limits {
        Limits {
            token_requests: self.config.token_requests_per_minute,
            auth_failures_per_address: self.config.auth_failures_per_address,
            auth_failures_per_account: self.config.auth_failures_per_account,
        }
    }

    pub fn cached_account_key(&self, account: &AccountId) -> Option<Arc<SigningKey>> {
        let keys = self.account_keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.get(account).cloned()
    }

    pub fn cache_account_key(&self, account: &AccountId, key: SigningKey) -> Arc<SigningKey> {
        let mut keys = self.account_keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= MAX_CACHED_ACCOUNT_KEYS {
            keys.clear();
        }
        keys.entry(account.clone())
            .or_insert_with(|| Arc::new(key))
            .clone()
    }
}

/// Parsed account keys kept in memory (each is a few KiB).
const MAX_CACHED_ACCOUNT_KEYS: usize = 10_000;
