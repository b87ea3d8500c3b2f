//! `accessRules` as JSON, as `POST …/token` receives them: strict parsing, evaluation for
//! a few clients, and a round trip (what is accepted serialises to rules that parse back
//! to the same thing — a token minted from them must mean what was asked).
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use usher_token::{MAX_RULES, evaluate, parse_rules};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(rules) = parse_rules(&value) else {
        return;
    };
    assert!(rules.len() <= MAX_RULES);
    let clients: [IpAddr; 3] = [
        "192.0.2.7".parse().expect("v4"),
        "::ffff:192.0.2.7".parse().expect("mapped"),
        "2001:db8::7".parse().expect("v6"),
    ];
    for client in clients {
        let mapped = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        for country in [None, Some("US"), Some("us"), Some("XX")] {
            let decision = evaluate(&rules, client, country);
            // A mapped address is the IPv4 client it carries.
            if let Some(v4) = mapped {
                assert_eq!(decision, evaluate(&rules, v4, country));
            }
        }
    }
    let text = serde_json::to_value(&rules).expect("rules serialise");
    let again = parse_rules(&text).expect("serialised rules parse");
    assert_eq!(again, rules, "rules changed in a round trip");
});
