//! Access rules: Cloudflare's documented examples, evaluation edge cases, and every
//! refusal with the message an API user would see.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn rules(value: Value) -> Vec<AccessRule> {
    parse_rules(&value).unwrap()
}

fn error(value: Value) -> String {
    parse_rules(&value).unwrap_err().to_string()
}

#[test]
fn cloudflare_block_countries_example() {
    let rules = rules(json!([
        {"type": "ip.geoip.country", "action": "block", "country": ["US", "DE", "MX"]}
    ]));
    assert_eq!(evaluate(&rules, ip("1.1.1.1"), Some("US")), Decision::Block);
    assert_eq!(evaluate(&rules, ip("1.1.1.1"), Some("GB")), Decision::Allow);
    assert_eq!(evaluate(&rules, ip("1.1.1.1"), None), Decision::Allow);
}

#[test]
fn cloudflare_allow_countries_or_ips_example() {
    let rules = rules(json!([
        {"type": "ip.geoip.country", "country": ["US", "MX"], "action": "allow"},
        {"type": "ip.src", "ip": ["93.184.216.0/24", "2400:cb00::/32"], "action": "allow"},
        {"type": "any", "action": "block"}
    ]));
    let cases = [
        ("8.8.8.8", Some("US"), Decision::Allow),
        ("8.8.8.8", Some("FR"), Decision::Block),
        ("93.184.216.34", Some("FR"), Decision::Allow),
        ("93.184.217.34", Some("FR"), Decision::Block),
        ("2400:cb00::1", None, Decision::Allow),
        ("2400:cb01::1", None, Decision::Block),
        ("::ffff:93.184.216.34", None, Decision::Allow),
        ("::ffff:8.8.8.8", Some("mx"), Decision::Allow),
    ];
    for (client, country, expected) in cases {
        assert_eq!(
            evaluate(&rules, ip(client), country),
            expected,
            "{client} {country:?}"
        );
    }
}

#[test]
fn families_never_cross() {
    let v4_everything = rules(json!([{"type": "ip.src", "action": "block", "ip": ["0.0.0.0/0"]}]));
    let v6_everything = rules(json!([{"type": "ip.src", "action": "block", "ip": ["::/0"]}]));
    assert_eq!(
        evaluate(&v4_everything, ip("1.2.3.4"), None),
        Decision::Block
    );
    assert_eq!(
        evaluate(&v4_everything, ip("::ffff:1.2.3.4"), None),
        Decision::Block
    );
    assert_eq!(
        evaluate(&v4_everything, ip("2001:db8::1"), None),
        Decision::Allow
    );
    assert_eq!(
        evaluate(&v6_everything, ip("2001:db8::1"), None),
        Decision::Block
    );
    assert_eq!(
        evaluate(&v6_everything, ip("1.2.3.4"), None),
        Decision::Allow
    );
    assert_eq!(
        evaluate(&v6_everything, ip("::ffff:1.2.3.4"), None),
        Decision::Allow
    );
}

#[test]
fn first_match_decides_and_no_match_allows() {
    let rules = rules(json!([
        {"type": "ip.src", "action": "allow", "ip": ["10.0.0.1"]},
        {"type": "ip.src", "action": "block", "ip": ["10.0.0.0/8"]}
    ]));
    assert_eq!(evaluate(&rules, ip("10.0.0.1"), None), Decision::Allow);
    assert_eq!(evaluate(&rules, ip("10.0.0.2"), None), Decision::Block);
    assert_eq!(evaluate(&rules, ip("11.0.0.2"), None), Decision::Allow);
    assert_eq!(evaluate(&[], ip("11.0.0.2"), None), Decision::Allow);
}

#[test]
fn unknown_or_odd_country_never_matches() {
    let rules = rules(json!([{"type": "ip.geoip.country", "action": "block", "country": ["us"]}]));
    assert_eq!(
        rules[0].matcher,
        RuleMatch::Country(vec![CountryCode::parse("US").unwrap()])
    );
    for country in [None, Some(""), Some("USA"), Some("U"), Some("1S")] {
        assert_eq!(
            evaluate(&rules, ip("1.2.3.4"), country),
            Decision::Allow,
            "{country:?}"
        );
    }
    assert_eq!(evaluate(&rules, ip("1.2.3.4"), Some("uS")), Decision::Block);
}

#[test]
fn bare_addresses_are_single_hosts() {
    let parsed = rules(
        json!([{"type": "ip.src", "action": "allow", "ip": ["1.2.3.4", "2001:db8::1", "10.1.2.3/8"]}]),
    );
    let RuleMatch::IpSrc(nets) = &parsed[0].matcher else {
        panic!("not an ip rule")
    };
    let shown: Vec<String> = nets.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["1.2.3.4/32", "2001:db8::1/128", "10.1.2.3/8"]);
    assert_eq!(evaluate(&parsed, ip("10.200.0.1"), None), Decision::Allow);
}

