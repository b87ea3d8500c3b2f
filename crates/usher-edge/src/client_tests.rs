//! Client address from `X-Forwarded-For` (tables and properties: a spoofer never picks
//! the address) and countries from both database record shapes.

use axum::http::HeaderValue;
use mmdb_writer::{IpVersion, Value, Writer};
use proptest::prelude::*;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn headers(values: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        h.append(X_FORWARDED_FOR, HeaderValue::from_str(v).unwrap());
    }
    h
}

/// Proxies at 10.0.0.0/8 and 2001:db8:ff::/48.
fn behind_proxies() -> Clients {
    Clients::new(
        vec![
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8:ff::/48".parse().unwrap(),
        ],
        None,
    )
}

#[test]
fn entries_parse_in_every_form_proxies_write() {
    for (raw, want) in [
        ("1.2.3.4", Some("1.2.3.4")),
        ("  1.2.3.4\t", Some("1.2.3.4")),
        ("1.2.3.4:5678", Some("1.2.3.4")),
        ("2001:db8::1", Some("2001:db8::1")),
        ("[2001:db8::1]", Some("2001:db8::1")),
        ("[2001:db8::1]:443", Some("2001:db8::1")),
        ("::ffff:1.2.3.4", Some("1.2.3.4")),
        ("[::ffff:1.2.3.4]:80", Some("1.2.3.4")),
        ("", None),
        ("unknown", None),
        ("_hidden", None),
        ("1.2.3", None),
        ("1.2.3.4.5", None),
        ("[1.2.3.4]", None),
        ("2001:db8::1:443x", None),
        ("1.2.3.4 5.6.7.8", None),
        ("\"1.2.3.4\"", None),
    ] {
        assert_eq!(parse_entry(raw.as_bytes()), want.map(ip), "{raw:?}");
    }
    assert_eq!(parse_entry(b"1.2.3.4\xff"), None);
}

#[test]
fn an_untrusted_peer_is_the_client_whatever_it_sends() {
    let c = behind_proxies();
    assert_eq!(
        c.client_ip(ip("203.0.113.9"), &headers(&["198.51.100.1"])),
        ip("203.0.113.9")
    );
    // No proxies configured: nobody's header counts, not even a private address's.
    let none = Clients::default();
    assert_eq!(
        none.client_ip(ip("10.0.0.1"), &headers(&["198.51.100.1"])),
        ip("10.0.0.1")
    );
    // Positive control: the same header through a trusted peer is believed.
    assert_eq!(
        c.client_ip(ip("10.0.0.1"), &headers(&["198.51.100.1"])),
        ip("198.51.100.1")
    );
}

#[test]
fn the_chain_is_read_from_the_right_skipping_trusted_hops() {
    let c = behind_proxies();
    let peer = ip("10.0.0.1");
    for (xff, want) in [
        (&["198.51.100.1"][..], "198.51.100.1"),
        // The left-most entry came from the client: ignored.
        (&["192.0.2.66, 198.51.100.1"], "198.51.100.1"),
        (
            &["192.0.2.66, 198.51.100.1, 10.1.1.1, 10.2.2.2"],
            "198.51.100.1",
        ),
        (&["192.0.2.66,198.51.100.1,2001:db8:ff::7"], "198.51.100.1"),
        // Several header instances form one list, in order.
        (
            &["192.0.2.66", "198.51.100.1, 10.1.1.1", "10.2.2.2"],
            "198.51.100.1",
        ),
        (&["198.51.100.1", "192.0.2.66"], "192.0.2.66"),
        (&["[2001:db8::5]:1234, 10.1.1.1"], "2001:db8::5"),
        (&["::ffff:198.51.100.1"], "198.51.100.1"),
        // Every entry trusted: the left-most hop is as far as anyone can tell.
        (&["10.9.9.9, 10.1.1.1"], "10.9.9.9"),
        (&[], "10.0.0.1"),
    ] {
        assert_eq!(c.client_ip(peer, &headers(xff)), ip(want), "{xff:?}");
    }
}

#[test]
fn an_unreadable_entry_stops_the_walk_at_the_last_trusted_hop() {
    let c = behind_proxies();
    let peer = ip("10.0.0.1");
    for (xff, want) in [
        (&["unknown"][..], "10.0.0.1"),
        (&["198.51.100.1, unknown"], "10.0.0.1"),
        (&["198.51.100.1, unknown, 10.1.1.1"], "10.1.1.1"),
        (&["198.51.100.1,, 10.1.1.1"], "10.1.1.1"),
        (&["198.51.100.1", ""], "10.0.0.1"),
        // Unreadable left of the client does not matter.
        (&["garbage, 198.51.100.1, 10.1.1.1"], "198.51.100.1"),
    ] {
        assert_eq!(c.client_ip(peer, &headers(xff)), ip(want), "{xff:?}");
    }
    let mut h = HeaderMap::new();
    h.append(
        X_FORWARDED_FOR,
        HeaderValue::from_bytes(b"198.51.100.1, \xff\xfe").unwrap(),
    );
    assert_eq!(c.client_ip(peer, &h), peer);
}

