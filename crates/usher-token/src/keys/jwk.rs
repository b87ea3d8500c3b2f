//! JSON Web Key form of RSA keys (RFC 7517, RFC 7518 §6.3), as Cloudflare's
//! `POST /stream/keys` returns it and WebCrypto's `importKey("jwk", …)` consumes it.
//!
//! Written by hand rather than through a serde struct so that the member order is
//! exactly Cloudflare's and the private members only ever live in zeroized buffers.

use aws_lc_rs::rsa::{KeyPair, KeyPairComponents, PublicKeyComponents};
use base64::Engine as _;
use serde::Deserialize;
use zeroize::{Zeroize, Zeroizing};

use super::{KeyError, MAX_KEY_BITS, MIN_KEY_BITS, VerifyingKey, bit_len, strip_leading_zeros};
use crate::b64;

/// The private members of an RSA JWK, big-endian without leading zeros.
pub(super) struct PrivateMembers {
    d: Zeroizing<Vec<u8>>,
    p: Zeroizing<Vec<u8>>,
    q: Zeroizing<Vec<u8>>,
    dp: Zeroizing<Vec<u8>>,
    dq: Zeroizing<Vec<u8>>,
    qi: Zeroizing<Vec<u8>>,
}

impl PrivateMembers {
    pub(super) fn from_pkcs1(rsa: &pkcs1::RsaPrivateKeyRef<'_>) -> Self {
        let own = |u: &pkcs1::UintRef<'_>| Zeroizing::new(u.as_bytes().to_vec());
        PrivateMembers {
            d: own(&rsa.private_exponent),
            p: own(&rsa.prime1),
            q: own(&rsa.prime2),
            dp: own(&rsa.exponent1),
            dq: own(&rsa.exponent2),
            qi: own(&rsa.coefficient),
        }
    }
}

/// A JWK as read from JSON. Unknown members (`key_ops`, `x5c`, …) are ignored.
#[derive(Deserialize)]
struct JwkIn {
    kty: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    n: Option<String>,
    e: Option<String>,
    d: Option<String>,
    p: Option<String>,
    q: Option<String>,
    dp: Option<String>,
    dq: Option<String>,
    qi: Option<String>,
    oth: Option<serde::de::IgnoredAny>,
}

impl Drop for JwkIn {
    fn drop(&mut self) {
        for secret in [
            &mut self.d,
            &mut self.p,
            &mut self.q,
            &mut self.dp,
            &mut self.dq,
            &mut self.qi,
        ] {
            secret.zeroize();
        }
    }
}

impl JwkIn {
    fn parse(json: &str) -> Result<Self, KeyError> {
        let jwk: JwkIn =
            serde_json::from_str(json).map_err(|_| KeyError::Malformed("not a JWK JSON object"))?;
        if jwk.kty.as_deref() != Some("RSA") {
            return Err(KeyError::Unsupported("JWK kty must be RSA"));
        }
        // A key published for another algorithm must not be used for RS256
        // (RFC 7517 §4.4): refusing it here prevents cross-algorithm key reuse.
        if jwk.alg.as_deref().is_some_and(|alg| alg != "RS256") {
            return Err(KeyError::Unsupported("JWK alg must be RS256"));
        }
        if jwk.usage.as_deref().is_some_and(|usage| usage != "sig") {
            return Err(KeyError::Unsupported("JWK use must be sig"));
        }
        Ok(jwk)
    }

    /// `n` and `e`, size-checked before any expensive arithmetic happens on them.
    fn public(&self) -> Result<(Vec<u8>, Vec<u8>), KeyError> {
        let n = strip_leading_zeros(&member("n", &self.n)?).to_vec();
        let e = strip_leading_zeros(&member("e", &self.e)?).to_vec();
        let bits = bit_len(&n);
        if !(MIN_KEY_BITS..=MAX_KEY_BITS).contains(&bits) {
            return Err(KeyError::Size(bits));
        }
        Ok((n, e))
    }
}

