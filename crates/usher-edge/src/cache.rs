//! What the edge remembers between requests: verified tokens, signing keys and videos.
//! RSA verification (~20 µs) and two database reads would otherwise cost more than
//! sending a small segment.
//!
//! Correctness rests on the store's access epoch ([`Db::access_epoch`]): every entry
//! carries the epoch read *before* it was loaded, and an entry from an older epoch is
//! ignored. A revocation or policy edit in this process moves the epoch at once; one in
//! another process moves it at this process's next poll ([`spawn_poller`]). Expiry needs
//! no eviction: every request still checks the cached claims' `nbf`/`exp`.

use std::sync::Arc;
use std::time::Duration;

use quick_cache::sync::Cache;
use tokio_util::sync::CancellationToken;
use usher_core::{AccountId, LiveInputId, Video, VideoId};
use usher_store::Db;
use usher_token::{Claims, VerifyingKey};

use crate::live::LiveChannel;

/// How often another process's changes are looked for; bounds propagation to about
/// this plus one request.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Entries per cache. A token is under 2 KiB, so the token cache stays under ~40 MiB.
const TOKENS: usize = 20_000;
const KEYS: usize = 10_000;
const VIDEOS: usize = 50_000;
const LIVE_INPUTS: usize = 10_000;

/// A token whose signature was verified by a live key of `key_account`.
#[derive(Debug)]
pub struct VerifiedToken {
    pub claims: Claims,
    /// `sub` as a video uid, parsed once; `None` if it names no video.
    pub video: Option<VideoId>,
    pub key_account: AccountId,
    /// On the revocation list when verified (a revocation moves the epoch, so a cached
    /// entry never outlives a change to the list).
    pub revoked: bool,
}

/// A signing key as the edge needs it: parsed once.
#[derive(Debug)]
pub struct LiveKey {
    pub account: AccountId,
    pub key: VerifyingKey,
    pub revoked: bool,
}

impl LiveKey {
    /// The stored key as the decision needs it; `None` if its public half does not
    /// parse (then no token can be checked against it: as good as unknown).
    pub fn from_record(record: usher_store::KeyRecord) -> Option<Self> {
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(&record.public_key)
            .ok()?;
        Some(Self {
            key: VerifyingKey::from_spki_der(&der).ok()?,
            account: record.account_id,
            revoked: record.revoked_at.is_some(),
        })
    }

    pub fn info(&self) -> crate::access::KeyInfo<'_> {
        crate::access::KeyInfo {
            account: &self.account,
            key: &self.key,
            revoked: self.revoked,
        }
    }
}

struct Tagged<T>(u64, Arc<T>);

// Derived Clone would require `T: Clone`; only the Arc is cloned.
impl<T> Clone for Tagged<T> {
    fn clone(&self) -> Self {
        Self(self.0, self.1.clone())
    }
}

pub struct EdgeCache {
    tokens: Cache<String, Tagged<VerifiedToken>>,
    keys: Cache<String, Tagged<LiveKey>>,
    videos: Cache<VideoId, Tagged<Video>>,
    live: Cache<LiveInputId, Tagged<LiveChannel>>,
}

impl Default for EdgeCache {
    fn default() -> Self {
        Self {
            tokens: Cache::new(TOKENS),
            keys: Cache::new(KEYS),
            videos: Cache::new(VIDEOS),
            live: Cache::new(LIVE_INPUTS),
        }
    }
}

fn fresh<T>(entry: Option<Tagged<T>>, epoch: u64) -> Option<Arc<T>> {
    entry.filter(|t| t.0 == epoch).map(|t| t.1)
}

impl EdgeCache {
    pub fn token(&self, token: &str, epoch: u64) -> Option<Arc<VerifiedToken>> {
        fresh(self.tokens.get(token), epoch)
    }

    pub fn put_token(&self, token: &str, epoch: u64, v: Arc<VerifiedToken>) {
        self.tokens.insert(token.to_owned(), Tagged(epoch, v));
    }

    pub fn key(&self, kid: &str, epoch: u64) -> Option<Arc<LiveKey>> {
        fresh(self.keys.get(kid), epoch)
    }

    pub fn put_key(&self, kid: &str, epoch: u64, v: Arc<LiveKey>) {
        self.keys.insert(kid.to_owned(), Tagged(epoch, v));
    }

    pub fn video(&self, uid: &VideoId, epoch: u64) -> Option<Arc<Video>> {
        fresh(self.videos.get(uid), epoch)
    }

    pub fn put_video(&self, epoch: u64, v: Arc<Video>) {
        self.videos.insert(v.uid.clone(), Tagged(epoch, v));
    }

    pub fn live(&self, uid: &LiveInputId, epoch: u64) -> Option<Arc<LiveChannel>> {
        fresh(self.live.get(uid), epoch)
    }

    pub fn put_live(&self, epoch: u64, c: Arc<LiveChannel>) {
        self.live.insert(c.input.clone(), Tagged(epoch, c));
    }
}

/// Polls the shared access version every [`POLL_INTERVAL`] until `stop`.
pub fn spawn_poller(db: Db, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = db.poll_access_version().await {
                // Another process's revocation cannot be seen now: stop trusting what
                // is cached, so requests go to the database (and fail closed while it
                // is down) rather than serve on stale grants.
                db.mark_access_stale();
                tracing::warn!(error = %e, "cannot poll the access version");
            }
        }
    })
}
