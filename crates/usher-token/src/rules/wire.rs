//! Reading `accessRules` off the wire: one strict validator for both callers.
//!
//! The API validates a request body it already holds as a `serde_json::Value`; the
//! edge validates the `accessRules` claim while deserializing a token on every
//! request. Both go through the same tolerant intermediate form ([`RawRules`]), which
//! accepts *any* JSON and only notes what it found, so that the validator — not serde —
//! decides what is wrong and can say so precisely ("accessRules[1].ip[0]: …"). It
//! borrows strings from the input, which keeps the per-request cost low (building a
//! `Value` tree first was a measurable share of a token verification).

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{AccessRule, CountryCode, MAX_RULES, RuleAction, RuleError, RuleMatch};

/// Longest piece of user input quoted back in an error message.
const MAX_ECHO_CHARS: usize = 48;

/// Any JSON value, reduced to what validation needs to know about it.
pub(super) enum Raw<'a> {
    Null,
    Str(Cow<'a, str>),
    Seq(Vec<Raw<'a>>),
    /// An object: the rule members we know, plus any duplicate member name.
    Rule(Box<RawRule<'a>>),
    /// A number or boolean.
    Scalar,
}

#[derive(Default)]
pub(super) struct RawRule<'a> {
    kind: Option<Raw<'a>>,
    action: Option<Raw<'a>>,
    ip: Option<Raw<'a>>,
    country: Option<Raw<'a>>,
    duplicate: Option<&'static str>,
}

impl<'de> Deserialize<'de> for Raw<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Raw<'de>, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Raw<'de>, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw<'de>, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Raw<'de>, E> {
        Ok(Raw::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Raw<'de>, E> {
        Ok(Raw::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Raw<'de>, E> {
        Ok(Raw::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Raw<'de>, E> {
        Ok(Raw::Scalar)
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Raw<'de>, E> {
        Ok(Raw::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Raw<'de>, E> {
        Ok(Raw::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Raw<'de>, E> {
        Ok(Raw::Str(Cow::Owned(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw<'de>, A::Error> {
        let mut rule = RawRule::default();
        while let Some(key) = map.next_key::<Raw<'de>>()? {
            let (slot, name) = match &key {
                Raw::Str(k) if k == "type" => (&mut rule.kind, "type"),
                Raw::Str(k) if k == "action" => (&mut rule.action, "action"),
                Raw::Str(k) if k == "ip" => (&mut rule.ip, "ip"),
                Raw::Str(k) if k == "country" => (&mut rule.country, "country"),
                // Unknown members are ignored, as everywhere in the API.
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if slot.is_some() {
                rule.duplicate.get_or_insert(name);
            }
            *slot = Some(map.next_value()?);
        }
        Ok(Raw::Rule(Box::new(rule)))
    }
}

/// Validate a whole `accessRules` array.
pub(super) fn rules(raw: &Raw<'_>) -> Result<Vec<AccessRule>, RuleError> {
    let Raw::Seq(items) = raw else {
        return Err(RuleError::NotAnArray);
    };
    if items.len() > MAX_RULES {
        return Err(RuleError::TooMany(items.len()));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| rule(Some(index), item))
        .collect()
}

/// Validate one rule; `index` is its position in the array, when there is one.
pub(super) fn rule(index: Option<usize>, raw: &Raw<'_>) -> Result<AccessRule, RuleError> {
    let err = |field: &str, reason: String| RuleError::field(index, field, reason);
    let Raw::Rule(rule) = raw else {
        return Err(err("", "must be an object".into()));
    };
    if let Some(name) = rule.duplicate {
        return Err(err(name, "appears more than once".into()));
    }

    let kind = text(&rule.kind).map_err(|reason| err("type", reason.into()))?;
    if !matches!(kind, "any" | "ip.src" | "ip.geoip.country") {
        return Err(err(
            "type",
            format!(
                "unknown rule type {}; expected any, ip.src or ip.geoip.country",
                echo(kind)
            ),
        ));
    }
    let action = match text(&rule.action).map_err(|reason| err("action", reason.into()))? {
        "allow" => RuleAction::Allow,
        "block" => RuleAction::Block,
        other => {
            return Err(err(
                "action",
                format!("unknown action {}; expected allow or block", echo(other)),
            ));
        }
    };
    let ips = list(&rule.ip).map_err(|reason| err("ip", reason.into()))?;
    let countries = list(&rule.country).map_err(|reason| err("country", reason.into()))?;
    // A list the rule type does not use is most likely a mistyped `type`.
    let unused = match kind {
        "any" => [("ip", ips), ("country", countries)],
        "ip.src" => [("country", countries), ("", &[][..])],
        _ => [("ip", ips), ("", &[][..])],
    };
    if let Some((name, _)) = unused.iter().find(|(_, items)| !items.is_empty()) {
        return Err(err(
            name,
            format!("is not allowed on a rule of type {kind}"),
        ));
    }

    let matcher = match kind {
        "ip.src" if ips.is_empty() => {
            return Err(err(
                "ip",
                "must list at least one IP address or CIDR".into(),
            ));
        }
        "ip.src" => RuleMatch::IpSrc(entries(index, "ip", ips, parse_ip_net)?),
        "ip.geoip.country" if countries.is_empty() => {
            return Err(err("country", "must list at least one country code".into()));
        }
        "ip.geoip.country" => RuleMatch::Country(entries(index, "country", countries, |s| {
            CountryCode::parse(s).ok_or_else(|| bad_country(s))
        })?),
        _ => RuleMatch::Any,
    };
    Ok(AccessRule { action, matcher })
}

/// Parse each entry of the list member `name`, which must all be strings. The field
/// path (`ip[3]`) is only formatted on error: this runs on every token verification.
fn entries<T>(
    index: Option<usize>,
    name: &str,
    items: &[Raw<'_>],
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, RuleError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let reason = match item {
                Raw::Str(s) => match parse(s) {
                    Ok(value) => return Ok(value),
                    Err(reason) => reason,
                },
                _ => "must be a string".into(),
            };
            Err(RuleError::field(index, format!("{name}[{i}]"), reason))
        })
        .collect()
}

/// A member that must be a string.
fn text<'r>(value: &'r Option<Raw<'_>>) -> Result<&'r str, &'static str> {
    match value {
        None | Some(Raw::Null) => Err("is required"),
        Some(Raw::Str(s)) => Ok(s),
        Some(_) => Err("must be a string"),
    }
}

/// A member that may be absent or `null` (an empty list) or an array.
fn list<'r, 'a>(value: &'r Option<Raw<'a>>) -> Result<&'r [Raw<'a>], &'static str> {
    match value {
        None | Some(Raw::Null) => Ok(&[]),
        Some(Raw::Seq(items)) => Ok(items),
        Some(_) => Err("must be an array of strings"),
    }
}

/// An address (a single host) or a CIDR, in its family's prefix range.
fn parse_ip_net(s: &str) -> Result<IpNet, String> {
    let net = if s.contains('/') {
        IpNet::from_str(s).map_err(|_| {
            format!(
                "{} is not a valid CIDR (prefix at most /32 for IPv4, /128 for IPv6)",
                echo(s)
            )
        })?
    } else {
        IpAddr::from_str(s)
            .map(IpNet::from)
            .map_err(|_| format!("{} is not an IP address or CIDR", echo(s)))?
    };
    if let IpNet::V6(v6) = net
        && let Some(v4) = v6.addr().to_ipv4_mapped().filter(|_| v6.prefix_len() >= 96)
    {
        return Err(format!(
            "{} is an IPv4-mapped IPv6 address; write it as IPv4 ({v4}/{})",
            echo(s),
            v6.prefix_len() - 96
        ));
    }
    Ok(net)
}

pub(super) fn bad_country(s: &str) -> String {
    format!(
        "{} is not an ISO 3166-1 alpha-2 country code (two letters)",
        echo(s)
    )
}

/// User input quoted for an error message, shortened so a hostile value cannot
/// bloat the response.
fn echo(s: &str) -> String {
    if s.chars().count() <= MAX_ECHO_CHARS {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX_ECHO_CHARS).collect();
        format!("{head:?}…")
    }
}
