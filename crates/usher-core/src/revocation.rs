//! How a single revoked token is named (SPEC §9): by its `jti` when it has one (every
//! token from `POST …/token` does), otherwise by the SHA-256 of the token itself, so that
//! a self-signed token without an id can be revoked too. The edge and the API name
//! tokens with this one function.

use crate::secret::digest_hex;

/// The name under which `token` (whose claims carry `jti`, if any) is revoked.
pub fn token_id(token: &str, jti: Option<&str>) -> String {
    match jti {
        Some(jti) => format!("jti:{jti}"),
        None => format!("sha256:{}", digest_hex(token.as_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_jti_else_by_digest_and_never_confused() {
        assert_eq!(token_id("a.b.c", Some("42")), "jti:42");
        let by_digest = token_id("a.b.c", None);
        assert!(by_digest.starts_with("sha256:") && by_digest.len() == 7 + 64);
        assert_ne!(by_digest, token_id("a.b.d", None));
        // A jti spelled like a digest is still a jti.
        assert_ne!(token_id("x", Some(&by_digest[7..])), by_digest);
    }
}
