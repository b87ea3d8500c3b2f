//! Property tests for everything that parses untrusted input (tokens, rules,
//! timestamps) and for rule evaluation against an independent reference model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use serde_json::{Value, json};
use usher_token::{
    AccessRule, Claims, CountryCode, Decision, RuleAction, RuleMatch, SigningKey, Timestamp,
    UnverifiedToken, evaluate, parse_rules, sign,
};

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate("prop").unwrap())
}

// ---------- strategies ----------

fn ipv4_net() -> impl Strategy<Value = IpNet> {
    (any::<u32>(), 0u8..=32)
        .prop_map(|(a, p)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), p).unwrap()))
}

/// IPv6 networks, avoiding IPv4-mapped entries (which parsing refuses by design).
fn ipv6_net() -> impl Strategy<Value = IpNet> {
    (any::<u128>(), 0u8..=128).prop_filter_map("mapped", |(a, p)| {
        let addr = Ipv6Addr::from(a);
        (addr.to_ipv4_mapped().is_none() || p < 96)
            .then(|| IpNet::V6(Ipv6Net::new(addr, p).unwrap()))
    })
}

/// Networks biased towards a small address space so clients actually hit them.
fn near_net() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (0u32..16, 24u8..=32).prop_map(|(a, p)| {
            IpNet::V4(Ipv4Net::new(Ipv4Addr::new(10, 0, 0, a as u8), p).unwrap())
        }),
        (0u16..16, 112u8..=128).prop_map(|(a, p)| {
            IpNet::V6(Ipv6Net::new(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, a), p).unwrap())
        }),
        ipv4_net(),
        ipv6_net(),
    ]
}

fn near_client() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (0u8..16).prop_map(|a| IpAddr::V4(Ipv4Addr::new(10, 0, 0, a))),
        (0u8..16).prop_map(|a| IpAddr::V6(Ipv4Addr::new(10, 0, 0, a).to_ipv6_mapped())),
        (0u16..16).prop_map(|a| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, a))),
        any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

fn country() -> impl Strategy<Value = CountryCode> {
    "[A-Ca-c]{2}".prop_map(|s| CountryCode::parse(&s).unwrap())
}

fn rule() -> impl Strategy<Value = AccessRule> {
    let matcher = prop_oneof![
        Just(RuleMatch::Any),
        prop::collection::vec(near_net(), 1..4).prop_map(RuleMatch::IpSrc),
        prop::collection::vec(country(), 1..4).prop_map(RuleMatch::Country),
    ];
    let action = prop_oneof![Just(RuleAction::Allow), Just(RuleAction::Block)];
    (action, matcher).prop_map(|(action, matcher)| AccessRule { action, matcher })
}

/// Arbitrary JSON, with rule vocabulary in its strings and keys so that the parser
/// goes deep rather than failing at the first type check.
fn json_value() -> impl Strategy<Value = Value> {
    let word = prop_oneof![
        Just("any".to_string()),
        Just("ip.src".to_string()),
        Just("ip.geoip.country".to_string()),
        Just("allow".to_string()),
        Just("block".to_string()),
        Just("1.2.3.4/24".to_string()),
        Just("::ffff:1.2.3.4".to_string()),
        Just("US".to_string()),
        ".{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        word.clone().prop_map(Value::from),
    ];
    let key = prop_oneof![
        Just("type".to_string()),
        Just("action".to_string()),
        Just("ip".to_string()),
        Just("country".to_string()),
        ".{0,6}",
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..7).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

// ---------- reference model ----------

/// First-match evaluation written independently of the crate: explicit bit masks.
fn reference(rules: &[AccessRule], client: IpAddr, country: Option<&str>) -> Decision {
    let client = match client {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
        v4 => v4,
    };
    let in_net = |net: &IpNet| match (net, client) {
        (IpNet::V4(n), IpAddr::V4(c)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(n.prefix_len()))
                .unwrap_or(0);
            u32::from(n.addr()) & mask == u32::from(c) & mask
        }
        (IpNet::V6(n), IpAddr::V6(c)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(n.prefix_len()))
                .unwrap_or(0);
            u128::from(n.addr()) & mask == u128::from(c) & mask
        }
        _ => false,
    };
    for rule in rules {
        let hit = match &rule.matcher {
            RuleMatch::Any => true,
            RuleMatch::IpSrc(nets) => nets.iter().any(in_net),
            RuleMatch::Country(codes) => country.is_some_and(|c| {
                codes
                    .iter()
                    .any(|code| code.as_str() == c.to_ascii_uppercase())
            }),
        };
        if hit {
            return match rule.action {
                RuleAction::Allow => Decision::Allow,
                RuleAction::Block => Decision::Block,
            };
        }
    }
    Decision::Allow
}

