//! Single-thread RS256 throughput of the library's public API, for
//! `bench/compare-openssl.sh` (which sets it against `openssl speed rsa2048`).
//!
//! `cargo run --release -p usher-token --example speed -- [SECONDS]` signs tokens for
//! SECONDS (default 3), then verifies them for SECONDS, on the calling thread only,
//! and prints `sign/s N` and `verify/s N`. Keys are parsed once, as a server would.
//! "verify" is the whole edge path — `UnverifiedToken::parse` (split, base64url,
//! header JSON) + signature check + claims JSON — not just the RSA operation, so the
//! comparison with OpenSSL's raw RSA figure is conservative.

use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant};

use usher_token::{Claims, SigningKey, Timestamp, UnverifiedToken, parse_rules, sign};

/// Operations between clock reads, so timing overhead stays negligible.
const BATCH: u32 = 16;

/// Run `op` in batches until `window` has elapsed; returns operations per second.
fn rate(
    window: Duration,
    mut op: impl FnMut() -> Result<(), Box<dyn Error>>,
) -> Result<f64, Box<dyn Error>> {
    let start = Instant::now();
    let mut done: u64 = 0;
    loop {
        for _ in 0..BATCH {
            op()?;
        }
        done += u64::from(BATCH);
        let elapsed = start.elapsed();
        if elapsed >= window {
            return Ok(done as f64 / elapsed.as_secs_f64());
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let seconds: f64 = std::env::args().nth(1).map_or(Ok(3.0), |s| s.parse())?;
    let window = Duration::from_secs_f64(seconds);

    let key = SigningKey::generate("5d0f3ab1c9e84f0f8d5e2a7b6c4d3e21")?;
    let public = key.verifying_key();
    // A typical token: a video, an expiry, a not-before and one country rule.
    let mut claims = Claims::new("ea95132c15732412d22c1476fa83f27a");
    claims.exp = Some(Timestamp(1_900_000_000));
    claims.nbf = Some(Timestamp(1_600_000_000));
    claims.access_rules = parse_rules(&serde_json::json!([
        {"type": "ip.geoip.country", "action": "allow", "country": ["GB"]},
        {"type": "any", "action": "block"}
    ]))?;
    let token = sign(&key, &claims)?;

    let sign_rate = rate(window, || {
        black_box(sign(black_box(&key), black_box(&claims))?);
        Ok(())
    })?;
    println!("sign/s {sign_rate:.1}");
    let verify_rate = rate(window, || {
        let parsed = UnverifiedToken::parse(black_box(&token))?;
        black_box(parsed.verify(black_box(&public))?);
        Ok(())
    })?;
    println!("verify/s {verify_rate:.1}");
    Ok(())
}
