//! Sign/verify round trips and every refusal the edge relies on.

use aws_lc_rs::hmac;
use pkcs1::der::pem::{LineEnding, encode_string};
use serde_json::json;

use super::*;
use crate::test_keys::{other, primary};
use crate::{AccessRule, RuleAction, RuleMatch, Timestamp};

fn claims() -> Claims {
    let mut claims = Claims::new("ea95132c15732412d22c1476fa83f27a");
    claims.exp = Some(Timestamp(1_900_000_000));
    claims.nbf = Some(Timestamp(1_600_000_000));
    claims.downloadable = true;
    claims.access_rules = vec![
        AccessRule {
            action: RuleAction::Allow,
            matcher: RuleMatch::Country(vec!["GB".parse().unwrap()]),
        },
        AccessRule {
            action: RuleAction::Block,
            matcher: RuleMatch::Any,
        },
    ];
    claims
}

fn b64(bytes: &[u8]) -> String {
    b64::TOKEN.encode(bytes)
}

/// A token with arbitrary header and payload JSON, correctly RS256-signed by `key`.
fn sign_raw(key: &SigningKey, header: &serde_json::Value, payload: &serde_json::Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let signature = key.sign_rs256(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&signature))
}

fn verify(token: &str) -> Result<Claims, TokenError> {
    UnverifiedToken::parse(token)?.verify(&primary().verifying_key())
}