// ---------- properties ----------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(token) = UnverifiedToken::parse(&text) {
            let _ = token.kid();
            let _ = token.verify(&key().verifying_key());
        }
    }

    #[test]
    fn parse_never_panics_on_token_like_text(
        text in "[A-Za-z0-9_=+/.-]{0,300}",
    ) {
        if let Ok(token) = UnverifiedToken::parse(&text) {
            let _ = token.verify(&key().verifying_key());
        }
    }

    #[test]
    fn parse_never_panics_on_json_parts(header in json_value(), payload in json_value()) {
        use base64::Engine as _;
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let text = format!("{}.{}.AAAA", b64(&header), b64(&payload));
        if let Ok(token) = UnverifiedToken::parse(&text) {
            let _ = token.kid();
            prop_assert!(token.verify(&key().verifying_key()).is_err());
        }
    }

    #[test]
    fn parse_rules_never_panics(value in json_value()) {
        let _ = parse_rules(&value);
        let _ = parse_rules(&Value::Array(vec![value]));
    }

    #[test]
    fn rules_round_trip_through_serde(rules in prop::collection::vec(rule(), 0..=5)) {
        let wire = serde_json::to_value(&rules).unwrap();
        prop_assert_eq!(&parse_rules(&wire).unwrap(), &rules);
        let back: Vec<AccessRule> = serde_json::from_value(wire).unwrap();
        prop_assert_eq!(back, rules);
    }

    #[test]
    fn evaluate_matches_the_reference_model(
        rules in prop::collection::vec(rule(), 0..=5),
        client in near_client(),
        country in prop::option::of("[A-Da-d]{2}|[A-Z]{0,3}"),
    ) {
        let country = country.as_deref();
        prop_assert_eq!(evaluate(&rules, client, country), reference(&rules, client, country));
    }

    #[test]
    fn timestamps_accept_integers(t in 0i64..=253_402_300_799) {
        let as_number: Timestamp = serde_json::from_value(json!(t)).unwrap();
        let as_string: Timestamp = serde_json::from_value(json!(t.to_string())).unwrap();
        prop_assert_eq!(as_number, Timestamp(t));
        prop_assert_eq!(as_string, Timestamp(t));
    }

    #[test]
    fn timestamps_refuse_negatives(t in i64::MIN..0) {
        prop_assert!(serde_json::from_value::<Timestamp>(json!(t)).is_err());
        prop_assert!(serde_json::from_value::<Timestamp>(json!(t.to_string())).is_err());
    }

    #[test]
    fn timestamp_strings_are_digits_only(s in prop_oneof![
        ".{0,24}",
        "[0-9]{1,20}",
        "0{1,6}[0-9]{1,12}",
        "[ +-]?[0-9]{1,12}[ .]?[0-9]{0,3}",
    ]) {
        let accepted = serde_json::from_value::<Timestamp>(Value::String(s.clone())).is_ok();
        let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let in_range = s.parse::<u64>().is_ok_and(|v| v <= 253_402_300_799);
        prop_assert_eq!(accepted, digits && in_range);
    }

    #[test]
    fn signed_claims_round_trip(
        sub in "[0-9a-f]{1,32}",
        exp in 0i64..=253_402_300_799,
        downloadable in any::<bool>(),
        rules in prop::collection::vec(rule(), 0..=5),
    ) {
        let mut claims = Claims::new(sub);
        claims.exp = Some(Timestamp(exp));
        claims.downloadable = downloadable;
        claims.access_rules = rules;
        let token = sign(key(), &claims).unwrap();
        let verified = UnverifiedToken::parse(&token).unwrap().verify(&key().verifying_key()).unwrap();
        prop_assert_eq!(Claims { kid: None, ..verified }, claims);
    }
}
