//! RSA keys for RS256: generation, import and export.
//!
//! A [`SigningKey`] is what `POST /stream/keys` hands out once (as a base64 PKCS#1
//! PEM and a base64 JWK) and what a customer loads to mint tokens offline. A
//! [`VerifyingKey`] is the public half the server keeps and the edge verifies with.
//!
//! Both parse their key exactly once, at construction, into aws-lc-rs's native form:
//! re-parsing a private key per signature costs ~3× the signature itself (see
//! FIELD-NOTES "Crypto"). Every import path — PEM, PKCS#8 DER, JWK, generation —
//! funnels through one constructor that re-derives all other encodings from the
//! parsed key, so an exported key is always canonical whatever it was imported from.

mod jwk;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use pkcs1::der::Decode as _;
use zeroize::Zeroizing;

use crate::b64;

/// Size of keys made by [`SigningKey::generate`], as Cloudflare's signing keys.
pub const GENERATED_KEY_BITS: usize = 2048;
/// Smallest RSA modulus accepted: RFC 7518 §3.3 requires ≥ 2048 bits for RS256.
pub const MIN_KEY_BITS: usize = 2048;
/// Largest RSA modulus accepted. Verification cost grows with the square of the
/// modulus size and the edge verifies on every request; 4096 bits is the largest
/// size any mainstream tool generates by default.
pub const MAX_KEY_BITS: usize = 4096;

