//! Criterion benchmarks of the edge's in-process hot paths, so a regression shows
//! without a load test: the whole token decision cold (parse, RS256 verify, claims and
//! policy) and warm (a cache hit, then the policy), access-rule evaluation alone,
//! origin matching alone, and counting a request in the viewing analytics. (Manifests are rendered once at packaging and served as
//! files, so they are not on the request path.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use usher_core::origin::{AllowedOrigin, RequestOrigin, origin_allowed};
use usher_core::{AccountId, Video, VideoId, VideoState};
use usher_edge::access::{KeyInfo, Presented, Request, Resource, decide, verify_token};
use usher_edge::analytics::{Analytics, Hit};
use usher_edge::cache::{EdgeCache, VerifiedToken};
use usher_token::{Claims, SigningKey, Timestamp, UnverifiedToken, evaluate, parse_rules, sign};

const NOW: i64 = 1_800_000_000;

fn hot_paths(c: &mut Criterion) {
    let account = AccountId::generate();
    let key = SigningKey::generate("bench-kid").unwrap();
    let public = key.verifying_key();
    let mut video = Video::new(VideoId::generate(), account.clone(), VideoState::Ready, 0);
    video.media_generation = Some("g".into());
    video.require_signed_urls = true;
    let rules = parse_rules(&serde_json::json!([
        {"type": "ip.src", "action": "block", "ip": ["10.0.0.0/8", "2001:db8::/32"]},
        {"type": "ip.geoip.country", "action": "allow", "country": ["GB", "FR", "DE"]},
        {"type": "any", "action": "block"}
    ]))
    .unwrap();
    let mut claims = Claims::new(video.uid.as_str());
    claims.exp = Some(Timestamp(NOW + 3600));
    claims.nbf = Some(Timestamp(NOW - 60));
    claims.access_rules = rules.clone();
    let token = sign(&key, &claims).unwrap();
    let origins: Vec<AllowedOrigin> = (0..10)
        .map(|i| AllowedOrigin::parse(&format!("*.site{i}.example")).unwrap())
        .collect();
    let origin = RequestOrigin::parse("https://player.site9.example").unwrap();
    let client: IpAddr = "81.2.69.142".parse().unwrap();
    let req = Request {
        resource: Resource::Media,
        client,
        country: Some("GB"),
        origin: Some(&origin),
        now: NOW,
        skew: 30,
    };

    c.bench_function(
        "token decision, cold (parse + RS256 verify + policy)",
        |b| {
            b.iter(|| {
                let parsed = UnverifiedToken::parse(black_box(&token)).unwrap();
                let info = KeyInfo {
                    account: &account,
                    key: &public,
                    revoked: false,
                };
                let claims = verify_token(&parsed, Some(info)).unwrap();
                let presented = Presented::Token {
                    claims: &claims,
                    key_account: &account,
                    revoked: false,
                };
                decide(&video, &origins, presented, black_box(&req), false).unwrap()
            })
        },
    );

    let cache = EdgeCache::default();
    cache.put_token(
        &token,
        1,
        Arc::new(VerifiedToken {
            claims: claims.clone(),
            video: claims.sub.parse().ok(),
            key_account: account.clone(),
            revoked: false,
        }),
    );
    c.bench_function("token decision, cached (lookup + policy)", |b| {
        b.iter(|| {
            let hit = cache.token(black_box(&token), 1).unwrap();
            let presented = Presented::Token {
                claims: &hit.claims,
                key_account: &hit.key_account,
                revoked: hit.revoked,
            };
            decide(&video, &origins, presented, black_box(&req), false).unwrap()
        })
    });

    c.bench_function("access rules, 3 rules, allowed at the second", |b| {
        b.iter(|| evaluate(black_box(&rules), black_box(client), black_box(Some("GB"))))
    });

    c.bench_function("origin matching, 10 wildcard entries, last matches", |b| {
        b.iter(|| origin_allowed(black_box(&origins), black_box(Some(&origin))))
    });

    // What counting costs a request: a playlist (bytes only) and a segment (a view and
    // its duration too), into counters already holding the video, as under load.
    let analytics = Analytics::new(true);
    let hit = |path| Hit {
        account: account.as_str(),
        uid: video.uid.as_str(),
        generation: Some("g"),
        path,
        id: &token,
        client,
        bytes: 1200,
        now: NOW,
    };
    analytics.served(hit("manifest/v0/seg_00001.m4s"));
    c.bench_function("analytics, a playlist counted", |b| {
        b.iter(|| analytics.served(black_box(hit("manifest/v0/index.m3u8"))))
    });
    c.bench_function("analytics, a segment counted", |b| {
        b.iter(|| analytics.served(black_box(hit("manifest/v0/seg_00001.m4s"))))
    });
    c.bench_function("analytics, the clock read per request", |b| {
        b.iter(usher_core::time_fmt::now_secs)
    });
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
