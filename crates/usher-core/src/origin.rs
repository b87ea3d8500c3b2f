//! `allowedOrigins` entries and how a request's origin is matched against them
//! (SPEC §4.5, Cloudflare's rules): `*.example.com` covers any depth of subdomain but
//! not `example.com`; `example.com` covers only itself; `localhost` carries its port
//! unless it is 80/443; there are no paths and no schemes.

use std::fmt;

/// Longest entry accepted (a DNS name is at most 253 characters, plus a port).
pub const MAX_ORIGIN_LEN: usize = 260;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigin {
    /// Lowercase host without the `*.` prefix.
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid allowed origin {0:?}: expected a host name such as example.com, *.example.com or localhost:8080"
)]
pub struct OriginError(pub String);

fn valid_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

impl AllowedOrigin {
    pub fn parse(entry: &str) -> Result<Self, OriginError> {
        let err = || OriginError(entry.to_owned());
        if entry.is_empty() || entry.len() > MAX_ORIGIN_LEN {
            return Err(err());
        }
        let lower = entry.to_ascii_lowercase();
        let (wildcard, rest) = match lower.strip_prefix("*.") {
            Some(r) => (true, r),
            None => (false, lower.as_str()),
        };
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse::<u16>().map_err(|_| err())?)),
            None => (rest, None),
        };
        if !host.split('.').all(valid_label) {
            return Err(err());
        }
        Ok(Self {
            host: host.to_owned(),
            wildcard,
            port,
        })
    }

    /// Does the origin `scheme://host[:port]` (from an `Origin` header or the start of a
    /// `Referer`) fall under this entry?
    pub fn matches(&self, origin: &RequestOrigin) -> bool {
        let host_ok = if self.wildcard {
            origin
                .host
                .strip_suffix(self.host.as_str())
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
        } else {
            origin.host == self.host
        };
        if !host_ok {
            return false;
        }
        let default_port = origin.port == origin.default_port();
        match self.port {
            Some(p) => origin.port == p,
            // Without a port, an entry covers the scheme's default port only for
            // localhost (Cloudflare requires localhost entries to name other ports);
            // for real hosts any port is the same site.
            None => self.host != "localhost" || default_port,
        }
    }
}

impl fmt::Display for AllowedOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// The origin a request came from, parsed from `Origin`, `Referer` or `?parentOrigin=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOrigin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl RequestOrigin {
    /// Parses `scheme://host[:port][/path…]`; only http and https count.
    pub fn parse(s: &str) -> Option<Self> {
        let (scheme, rest) = s.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let authority = rest.split(['/', '?', '#']).next()?;
        if authority.contains('@') || authority.is_empty() {
            return None;
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || !p.is_empty() => (h, p.parse::<u16>().ok()?),
            _ => (authority, if scheme == "https" { 443 } else { 80 }),
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() {
            return None;
        }
        Some(Self { scheme, host, port })
    }

    fn default_port(&self) -> u16 {
        if self.scheme == "https" { 443 } else { 80 }
    }
}

/// Is `origin` allowed by `entries`? An empty list allows everything, but no origin at
/// all is refused whenever the list is non-empty.
pub fn origin_allowed(entries: &[AllowedOrigin], origin: Option<&RequestOrigin>) -> bool {
    if entries.is_empty() {
        return true;
    }
    origin.is_some_and(|o| entries.iter().any(|e| e.matches(o)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn allowed(entry: &str, origin: &str) -> bool {
        AllowedOrigin::parse(entry)
            .unwrap()
            .matches(&RequestOrigin::parse(origin).unwrap())
    }

    #[test]
    fn cloudflare_examples() {
        assert!(allowed("*.badtortilla.com", "https://a.badtortilla.com"));
        assert!(allowed("*.badtortilla.com", "https://a.b.badtortilla.com"));
        assert!(!allowed("*.badtortilla.com", "https://badtortilla.com"));
        assert!(!allowed("*.badtortilla.com", "https://evilbadtortilla.com"));
        assert!(allowed("example.com", "https://example.com/some/page"));
        assert!(!allowed("example.com", "https://www.example.com"));
        assert!(!allowed("example.com", "https://example.com.evil.net"));
        assert!(allowed("localhost:8080", "http://localhost:8080"));
        assert!(!allowed("localhost:8080", "http://localhost:8081"));
        assert!(allowed("localhost", "http://localhost"));
        assert!(!allowed("localhost", "http://localhost:3000"));
    }

    #[test]
    fn refuses_malformed_entries() {
        for bad in [
            "",
            "https://example.com",
            "example.com/path",
            "*example.com",
            "exa mple.com",
            "example.com:99999",
            "-bad.com",
            "a..b",
        ] {
            assert!(AllowedOrigin::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            AllowedOrigin::parse("*.Example.COM").unwrap().to_string(),
            "*.example.com"
        );
    }

    #[test]
    fn request_origins() {
        assert!(RequestOrigin::parse("ftp://example.com").is_none());
        assert!(RequestOrigin::parse("null").is_none());
        assert!(RequestOrigin::parse("https://user@example.com").is_none());
        let o = RequestOrigin::parse("https://Example.com:8443/x").unwrap();
        assert_eq!((o.host.as_str(), o.port), ("example.com", 8443));
        assert!(origin_allowed(&[], None));
        let list = [AllowedOrigin::parse("example.com").unwrap()];
        assert!(!origin_allowed(&list, None));
        assert!(origin_allowed(&list, Some(&o)));
    }

    /// A host name of `labels` (each a valid DNS label).
    fn host() -> impl Strategy<Value = String> {
        proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 1..4)
            .prop_map(|labels| labels.join("."))
    }

    proptest! {
        #[test]
        fn any_text_is_parsed_or_refused(entry in ".{0,300}", origin in ".{0,300}") {
            let request = RequestOrigin::parse(&origin);
            if let Ok(e) = AllowedOrigin::parse(&entry) {
                prop_assert_eq!(AllowedOrigin::parse(&e.to_string()), Ok(e.clone()));
                let _ = origin_allowed(std::slice::from_ref(&e), request.as_ref());
            }
        }

        #[test]
        fn an_entry_allows_what_it_names_and_not_its_neighbours(
            host in host(),
            wildcard: bool,
            port: Option<u16>,
            https: bool,
        ) {
            let entry = format!(
                "{}{host}{}",
                if wildcard { "*." } else { "" },
                port.map(|p| format!(":{p}")).unwrap_or_default()
            );
            let e = AllowedOrigin::parse(&entry).unwrap();
            let scheme = if https { "https" } else { "http" };
            let port_part = port.map(|p| format!(":{p}")).unwrap_or_default();
            let named = if wildcard { format!("sub.{host}") } else { host.clone() };
            let origin = |h: &str| RequestOrigin::parse(&format!("{scheme}://{h}{port_part}/p")).unwrap();
            prop_assert!(e.matches(&origin(&named)), "{} refuses {}", entry, named);
            // Another site: a longer name ending in the host, or the host under another.
            let longer = format!("x{host}");
            let under = format!("{host}.evil.example");
            prop_assert!(!e.matches(&origin(&longer)), "{} allows {}", entry, longer);
            prop_assert!(!e.matches(&origin(&under)), "{} allows {}", entry, under);
            // A wildcard covers subdomains only; a plain entry only itself.
            prop_assert_eq!(e.matches(&origin(&host)), !wildcard);
        }
    }
}