#[test]
fn ipv4_mapped_peers_entries_and_proxy_ranges_count_as_ipv4() {
    let c = Clients::new(vec!["::ffff:10.0.0.0/104".parse().unwrap()], None);
    assert_eq!(c.trusted, vec!["10.0.0.0/8".parse::<IpNet>().unwrap()]);
    let peer = ip("::ffff:10.0.0.1");
    assert_eq!(c.client_ip(peer, &HeaderMap::new()), ip("10.0.0.1"));
    assert_eq!(
        c.client_ip(peer, &headers(&["198.51.100.1, ::ffff:10.3.3.3"])),
        ip("198.51.100.1")
    );
    let untrusted = Clients::default();
    assert_eq!(
        untrusted.client_ip(ip("::ffff:192.0.2.1"), &HeaderMap::new()),
        ip("192.0.2.1")
    );
}

/// An address in the trusted proxy ranges, or anywhere.
fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<u8>().prop_map(|b| IpAddr::from([10, b, 0, 1])),
        any::<[u16; 8]>().prop_map(IpAddr::from),
        any::<u16>().prop_map(|s| IpAddr::from([0x2001, 0xdb8, 0xff, s, 0, 0, 0, 1])),
    ]
}

fn untrusted_ip() -> impl Strategy<Value = IpAddr> {
    any_ip().prop_filter("untrusted", |ip| {
        !behind_proxies().is_trusted(ip.to_canonical())
    })
}

fn trusted_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 3]>().prop_map(|b| IpAddr::from([10, b[0], b[1], b[2]])),
        any::<[u16; 5]>()
            .prop_map(|s| IpAddr::from([0x2001, 0xdb8, 0xff, s[0], s[1], s[2], s[3], s[4]])),
    ]
}

/// Whatever a client can put in its own header: addresses (trusted ones too), ports,
/// brackets, junk, empty entries, stray commas and spaces.
fn attacker_entry() -> impl Strategy<Value = String> {
    prop_oneof![
        any_ip().prop_map(|ip| ip.to_string()),
        trusted_ip().prop_map(|ip| ip.to_string()),
        any_ip().prop_map(|ip| SocketAddr::new(ip, 80).to_string()),
        "[ -~]{0,12}",
        Just(String::new()),
        Just("unknown".to_owned()),
        Just(" , ,".to_owned()),
    ]
}

fn attacker_header() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::collection::vec(attacker_entry(), 0..5).prop_map(|e| e.join(",")),
        0..3,
    )
}

proptest! {
    /// A proxy chain appended the real client and then its own trusted hops; whatever
    /// the client sent first, the answer is the real client.
    #[test]
    fn what_the_client_prepends_never_changes_the_answer(
        sent in attacker_header(),
        real in untrusted_ip(),
        hops in prop::collection::vec(trusted_ip(), 0..3),
        peer in trusted_ip(),
        new_instance in any::<bool>(),
    ) {
        let mut values = sent.clone();
        // The first proxy either appends to the last instance or adds its own.
        match values.last_mut() {
            Some(last) if !new_instance => { last.push_str(", "); last.push_str(&real.to_string()); }
            _ => values.push(real.to_string()),
        }
        for hop in &hops {
            let last = values.last_mut().unwrap();
            last.push_str(", ");
            last.push_str(&hop.to_string());
        }
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let c = behind_proxies();
        prop_assert_eq!(c.client_ip(peer, &headers(&refs)), real.to_canonical());
    }

    /// A trusted hop that wrote something unreadable (nginx's "unknown", a unix socket
    /// name) hides the whole chain left of it: the answer is the nearest trusted hop.
    #[test]
    fn nothing_left_of_an_unreadable_entry_is_believed(
        sent in attacker_header(),
        junk in prop_oneof![Just("unknown"), Just(""), Just("_proxy"), Just("unix:/run/x")],
        hops in prop::collection::vec(trusted_ip(), 0..3),
        peer in trusted_ip(),
    ) {
        let mut value = sent.join(", ");
        value.push_str(", ");
        value.push_str(junk);
        for hop in &hops {
            value.push_str(", ");
            value.push_str(&hop.to_string());
        }
        let want = hops.first().copied().unwrap_or(peer).to_canonical();
        prop_assert_eq!(behind_proxies().client_ip(peer, &headers(&[&value])), want);
    }

    /// From an untrusted peer no header, however malformed, is read at all.
    #[test]
    fn an_untrusted_peers_headers_are_ignored(
        bytes in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..4),
        peer in untrusted_ip(),
    ) {
        let mut h = HeaderMap::new();
        for b in bytes {
            if let Ok(v) = HeaderValue::from_bytes(&b) {
                h.append(X_FORWARDED_FOR, v);
            }
        }
        let c = behind_proxies();
        prop_assert_eq!(c.client_ip(peer, &h), peer.to_canonical());
        // And from a trusted peer the same bytes never panic.
        let _ = c.client_ip(ip("10.0.0.1"), &h);
    }
}

