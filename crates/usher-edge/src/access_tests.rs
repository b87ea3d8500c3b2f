//! Every refusal next to a positive control, so an edge that refuses everything fails.

use std::net::IpAddr;
use std::sync::OnceLock;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use usher_core::origin::{AllowedOrigin, RequestOrigin};
use usher_core::{AccountId, Video, VideoId, VideoState};
use usher_token::{SigningKey, UnverifiedToken, VerifyingKey};

use super::*;

const NOW: i64 = 1_800_000_000;

struct World {
    a: AccountId,
    b: AccountId,
    ka: SigningKey,
    kb: SigningKey,
    va: VerifyingKey,
    vb: VerifyingKey,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let ka = SigningKey::generate("aaaa0000aaaa0000aaaa0000aaaa0000").unwrap();
        let kb = SigningKey::generate("bbbb0000bbbb0000bbbb0000bbbb0000").unwrap();
        World {
            a: AccountId::generate(),
            b: AccountId::generate(),
            va: ka.verifying_key(),
            vb: kb.verifying_key(),
            ka,
            kb,
        }
    })
}

fn video() -> Video {
    let mut v = Video::new(VideoId::generate(), world().a.clone(), VideoState::Ready, 0);
    v.media_generation = Some("g".into());
    v.require_signed_urls = true;
    v
}

fn claims(v: &Video) -> Value {
    json!({"sub": v.uid.as_str(), "exp": NOW + 3600, "nbf": NOW - 60})
}

/// Signs arbitrary JSON claims with `key`, exactly as a customer's JWT library would.
fn signed(key: &SigningKey, claims: &Value) -> String {
    let header = json!({"alg": "RS256", "kid": key.kid()});
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let pem = key.to_pkcs8_der();
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&pem).unwrap();
    let mut sig = vec![0u8; pair.public_modulus_len()];
    pair.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", B64.encode(sig))
}

fn req() -> Request<'static> {
    Request {
        resource: Resource::Media,
        client: "203.0.113.9".parse().unwrap(),
        country: Some("GB"),
        origin: None,
        now: NOW,
        skew: 30,
    }
}

/// Decides `token` for `v`, resolving its kid to A's or B's key like the store would.
fn decide_token(v: &Video, token: &str, r: &Request<'_>) -> Result<Grant, Denial> {
    decide_with(v, &[], token, r, true, false)
}

fn decide_with(
    v: &Video,
    origins: &[AllowedOrigin],
    token: &str,
    r: &Request<'_>,
    downloads: bool,
    revoked: bool,
) -> Result<Grant, Denial> {
    let w = world();
    let parsed =
        UnverifiedToken::parse(token).map_err(|_| Denial::InvalidToken("malformed token"))?;
    let key = match parsed.kid() {
        Some(k) if k == w.ka.kid() => Some(KeyInfo {
            account: &w.a,
            key: &w.va,
            revoked,
        }),
        Some(k) if k == w.kb.kid() => Some(KeyInfo {
            account: &w.b,
            key: &w.vb,
            revoked,
        }),
        _ => None,
    };
    let claims = verify_token(&parsed, key)?;
    let key_account = key
        .map(|k| k.account)
        .ok_or(Denial::InvalidToken("unknown signing key"))?;
    decide(
        v,
        origins,
        Presented::Token {
            claims: &claims,
            key_account,
        },
        r,
        downloads,
    )
}

fn invalid(r: Result<Grant, Denial>) -> bool {
    matches!(r, Err(Denial::InvalidToken(_)))
}

#[test]
fn a_good_token_plays_and_is_private() {
    let v = video();
    let t = signed(&world().ka, &claims(&v));
    assert_eq!(decide_token(&v, &t, &req()), Ok(Grant { private: true }));
}

#[test]
fn uid_access_public_ok_private_needs_a_signed_url() {
    let mut v = video();
    let private = decide(&v, &[], Presented::Uid, &req(), true);
    assert_eq!(private, Err(Denial::SignedUrlRequired));
    assert_eq!(private.unwrap_err().status(), 401);
    // Whatever its state: "private" never depends on processing.
    for state in [VideoState::InProgress, VideoState::Error] {
        let mut busy = video();
        busy.state = state;
        assert_eq!(
            decide(&busy, &[], Presented::Uid, &req(), true),
            Err(Denial::SignedUrlRequired),
            "{state:?}"
        );
    }
    v.require_signed_urls = false;
    assert_eq!(
        decide(&v, &[], Presented::Uid, &req(), true),
        Ok(Grant { private: false })
    );
}

