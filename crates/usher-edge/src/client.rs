//! Who is asking: the client's address (the socket peer, or behind a `--trusted-proxy`
//! the right-most untrusted `X-Forwarded-For` entry) and its country from a
//! MaxMind-format database.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::Path;

use axum::http::HeaderMap;
use ipnet::{IpNet, Ipv4Net};
use maxminddb::{MaxMindDbError, Reader, path};

/// The header proxies append the address they received a request from to.
const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country([u8; 2]);

impl Country {
    /// Two ASCII letters, in either case; anything else is not a country.
    pub fn parse(code: &str) -> Option<Self> {
        match code.as_bytes() {
            &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// The client as the access decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    pub country: Option<Country>,
}

/// Why a country database could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    #[error("cannot read it")]
    Read(#[from] std::io::Error),
    #[error("not a valid MaxMind DB (.mmdb) file")]
    Invalid(#[from] MaxMindDbError),
}

/// A MaxMind DB country database. Reads both record shapes in use: ip-location-db's
/// `{"country_code": "US"}` and MaxMind's GeoIP2/GeoLite2 `{"country": {"iso_code": "US"}}`.
#[derive(Debug)]
pub struct GeoIp {
    reader: Reader<Cow<'static, [u8]>>,
}

impl GeoIp {
    /// A database compiled into the binary, read in place.
    pub fn from_static(bytes: &'static [u8]) -> Result<Self, GeoIpError> {
        Self::from_source(Cow::Borrowed(bytes))
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GeoIpError> {
        Self::from_source(Cow::Owned(bytes))
    }

    /// Checks the metadata and the search tree's bounds, which catches a file that is
    /// not an mmdb or is truncated. `Reader::verify` is not used: it also refuses
    /// databases that every reader accepts (ip-location-db's, whose `description` map
    /// is empty), and damage it would find elsewhere only ever makes a lookup "unknown".
    fn from_source(bytes: Cow<'static, [u8]>) -> Result<Self, GeoIpError> {
        Ok(Self {
            reader: Reader::from_source(bytes)?,
        })
    }

    pub fn open(path: &Path) -> Result<Self, GeoIpError> {
        Self::from_bytes(std::fs::read(path)?)
    }

    /// The database's own name for itself and its build time, for the startup log.
    pub fn describe(&self) -> String {
        let meta = self.reader.metadata();
        format!(
            "{} (IPv{}, built at unix time {})",
            meta.database_type, meta.ip_version, meta.build_epoch
        )
    }

    /// The country `ip` is registered in, if the database says. Never fails: a missing
    /// record, an IPv6 address in an IPv4-only database or a malformed record all mean
    /// "unknown", which country rules never match.
    pub fn country(&self, ip: IpAddr) -> Option<Country> {
        let found = self.reader.lookup(ip.to_canonical()).ok()?;
        let code: &str = found
            .decode_path(&path!["country_code"])
            .ok()
            .flatten()
            .or_else(|| {
                found
                    .decode_path(&path!["country", "iso_code"])
                    .ok()
                    .flatten()
            })?;
        Country::parse(code)
    }
}

/// Resolves clients; built once from the command line.
#[derive(Debug, Default)]
pub struct Clients {
    trusted: Vec<IpNet>,
    geoip: Option<GeoIp>,
}

impl Clients {
    /// `trusted`: the proxies whose `X-Forwarded-For` is believed. `geoip`: where
    /// countries come from (`None`: every country is unknown).
    pub fn new(trusted: Vec<IpNet>, geoip: Option<GeoIp>) -> Self {
        Self {
            trusted: trusted.into_iter().map(canonical_net).collect(),
            geoip,
        }
    }

    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> Client {
        let ip = self.client_ip(peer, headers);
        Client {
            ip,
            country: self.country_of(ip),
        }
    }

    /// Where the GeoIP database places `ip`, if it does.
    pub fn country_of(&self, ip: IpAddr) -> Option<Country> {
        self.geoip.as_ref().and_then(|db| db.country(ip))
    }

    /// The socket peer, unless it is a trusted proxy: then `X-Forwarded-For` (every
    /// instance, in order) is read from the right, each trusted hop passing the question
    /// one step further left. The first untrusted entry is the client. Everything left of
    /// it was written by the client itself and is never looked at, so a client cannot
    /// choose its address by sending the header. An entry that is not an address stops
    /// the walk at the last trusted hop, since what lies beyond it cannot be attributed.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut hop = peer.to_canonical();
        if !self.is_trusted(hop) {
            return hop;
        }
        for value in headers.get_all(X_FORWARDED_FOR).iter().rev() {
            for raw in value.as_bytes().rsplit(|&b| b == b',') {
                match parse_entry(raw) {
                    Some(ip) if self.is_trusted(ip) => hop = ip,
                    Some(ip) => return ip,
                    None => return hop,
                }
            }
        }
        hop
    }

    /// Whether `ip` is one of the `--trusted-proxy` networks.
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.is_trusted(ip.to_canonical())
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }
}

/// One `X-Forwarded-For` entry: an address, optionally as `[v6]`, `[v6]:port` or
/// `v4:port` (some proxies write those). IPv4-mapped IPv6 becomes IPv4.
fn parse_entry(raw: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(raw).ok()?.trim_matches([' ', '\t']);
    let ip = match s.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => match s.parse::<SocketAddr>() {
            Ok(sa) => sa.ip(),
            Err(_) => IpAddr::V6(
                s.strip_prefix('[')?
                    .strip_suffix(']')?
                    .parse::<Ipv6Addr>()
                    .ok()?,
            ),
        },
    };
    Some(ip.to_canonical())
}

/// Addresses are compared in canonical form, so `::ffff:10.0.0.0/104` must mean
/// `10.0.0.0/8` too.
fn canonical_net(net: IpNet) -> IpNet {
    let IpNet::V6(v6) = net else { return net };
    match (v6.addr().to_ipv4_mapped(), v6.prefix_len().checked_sub(96)) {
        (Some(v4), Some(len)) => Ipv4Net::new(v4, len).map_or(net, |n| IpNet::V4(n.trunc())),
        _ => net,
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
