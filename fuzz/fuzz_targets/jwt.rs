//! A token as the edge receives it (a URL path segment or `?token=`): split and decoded
//! by `UnverifiedToken::parse`, its `kid` read, then verified against a fixed key — the
//! steps the edge runs before trusting anything in it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use usher_token::{SigningKey, TokenError, UnverifiedToken, VerifyingKey};

fn key() -> &'static VerifyingKey {
    static KEY: OnceLock<VerifyingKey> = OnceLock::new();
    KEY.get_or_init(|| {
        SigningKey::generate("fuzz")
            .expect("an RSA key")
            .verifying_key()
    })
}

fuzz_target!(|data: &[u8]| {
    let token = usher_fuzz::text(data);
    let Ok(unverified) = UnverifiedToken::parse(&token) else {
        return;
    };
    let _ = unverified.kid();
    let _ = format!("{unverified:?}");
    match unverified.verify(key()) {
        // Forging RS256 is not what a fuzzer does: any success is a finding.
        Ok(claims) => panic!("a token verified without the key's signature: {claims:?}"),
        Err(TokenError::UnsupportedAlgorithm(alg)) => assert!(alg.chars().count() <= 16),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