#[test]
fn video_states() {
    let mut v = video();
    v.require_signed_urls = false;
    v.state = VideoState::Error;
    assert_eq!(
        decide(&v, &[], Presented::Uid, &req(), true)
            .unwrap_err()
            .status(),
        424
    );
    v.state = VideoState::InProgress;
    assert_eq!(
        decide(&v, &[], Presented::Uid, &req(), true),
        Err(Denial::NotFound)
    );
}

#[test]
fn forged_and_tampered_signatures_are_refused() {
    let v = video();
    let good = signed(&world().ka, &claims(&v));
    assert!(decide_token(&v, &good, &req()).is_ok(), "control");
    // One flipped bit in the signature.
    let (head, sig) = good.rsplit_once('.').unwrap();
    let mut raw = B64.decode(sig).unwrap();
    raw[10] ^= 1;
    assert!(invalid(decide_token(
        &v,
        &format!("{head}.{}", B64.encode(&raw)),
        &req()
    )));
    // Tampered payload: a longer expiry, original signature.
    let parts: Vec<&str> = good.split('.').collect();
    let mut c = claims(&v);
    c["exp"] = json!(NOW + 7200);
    let tampered = format!("{}.{}.{}", parts[0], B64.encode(c.to_string()), parts[2]);
    assert!(invalid(decide_token(&v, &tampered, &req())));
    // Signed by B's key but claiming A's kid.
    let forged = signed(&world().kb, &claims(&v)).replace(
        &B64.encode(json!({"alg":"RS256","kid":world().kb.kid()}).to_string()),
        &B64.encode(json!({"alg":"RS256","kid":world().ka.kid()}).to_string()),
    );
    assert!(invalid(decide_token(&v, &forged, &req())));
}

#[test]
fn other_algorithms_are_refused() {
    let v = video();
    let kid = world().ka.kid();
    let body = B64.encode(claims(&v).to_string());
    let none = B64.encode(json!({"alg": "none", "kid": kid}).to_string());
    assert!(invalid(decide_token(
        &v,
        &format!("{none}.{body}."),
        &req()
    )));
    assert!(invalid(decide_token(
        &v,
        &format!("{none}.{body}.c2ln"),
        &req()
    )));
    // HS256 keyed with the public key (the classic confusion attack).
    let hs = B64.encode(json!({"alg": "HS256", "kid": kid}).to_string());
    let input = format!("{hs}.{body}");
    let mac_key = hmac::Key::new(hmac::HMAC_SHA256, &world().va.to_spki_der());
    let tag = hmac::sign(&mac_key, input.as_bytes());
    assert!(invalid(decide_token(
        &v,
        &format!("{input}.{}", B64.encode(tag.as_ref())),
        &req()
    )));
}

#[test]
fn keys_must_be_known_live_and_of_the_videos_account() {
    let v = video();
    let good = signed(&world().ka, &claims(&v));
    assert!(
        decide_with(&v, &[], &good, &req(), true, false).is_ok(),
        "control"
    );
    assert!(
        invalid(decide_with(&v, &[], &good, &req(), true, true)),
        "revoked"
    );
    assert!(
        invalid(decide_token(&v, &signed(&world().kb, &claims(&v)), &req())),
        "other account"
    );
    let stranger = SigningKey::generate("cccc0000cccc0000cccc0000cccc0000").unwrap();
    assert!(
        invalid(decide_token(&v, &signed(&stranger, &claims(&v)), &req())),
        "unknown kid"
    );
}

#[test]
fn claims_are_checked() {
    let v = video();
    let k = &world().ka;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims(&v);
        f(&mut c);
        decide_token(&v, &signed(k, &c), &req())
    };
    assert!(with(&|_| {}).is_ok(), "control");
    assert!(
        with(&|c| c["exp"] = json!((NOW + 3600).to_string())).is_ok(),
        "string exp"
    );
    assert_eq!(with(&|c| c["exp"] = json!(NOW - 100)), Err(Denial::Expired));
    assert_eq!(
        with(&|c| c["exp"] = json!((NOW - 100).to_string())),
        Err(Denial::Expired)
    );
    assert!(
        with(&|c| c["exp"] = json!(NOW - 10)).is_ok(),
        "within the clock skew"
    );
    assert_eq!(
        with(&|c| c["nbf"] = json!(NOW + 100)),
        Err(Denial::NotYetValid)
    );
    assert!(
        invalid(with(&|c| c["exp"] = json!(NOW + 2 * 86_400))),
        "more than 24 h"
    );
    assert!(invalid(with(&|c| {
        c.as_object_mut().unwrap().remove("exp");
    })));
    assert!(invalid(with(&|c| {
        c.as_object_mut().unwrap().remove("sub");
    })));
    assert!(
        invalid(with(&|c| c["sub"] = json!(VideoId::generate().as_str()))),
        "another video"
    );
    assert!(invalid(with(
        &|c| c["accessRules"] =
            json!([{"type": "ip.src", "action": "allow", "ip": ["1.2.3.4/33"]}])
    )));
}

