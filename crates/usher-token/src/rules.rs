//! Cloudflare `accessRules`: who may use a token, by client IP or country.
//!
//! The wire shape is Cloudflare's:
//! `{"type":"any"|"ip.src"|"ip.geoip.country","action":"allow"|"block","ip":[…],"country":[…]}`.
//! Rules are evaluated first to last; the first rule that matches decides; if none
//! matches the token is valid.
//!
//! Parsing is strict because a rule that silently means something else than its author
//! intended is a hole in their access control: unknown types and actions, missing or
//! empty lists, a list that does not belong to the rule type, malformed addresses and
//! prefixes too long for their family are all refused — at token creation (a 400
//! naming the rule and field) and at the edge (the whole token is invalid).
//!
//! Choices where Cloudflare's documentation is silent:
//! - country codes are two ASCII letters in any case, normalised to upper case;
//! - a bare address means a single host (`/32` or `/128`); a CIDR may have host bits set
//!   (`10.1.2.3/8` means `10.0.0.0/8`) and keeps its spelling when serialised;
//! - IPv4-mapped IPv6 entries (`::ffff:1.2.3.4`, prefix ≥ 96) are refused with a hint to
//!   write the IPv4 form: mapped *clients* count as IPv4, so such an entry could never
//!   match anyone;
//! - a list on a rule type that does not use it is refused unless it is `null` or empty;
//! - a member given twice in one rule is refused; unknown members are ignored.

#[cfg(test)]
mod tests;
mod wire;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::de::Error as _;
use serde::ser::SerializeMap as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Most rules a token may carry, as Cloudflare's `/token` endpoint allows.
pub const MAX_RULES: usize = 5;

/// What a matching rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleAction {
    Allow,
    Block,
}

impl RuleAction {
    /// The wire name: `allow` or `block`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleAction::Allow => "allow",
            RuleAction::Block => "block",
        }
    }
}

/// An ISO 3166-1 alpha-2 country code, stored upper case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Two ASCII letters in any case; anything else is `None`.
    pub fn parse(code: &str) -> Option<Self> {
        match code.as_bytes() {
            &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => Some(CountryCode([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
            ])),
            _ => None,
        }
    }

    /// The upper-case code, e.g. `"GB"`.
    pub fn as_str(&self) -> &str {
        // Always two ASCII letters, hence valid UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl FromStr for CountryCode {
    type Err = RuleError;
    fn from_str(code: &str) -> Result<Self, RuleError> {
        CountryCode::parse(code)
            .ok_or_else(|| RuleError::field(None, "country", wire::bad_country(code)))
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CountryCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Which clients a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleMatch {
    /// `"type":"any"` — every client.
    Any,
    /// `"type":"ip.src"` — clients whose address is in one of these networks.
    IpSrc(Vec<IpNet>),
    /// `"type":"ip.geoip.country"` — clients located in one of these countries.
    Country(Vec<CountryCode>),
}

impl RuleMatch {
    /// The wire `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            RuleMatch::Any => "any",
            RuleMatch::IpSrc(_) => "ip.src",
            RuleMatch::Country(_) => "ip.geoip.country",
        }
    }

    /// `client` must already be canonical (IPv4-mapped IPv6 turned into IPv4).
    fn matches(&self, client: IpAddr, country: Option<CountryCode>) -> bool {
        match self {
            RuleMatch::Any => true,
            // IpNet::contains is false across families: v4 rules never match v6 clients.
            RuleMatch::IpSrc(nets) => nets.iter().any(|net| net.contains(&client)),
            RuleMatch::Country(codes) => country.is_some_and(|c| codes.contains(&c)),
        }
    }
}

/// One access rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    pub action: RuleAction,
    pub matcher: RuleMatch,
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Allow,
    Block,
}

