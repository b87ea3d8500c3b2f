//! The webhook dispatcher: claims `webhook` jobs (and only those — a slow receiver must
//! never hold up packaging), POSTs the video object, signed, to the account's
//! notification URL, and retries with exponential backoff until the receiver answers
//! 2xx or the attempts run out. Jobs are rows, so a notification survives restarts and a
//! crashed dispatcher's job is taken over when its lease runs out.
//!
//! The HTTP client is handed in: the binary decides which addresses it may reach.

use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use usher_core::time_fmt::{Micros, now_micros, now_secs};
use usher_outbound::Outbound;
use usher_store::{Db, Job, LIVE_WEBHOOK_JOB, StoreError, WEBHOOK_JOB};

use crate::render;
use crate::webhooks::signature;

/// Longest wait for a receiver's answer (connect + send + response). Bounded so a
/// hanging receiver costs one delivery slot for this long, not forever.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a TCP connection to a receiver.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts in all (the first delivery included) before a notification is given up on.
pub const MAX_DELIVERY_ATTEMPTS: i64 = 8;
/// Delay before the first retry; it doubles with each further one…
pub const RETRY_BASE: Duration = Duration::from_secs(2);
/// …up to this. With 8 attempts the retries span about four minutes.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(10 * 60);
/// How long a claim lasts; well beyond [`DELIVERY_TIMEOUT`], so a live delivery is
/// never taken over, while a crashed dispatcher's job is resumed within a minute.
pub const LEASE: Duration = Duration::from_secs(60);
/// How long an idle dispatcher waits before looking for notifications again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Deliveries in flight at once per process, so one hanging receiver does not delay
/// every other account's notifications.
pub const CONCURRENT_DELIVERIES: usize = 4;

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Unique among everything claiming jobs from the database (host, pid).
    pub name: String,
    /// Base of the absolute URLs in the video object (as the API renders them).
    pub edge_url: String,
    pub poll_interval: Duration,
}

impl DispatcherConfig {
    pub fn new(name: String, edge_url: String) -> Self {
        Self {
            name,
            edge_url,
            poll_interval: POLL_INTERVAL,
        }
    }
}

pub struct Dispatcher {
    db: Db,
    client: Outbound,
    cfg: DispatcherConfig,
}

/// How one delivery attempt ended.
enum Outcome {
    Delivered,
    /// Nothing to deliver any more (video deleted, webhook removed).
    Dropped(&'static str),
    /// Worth another try; the reason goes into the job's `last_error`.
    Failed(String),
    /// No retry can help (the URL's address is not allowed); the reason is kept.
    Refused(String),
}

fn micros(d: Duration) -> Micros {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Delay before the attempt after attempt `n` (1-based): base, 2·base, 4·base, … capped.
pub fn retry_delay(attempt: i64) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    RETRY_BASE
        .saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_RETRY_DELAY)
}

/// A transport failure in words fit for the job record: what kind, and the innermost
/// cause (never the URL, which may carry the receiver's own secrets).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    format!("{kind}: {cause}")
}

impl Dispatcher {
    pub fn new(db: Db, client: Outbound, cfg: DispatcherConfig) -> Self {
        Self { db, client, cfg }
    }

    /// Delivers until `shutdown`, [`CONCURRENT_DELIVERIES`] at a time. A delivery cut
    /// short by shutdown goes back to the queue, due at once.
    pub async fn run(&self, shutdown: CancellationToken) {
        let slots = (0..CONCURRENT_DELIVERIES).map(|_| self.run_slot(&shutdown));
        futures_util::future::join_all(slots).await;
    }

