//! Which addresses Usher may connect to on a customer's behalf. A URL a customer hands
//! us must not become a way into our own network (server-side request forgery): by
//! default only globally reachable unicast addresses pass, judged after unwrapping any
//! IPv4 address embedded in an IPv6 one, since `::ffff:127.0.0.1` reaches loopback too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// The address policy for outbound requests to customer-supplied URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Any address at all (an operator's choice for closed networks and tests).
    allow_private: bool,
    /// Networks allowed in addition to the globally reachable ones.
    allow_nets: Vec<IpNet>,
}

impl AddressPolicy {
    /// Only globally reachable unicast addresses.
    pub fn public_only() -> Self {
        Self::default()
    }

    /// With `allow`, every address passes: the policy no longer checks anything.
    pub fn allow_private(mut self, allow: bool) -> Self {
        self.allow_private = allow;
        self
    }

    /// Also allows these networks (e.g. an internal media server's /32).
    pub fn allow_nets(mut self, nets: impl IntoIterator<Item = IpNet>) -> Self {
        self.allow_nets.extend(nets);
        self
    }

    /// Whether connecting to `ip` is allowed.
    pub fn allows(&self, ip: IpAddr) -> bool {
        if self.allow_private {
            return true;
        }
        let embedded = embedded_v4(ip).map(IpAddr::V4);
        let listed = |a: IpAddr| self.allow_nets.iter().any(|n| n.contains(&a));
        listed(ip) || embedded.is_some_and(listed) || is_global(ip)
    }
}

/// Whether `ip` is a globally reachable unicast address.
pub fn is_global(ip: IpAddr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_global_v4(v4);
    }
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

