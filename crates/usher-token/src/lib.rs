//! `usher-token`: the signed-URL token library of Usher, usable on its own.
//!
//! Everything a customer needs to mint Cloudflare-Stream-compatible tokens offline,
//! and everything the delivery edge needs to check them, with no server
//! dependencies:
//!
//! - [`keys`]: RSA-2048 signing keys — generation, PEM (PKCS#1 / PKCS#8) and JWK
//!   import/export in exactly the shapes `POST /stream/keys` hands out.
//! - [`jwt`]: RS256 compact JWS signing and verification. Only `RS256` is ever
//!   accepted; the key is chosen by the caller (by `kid`), never taken from the token.
//! - [`claims`]: the token's claims (`sub`, `kid`, `exp`, `nbf`, `downloadable`,
//!   `accessRules`) and the time checks the edge applies.
//! - [`rules`]: Cloudflare `accessRules` — strict parsing and first-match evaluation.
//!
//! ```
//! use usher_token::{Claims, SigningKey, Timestamp, UnverifiedToken, sign};
//!
//! let key = SigningKey::generate("my-key-id")?;
//! let mut claims = Claims::new("ea95132c15732412d22c1476fa83f27a");
//! claims.exp = Some(Timestamp(1_900_000_000));
//! let token = sign(&key, &claims)?;
//!
//! // At the edge: look the key up by kid, then verify.
//! let unverified = UnverifiedToken::parse(&token)?;
//! assert_eq!(unverified.kid(), Some("my-key-id"));
//! let verified = unverified.verify(&key.verifying_key())?;
//! assert_eq!(verified.sub, "ea95132c15732412d22c1476fa83f27a");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod claims;
pub mod jwt;
pub mod keys;
pub mod rules;

mod b64;

pub use claims::{Claims, ClaimsError, MAX_TTL_SECS, Timestamp};
pub use jwt::{Header, MAX_TOKEN_LEN, TokenError, UnverifiedToken, sign};
pub use keys::{KeyError, SigningKey, VerifyingKey};
pub use rules::{
    AccessRule, CountryCode, Decision, MAX_RULES, RuleAction, RuleError, RuleMatch, evaluate,
    first_match, parse_rules,
};

/// Keys shared by the unit tests: RSA generation takes ~80 ms, so make each once.
#[cfg(test)]
pub(crate) mod test_keys {
    use std::sync::OnceLock;

    use crate::SigningKey;

    pub(crate) fn primary() -> &'static SigningKey {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        KEY.get_or_init(|| SigningKey::generate("primary-kid").unwrap())
    }

    pub(crate) fn other() -> &'static SigningKey {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        KEY.get_or_init(|| SigningKey::generate("other-kid").unwrap())
    }
}