    async fn run_slot(&self, shutdown: &CancellationToken) {
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match self.run_once_until(shutdown).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "webhook dispatcher could not reach the queue")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.cfg.poll_interval) => {}
            }
        }
    }

    /// Claims and attempts one due notification; returns whether there was one. Tests
    /// step the dispatcher with this.
    pub async fn run_once(&self) -> Result<bool, StoreError> {
        self.run_once_until(&CancellationToken::new()).await
    }

    async fn run_once_until(&self, shutdown: &CancellationToken) -> Result<bool, StoreError> {
        let Some(job) = self
            .db
            .claim_job(
                &[WEBHOOK_JOB, LIVE_WEBHOOK_JOB],
                &self.cfg.name,
                micros(LEASE),
                now_micros(),
            )
            .await?
        else {
            return Ok(false);
        };
        let span = tracing::info_span!("webhook", job = %job.id, video = %job.video_uid, attempt = job.attempts);
        self.handle(&job, shutdown).instrument(span).await?;
        Ok(true)
    }

    /// Attempts the claimed job and records how it went.
    async fn handle(&self, job: &Job, shutdown: &CancellationToken) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let outcome = tokio::select! {
            o = self.attempt(job) => o?,
            _ = shutdown.cancelled() => {
                // Nothing went wrong with the delivery: the attempt does not count.
                return self.db.hand_back_job(&job.id, &self.cfg.name, now_micros()).await;
            }
        };
        let now = now_micros();
        let ended = match &outcome {
            Outcome::Delivered | Outcome::Dropped(_) => "done",
            Outcome::Refused(_) => "failed",
            Outcome::Failed(_) if job.attempts >= MAX_DELIVERY_ATTEMPTS => "failed",
            Outcome::Failed(_) => "retry",
        };
        usher_metrics::job_ran(&job.kind, ended, started.elapsed());
        match outcome {
            Outcome::Delivered => {
                tracing::info!("webhook delivered");
                self.db.finish_job(&job.id, &self.cfg.name, now).await
            }
            Outcome::Dropped(why) => {
                tracing::info!(why, "webhook dropped");
                self.db.finish_job(&job.id, &self.cfg.name, now).await
            }
            Outcome::Refused(why) => {
                tracing::warn!(error = %why, "webhook refused");
                self.db.fail_job(&job.id, &self.cfg.name, &why, now).await
            }
            Outcome::Failed(why) if job.attempts >= MAX_DELIVERY_ATTEMPTS => {
                tracing::warn!(error = %why, "webhook failed for good");
                let why = format!("gave up after {} attempts: {why}", job.attempts);
                self.db.fail_job(&job.id, &self.cfg.name, &why, now).await
            }
            Outcome::Failed(why) => {
                let at = now.saturating_add(micros(retry_delay(job.attempts)));
                tracing::warn!(error = %why, "webhook failed; will retry");
                self.db
                    .retry_job(&job.id, &self.cfg.name, &why, at, now)
                    .await
            }
        }
    }

    /// One POST of the video as it is now (its state is the one being reported: nothing
    /// moves a ready or errored video on but a deletion, which drops the job).
    async fn attempt(&self, job: &Job) -> Result<Outcome, StoreError> {
        // A live input notification (its job names the event), else a video's.
        let (account, payload) = if job.kind == LIVE_WEBHOOK_JOB {
            let Some(event) = self.db.live_event(&job.video_uid).await? else {
                return Ok(Outcome::Dropped("the event is gone"));
            };
            (event.account_id.clone(), render::live_event(&event))
        } else {
            let Some(video) = self.db.video_by_uid(&job.video_uid).await? else {
                return Ok(Outcome::Dropped("the video was deleted"));
            };
            (
                video.account_id.clone(),
                render::video(&video, &self.cfg.edge_url),
            )
        };
        let Some(hook) = self.db.webhook(&account).await? else {
            return Ok(Outcome::Dropped("the account has no webhook any more"));
        };
        let body = serde_json::to_vec(&payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sig = signature::sign(&hook.secret, now_secs(), &body);
        let request = match self.client.post(&hook.notification_url) {
            Ok(r) => r,
            Err(e) => return Ok(Outcome::Refused(format!("the notification URL: {e}"))),
        };
        let sent = request
            .timeout(DELIVERY_TIMEOUT)
            .header(CONTENT_TYPE, "application/json")
            .header(signature::HEADER, sig)
            .body(body)
            .send()
            .await;
        Ok(match sent {
            Ok(resp) if resp.status().is_success() => Outcome::Delivered,
            Ok(resp) => Outcome::Failed(format!("the receiver answered {}", resp.status())),
            Err(e) => Outcome::Failed(describe(&e)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        assert_eq!(retry_delay(1), RETRY_BASE);
        assert_eq!(retry_delay(2), RETRY_BASE * 2);
        assert_eq!(retry_delay(3), RETRY_BASE * 4);
        assert_eq!(retry_delay(1_000), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(0), RETRY_BASE);
    }
}
