//! The claims JSON of a correctly signed token: each input is the payload of a token
//! signed with a fixed key (as a customer's self-signed token is), then parsed, verified,
//! time-checked and its access rules evaluated as the edge does. What `verify` accepts
//! must agree with parsing the claims alone, and accepted claims must survive a
//! serialise–parse round trip (what `POST …/token` relies on).
#![no_main]

use std::net::IpAddr;
use std::sync::OnceLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use usher_token::{
    Claims, Decision, RuleAction, SigningKey, UnverifiedToken, VerifyingKey, evaluate, first_match,
};

const HEADER: &str = r#"{"alg":"RS256","kid":"fuzz"}"#;
/// A fixed "now" and the edge's default skew, so runs are reproducible.
const NOW: i64 = 1_800_000_000;
const SKEW: i64 = 30;

struct Keys {
    pair: RsaKeyPair,
    verifying: VerifyingKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = SigningKey::generate("fuzz").expect("an RSA key");
        Keys {
            pair: RsaKeyPair::from_pkcs8(&key.to_pkcs8_der()).expect("the key's PKCS#8"),
            verifying: key.verifying_key(),
        }
    })
}

fn clients() -> [IpAddr; 4] {
    [
        "10.1.2.3".parse().expect("v4"),
        "::ffff:10.1.2.3".parse().expect("mapped"),
        "2001:db8::1".parse().expect("v6"),
        "0.0.0.0".parse().expect("unspecified"),
    ]
}

fuzz_target!(|payload: &[u8]| {
    let keys = keys();
    let mut token = URL_SAFE_NO_PAD.encode(HEADER);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let mut signature = vec![0u8; keys.pair.public_modulus_len()];
    keys.pair
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            token.as_bytes(),
            &mut signature,
        )
        .expect("signing");
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut token);

    let direct = serde_json::from_slice::<Claims>(payload);
    let Ok(unverified) = UnverifiedToken::parse(&token) else {
        // Only an oversize token may fail to parse: the header is fixed and valid.
        assert!(
            token.len() > usher_token::MAX_TOKEN_LEN,
            "parse refused a well-formed token"
        );
        return;
    };
    let verified = unverified.verify(&keys.verifying);
    match (&verified, &direct) {
        (Ok(v), Ok(d)) => assert_eq!(v, d),
        (Err(_), Err(_)) => {}
        // The only extra check in verify: a payload kid must name the header's key.
        (Err(e), Ok(d)) => assert!(
            d.kid.as_deref().is_some_and(|k| k != "fuzz"),
            "verify refused claims that parse: {e}"
        ),
        (Ok(_), Err(e)) => panic!("verify accepted claims that do not parse: {e}"),
    }
    let Ok(claims) = verified else { return };

    for now in [NOW, 0, i64::MAX / 2] {
        let _ = claims.check_time(now, SKEW);
    }
    for client in clients() {
        for country in [None, Some("US"), Some("de"), Some("")] {
            let decision = evaluate(&claims.access_rules, client, country);
            let expected = match first_match(&claims.access_rules, client, country) {
                Some((_, rule)) if rule.action == RuleAction::Block => Decision::Block,
                _ => Decision::Allow,
            };
            assert_eq!(decision, expected, "evaluate disagrees with first_match");
        }
    }
    let again = serde_json::to_vec(&claims).expect("claims serialise");
    let reparsed: Claims = serde_json::from_slice(&again).expect("serialised claims parse");
    assert_eq!(reparsed, claims, "claims changed in a round trip");
});
