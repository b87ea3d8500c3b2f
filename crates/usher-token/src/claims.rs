//! The claims a Usher / Cloudflare Stream token carries, and the time checks the
//! edge applies to them.
//!
//! Wire names are Cloudflare's (`sub`, `kid`, `exp`, `nbf`, `downloadable`,
//! `accessRules`); unknown claims are ignored so tokens minted by other tools with
//! extra claims (`iat`, `jti`, …) still work. Known claims are strict: a claim of the
//! wrong type or a malformed access rule makes the whole token invalid rather than
//! being silently dropped, since dropping a restriction would widen access.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rules::{AccessRule, deserialize_rule_list};

/// Longest lifetime a token may have left: `exp` at most this far ahead of now.
pub const MAX_TTL_SECS: i64 = 24 * 60 * 60;

/// Largest accepted timestamp, 9999-12-31T23:59:59Z. Keeps every accepted value
/// exactly representable as an `f64` and far from `i64` overflow in time arithmetic.
pub const MAX_TIMESTAMP: i64 = 253_402_300_799;

/// A time in whole seconds since the Unix epoch (`exp`, `nbf`).
///
/// Accepted on the wire (anything else is refused):
/// - a JSON integer in `0..=MAX_TIMESTAMP`, including integral floats such as
///   `1.7e9` or `1700000000.0`;
/// - a JSON number with a fractional part (RFC 7519 "NumericDate" allows one, and
///   PyJWT passes `time.time() + 3600` through as is), truncated to whole seconds —
///   at most one second off, well inside any clock skew;
/// - a string of ASCII digits only (Cloudflare's own tokens carry `"exp":"1621889657"`):
///   no sign, no spaces, no decimal point, no exponent.
///
/// Negative values, booleans, arrays, objects and non-numeric strings are refused
/// (`null` for the whole claim means the claim is absent). Always serialised as a JSON integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Parse the numeric-string form: ASCII digits only, at most [`MAX_TIMESTAMP`].
    pub fn from_digits(s: &str) -> Option<Self> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<i64>()
            .ok()
            .filter(|t| *t <= MAX_TIMESTAMP)
            .map(Timestamp)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TimestampVisitor)
    }
}

struct TimestampVisitor;

impl TimestampVisitor {
    fn in_range<E: de::Error>(t: i64) -> Result<Timestamp, E> {
        if (0..=MAX_TIMESTAMP).contains(&t) {
            Ok(Timestamp(t))
        } else {
            Err(E::custom("timestamp out of range (0 to year 9999)"))
        }
    }
}

impl<'de> Visitor<'de> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a unix timestamp (a non-negative number or a string of digits)")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
        Self::in_range(i64::try_from(v).unwrap_or(i64::MAX))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
        Self::in_range(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
        // The range check happens on the float, before the (saturating) cast.
        if v.is_finite() && (0.0..=MAX_TIMESTAMP as f64).contains(&v) {
            Ok(Timestamp(v.trunc() as i64))
        } else {
            Err(E::custom("timestamp out of range (0 to year 9999)"))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
        Timestamp::from_digits(v)
            .ok_or_else(|| E::custom("timestamp string must be digits only (e.g. \"1621889657\")"))
    }
}

/// The claims of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    /// The video uid this token grants access to (required, non-empty).
    #[serde(deserialize_with = "non_empty_string")]
    pub sub: String,
    /// The signing key id; [`crate::sign`] sets it to the key's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Expiry: the token is valid strictly before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<Timestamp>,
    /// Not before: the token is valid from this time on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<Timestamp>,
    /// Whether the token may fetch the MP4 download. Absent or `null` means false.
    #[serde(
        default,
        deserialize_with = "null_as_false",
        skip_serializing_if = "is_false"
    )]
    pub downloadable: bool,
    /// `accessRules`: at most [`crate::MAX_RULES`], each strictly valid.
    #[serde(
        default,
        deserialize_with = "deserialize_rule_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub access_rules: Vec<AccessRule>,
    /// A token's own id (RFC 7519 `jti`): what revokes this one token without revoking
    /// its key. Usher's `POST …/token` sets a random one; self-signed tokens may carry
    /// any string (a number is read as its digits) or none.
    #[serde(
        default,
        deserialize_with = "string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub jti: Option<String>,
}