/// The IPv4 address an IPv6 address stands for, where it is one of the forms that
/// reach an IPv4 host: mapped (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4
/// (`2002:aabb:ccdd::/48`).
pub fn embedded_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else {
        return None;
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let o = v6.octets();
    if NAT64.contains(&v6) {
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if SIX_TO_FOUR.contains(&v6) {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

const NAT64: Ipv6Net = v6net(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);
const SIX_TO_FOUR: Ipv6Net = v6net(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16);

/// IPv4 ranges that are not globally reachable unicast (IANA special-purpose registry).
const NOT_GLOBAL_V4: &[Ipv4Net] = &[
    v4net([0, 0, 0, 0], 8),       // "this network", including 0.0.0.0
    v4net([10, 0, 0, 0], 8),      // private (RFC 1918)
    v4net([100, 64, 0, 0], 10),   // shared address space, CGNAT (RFC 6598)
    v4net([127, 0, 0, 0], 8),     // loopback
    v4net([169, 254, 0, 0], 16),  // link-local, where cloud metadata services live
    v4net([172, 16, 0, 0], 12),   // private (RFC 1918)
    v4net([192, 0, 0, 0], 24),    // IETF protocol assignments
    v4net([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
    v4net([192, 88, 99, 0], 24),  // deprecated 6to4 relay anycast
    v4net([192, 168, 0, 0], 16),  // private (RFC 1918)
    v4net([198, 18, 0, 0], 15),   // benchmarking
    v4net([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
    v4net([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
    v4net([224, 0, 0, 0], 4),     // multicast
    v4net([240, 0, 0, 0], 4),     // reserved, including broadcast 255.255.255.255
];

/// Inside global unicast `2000::/3`, the ranges that are not globally reachable.
/// Everything outside `2000::/3` (loopback, unspecified, `fc00::/7`, `fe80::/10`,
/// multicast, …) is refused without a list.
const NOT_GLOBAL_V6: &[Ipv6Net] = &[
    // IETF protocol assignments, including Teredo, benchmarking and ORCHID.
    v6net(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
    // Documentation.
    v6net(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    v6net(Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),
];
const GLOBAL_UNICAST_V6: Ipv6Net = v6net(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

fn is_global_v4(ip: Ipv4Addr) -> bool {
    !NOT_GLOBAL_V4.iter().any(|n| n.contains(&ip))
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    GLOBAL_UNICAST_V6.contains(&ip) && !NOT_GLOBAL_V6.iter().any(|n| n.contains(&ip))
}

const fn v4net(o: [u8; 4], len: u8) -> Ipv4Net {
    match Ipv4Net::new(Ipv4Addr::new(o[0], o[1], o[2], o[3]), len) {
        Ok(n) => n,
        Err(_) => panic!("invalid prefix length"),
    }
}

const fn v6net(a: Ipv6Addr, len: u8) -> Ipv6Net {
    match Ipv6Net::new(a, len) {
        Ok(n) => n,
        Err(_) => panic!("invalid prefix length"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn default_policy_table() {
        let policy = AddressPolicy::public_only();
        let cases = [
            // Globally reachable unicast.
            ("8.8.8.8", true),
            ("1.1.1.1", true),
            ("93.184.216.34", true),
            ("100.63.255.255", true),
            ("100.128.0.0", true),
            ("172.15.255.255", true),
            ("172.32.0.0", true),
            ("192.169.0.1", true),
            ("2606:4700::1111", true),
            ("2a00:1450:4001::200e", true),
            // Loopback.
            ("127.0.0.1", false),
            ("127.255.255.254", false),
            ("::1", false),
            // Unspecified / "this network".
            ("0.0.0.0", false),
            ("0.1.2.3", false),
            ("::", false),
            // Private.
            ("10.0.0.1", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("192.168.1.1", false),
            ("fc00::1", false),
            ("fd12:3456::1", false),
            // Link-local, including cloud metadata.
            ("169.254.169.254", false),
            ("169.254.0.1", false),
            ("fe80::1", false),
            ("febf::1", false),
            // CGNAT.
            ("100.64.0.1", false),
            ("100.127.255.255", false),
            // Multicast, broadcast, reserved.
            ("224.0.0.1", false),
            ("239.255.255.250", false),
            ("255.255.255.255", false),
            ("240.0.0.1", false),
            ("ff02::1", false),
            ("ff0e::1", false),
            // Documentation, benchmarking, protocol assignments.
            ("192.0.2.1", false),
            ("198.51.100.7", false),
            ("203.0.113.9", false),
            ("198.18.0.1", false),
            ("198.19.255.255", false),
            ("192.0.0.8", false),
            ("192.88.99.1", false),
            ("2001:db8::1", false),
            ("3fff::1", false),
            ("2001::1", false),
            ("2001:2::1", false),
            // Deprecated site-local, IPv4-compatible.
            ("fec0::1", false),
            ("::127.0.0.1", false),
            // IPv4 embedded in IPv6, judged by the IPv4 address.
            ("::ffff:127.0.0.1", false),
            ("::ffff:169.254.169.254", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:8.8.8.8", true),
            ("64:ff9b::7f00:1", false),
            ("64:ff9b::a9fe:a9fe", false),
            ("64:ff9b::808:808", true),
            ("2002:7f00:1::", false),
            ("2002:a9fe:a9fe::1", false),
            ("2002:c0a8:101::1", false),
            ("2002:808:808::1", true),
        ];
        for (addr, want) in cases {
            assert_eq!(policy.allows(ip(addr)), want, "{addr}");
        }
    }

    #[test]
    fn allow_private_allows_everything() {
        let policy = AddressPolicy::public_only().allow_private(true);
        for a in ["127.0.0.1", "::1", "169.254.169.254", "10.1.2.3", "fe80::1"] {
            assert!(policy.allows(ip(a)), "{a}");
        }
    }

    #[test]
    fn allowed_nets_add_just_those() {
        let policy = AddressPolicy::public_only().allow_nets(["127.0.0.2/32".parse().unwrap()]);
        assert!(policy.allows(ip("127.0.0.2")));
        assert!(policy.allows(ip("::ffff:127.0.0.2")));
        assert!(!policy.allows(ip("127.0.0.1")));
        assert!(!policy.allows(ip("169.254.169.254")));
        assert!(policy.allows(ip("8.8.8.8")));
        let v6 = AddressPolicy::public_only().allow_nets(["fd00::/8".parse().unwrap()]);
        assert!(v6.allows(ip("fd00::5")));
        assert!(!v6.allows(ip("fc00::5")));
    }

    fn any_v4() -> impl Strategy<Value = Ipv4Addr> {
        any::<u32>().prop_map(Ipv4Addr::from)
    }

    /// The IANA IPv4 Special-Purpose Address Registry's ranges that are not globally
    /// reachable (RFC 6890 and updates), written out independently of `NOT_GLOBAL_V4`.
    const IANA_NOT_GLOBAL_V4: [&str; 16] = [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
    ];

    proptest! {
        /// Every embedded form of an IPv4 address is judged exactly as that address.
        #[test]
        fn embedded_forms_agree_with_v4(v4 in any_v4()) {
            let want = is_global(IpAddr::V4(v4));
            let [a, b, c, d] = v4.octets();
            let mapped = IpAddr::V6(v4.to_ipv6_mapped());
            let nat64 = IpAddr::V6(Ipv6Addr::new(
                0x64, 0xff9b, 0, 0, 0, 0,
                u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]),
            ));
            let six_to_four = IpAddr::V6(Ipv6Addr::new(
                0x2002, u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]), 0, 0, 0, 0, 1,
            ));
            prop_assert_eq!(is_global(mapped), want);
            prop_assert_eq!(is_global(nat64), want);
            prop_assert_eq!(is_global(six_to_four), want);
        }

        /// Nothing in the IANA special-purpose IPv4 ranges ever passes the default
        /// policy. The ranges are this test's own copy of the registry, not the table
        /// the implementation uses, so a range dropped there is caught here.
        #[test]
        fn refused_ranges_stay_refused(i in 0..IANA_NOT_GLOBAL_V4.len(), host in any::<u32>()) {
            let net: ipnet::Ipv4Net = IANA_NOT_GLOBAL_V4[i].parse().unwrap();
            let mask = u32::MAX.checked_shr(u32::from(net.prefix_len())).unwrap_or(0);
            let addr = Ipv4Addr::from(u32::from(net.network()) | (host & mask));
            prop_assert!(!AddressPolicy::public_only().allows(IpAddr::V4(addr)));
        }

        /// And everything outside them passes: the policy refuses no public address.
        #[test]
        fn public_v4_is_allowed(bits in any::<u32>()) {
            let addr = Ipv4Addr::from(bits);
            let special = IANA_NOT_GLOBAL_V4.iter().any(|n| {
                n.parse::<ipnet::Ipv4Net>().unwrap().contains(&addr)
            });
            prop_assert_eq!(AddressPolicy::public_only().allows(IpAddr::V4(addr)), !special);
        }

        /// IPv6 outside 2000::/3 never passes, unless it embeds a global IPv4 address.
        #[test]
        fn v6_outside_global_unicast_refused(bits in any::<u128>()) {
            let addr = Ipv6Addr::from(bits);
            if !GLOBAL_UNICAST_V6.contains(&addr) && embedded_v4(IpAddr::V6(addr)).is_none() {
                prop_assert!(!AddressPolicy::public_only().allows(IpAddr::V6(addr)));
            }
        }
    }
}
