//! Criterion benchmarks of the token hot paths: minting (`sign`), the edge's full
//! check (`parse` + `verify`), and `parse` alone (what a cache lookup by kid costs
//! before any RSA work). Keys are parsed once, outside the measured loop, as a
//! server holds them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use usher_token::{Claims, SigningKey, Timestamp, UnverifiedToken, parse_rules, sign};

fn token_benches(c: &mut Criterion) {
    let key = SigningKey::generate("bench-kid").unwrap();
    let public = key.verifying_key();
    let mut claims = Claims::new("ea95132c15732412d22c1476fa83f27a");
    claims.exp = Some(Timestamp(1_900_000_000));
    claims.nbf = Some(Timestamp(1_600_000_000));
    claims.access_rules = parse_rules(&serde_json::json!([
        {"type": "ip.geoip.country", "action": "allow", "country": ["GB"]},
        {"type": "any", "action": "block"}
    ]))
    .unwrap();
    let token = sign(&key, &claims).unwrap();

    c.bench_function("sign", |b| {
        b.iter(|| sign(black_box(&key), black_box(&claims)).unwrap())
    });
    c.bench_function("parse+verify", |b| {
        b.iter(|| {
            UnverifiedToken::parse(black_box(&token))
                .unwrap()
                .verify(black_box(&public))
                .unwrap()
        })
    });
    c.bench_function("parse", |b| {
        b.iter(|| {
            UnverifiedToken::parse(black_box(&token))
                .unwrap()
                .kid()
                .map(str::len)
        })
    });
}

criterion_group!(benches, token_benches);
criterion_main!(benches);