/// Longest `jti` kept: longer ones are refused like any malformed claim.
pub const MAX_JTI_LEN: usize = 256;

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    let jti = match v {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(_) => return Err(de::Error::custom("jti must be a string")),
    };
    if jti.len() > MAX_JTI_LEN {
        return Err(de::Error::custom("jti too long"));
    }
    Ok(Some(jti))
}

fn non_empty_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Err(de::Error::custom("sub must not be empty"));
    }
    Ok(s)
}

fn null_as_false<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Why a token is not valid at this time; the messages are fit for a 401 body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error("token has no expiry (exp)")]
    MissingExp,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet (nbf)")]
    NotYetValid,
    #[error("token expiry is more than 24 hours ahead")]
    TooFarInFuture,
}

impl Claims {
    /// Claims for video `sub` with no restrictions set (no `exp` either: set one,
    /// the edge refuses tokens without it).
    pub fn new(sub: impl Into<String>) -> Self {
        Claims {
            sub: sub.into(),
            kid: None,
            exp: None,
            nbf: None,
            downloadable: false,
            access_rules: Vec::new(),
            jti: None,
        }
    }

    /// The edge's time checks, all widened by `skew` seconds of tolerated clock
    /// difference (negative skew counts as zero):
    /// `exp` is required; `nbf - skew <= now`; `now < exp + skew`;
    /// `exp <= now + MAX_TTL_SECS + skew` (a token cannot outlive 24 h of validity,
    /// whoever minted it).
    pub fn check_time(&self, now: i64, skew: i64) -> Result<(), ClaimsError> {
        self.check_exp(now, skew)?;
        self.check_nbf(now, skew)?;
        self.check_ttl(now, skew)
    }

    /// `exp` is present and `now < exp + skew`.
    pub fn check_exp(&self, now: i64, skew: i64) -> Result<(), ClaimsError> {
        let exp = self.exp.ok_or(ClaimsError::MissingExp)?.0;
        if now >= exp.saturating_add(skew.max(0)) {
            return Err(ClaimsError::Expired);
        }
        Ok(())
    }

    /// No `nbf`, or `nbf - skew <= now`.
    pub fn check_nbf(&self, now: i64, skew: i64) -> Result<(), ClaimsError> {
        match self.nbf {
            Some(Timestamp(nbf)) if nbf.saturating_sub(skew.max(0)) > now => {
                Err(ClaimsError::NotYetValid)
            }
            _ => Ok(()),
        }
    }

