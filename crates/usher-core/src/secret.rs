//! API credentials: generated with the system CSPRNG, stored only as SHA-256 digests and
//! compared in constant time. They carry 160+ bits of entropy, so a fast digest is the
//! right tool (a password KDF would only slow every API call down).

use std::fmt;

use aws_lc_rs::{constant_time, digest, rand};

/// Characters of an API token (base62, ~238 bits).
pub const API_TOKEN_LEN: usize = 40;
/// Hex characters of a legacy API key (Cloudflare's global keys are 37 hex characters).
pub const API_KEY_LEN: usize = 37;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A credential shown to its owner once; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Is `presented` this secret? Constant time in the contents (the length is no
    /// secret: every secret of one kind has the same).
    pub fn verify(&self, presented: &str) -> bool {
        constant_time::verify_slices_are_equal(self.0.as_bytes(), presented.as_bytes()).is_ok()
    }
    /// Hex SHA-256 of the secret, as stored.
    pub fn digest_hex(&self) -> String {
        digest_hex(self.0.as_bytes())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The system RNG failing is an unrecoverable platform fault, not an input error.
    #[allow(clippy::expect_used)]
    rand::fill(&mut b).expect("system random number generator failed");
    b
}

pub fn generate_api_token() -> Secret {
    // Rejection sampling keeps every character uniformly likely.
    let mut out = String::with_capacity(API_TOKEN_LEN);
    while out.len() < API_TOKEN_LEN {
        for b in random_bytes::<64>() {
            if b < 248 && out.len() < API_TOKEN_LEN {
                out.push(char::from(BASE62[usize::from(b % 62)]));
            }
        }
    }
    Secret(out)
}

pub fn generate_api_key() -> Secret {
    let mut s = hex::encode(random_bytes::<19>());
    s.truncate(API_KEY_LEN);
    Secret(s)
}

pub fn digest_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes))
}

/// Does `presented` hash to `stored_hex`? Constant time in the digest comparison.
pub fn matches_digest(presented: &str, stored_hex: &str) -> bool {
    let computed = digest_hex(presented.as_bytes());
    constant_time::verify_slices_are_equal(computed.as_bytes(), stored_hex.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_documented_shape() {
        let t = generate_api_token();
        assert_eq!(t.expose().len(), API_TOKEN_LEN);
        assert!(t.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(generate_api_token(), t);
        let k = generate_api_key();
        assert_eq!(k.expose().len(), API_KEY_LEN);
        assert!(k.expose().bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn digest_matches_only_the_same_secret() {
        let t = generate_api_token();
        let stored = t.digest_hex();
        assert!(!stored.contains(t.expose()));
        assert!(matches_digest(t.expose(), &stored));
        assert!(!matches_digest("nope", &stored));
        assert!(!matches_digest(t.expose(), "short"));
    }

    #[test]
    fn verify_takes_only_the_whole_secret() {
        let s = Secret::new("0123456789abcdef");
        assert!(s.verify("0123456789abcdef"));
        assert!(!s.verify("0123456789abcdeF"));
        assert!(!s.verify("0123456789abcde"));
        assert!(!s.verify("0123456789abcdef0"));
        assert!(!s.verify(""));
    }

    #[test]
    fn debug_redacts() {
        let t = generate_api_token();
        assert!(!format!("{t:?}").contains(t.expose()));
    }
}