#[test]
fn serde_wire_shape() {
    let value = json!([
        {"type": "ip.geoip.country", "action": "allow", "country": ["GB"]},
        {"type": "ip.src", "action": "block", "ip": ["93.184.216.0/24"]},
        {"type": "any", "action": "block"}
    ]);
    let parsed = rules(value.clone());
    assert_eq!(serde_json::to_value(&parsed).unwrap(), value);
    let back: Vec<AccessRule> = serde_json::from_value(value).unwrap();
    assert_eq!(back, parsed);
    // Extra members are ignored, null lists are absent lists.
    let lenient =
        rules(json!([{"type": "any", "action": "allow", "ip": null, "country": [], "note": 1}]));
    assert_eq!(lenient[0].matcher, RuleMatch::Any);
}

#[test]
fn refusals_name_the_rule_and_field() {
    let any = json!({"type": "any", "action": "block"});
    let cases = [
        (json!({}), "accessRules must be an array"),
        (
            Value::Array(vec![any.clone(); 6]),
            "accessRules has 6 rules; at most 5 are allowed",
        ),
        (json!([any, 5]), "accessRules[1]: must be an object"),
        (
            json!([{"action": "block"}]),
            "accessRules[0].type: is required",
        ),
        (
            json!([{"type": 1, "action": "block"}]),
            "accessRules[0].type: must be a string",
        ),
        (
            json!([{"type": "ip.dst", "action": "block"}]),
            "accessRules[0].type: unknown rule type \"ip.dst\"",
        ),
        (
            json!([{"type": "any"}]),
            "accessRules[0].action: is required",
        ),
        (
            json!([{"type": "any", "action": "deny"}]),
            "accessRules[0].action: unknown action \"deny\"",
        ),
        (
            json!([{"type": "any", "action": "Block"}]),
            "accessRules[0].action: unknown action",
        ),
        (
            json!([{"type": "ip.src", "action": "block"}]),
            "accessRules[0].ip: must list at least one",
        ),
        (
            json!([{"type": "ip.src", "action": "block", "ip": []}]),
            "accessRules[0].ip: must list at least one",
        ),
        (
            json!([{"type": "ip.src", "action": "block", "ip": "1.2.3.4"}]),
            "accessRules[0].ip: must be an array",
        ),
        (
            json!([{"type": "ip.src", "action": "block", "ip": ["1.2.3.4", 5]}]),
            "accessRules[0].ip[1]: must be a string",
        ),
        (
            json!([{"type": "ip.src", "action": "block", "ip": ["1.2.3.4/33"]}]),
            "accessRules[0].ip[0]: \"1.2.3.4/33\" is not a valid CIDR",
        ),
        (
            json!([{"type": "ip.src", "action": "block", "ip": ["::/129"]}]),
            "accessRules[0].ip[0]: \"::/129\" is not a valid CIDR",
        ),
        (
            json!([{"type": "ip.src", "action": "block", "ip": ["1.2.3"]}]),
            "is not an IP address or CIDR",
        ),
        (
            json!([{"type": "ip.src", "action": "block", "ip": [" 1.2.3.4"]}]),
            "is not an IP address or CIDR",
        ),
        (
            json!([{"type": "ip.src", "action": "block", "ip": ["1.2.3.4/"]}]),
            "is not a valid CIDR",
        ),
        (
            json!([{"type": "ip.src", "action": "block", "ip": ["::ffff:1.2.3.4"]}]),
            "write it as IPv4 (1.2.3.4/32)",
        ),
        (
            json!([{"type": "ip.src", "action": "block", "ip": ["1.2.3.4"], "country": ["US"]}]),
            "accessRules[0].country: is not allowed on a rule of type ip.src",
        ),
        (
            json!([{"type": "any", "action": "block", "ip": ["1.2.3.4"]}]),
            "accessRules[0].ip: is not allowed on a rule of type any",
        ),
        (
            json!([{"type": "ip.geoip.country", "action": "block"}]),
            "accessRules[0].country: must list at least one",
        ),
        (
            json!([{"type": "ip.geoip.country", "action": "block", "country": ["USA"]}]),
            "accessRules[0].country[0]: \"USA\" is not an ISO 3166-1",
        ),
        (
            json!([{"type": "ip.geoip.country", "action": "block", "country": ["U1"]}]),
            "country[0]",
        ),
        (
            json!([{"type": "ip.geoip.country", "action": "block", "country": ["ÜS"]}]),
            "country[0]",
        ),
        (
            json!([{"type": "ip.geoip.country", "action": "block", "country": ["GB", ""]}]),
            "country[1]",
        ),
    ];
    for (value, expected) in cases {
        let message = error(value.clone());
        assert!(
            message.contains(expected),
            "{value}: {message:?} lacks {expected:?}"
        );
    }
}

#[test]
fn echoed_input_is_bounded() {
    let long = "x".repeat(10_000);
    let message = error(json!([{"type": long, "action": "block"}]));
    assert!(message.len() < 200, "{}", message.len());
}

#[test]
fn single_rule_deserialize_is_as_strict() {
    let bad: Result<AccessRule, _> =
        serde_json::from_value(json!({"type": "ip.src", "action": "block"}));
    assert_eq!(
        bad.unwrap_err().to_string(),
        "accessRules.ip: must list at least one IP address or CIDR"
    );
}