fn country(code: &str) -> Value {
    Value::map([("country_code", Value::from(code))])
}

fn maxmind(code: &str) -> Value {
    Value::map([(
        "country",
        Value::map([
            ("iso_code", Value::from(code)),
            ("geoname_id", Value::from(2_635_167_u32)),
        ]),
    )])
}

fn db(entries: &[(&str, Value)]) -> GeoIp {
    let mut w = Writer::new("Usher-Test-Country");
    for (net, value) in entries {
        w.insert_value(net.parse::<IpNet>().unwrap(), value.clone())
            .unwrap();
    }
    GeoIp::from_bytes(w.to_bytes().unwrap()).unwrap()
}

#[test]
fn both_record_shapes_give_the_country() {
    let g = db(&[
        ("192.0.2.0/24", country("US")),
        ("198.51.100.0/24", maxmind("GB")),
        ("2001:db8::/32", country("de")),
        ("203.0.113.0/25", Value::map([("continent", maxmind("EU"))])),
        ("203.0.113.128/26", country("USA")),
        (
            "203.0.113.192/26",
            Value::map([("country_code", Value::from(7_u32))]),
        ),
    ]);
    let code = |s: &str| g.country(ip(s)).map(|c| c.as_str().to_owned());
    assert_eq!(code("192.0.2.7").as_deref(), Some("US"));
    assert_eq!(code("::ffff:192.0.2.7").as_deref(), Some("US"));
    assert_eq!(code("198.51.100.200").as_deref(), Some("GB"));
    assert_eq!(code("2001:db8::1").as_deref(), Some("DE"));
    // No record, or a record without a usable country: unknown, never an error.
    for none in [
        "192.0.3.1",
        "2001:db9::1",
        "203.0.113.1",
        "203.0.113.130",
        "203.0.113.200",
    ] {
        assert_eq!(code(none), None, "{none}");
    }
}

#[test]
fn an_ipv4_only_database_answers_unknown_for_ipv6() {
    let mut w = Writer::builder("Usher-Test-V4")
        .ip_version(IpVersion::V4)
        .build();
    w.insert_value("192.0.2.0/24".parse::<IpNet>().unwrap(), country("US"))
        .unwrap();
    let g = GeoIp::from_bytes(w.to_bytes().unwrap()).unwrap();
    assert_eq!(g.country(ip("192.0.2.1")), Country::parse("US"));
    assert_eq!(g.country(ip("::ffff:192.0.2.1")), Country::parse("US"));
    assert_eq!(g.country(ip("2001:db8::1")), None);
}

#[test]
fn broken_databases_are_refused_with_a_reason() {
    let mut w = Writer::new("Usher-Test");
    w.insert_value("192.0.2.0/24".parse::<IpNet>().unwrap(), country("US"))
        .unwrap();
    let good = w.to_bytes().unwrap();
    assert!(GeoIp::from_bytes(good.clone()).is_ok());
    for bad in [
        Vec::new(),
        b"not a database".to_vec(),
        good[good.len() / 2..].to_vec(),
    ] {
        let e = GeoIp::from_bytes(bad).unwrap_err();
        assert!(matches!(e, GeoIpError::Invalid(_)), "{e}");
    }
    let e = GeoIp::open(Path::new("/nonexistent/usher.mmdb")).unwrap_err();
    assert!(matches!(e, GeoIpError::Read(_)), "{e}");
}

#[test]
fn resolve_looks_up_the_resolved_client_not_the_proxy() {
    let g = db(&[
        ("198.51.100.0/24", country("GB")),
        ("10.0.0.0/8", country("US")),
    ]);
    let c = Clients::new(vec!["10.0.0.0/8".parse().unwrap()], Some(g));
    let got = c.resolve(ip("10.0.0.1"), &headers(&["198.51.100.1"]));
    assert_eq!(got.ip, ip("198.51.100.1"));
    assert_eq!(got.country, Country::parse("GB"));
    let direct = c.resolve(ip("10.0.0.1"), &HeaderMap::new());
    assert_eq!(direct.country, Country::parse("US"));
}

#[test]
fn countries_are_two_letters() {
    assert_eq!(Country::parse("gb").unwrap().as_str(), "GB");
    for bad in ["", "G", "GBR", "G1", "ÉÉ", "  "] {
        assert_eq!(Country::parse(bad), None, "{bad:?}");
    }
}