fn member(name: &'static str, value: &Option<String>) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let text = value.as_deref().ok_or(KeyError::JwkMember(name))?;
    b64::JWK_MEMBER
        .decode(text)
        .map(Zeroizing::new)
        .map_err(|_| KeyError::JwkMember(name))
}

/// Parse a private RSA JWK into its key id and aws-lc-rs key pair.
pub(super) fn parse_private(json: &str) -> Result<(String, KeyPair), KeyError> {
    let jwk = JwkIn::parse(json)?;
    let kid = match jwk.kid.as_deref() {
        Some(kid) if !kid.is_empty() => kid.to_owned(),
        _ => return Err(KeyError::Malformed("JWK has no kid")),
    };
    if jwk.d.is_none() {
        return Err(KeyError::Unsupported(
            "this is a public JWK; signing needs the private members",
        ));
    }
    if jwk.oth.is_some() {
        return Err(KeyError::Unsupported("multi-prime RSA keys"));
    }
    let (n, e) = jwk.public()?;
    // All CRT members are required, as WebCrypto requires them: aws-lc-rs checks them
    // against n, e and d, so an inconsistent key is refused here, not at first use.
    let d = member("d", &jwk.d)?;
    let p = member("p", &jwk.p)?;
    let q = member("q", &jwk.q)?;
    let dp = member("dp", &jwk.dp)?;
    let dq = member("dq", &jwk.dq)?;
    let qi = member("qi", &jwk.qi)?;
    let pair = KeyPair::from_components(&KeyPairComponents {
        public_key: PublicKeyComponents {
            n: n.as_slice(),
            e: e.as_slice(),
        },
        d: d.as_slice(),
        p: p.as_slice(),
        q: q.as_slice(),
        dP: dp.as_slice(),
        dQ: dq.as_slice(),
        qInv: qi.as_slice(),
    })?;
    Ok((kid, pair))
}

/// Parse the public members of an RSA JWK (private members are ignored).
pub(super) fn parse_public(json: &str) -> Result<VerifyingKey, KeyError> {
    let jwk = JwkIn::parse(json)?;
    let (n, e) = jwk.public()?;
    VerifyingKey::from_components(&n, &e)
}

/// `{"use":"sig","kty":"RSA","kid":…,"alg":"RS256","n":…,"e":…` without the closing brace.
fn write_public_members(out: &mut String, kid_json: &str, key: &VerifyingKey) {
    out.push_str(r#"{"use":"sig","kty":"RSA","kid":"#);
    out.push_str(kid_json);
    out.push_str(r#","alg":"RS256""#);
    write_member(out, "n", key.modulus());
    write_member(out, "e", key.exponent());
}

fn write_member(out: &mut String, name: &str, value: &[u8]) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":\"");
    b64::JWK_MEMBER.encode_string(value, out);
    out.push('"');
}

/// `kid` as a JSON string literal: Display of a JSON value is its escaped form.
fn json_string(kid: &str) -> String {
    serde_json::Value::String(kid.to_owned()).to_string()
}

pub(super) fn write_public(kid: &str, key: &VerifyingKey) -> String {
    let kid_json = json_string(kid);
    let mut out = String::with_capacity(128 + kid_json.len() + key.modulus().len() * 4 / 3);
    write_public_members(&mut out, &kid_json, key);
    out.push('}');
    out
}

pub(super) fn write_private(
    kid: &str,
    key: &VerifyingKey,
    private: &PrivateMembers,
) -> Zeroizing<String> {
    // Reserve everything up front so the buffer holding private members is never
    // reallocated, which would leave an unzeroized copy behind.
    let kid_json = json_string(kid);
    let mut out = Zeroizing::new(String::with_capacity(
        256 + kid_json.len() + key.modulus().len() * 6,
    ));
    write_public_members(&mut out, &kid_json, key);
    write_member(&mut out, "d", &private.d);
    write_member(&mut out, "p", &private.p);
    write_member(&mut out, "q", &private.q);
    write_member(&mut out, "dp", &private.dp);
    write_member(&mut out, "dq", &private.dq);
    write_member(&mut out, "qi", &private.qi);
    out.push('}');
    out
}