#[test]
fn round_trip() {
    let claims = claims();
    let token = sign(primary(), &claims).unwrap();
    let parsed = UnverifiedToken::parse(&token).unwrap();
    assert_eq!(parsed.kid(), Some("primary-kid"));
    assert_eq!(
        parsed.header(),
        &Header {
            alg: "RS256".into(),
            kid: Some("primary-kid".into()),
            typ: None
        }
    );
    let verified = parsed.verify(&primary().verifying_key()).unwrap();
    assert_eq!(verified.kid.as_deref(), Some("primary-kid"));
    assert_eq!(
        Claims {
            kid: None,
            ..verified
        },
        claims
    );
    // Header exactly as Cloudflare writes it.
    let header = b64::TOKEN.decode(token.split('.').next().unwrap()).unwrap();
    assert_eq!(header, br#"{"alg":"RS256","kid":"primary-kid"}"#);
    // A kid already in the claims is replaced by the signing key's.
    let mut foreign = claims.clone();
    foreign.kid = Some("someone-else".into());
    let token = sign(primary(), &foreign).unwrap();
    assert_eq!(verify(&token).unwrap().kid.as_deref(), Some("primary-kid"));
}

#[test]
fn kid_falls_back_to_the_payload() {
    let token = sign_raw(
        primary(),
        &json!({"alg": "RS256", "typ": "JWT"}),
        &json!({"sub": "v", "kid": "primary-kid", "exp": 1_900_000_000}),
    );
    let parsed = UnverifiedToken::parse(&token).unwrap();
    assert_eq!(parsed.kid(), Some("primary-kid"));
    assert_eq!(parsed.header().typ.as_deref(), Some("JWT"));
    parsed.verify(&primary().verifying_key()).unwrap();
    let no_kid = sign_raw(primary(), &json!({"alg": "RS256"}), &json!({"sub": "v"}));
    assert_eq!(UnverifiedToken::parse(&no_kid).unwrap().kid(), None);
}

#[test]
fn kid_mismatch_is_refused() {
    let token = sign_raw(
        primary(),
        &json!({"alg": "RS256", "kid": "primary-kid"}),
        &json!({"sub": "v", "kid": "other-kid"}),
    );
    assert!(matches!(verify(&token), Err(TokenError::InvalidClaims(_))));
}

#[test]
fn alg_none_is_refused() {
    let header = b64(br#"{"alg":"none","kid":"primary-kid"}"#);
    let payload = b64(br#"{"sub":"v","exp":1900000000}"#);
    let unsigned = format!("{header}.{payload}.");
    assert_eq!(
        verify(&unsigned),
        Err(TokenError::UnsupportedAlgorithm("none".into()))
    );
    assert!(matches!(
        verify(&format!("{header}.{payload}")),
        Err(TokenError::Malformed(_))
    ));
    // "none" with a (valid RS256) signature part attached.
    let signed = sign_raw(
        primary(),
        &json!({"alg": "none", "kid": "primary-kid"}),
        &json!({"sub": "v"}),
    );
    assert!(matches!(
        verify(&signed),
        Err(TokenError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn hs256_keyed_with_the_public_key_is_refused() {
    let spki = primary().verifying_key().to_spki_der();
    let pem = encode_string("PUBLIC KEY", LineEnding::LF, &spki).unwrap();
    let jwk = primary().verifying_key().to_public_jwk_json("primary-kid");
    for secret in [pem.as_bytes(), spki.as_slice(), jwk.as_bytes()] {
        let input = format!(
            "{}.{}",
            b64(br#"{"alg":"HS256","kid":"primary-kid"}"#),
            b64(br#"{"sub":"v","exp":1900000000}"#)
        );
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
        let token = format!("{input}.{}", b64(tag.as_ref()));
        assert_eq!(
            verify(&token),
            Err(TokenError::UnsupportedAlgorithm("HS256".into()))
        );
    }
}

#[test]
fn other_algorithms_are_refused_even_with_a_valid_rs256_signature() {
    for alg in [
        "RS512", "PS256", "RS384", "ES256", "EdDSA", "rs256", "RS256 ", "",
    ] {
        let token = sign_raw(primary(), &json!({"alg": alg}), &json!({"sub": "v"}));
        assert!(
            matches!(verify(&token), Err(TokenError::UnsupportedAlgorithm(_))),
            "{alg:?}"
        );
    }
    let long = "X".repeat(500);
    let token = sign_raw(primary(), &json!({"alg": long}), &json!({"sub": "v"}));
    assert!(verify(&token).unwrap_err().to_string().len() < 100);
}

#[test]
fn tampering_is_refused() {
    let token = sign(primary(), &claims()).unwrap();
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut raw = b64::TOKEN.decode(signature).unwrap();
    for bit in [0, 7, 1000, 2047] {
        raw[bit / 8] ^= 1 << (bit % 8);
        let flipped = format!("{input}.{}", b64(&raw));
        assert_eq!(verify(&flipped), Err(TokenError::BadSignature));
        raw[bit / 8] ^= 1 << (bit % 8);
    }
    let (header, _) = input.split_once('.').unwrap();
    let forged_payload =
        b64(br#"{"sub":"ea95132c15732412d22c1476fa83f27a","kid":"primary-kid","exp":1999999999}"#);
    let forged = format!("{header}.{forged_payload}.{signature}");
    assert_eq!(verify(&forged), Err(TokenError::BadSignature));
    let wrong_key = UnverifiedToken::parse(&token)
        .unwrap()
        .verify(&other().verifying_key());
    assert_eq!(wrong_key, Err(TokenError::BadSignature));
    let truncated_signature = format!("{input}.{}", b64(&raw[..255]));
    assert_eq!(verify(&truncated_signature), Err(TokenError::BadSignature));
}

#[test]
fn malformed_tokens_are_refused() {
    let token = sign(primary(), &claims()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let cases = [
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        format!("{token}.{}", parts[2]),
        format!("{}.{}", parts[0], parts[1]),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}==.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}=", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}", parts[0].replace('e', "+"), parts[1], parts[2]),
        format!("{}.{}./{}", parts[0], parts[1], &parts[2][1..]),
        format!(" {token}"),
        format!("{token}\n"),
        format!("{}.{}.{}", b64(b"not json"), parts[1], parts[2]),
        format!("{}.{}.{}", b64(br#"{"kid":"x"}"#), parts[1], parts[2]),
        format!("{}.{}.{}", b64(br#"{"alg":5}"#), parts[1], parts[2]),
        format!("{}.{}.{}", b64(br#"["RS256"]"#), parts[1], parts[2]),
        format!(
            "{}.{}.{}",
            b64(br#"{"alg":"RS256","alg":"none"}"#),
            parts[1],
            parts[2]
        ),
        format!(
            "{}.{}.{}",
            b64(br#"{"alg":"RS256","crit":["b64"],"b64":false}"#),
            parts[1],
            parts[2]
        ),
    ];
    for case in &cases {
        assert!(
            matches!(verify(case), Err(TokenError::Malformed(_))),
            "{case:?} gave {:?}",
            verify(case)
        );
    }
    // Non-canonical base64url: "eQ" and "eR" both decode to "y" with lenient decoders.
    assert_eq!(decode("eQ", "x"), Ok(b"y".to_vec()));
    assert!(decode("eR", "x").is_err());
    assert!(decode("eQ==", "x").is_err());
}

#[test]
fn oversized_tokens_are_refused() {
    let huge = "a".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(
        UnverifiedToken::parse(&huge).err(),
        Some(TokenError::TooLarge)
    );
    let mut claims = claims();
    claims.access_rules = vec![AccessRule {
        action: RuleAction::Block,
        matcher: RuleMatch::IpSrc(vec!["2001:db8::/32".parse().unwrap(); 400]),
    }];
    assert_eq!(sign(primary(), &claims), Err(TokenError::TooLarge));
}

#[test]
fn bad_claims_are_refused_after_the_signature() {
    let header = json!({"alg": "RS256", "kid": "primary-kid"});
    for payload in [
        json!({"sub": "v", "exp": true}),
        json!({"sub": "v", "exp": "1900000000.5"}),
        json!({"sub": "v", "exp": -1}),
        json!({"sub": "v", "nbf": "yesterday"}),
        json!({"exp": 1_900_000_000}),
        json!({"sub": ""}),
        json!({"sub": "v", "accessRules": [{"type": "ip.src", "action": "allow", "ip": ["1.2.3.4/33"]}]}),
        json!({"sub": "v", "accessRules": [{"type": "any", "action": "deny"}]}),
    ] {
        let token = sign_raw(primary(), &header, &payload);
        let result = verify(&token);
        assert!(
            matches!(result, Err(TokenError::InvalidClaims(_))),
            "{payload}: {result:?}"
        );
        // Messages are short and have no serde positions in them.
        let message = result.unwrap_err().to_string();
        assert!(
            !message.contains("line") && message.len() < 200,
            "{message}"
        );
    }
    for payload in [json!([1]), json!("sub"), json!(null)] {
        let token = sign_raw(primary(), &header, &payload);
        assert!(verify(&token).is_err(), "{payload}");
    }
    let not_json = format!("{}.{}", b64(br#"{"alg":"RS256"}"#), b64(b"{not json"));
    let signature = primary().sign_rs256(not_json.as_bytes()).unwrap();
    let token = format!("{not_json}.{}", b64(&signature));
    assert!(matches!(verify(&token), Err(TokenError::Malformed(_))));
}

#[test]
fn sign_refuses_claims_the_verifier_would_refuse() {
    let mut empty_sub = claims();
    empty_sub.sub.clear();
    let mut negative = claims();
    negative.exp = Some(Timestamp(-1));
    let mut too_many = claims();
    too_many.access_rules = vec![too_many.access_rules[1].clone(); 6];
    let mut empty_list = claims();
    empty_list.access_rules = vec![AccessRule {
        action: RuleAction::Allow,
        matcher: RuleMatch::IpSrc(vec![]),
    }];
    for bad in [empty_sub, negative, too_many, empty_list] {
        assert!(
            matches!(sign(primary(), &bad), Err(TokenError::InvalidClaims(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn cloudflare_documentation_token_parses() {
    // From Cloudflare's "Secure your stream" page: kid in header and payload,
    // exp/nbf as numeric strings.
    let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImNkYzkzNTk4MmY4MDc1ZjJlZjk2MTA2ZDg1ZmNkODM4In0.eyJraWQiOiJjZGM5MzU5ODJmODA3NWYyZWY5NjEwNmQ4NWZjZDgzOCIsImV4cCI6IjE2MjE4ODk2NTciLCJuYmYiOiIxNjIxODgyNDU3In0.iHGMvwOh2-SuqUG7kp2GeLXyKvMavP-I2rYCni9odNwms7imW429bM2tKs3G9INms8gSc7fzm8hNEYWOhGHWRBaaCs3U9H4DRWaFOvn0sJWLBitGuF_YaZM5O6fqJPTAwhgFKdikyk9zVzHrIJ0PfBL0NsTgwDxLkJjEAEULQJpiQU1DNm0w5ctasdbw77YtDwdZ01g924Dm6jIsWolW0Ic0AevCLyVdg501Ki9hSF7kYST0egcll47jmoMMni7ujQCJI1XEAOas32DdjnMvU8vXrYbaHk1m1oXlm319rDYghOHed9kr293KM7ivtZNlhYceSzOpyAmqNFS7mearyQ";
    let parsed = UnverifiedToken::parse(token).unwrap();
    assert_eq!(parsed.kid(), Some("cdc935982f8075f2ef96106d85fcd838"));
    assert_eq!(parsed.header().alg, "RS256");
    assert_eq!(
        parsed.verify(&primary().verifying_key()),
        Err(TokenError::BadSignature)
    );
}
