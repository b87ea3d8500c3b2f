//! Limits shared by every API process through the database (SPEC §9), so they mean the
//! same with one process or ten: `POST …/token` calls per account, and failed
//! authentications per client address and per account. Each is a sliding minute
//! estimated from one-minute windows ([`usher_store::RateWindow`]).
//!
//! Failed authentications: an address that failed more than the per-address limit in
//! the last minute is refused (429) whatever it presents, until the minute has passed.
//! An account that failed more than the per-account limit (a guessing run spread over
//! many addresses) refuses, for that minute, every address that failed against it —
//! while a client with valid credentials from an address that has not failed is served
//! as always.

use std::net::IpAddr;

use usher_core::AccountId;
use usher_core::time_fmt::now_secs;
use usher_store::{Db, RateWindow, StoreError};

/// SPEC §9: at most 100 failed authentications a minute from one client address.
pub const DEFAULT_AUTH_FAILURES_PER_ADDRESS: u32 = 100;
/// Failed authentications a minute against one account, from all addresses together,
/// before the addresses failing against it are refused.
pub const DEFAULT_AUTH_FAILURES_PER_ACCOUNT: u32 = 1000;

/// The limits, per minute.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub token_requests: u32,
    pub auth_failures_per_address: u32,
    pub auth_failures_per_account: u32,
}

/// Seconds until the current minute is over: when a refused caller may try again.
fn retry_after(now: i64) -> u64 {
    u64::try_from(60 - now.rem_euclid(60)).unwrap_or(60).max(1)
}

/// More than `limit` in the sliding minute (a window that counts the request asking).
fn over(window: RateWindow, now: i64, limit: u32) -> bool {
    window.sliding(now.rem_euclid(60)) > f64::from(limit)
}

/// `limit` or more in the sliding minute (a window of past failures: one more would be
/// over).
fn reached(window: RateWindow, now: i64, limit: u32) -> bool {
    window.sliding(now.rem_euclid(60)) >= f64::from(limit)
}

fn address_counter(client: IpAddr) -> String {
    format!("auth-fail:ip:{}", client.to_canonical())
}

fn account_counter(account: &AccountId) -> String {
    format!("auth-fail:account:{account}")
}

fn pair_counter(account: &AccountId, client: IpAddr) -> String {
    format!("auth-fail:account:{account}:{}", client.to_canonical())
}

/// Counts one `POST …/token` of `account`: `Err(seconds)` when over the limit.
pub async fn token_request(
    db: &Db,
    limits: &Limits,
    account: &AccountId,
) -> Result<Result<(), u64>, StoreError> {
    let now = now_secs();
    let window = db.rate_hit(&format!("token:{account}"), now / 60).await?;
    Ok(if over(window, now, limits.token_requests) {
        Err(retry_after(now))
    } else {
        Ok(())
    })
}

/// Whether `client` may try to authenticate against `account` now: `Err(seconds)`
/// when it failed too often.
pub async fn may_authenticate(
    db: &Db,
    limits: &Limits,
    client: IpAddr,
    account: Option<&AccountId>,
) -> Result<Result<(), u64>, StoreError> {
    let now = now_secs();
    let minute = now / 60;
    if reached(
        db.rate_window(&address_counter(client), minute).await?,
        now,
        limits.auth_failures_per_address,
    ) {
        return Ok(Err(retry_after(now)));
    }
    if let Some(account) = account
        && reached(
            db.rate_window(&account_counter(account), minute).await?,
            now,
            limits.auth_failures_per_account,
        )
        && db
            .rate_window(&pair_counter(account, client), minute)
            .await?
            .sliding(now.rem_euclid(60))
            > 0.0
    {
        return Ok(Err(retry_after(now)));
    }
    Ok(Ok(()))
}

/// Records a failed authentication of `client` (against `account`, when the path names
/// one).
pub async fn failed(
    db: &Db,
    client: IpAddr,
    account: Option<&AccountId>,
) -> Result<(), StoreError> {
    let minute = now_secs() / 60;
    db.rate_hit(&address_counter(client), minute).await?;
    if let Some(account) = account {
        db.rate_hit(&account_counter(account), minute).await?;
        db.rate_hit(&pair_counter(account, client), minute).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_the_rest_of_the_minute() {
        assert_eq!(retry_after(120), 60);
        assert_eq!(retry_after(121), 59);
        assert_eq!(retry_after(179), 1);
    }

    #[test]
    fn over_the_limit_means_more_than_it() {
        let w = RateWindow {
            current: 100,
            previous: 0,
        };
        assert!(!over(w, 30, 100));
        let w = RateWindow {
            current: 101,
            previous: 0,
        };
        assert!(over(w, 30, 100));
        // Half of the previous minute still counts half-way through this one.
        let w = RateWindow {
            current: 60,
            previous: 100,
        };
        assert!(over(w, 30, 100));
        assert!(!over(w, 59, 100));
    }
}