#[test]
fn access_rules_first_match_in_both_orders() {
    let v = video();
    let k = &world().ka;
    let run = |rules: Value, client: &str, country: Option<&'static str>| {
        let mut c = claims(&v);
        c["accessRules"] = rules;
        let mut r = req();
        r.client = client.parse::<IpAddr>().unwrap();
        r.country = country;
        decide_token(&v, &signed(k, &c), &r)
    };
    let gb_only = json!([
        {"type": "ip.geoip.country", "action": "allow", "country": ["GB"]},
        {"type": "any", "action": "block"}
    ]);
    assert!(run(gb_only.clone(), "203.0.113.9", Some("GB")).is_ok());
    assert_eq!(
        run(gb_only.clone(), "203.0.113.9", Some("US")),
        Err(Denial::RuleBlocked)
    );
    assert_eq!(run(gb_only, "203.0.113.9", None), Err(Denial::RuleBlocked));
    let ip_then_block = json!([
        {"type": "ip.src", "action": "block", "ip": ["203.0.113.0/24"]},
        {"type": "any", "action": "allow"}
    ]);
    assert_eq!(
        run(ip_then_block.clone(), "203.0.113.9", Some("GB")),
        Err(Denial::RuleBlocked)
    );
    assert!(run(ip_then_block.clone(), "198.51.100.1", Some("GB")).is_ok());
    assert_eq!(
        run(ip_then_block.clone(), "::ffff:203.0.113.9", Some("GB")),
        Err(Denial::RuleBlocked)
    );
    assert!(
        run(ip_then_block, "2001:db8::1", Some("GB")).is_ok(),
        "IPv4 rule never matches IPv6"
    );
    let allow_then_block = json!([
        {"type": "any", "action": "allow"},
        {"type": "ip.src", "action": "block", "ip": ["203.0.113.0/24"]}
    ]);
    assert!(
        run(allow_then_block, "203.0.113.9", Some("GB")).is_ok(),
        "first match decides"
    );
}

#[test]
fn downloads_need_the_claim_and_enabled_downloads() {
    let v = video();
    let k = &world().ka;
    let mut r = req();
    r.resource = Resource::Download;
    let mut c = claims(&v);
    c["downloadable"] = json!(true);
    let yes = signed(k, &c);
    let no = signed(k, &claims(&v));
    assert!(
        decide_with(&v, &[], &yes, &r, true, false).is_ok(),
        "control"
    );
    assert_eq!(
        decide_with(&v, &[], &no, &r, true, false),
        Err(Denial::DownloadDenied)
    );
    assert_eq!(
        decide_with(&v, &[], &yes, &r, false, false),
        Err(Denial::NotFound)
    );
    // Media requests do not need the claim.
    assert!(decide_token(&v, &no, &req()).is_ok());
}

#[test]
fn allowed_origins_matrix() {
    let v = video();
    let t = signed(&world().ka, &claims(&v));
    let origins: Vec<AllowedOrigin> = ["*.example.com", "localhost:8080", "exact.org"]
        .iter()
        .map(|o| AllowedOrigin::parse(o).unwrap())
        .collect();
    let run = |origin: Option<&str>| {
        let parsed = origin.and_then(RequestOrigin::parse);
        let mut r = req();
        r.origin = parsed.as_ref();
        decide_with(&v, &origins, &t, &r, true, false)
    };
    assert!(run(Some("https://a.example.com")).is_ok(), "control");
    assert!(
        run(Some("https://a.b.example.com/page")).is_ok(),
        "referer with a path"
    );
    assert!(run(Some("http://localhost:8080")).is_ok());
    assert!(run(Some("https://exact.org")).is_ok(), "exact entry");
    for bad in [
        Some("https://www.exact.org"),
        Some("https://exact.org.evil.net"),
        Some("https://evilexact.org"),
        Some("http://localhost"),
        None,
        Some("https://example.com"),
        Some("https://example.com.evil.net"),
        Some("https://notexample.com"),
        Some("http://localhost:8081"),
        Some("null"),
    ] {
        assert_eq!(run(bad), Err(Denial::OriginDenied), "{bad:?}");
    }
    // No list: any origin, or none, is fine.
    assert!(decide_with(&v, &[], &t, &req(), true, false).is_ok());
}