/// Apply `rules` to a client: the first matching rule decides; no match allows.
///
/// An IPv4-mapped IPv6 client (`::ffff:a.b.c.d`) counts as IPv4. A country rule never
/// matches when `country` is `None` (unknown location) or not a two-letter code.
pub fn evaluate(rules: &[AccessRule], client: IpAddr, country: Option<&str>) -> Decision {
    first_match(rules, client, country).map_or(Decision::Allow, |(_, rule)| match rule.action {
        RuleAction::Allow => Decision::Allow,
        RuleAction::Block => Decision::Block,
    })
}

/// The rule that decides for this client, with its index: what [`evaluate`] follows,
/// and what `token explain` reports.
pub fn first_match<'r>(
    rules: &'r [AccessRule],
    client: IpAddr,
    country: Option<&str>,
) -> Option<(usize, &'r AccessRule)> {
    let client = client.to_canonical();
    let country = country.and_then(CountryCode::parse);
    rules
        .iter()
        .enumerate()
        .find(|(_, rule)| rule.matcher.matches(client, country))
}

/// An invalid `accessRules` value; the message names the rule index and field and
/// is meant to be shown to the API user as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleError {
    /// `accessRules` is not a JSON array.
    NotAnArray,
    /// More than [`MAX_RULES`] rules.
    TooMany(usize),
    /// One rule is invalid. `field` is e.g. `"type"` or `"ip[2]"`, empty for the
    /// rule as a whole; `index` is `None` when the rule was parsed on its own.
    Invalid {
        index: Option<usize>,
        field: String,
        reason: String,
    },
}

impl RuleError {
    fn field(index: Option<usize>, field: impl Into<String>, reason: impl Into<String>) -> Self {
        RuleError::Invalid {
            index,
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleError::NotAnArray => f.write_str("accessRules must be an array"),
            RuleError::TooMany(n) => {
                write!(
                    f,
                    "accessRules has {n} rules; at most {MAX_RULES} are allowed"
                )
            }
            RuleError::Invalid {
                index,
                field,
                reason,
            } => {
                f.write_str("accessRules")?;
                if let Some(i) = index {
                    write!(f, "[{i}]")?;
                }
                if !field.is_empty() {
                    write!(f, ".{field}")?;
                }
                write!(f, ": {reason}")
            }
        }
    }
}

impl std::error::Error for RuleError {}

/// Parse and validate an `accessRules` JSON value (an array of at most [`MAX_RULES`]
/// rules). The first problem found is reported.
pub fn parse_rules(value: &Value) -> Result<Vec<AccessRule>, RuleError> {
    // A `&Value` is a serde Deserializer; reading it as `Raw` cannot fail.
    let raw = wire::Raw::deserialize(value).map_err(|_| RuleError::NotAnArray)?;
    wire::rules(&raw)
}

impl Serialize for AccessRule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = if self.matcher == RuleMatch::Any { 2 } else { 3 };
        let mut map = s.serialize_map(Some(fields))?;
        map.serialize_entry("type", self.matcher.type_name())?;
        map.serialize_entry("action", self.action.as_str())?;
        match &self.matcher {
            RuleMatch::Any => {}
            RuleMatch::IpSrc(nets) => {
                let texts: Vec<String> = nets.iter().map(IpNet::to_string).collect();
                map.serialize_entry("ip", &texts)?;
            }
            RuleMatch::Country(codes) => map.serialize_entry("country", codes)?,
        }
        map.end()
    }
}

/// Same strict rules as [`parse_rules`], for one rule.
impl<'de> Deserialize<'de> for AccessRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = wire::Raw::deserialize(d)?;
        wire::rule(None, &raw).map_err(D::Error::custom)
    }
}

/// serde helper for a field holding an `accessRules` array (`null` means no rules).
pub(crate) fn deserialize_rule_list<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<AccessRule>, D::Error> {
    match wire::Raw::deserialize(d)? {
        wire::Raw::Null => Ok(Vec::new()),
        raw => wire::rules(&raw).map_err(D::Error::custom),
    }
}
