//! Writes a small MaxMind-format country database for trying country rules locally,
//! where every client is a loopback address the real databases know nothing about.
//!
//!   cargo run -q -p usher --example test_geoip -- OUT.mmdb [CIDR=CC]...
//!
//! With no mappings: 127.0.0.1 → GB, 127.0.0.2 → US, ::1 → DE. Then
//! `usher serve --geoip OUT.mmdb`, and bind your client to one of those addresses
//! (`curl --interface 127.0.0.2 …`).

use ipnet::IpNet;
use mmdb_writer::{Value, Writer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .ok_or("usage: test_geoip OUT.mmdb [CIDR=CC]...")?;
    let mut pairs: Vec<(String, String)> = args
        .map(|a| {
            a.split_once('=')
                .map(|(n, c)| (n.to_owned(), c.to_ascii_uppercase()))
                .ok_or_else(|| format!("expected CIDR=CC, got {a:?}"))
        })
        .collect::<Result<_, _>>()?;
    if pairs.is_empty() {
        pairs = [
            ("127.0.0.1/32", "GB"),
            ("127.0.0.2/32", "US"),
            ("::1/128", "DE"),
        ]
        .map(|(n, c)| (n.to_owned(), c.to_owned()))
        .to_vec();
    }
    let mut w = Writer::new("Usher-Test-Country");
    for (net, cc) in &pairs {
        let net: IpNet = net.parse().map_err(|e| format!("{net}: {e}"))?;
        w.insert_value(
            net,
            Value::map([("country_code", Value::from(cc.as_str()))]),
        )?;
        println!("{net} → {cc}");
    }
    std::fs::write(&out, w.to_bytes()?)?;
    println!("wrote {out}");
    Ok(())
}