/// Why a key could not be loaded or made. Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The input is not a well-formed encoding of a key.
    #[error("malformed key: {0}")]
    Malformed(&'static str),
    /// A JWK member is missing or is not base64url.
    #[error("malformed key: JWK member `{0}` is missing or not base64url")]
    JwkMember(&'static str),
    /// Well-formed, but not a kind of key this crate handles.
    #[error("unsupported key: {0}")]
    Unsupported(&'static str),
    /// An RSA key outside [`MIN_KEY_BITS`]..=[`MAX_KEY_BITS`].
    #[error("unsupported key: RSA modulus of {0} bits (2048 to 4096 are accepted)")]
    Size(usize),
    /// The RSA components do not form a valid key (e.g. `n != p·q`).
    #[error("invalid RSA key ({0})")]
    Rejected(&'static str),
    /// The system could not generate a key.
    #[error("RSA key generation failed")]
    Generation,
}

impl From<aws_lc_rs::error::KeyRejected> for KeyError {
    fn from(e: aws_lc_rs::error::KeyRejected) -> Self {
        // aws-lc-rs descriptions are fixed words like "InvalidEncoding": safe to show.
        KeyError::Rejected(e.description_())
    }
}

/// An RSA private key able to sign RS256 tokens, with the key id (`kid`) it signs as.
///
/// Cheap to clone (the parsed key is shared). `Debug` shows the kid and size only.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    inner: Arc<SigningInner>,
}

struct SigningInner {
    pair: KeyPair,
    /// Canonical PKCS#8 DER, as aws-lc-rs exports it.
    pkcs8: Zeroizing<Vec<u8>>,
    /// The PKCS#1 `RSAPrivateKey` nested inside `pkcs8`, for the PEM export.
    pkcs1: Zeroizing<Vec<u8>>,
    /// Private JWK members, big-endian without leading zeros.
    private: jwk::PrivateMembers,
    public: VerifyingKey,
}

impl SigningKey {
    /// Generate a fresh RSA-2048 key (~80 ms).
    pub fn generate(kid: impl Into<String>) -> Result<Self, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generation)?;
        Self::from_key_pair(kid.into(), pair)
    }

    /// Load a PEM private key: PKCS#1 (`-----BEGIN RSA PRIVATE KEY-----`, what
    /// Cloudflare and Usher hand out) or PKCS#8 (`-----BEGIN PRIVATE KEY-----`, what
    /// `openssl genpkey` writes). Encrypted keys are refused.
    pub fn from_pem(kid: impl Into<String>, pem: &str) -> Result<Self, KeyError> {
        let pem = pem.trim();
        const ENCRYPTED: KeyError =
            KeyError::Unsupported("encrypted private keys are not supported");
        // OpenSSL's legacy encrypted PEM carries RFC 1421 headers, which the strict
        // RFC 7468 decoder refuses as malformed; say what is really wrong instead.
        if pem.contains("Proc-Type:") {
            return Err(ENCRYPTED);
        }
        let (label, der) = pkcs1::der::pem::decode_vec(pem.as_bytes())
            .map_err(|_| KeyError::Malformed("not a PEM document"))?;
        let der = Zeroizing::new(der);
        match label {
            "RSA PRIVATE KEY" => Self::from_key_pair(kid.into(), KeyPair::from_der(&der)?),
            "PRIVATE KEY" => Self::from_pkcs8_der(kid, &der),
            "ENCRYPTED PRIVATE KEY" => Err(ENCRYPTED),
            "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(KeyError::Unsupported(
                "this is a public key; signing needs the private key",
            )),
            _ => Err(KeyError::Unsupported("PEM label is not an RSA private key")),
        }
    }

    /// Load the `pem` field of `POST /stream/keys`: standard base64 of a PEM text.
    pub fn from_base64_pem(kid: impl Into<String>, b64: &str) -> Result<Self, KeyError> {
        let pem = b64::decode_wrapper(b64).map_err(|_| KeyError::Malformed("not base64"))?;
        let pem = std::str::from_utf8(&pem).map_err(|_| KeyError::Malformed("not a PEM text"))?;
        Self::from_pem(kid, pem)
    }

    /// Load a private JWK (`kty` RSA, with `n e d p q dp dq qi`); the kid is the
    /// JWK's `kid`, which must be present. `alg`, if present, must be `RS256`.
    pub fn from_jwk(jwk_json: &str) -> Result<Self, KeyError> {
        let (kid, pair) = jwk::parse_private(jwk_json)?;
        Self::from_key_pair(kid, pair)
    }

    /// Load the `jwk` field of `POST /stream/keys`: standard base64 of a JWK JSON.
    pub fn from_base64_jwk(b64: &str) -> Result<Self, KeyError> {
        let json = b64::decode_wrapper(b64).map_err(|_| KeyError::Malformed("not base64"))?;
        let json = std::str::from_utf8(&json).map_err(|_| KeyError::Malformed("not a JWK"))?;
        Self::from_jwk(json)
    }

    /// Load an unencrypted PKCS#8 `PrivateKeyInfo` (DER) holding an RSA key.
    pub fn from_pkcs8_der(kid: impl Into<String>, der: &[u8]) -> Result<Self, KeyError> {
        Self::from_key_pair(kid.into(), KeyPair::from_pkcs8(der)?)
    }

    /// The one constructor: derives every export encoding from the parsed key.
    fn from_key_pair(kid: String, pair: KeyPair) -> Result<Self, KeyError> {
        let pkcs8 = pair
            .as_der()
            .map_err(|_| KeyError::Rejected("cannot serialise key"))?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        let info = pkcs8::PrivateKeyInfoRef::from_der(&pkcs8)
            .map_err(|_| KeyError::Malformed("PKCS#8 structure"))?;
        if info.algorithm.oid != pkcs1::ALGORITHM_OID {
            return Err(KeyError::Unsupported("not an RSA key"));
        }
        let pkcs1 = Zeroizing::new(info.private_key.as_bytes().to_vec());
        let rsa = pkcs1::RsaPrivateKeyRef::from_der(&pkcs1)
            .map_err(|_| KeyError::Malformed("PKCS#1 structure"))?;
        if rsa.other_prime_infos.is_some() {
            return Err(KeyError::Unsupported("multi-prime RSA keys"));
        }
        let public =
            VerifyingKey::from_components(rsa.modulus.as_bytes(), rsa.public_exponent.as_bytes())?;
        let private = jwk::PrivateMembers::from_pkcs1(&rsa);
        Ok(SigningKey {
            kid,
            inner: Arc::new(SigningInner {
                pair,
                pkcs8,
                pkcs1,
                private,
                public,
            }),
        })
    }

    /// The key id tokens signed by this key carry (header `kid` and claim `kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Unencrypted PKCS#8 `PrivateKeyInfo` DER.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.inner.pkcs8.clone()
    }

    /// PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), 64-column base64, LF line
    /// endings — byte-for-byte what `openssl rsa -traditional` writes.
    pub fn to_pkcs1_pem(&self) -> Zeroizing<String> {
        const BEGIN: &str = "-----BEGIN RSA PRIVATE KEY-----\n";
        const END: &str = "-----END RSA PRIVATE KEY-----\n";
        let body = Zeroizing::new(base64::Engine::encode(&b64::WRAPPER, &*self.inner.pkcs1));
        let mut pem = Zeroizing::new(String::with_capacity(
            BEGIN.len() + END.len() + body.len() + body.len() / 64 + 1,
        ));
        pem.push_str(BEGIN);
        let mut rest = body.as_str();
        while !rest.is_empty() {
            // base64 is ASCII, so any byte offset is a char boundary.
            let (line, tail) = rest.split_at(rest.len().min(64));
            pem.push_str(line);
            pem.push('\n');
            rest = tail;
        }
        pem.push_str(END);
        pem
    }

    /// Standard base64 of [`Self::to_pkcs1_pem`]: the API's `pem` field.
    pub fn to_base64_pem(&self) -> String {
        base64::Engine::encode(&b64::WRAPPER, self.to_pkcs1_pem().as_bytes())
    }

    /// The private JWK, members in Cloudflare's order:
    /// `{"use":"sig","kty":"RSA","kid","alg":"RS256","n","e","d","p","q","dp","dq","qi"}`.
    pub fn to_jwk_json(&self) -> Zeroizing<String> {
        jwk::write_private(&self.kid, &self.inner.public, &self.inner.private)
    }

    /// Standard base64 of [`Self::to_jwk_json`]: the API's `jwk` field.
    pub fn to_base64_jwk(&self) -> String {
        base64::Engine::encode(&b64::WRAPPER, self.to_jwk_json().as_bytes())
    }

    /// The public half, for verification.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.inner.public.clone()
    }

    /// Whether `other` is this key's public half (same modulus and exponent) —
    /// e.g. to check that a `pem` sent with `id` really belongs to that key id.
    pub fn public_key_matches(&self, other: &VerifyingKey) -> bool {
        self.inner.public == *other
    }

    /// Size of the RSA modulus in bits.
    pub fn bits(&self) -> usize {
        self.inner.public.bits()
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    pub(crate) fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut signature = vec![0u8; self.inner.pair.public_modulus_len()];
        // aws-lc-rs ignores the RNG for PKCS#1 v1.5 (it is deterministic); the
        // parameter only exists for *ring* API compatibility.
        self.inner
            .pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| KeyError::Rejected("signing failed"))?;
        Ok(signature)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