/// [`decide_with`], reporting to a list; the list and the outcome.
fn explained(
    v: &Video,
    origins: &[AllowedOrigin],
    token: &str,
    r: &Request<'_>,
    downloads: bool,
) -> (Result<Grant, Denial>, Vec<Check>) {
    let w = world();
    let mut checks = Vec::new();
    let parsed = UnverifiedToken::parse(token).unwrap();
    let key = match parsed.kid() {
        Some(k) if k == w.ka.kid() => Some(KeyInfo {
            account: &w.a,
            key: &w.va,
            revoked: false,
        }),
        Some(k) if k == w.kb.kid() => Some(KeyInfo {
            account: &w.b,
            key: &w.vb,
            revoked: false,
        }),
        _ => None,
    };
    let outcome = verify_token_observed(&parsed, key, &mut checks).and_then(|claims| {
        decide_observed(
            v,
            origins,
            Presented::Token {
                claims: &claims,
                key_account: key.map_or(&w.a, |k| k.account),
            },
            r,
            downloads,
            &mut checks,
        )
    });
    (outcome, checks)
}

#[test]
fn an_explanation_is_the_decision_with_its_checks() {
    let v = video();
    let w = world();
    let shop = [AllowedOrigin::parse("shop.example").unwrap()];
    let from_shop = RequestOrigin::parse("https://shop.example").unwrap();
    let with_origin = Request {
        origin: Some(&from_shop),
        ..req()
    };
    let mut expired = claims(&v);
    expired["exp"] = json!(NOW - 3600);
    let mut blocked = claims(&v);
    blocked["accessRules"] = json!([
        {"type": "ip.src", "action": "allow", "ip": ["10.0.0.0/8"]},
        {"type": "ip.geoip.country", "action": "block", "country": ["GB"]}
    ]);
    let good = signed(&w.ka, &claims(&v));
    let cases: Vec<(&str, String, &[AllowedOrigin], Request<'_>)> = vec![
        ("good", good.clone(), &[], req()),
        ("expired", signed(&w.ka, &expired), &[], req()),
        ("blocked", signed(&w.ka, &blocked), &[], req()),
        ("origin", good.clone(), &shop, req()),
        ("origin allowed", good.clone(), &shop, with_origin),
        (
            "another account's key",
            signed(&w.kb, &claims(&v)),
            &[],
            req(),
        ),
    ];
    for (name, token, origins, r) in cases {
        let (outcome, checks) = explained(&v, origins, &token, &r, true);
        // The same answer as the edge's own, unobserved decision...
        assert_eq!(
            outcome,
            decide_with(&v, origins, &token, &r, true, false),
            "{name}"
        );
        // ...every check passed up to the one that refused, which says why.
        let (last, before) = checks.split_last().unwrap();
        assert!(before.iter().all(|c| c.ok), "{name}: {checks:?}");
        match &outcome {
            Ok(_) => assert!(last.ok, "{name}"),
            // The refusal's words, or for access rules which rule refused (below).
            Err(d) if last.check == "rules" => assert!(!last.ok && d == &Denial::RuleBlocked),
            Err(d) => assert_eq!(
                (last.ok, last.detail.clone()),
                (false, d.to_string()),
                "{name}"
            ),
        }
    }
    let names = |token: &str, r: &Request<'_>| -> Vec<&'static str> {
        explained(&v, &[], token, r, true)
            .1
            .iter()
            .map(|c| c.check)
            .collect()
    };
    assert_eq!(
        names(&good, &req()),
        [
            "key",
            "signature",
            "state",
            "account",
            "sub",
            "exp",
            "nbf",
            "ttl",
            "rules",
            "origin"
        ]
    );
    let (_, checks) = explained(&v, &[], &signed(&w.ka, &blocked), &req(), true);
    let rules = checks.iter().find(|c| c.check == "rules").unwrap();
    assert_eq!(
        rules.detail,
        "rule 2 (block ip.geoip.country [GB]) matches 203.0.113.9 (GB): blocked"
    );
}
