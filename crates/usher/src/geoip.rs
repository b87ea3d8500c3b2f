//! The country database `usher serve` uses: the operator's `--geoip FILE`, else the free
//! one compiled into the binary (ip-location-db's geo-whois-asn-country, CC0 packaging
//! of NRO data under CC BY 4.0; see the README's attribution section). It is pinned in
//! web/package-lock.json and installed by scripts/install-deps before any build.

use std::path::Path;

use anyhow::Context;
use usher_edge::client::GeoIp;

static BUNDLED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../web/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb"
));

pub fn open(path: Option<&Path>) -> anyhow::Result<GeoIp> {
    let db = match path {
        Some(p) => GeoIp::open(p)
            .with_context(|| format!("loading the GeoIP database {} (--geoip)", p.display()))?,
        None => GeoIp::from_static(BUNDLED).context("loading the bundled GeoIP database")?,
    };
    tracing::info!(database = %db.describe(), bundled = path.is_none(), "GeoIP countries");
    Ok(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_database_loads_and_knows_well_known_addresses() {
        let db = open(None).unwrap();
        let code = |ip: &str| {
            db.country(ip.parse().unwrap())
                .map(|c| c.as_str().to_owned())
        };
        // Registrations that have not moved in decades.
        assert_eq!(code("8.8.8.8").as_deref(), Some("US"));
        assert_eq!(code("::ffff:8.8.8.8").as_deref(), Some("US"));
        assert!(code("2001:4860:4860::8888").is_some());
        assert_eq!(code("127.0.0.1"), None);
        assert_eq!(code("::1"), None);
    }

    #[test]
    fn an_unusable_file_is_a_clear_startup_error() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("missing.mmdb");
        let e = format!("{:#}", open(Some(&missing)).unwrap_err());
        assert!(e.contains("missing.mmdb (--geoip)"), "{e}");
        let junk = tmp.path().join("junk.mmdb");
        std::fs::write(&junk, b"not a database").unwrap();
        let e = format!("{:#}", open(Some(&junk)).unwrap_err());
        assert!(
            e.contains("junk.mmdb") && e.contains("not a valid MaxMind DB"),
            "{e}"
        );
    }
}