/// An RSA public key, pre-parsed for fast RS256 verification. Cheap to clone.
#[derive(Clone)]
pub struct VerifyingKey {
    inner: Arc<VerifyingInner>,
}

struct VerifyingInner {
    parsed: ParsedPublicKey,
    /// Canonical SubjectPublicKeyInfo DER.
    spki: Vec<u8>,
    /// Modulus and exponent, big-endian without leading zeros.
    n: Vec<u8>,
    e: Vec<u8>,
}

impl VerifyingKey {
    /// Load an X.509 `SubjectPublicKeyInfo` (DER) holding an `rsaEncryption` key —
    /// what `openssl rsa -pubout -outform der` and WebCrypto `exportKey("spki")` give.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = pkcs8::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|_| KeyError::Malformed("not a SubjectPublicKeyInfo"))?;
        if spki.algorithm.oid != pkcs1::ALGORITHM_OID {
            return Err(KeyError::Unsupported("not an RSA public key"));
        }
        if spki.algorithm.parameters.is_some_and(|p| !p.is_null()) {
            return Err(KeyError::Malformed("rsaEncryption parameters must be NULL"));
        }
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or(KeyError::Malformed("public key bit string"))?;
        let rsa = pkcs1::RsaPublicKeyRef::from_der(bits)
            .map_err(|_| KeyError::Malformed("PKCS#1 RSAPublicKey"))?;
        Self::from_components(rsa.modulus.as_bytes(), rsa.public_exponent.as_bytes())
    }

    /// Canonical `SubjectPublicKeyInfo` DER.
    pub fn to_spki_der(&self) -> Vec<u8> {
        self.inner.spki.clone()
    }

    /// Load an RSA JWK's public members `n` and `e`. Private members, if any, are
    /// ignored; `kty` must be RSA and `alg`, if present, RS256.
    pub fn from_jwk(jwk_json: &str) -> Result<Self, KeyError> {
        jwk::parse_public(jwk_json)
    }

    /// `{"use":"sig","kty":"RSA","kid","alg":"RS256","n","e"}` — what a WebCrypto or
    /// JOSE verifier imports.
    pub fn to_public_jwk_json(&self, kid: &str) -> String {
        jwk::write_public(kid, self)
    }

    /// Size of the RSA modulus in bits.
    pub fn bits(&self) -> usize {
        bit_len(&self.inner.n)
    }

    /// Build from big-endian `n` and `e`; the single place sizes are checked.
    fn from_components(n: &[u8], e: &[u8]) -> Result<Self, KeyError> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = bit_len(n);
        if !(MIN_KEY_BITS..=MAX_KEY_BITS).contains(&bits) {
            return Err(KeyError::Size(bits));
        }
        // e must be odd and > 1; aws-lc additionally caps it at 33 bits.
        if e.len() > 5 || e.last().is_none_or(|low| low & 1 == 0) || e == [1] {
            return Err(KeyError::Unsupported("RSA public exponent"));
        }
        let parsed =
            PublicKeyComponents { n, e }.to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)?;
        let spki = parsed
            .as_der()
            .map_err(|_| KeyError::Rejected("cannot serialise public key"))?
            .as_ref()
            .to_vec();
        Ok(VerifyingKey {
            inner: Arc::new(VerifyingInner {
                parsed,
                spki,
                n: n.to_vec(),
                e: e.to_vec(),
            }),
        })
    }

    pub(crate) fn modulus(&self) -> &[u8] {
        &self.inner.n
    }

    pub(crate) fn exponent(&self) -> &[u8] {
        &self.inner.e
    }

    /// Whether `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of `message`.
    pub(crate) fn verify_rs256(&self, message: &[u8], signature: &[u8]) -> bool {
        self.inner.parsed.verify_sig(message, signature).is_ok()
    }
}

impl PartialEq for VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
            || (self.inner.n == other.inner.n && self.inner.e == other.inner.e)
    }
}

impl Eq for VerifyingKey {}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

/// Bit length of a big-endian unsigned integer without leading zero bytes.
fn bit_len(n: &[u8]) -> usize {
    n.first().map_or(0, |top| {
        (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
    })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}