    /// `exp <= now + MAX_TTL_SECS + skew`.
    pub fn check_ttl(&self, now: i64, skew: i64) -> Result<(), ClaimsError> {
        let exp = self.exp.ok_or(ClaimsError::MissingExp)?.0;
        if exp > now.saturating_add(MAX_TTL_SECS).saturating_add(skew.max(0)) {
            return Err(ClaimsError::TooFarInFuture);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ts(v: serde_json::Value) -> Result<Timestamp, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn timestamp_accepts_numbers_and_digit_strings() {
        assert_eq!(ts(json!(1621889657)).unwrap(), Timestamp(1621889657));
        assert_eq!(ts(json!("1621889657")).unwrap(), Timestamp(1621889657));
        assert_eq!(ts(json!(0)).unwrap(), Timestamp(0));
        assert_eq!(ts(json!(1.7e9)).unwrap(), Timestamp(1_700_000_000));
        assert_eq!(ts(json!(1700000000.75)).unwrap(), Timestamp(1_700_000_000));
        assert_eq!(ts(json!("0001")).unwrap(), Timestamp(1));
    }

    #[test]
    fn timestamp_refuses_everything_else() {
        for bad in [
            json!(true),
            json!(false),
            json!(-1),
            json!(-0.5),
            json!("1.5"),
            json!("1621889657.0"),
            json!("-5"),
            json!("+5"),
            json!(" 5"),
            json!("5 "),
            json!(""),
            json!("1e9"),
            json!("abc"),
            json!({}),
            json!([1]),
            json!(1e300),
            json!(MAX_TIMESTAMP + 1),
            json!(u64::MAX),
            json!("99999999999999999999999"),
        ] {
            assert!(ts(bad.clone()).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn claims_wire_shape() {
        let c: Claims = serde_json::from_value(json!({
            "sub": "abc", "kid": "k", "exp": "1621889657", "nbf": 1621882457,
            "downloadable": true, "iat": 5, "jti": "x",
            "accessRules": [{"type": "any", "action": "block"}]
        }))
        .unwrap();
        assert_eq!(c.exp, Some(Timestamp(1621889657)));
        assert!(c.downloadable);
        assert_eq!(c.access_rules.len(), 1);
        let out = serde_json::to_value(&c).unwrap();
        assert_eq!(
            out,
            // `iat` is dropped; `jti` is kept (it names the token for revocation).
            json!({"sub": "abc", "kid": "k", "exp": 1621889657, "nbf": 1621882457,
                   "downloadable": true, "jti": "x",
                   "accessRules": [{"type": "any", "action": "block"}]})
        );
        let minimal = serde_json::to_string(&Claims::new("v")).unwrap();
        assert_eq!(minimal, r#"{"sub":"v"}"#);
    }

    #[test]
    fn claims_refusals() {
        for bad in [
            json!({}),
            json!({"sub": ""}),
            json!({"sub": 5}),
            json!({"sub": "v", "exp": true}),
            json!({"sub": "v", "exp": "soon"}),
            json!({"sub": "v", "downloadable": "true"}),
            json!({"sub": "v", "accessRules": {}}),
            json!({"sub": "v", "accessRules": [{"type": "nope", "action": "block"}]}),
            json!({"sub": "v", "accessRules": vec![json!({"type": "any", "action": "block"}); 6]}),
            json!([1, 2]),
        ] {
            assert!(
                serde_json::from_value::<Claims>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        let nulls: Claims = serde_json::from_value(
            json!({"sub": "v", "downloadable": null, "accessRules": null, "exp": null}),
        )
        .unwrap();
        assert_eq!(nulls, Claims::new("v"));
    }

    #[test]
    fn rules_read_from_raw_json() {
        let dup = r#"{"sub":"v","accessRules":[{"type":"ip.src","action":"block","ip":["1.2.3.4"],"ip":["5.6.7.8"]}]}"#;
        let err = serde_json::from_str::<Claims>(dup).unwrap_err().to_string();
        assert!(
            err.contains("accessRules[0].ip: appears more than once"),
            "{err}"
        );
        // Escaped strings are not borrowed from the input but read all the same.
        let escaped = r#"{"sub":"v","accessRules":[{"type":"ip.s\u0072c","action":"block","ip":["1.2.3.\u0034"]}]}"#;
        let claims: Claims = serde_json::from_str(escaped).unwrap();
        assert_eq!(
            claims.access_rules[0].matcher,
            crate::RuleMatch::IpSrc(vec!["1.2.3.4/32".parse().unwrap()])
        );
    }

    #[test]
    fn check_time_boundaries() {
        let now = 1_000_000;
        let mut c = Claims::new("v");
        assert_eq!(c.check_time(now, 0), Err(ClaimsError::MissingExp));
        c.exp = Some(Timestamp(now + 1));
        assert_eq!(c.check_time(now, 0), Ok(()));
        c.exp = Some(Timestamp(now));
        assert_eq!(c.check_time(now, 0), Err(ClaimsError::Expired));
        assert_eq!(c.check_time(now, 1), Ok(()));
        c.exp = Some(Timestamp(now + MAX_TTL_SECS));
        assert_eq!(c.check_time(now, 0), Ok(()));
        c.exp = Some(Timestamp(now + MAX_TTL_SECS + 1));
        assert_eq!(c.check_time(now, 0), Err(ClaimsError::TooFarInFuture));
        assert_eq!(c.check_time(now, 1), Ok(()));
        c.exp = Some(Timestamp(now + 60));
        c.nbf = Some(Timestamp(now + 30));
        assert_eq!(c.check_time(now, 0), Err(ClaimsError::NotYetValid));
        assert_eq!(c.check_time(now, 30), Ok(()));
        c.nbf = Some(Timestamp(now));
        assert_eq!(c.check_time(now, -100), Ok(()));
        c.exp = Some(Timestamp(MAX_TIMESTAMP));
        assert_eq!(c.check_time(i64::MAX, i64::MAX), Err(ClaimsError::Expired));
    }
}
