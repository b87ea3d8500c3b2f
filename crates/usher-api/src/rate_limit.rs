//! A per-account token bucket for `POST …/token`. In memory and per process: it exists
//! to keep one tenant from monopolising RSA signing, not as a billing meter.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use usher_core::AccountId;

/// Accounts tracked before idle buckets are swept, bounding memory.
const MAX_TRACKED: usize = 100_000;

pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<AccountId, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn per_minute(n: u32) -> Self {
        let burst = f64::from(n.max(1));
        Self {
            per_sec: burst / 60.0,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` to go ahead, or `Err(seconds)` to wait.
    pub fn check(&self, account: &AccountId) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_TRACKED {
            let burst = self.burst;
            let per_sec = self.per_sec;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_sec < burst
            });
        }
        let (tokens, at) = buckets.entry(account.clone()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_sec).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_sec).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refuses_per_account() {
        let rl = RateLimiter::per_minute(3);
        let a = AccountId::generate();
        let b = AccountId::generate();
        for _ in 0..3 {
            assert!(rl.check(&a).is_ok());
        }
        let wait = rl.check(&a).unwrap_err();
        assert!((1..=20).contains(&wait));
        assert!(rl.check(&b).is_ok());
    }
}
