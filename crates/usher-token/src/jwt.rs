//! RS256 compact JWS: minting ([`sign`]) and checking ([`UnverifiedToken`]) tokens.
//!
//! Verification is split in two steps because the key depends on the token: the edge
//! first [`UnverifiedToken::parse`]s the token to read its `kid`, looks that key up
//! among the account's live keys, then calls [`UnverifiedToken::verify`]. Nothing in
//! the token can choose *how* it is verified: the algorithm is fixed to RS256 (so
//! `none`, HS256-keyed-with-the-public-key and other algorithm-confusion attacks have
//! nothing to work with) and header-supplied keys (`jwk`, `jku`, `x5u`, `x5c`) are
//! ignored. Tokens are decoded strictly (RFC 7515 base64url, no padding, bounded
//! size) so that every accepted token has exactly one spelling.

#[cfg(test)]
mod tests;

use std::fmt;

use base64::Engine as _;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::b64;
use crate::claims::Claims;
use crate::keys::{SigningKey, VerifyingKey};

/// Longest token accepted (and produced), in bytes. Real tokens are 600–1,500
/// bytes; the bound keeps hostile input cheap to refuse and keeps tokens short enough
/// for the URL paths and request lines they travel in.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The only algorithm this crate signs with or accepts.
const RS256: &str = "RS256";

/// Longest `alg` value quoted back in an error.
const MAX_ECHO_ALG: usize = 16;

/// Why a token was refused (or could not be made). Messages are short and safe to
/// return to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a compact JWS: wrong number of parts, bad base64url, header not JSON, …
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("token too large (limit {MAX_TOKEN_LEN} bytes)")]
    TooLarge,
    /// Any `alg` but RS256 (the value, shortened).
    #[error("unsupported token algorithm {0:?}: only RS256 is accepted")]
    UnsupportedAlgorithm(String),
    /// The signature does not verify with the given key.
    #[error("invalid token signature")]
    BadSignature,
    /// Correctly signed, but the claims are invalid (missing `sub`, bad `exp`,
    /// malformed `accessRules`, …).
    #[error("invalid token claims: {0}")]
    InvalidClaims(String),
    /// The signing key failed to sign (should not happen with a loaded key).
    #[error("token signing failed")]
    SigningFailed,
}

/// The JOSE header of a token. Other header members are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    pub alg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    /// RFC 7515 §4.1.11: a verifier must refuse extensions it does not understand;
    /// we understand none (this also refuses RFC 7797 unencoded payloads).
    crit: Option<IgnoredAny>,
}

/// Just the `kid` claim, to find the key when the header has none.
#[derive(Deserialize)]
struct KidClaim {
    kid: Option<String>,
}

/// A compact JWS split and decoded, but not yet verified: only [`Self::header`] and
/// [`Self::kid`] may be looked at before [`Self::verify`] succeeds.
pub struct UnverifiedToken<'a> {
    header: Header,
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    signing_input: &'a str,
    payload: Vec<u8>,
    signature: Vec<u8>,
    /// The payload's `kid`, read only when the header has none.
    payload_kid: Option<String>,
}

impl<'a> UnverifiedToken<'a> {
    /// Split and decode a compact JWS: at most [`MAX_TOKEN_LEN`] bytes, exactly three
    /// base64url parts without padding, a JSON header with a string `alg`.
    pub fn parse(token: &'a str) -> Result<Self, TokenError> {
        const PARTS: &str = "expected three dot-separated base64url parts";
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLarge);
        }
        let (header_b64, rest) = token.split_once('.').ok_or(TokenError::Malformed(PARTS))?;
        let (payload_b64, signature_b64) =
            rest.split_once('.').ok_or(TokenError::Malformed(PARTS))?;
        if signature_b64.contains('.') {
            return Err(TokenError::Malformed(PARTS));
        }
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];

        let header_json = decode(header_b64, "header is not base64url")?;
        let raw: RawHeader = serde_json::from_slice(&header_json)
            .map_err(|_| TokenError::Malformed("header is not a JSON object with a string alg"))?;
        if raw.crit.is_some() {
            return Err(TokenError::Malformed(
                "critical header extensions are not supported",
            ));
        }
        let payload = decode(payload_b64, "payload is not base64url")?;
        let signature = decode(signature_b64, "signature is not base64url")?;
        let payload_kid = match raw.kid {
            Some(_) => None,
            None => serde_json::from_slice::<KidClaim>(&payload)
                .ok()
                .and_then(|claim| claim.kid),
        };
        Ok(UnverifiedToken {
            header: Header {
                alg: raw.alg,
                kid: raw.kid,
                typ: raw.typ,
            },
            signing_input,
            payload,
            signature,
            payload_kid,
        })
    }

    /// The (unverified) header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The key id to verify with: the header's `kid`, else the payload's `kid` claim
    /// (Cloudflare puts it in both; some JWT libraries only in one). Unverified —
    /// use it only to choose among the keys you trust.
    pub fn kid(&self) -> Option<&str> {
        self.header.kid.as_deref().or(self.payload_kid.as_deref())
    }

    /// Check the token against `key` and return its claims.
    ///
    /// Refuses any `alg` but RS256 before touching the key, then checks the
    /// signature, then parses the claims. Time checks are the caller's (it owns the
    /// clock): see [`Claims::check_time`]. If both header and payload carry a `kid`
    /// they must agree, so the claim can be trusted to name the key that signed.
    pub fn verify(&self, key: &VerifyingKey) -> Result<Claims, TokenError> {
        if self.header.alg != RS256 {
            let alg: String = self.header.alg.chars().take(MAX_ECHO_ALG).collect();
            return Err(TokenError::UnsupportedAlgorithm(alg));
        }
        if !key.verify_rs256(self.signing_input.as_bytes(), &self.signature) {
            return Err(TokenError::BadSignature);
        }
        let claims: Claims = serde_json::from_slice(&self.payload).map_err(claims_error)?;
        if let (Some(in_header), Some(in_claims)) = (&self.header.kid, &claims.kid)
            && in_header != in_claims
        {
            return Err(TokenError::InvalidClaims(
                "kid in header and payload differ".into(),
            ));
        }
        Ok(claims)
    }
}

impl fmt::Debug for UnverifiedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are bearer credentials: show what identifies them, not the token.
        f.debug_struct("UnverifiedToken")
            .field("header", &self.header)
            .field("payload_len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

/// Mint a token: header `{"alg":"RS256","kid":key.kid()}`, payload = `claims` with
/// `kid` set to the key's id.
///
/// The payload is re-read with the verifier's own rules before signing, so this
/// never produces a token [`UnverifiedToken::verify`] would refuse (empty `sub`,
/// negative `exp`, invalid rules, more than [`crate::MAX_RULES`] rules, oversize).
pub fn sign(key: &SigningKey, claims: &Claims) -> Result<String, TokenError> {
    let header = Header {
        alg: RS256.to_owned(),
        kid: Some(key.kid().to_owned()),
        typ: None,
    };
    let mut claims = claims.clone();
    claims.kid = Some(key.kid().to_owned());
    let header_json = serde_json::to_vec(&header).map_err(|_| TokenError::SigningFailed)?;
    let payload_json = serde_json::to_vec(&claims).map_err(|_| TokenError::SigningFailed)?;
    serde_json::from_slice::<Claims>(&payload_json).map_err(claims_error)?;

    let signature_len = key.bits().div_ceil(8);
    let encoded_len = |n: usize| (n * 4).div_ceil(3);
    let total = encoded_len(header_json.len())
        + 1
        + encoded_len(payload_json.len())
        + 1
        + encoded_len(signature_len);
    if total > MAX_TOKEN_LEN {
        return Err(TokenError::TooLarge);
    }
    let mut token = String::with_capacity(total);
    b64::TOKEN.encode_string(&header_json, &mut token);
    token.push('.');
    b64::TOKEN.encode_string(&payload_json, &mut token);
    let signature = key
        .sign_rs256(token.as_bytes())
        .map_err(|_| TokenError::SigningFailed)?;
    token.push('.');
    b64::TOKEN.encode_string(&signature, &mut token);
    Ok(token)
}

fn decode(part: &str, what: &'static str) -> Result<Vec<u8>, TokenError> {
    b64::TOKEN
        .decode(part)
        .map_err(|_| TokenError::Malformed(what))
}

/// Claims that are not JSON make the token malformed; JSON of the wrong shape makes
/// its claims invalid, with serde's description minus the input position.
fn claims_error(e: serde_json::Error) -> TokenError {
    match e.classify() {
        serde_json::error::Category::Data => {
            let mut message = e.to_string();
            if let Some(at) = message.rfind(" at line ") {
                message.truncate(at);
            }
            TokenError::InvalidClaims(message)
        }
        _ => TokenError::Malformed("payload is not a JSON object"),
    }
}
