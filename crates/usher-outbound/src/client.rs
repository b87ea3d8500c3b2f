//! The HTTP client for customer-supplied URLs, with the [`AddressPolicy`] enforced at
//! every point a request could reach a host: names are resolved by our own resolver,
//! which drops refused addresses; IP-literal hosts (which reqwest never resolves) are
//! checked before sending; every redirect is checked again the same way. No proxy is
//! used, so the address checked is the address connected to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::{Action, Attempt, Policy};
use reqwest::{Client, RequestBuilder, Url};

use crate::error::{Blocked, FetchError};
use crate::policy::AddressPolicy;

/// How long establishing a connection (TCP + TLS) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the origin may go silent mid-response before we give up. There is no
/// overall deadline: a large file on a slow but live origin may take hours.
pub const READ_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed before giving up (browsers allow about 20; origins need few).
pub const MAX_REDIRECTS: usize = 10;
/// Sent on every request, so origin operators can tell who is fetching.
const USER_AGENT: &str = concat!("usher/", env!("CARGO_PKG_VERSION"));

/// An HTTP client safe to point at URLs customers give us. Cheap to clone (one shared
/// connection pool). Use [`Outbound::get`] / [`Outbound::post`]: they check the URL
/// before building the request, which [`Outbound::client`] alone does not.
///
/// ```no_run
/// # async fn f(out: usher_outbound::Outbound) -> Result<(), usher_outbound::FetchError> {
/// // A webhook delivery: the URL is checked, then the request goes out through the
/// // policy-enforcing resolver and redirect policy.
/// let resp = out.post("https://hooks.example.com/usher")?
///     .header("content-type", "application/json")
///     .body(r#"{"uid":"…"}"#)
///     .send()
///     .await
///     .map_err(usher_outbound::FetchError::from_reqwest)?;
/// # let _ = resp; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Outbound {
    client: Client,
    policy: Arc<AddressPolicy>,
}

impl Outbound {
    /// A client that follows up to [`MAX_REDIRECTS`] redirects, each checked.
    pub fn new(policy: AddressPolicy) -> Result<Self, FetchError> {
        Self::build(policy, true)
    }

    /// A client that follows no redirect (a webhook receiver must answer itself).
    pub fn without_redirects(policy: AddressPolicy) -> Result<Self, FetchError> {
        Self::build(policy, false)
    }

    fn build(policy: AddressPolicy, follow_redirects: bool) -> Result<Self, FetchError> {
        let policy = Arc::new(policy);
        let redirects = policy.clone();
        let redirect = if follow_redirects {
            Policy::custom(move |a| check_redirect(&redirects, a))
        } else {
            Policy::none()
        };
        let client = Client::builder()
            .no_proxy()
            .user_agent(USER_AGENT)
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_IDLE_TIMEOUT)
            .dns_resolver(PolicyResolver {
                policy: policy.clone(),
            })
            .redirect(redirect)
            .build()
            .map_err(|e| {
                tracing::error!(error = %e, "cannot build the outbound HTTP client");
                FetchError::Setup
            })?;
        Ok(Self { client, policy })
    }

    pub fn policy(&self) -> &AddressPolicy {
        &self.policy
    }

    /// The underlying client. Requests built on it directly skip the check of
    /// IP-literal hosts: call [`Outbound::check_url`] first, or use `get`/`post`.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Parses `url` and refuses it if it cannot be fetched under the policy as far as
    /// can be told without DNS: a scheme other than http/https, a missing host, or an
    /// IP-literal or `localhost` host the policy refuses. Names are judged when
    /// resolved.
    pub fn check_url(&self, url: &str) -> Result<Url, FetchError> {
        check_url(&self.policy, url)
    }

    /// A checked GET request to `url`.
    pub fn get(&self, url: &str) -> Result<RequestBuilder, FetchError> {
        Ok(self.client.get(self.check_url(url)?))
    }

    /// A checked POST request to `url` (e.g. a webhook delivery).
    pub fn post(&self, url: &str) -> Result<RequestBuilder, FetchError> {
        Ok(self.client.post(self.check_url(url)?))
    }
}

/// See [`Outbound::check_url`].
pub fn check_url(policy: &AddressPolicy, url: &str) -> Result<Url, FetchError> {
    let url = Url::parse(url).map_err(|_| FetchError::InvalidUrl)?;
    check_parsed(policy, &url).map_err(FetchError::from)?;
    Ok(url)
}

fn check_parsed(policy: &AddressPolicy, url: &Url) -> Result<(), Blocked> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Blocked::Scheme);
    }
    check_host(policy, url)
}

/// Whether `url`'s host may be reached under `policy`, whatever the scheme: for URLs
/// another program connects to (a live output's `rtmp://` target), judged as far as
/// the URL itself tells — an IP literal or `localhost`. What a name resolves to is
/// for whoever connects to judge.
pub fn host_allowed(policy: &AddressPolicy, url: &Url) -> bool {
    if matches!(url.scheme(), "http" | "https") {
        return check_host(policy, url).is_ok();
    }
    // The URL standard leaves the host of a scheme it does not know (rtmp, srt) an
    // opaque string: `rtmp://127.0.0.1/` has the "domain" `127.0.0.1`, and
    // `rtmp://2130706433/` reaches loopback all the same through the resolver. Read as
    // an http URL's host, both become the address they name.
    url.host_str()
        .and_then(|host| Url::parse(&format!("http://{host}/")).ok())
        .is_some_and(|http| check_host(policy, &http).is_ok())
}

fn check_host(policy: &AddressPolicy, url: &Url) -> Result<(), Blocked> {
    let allowed = match url.host() {
        None => return Err(Blocked::NoHost),
        Some(url::Host::Ipv4(ip)) => policy.allows(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => policy.allows(IpAddr::V6(ip)),
        // `localhost` may never reach DNS (resolvers answer it themselves); judge it
        // as the loopback address it names.
        Some(url::Host::Domain(d)) if is_localhost(d) => {
            policy.allows(IpAddr::V4(Ipv4Addr::LOCALHOST))
                || policy.allows(IpAddr::V6(Ipv6Addr::LOCALHOST))
        }
        Some(url::Host::Domain(_)) => true,
    };
    if allowed {
        Ok(())
    } else {
        Err(Blocked::Address)
    }
}

fn is_localhost(domain: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    d == "localhost" || d.ends_with(".localhost")
}

fn check_redirect(policy: &AddressPolicy, attempt: Attempt) -> Action {
    // `previous` starts with the original URL, so it holds one entry per redirect
    // followed so far plus one.
    if attempt.previous().len() > MAX_REDIRECTS {
        return attempt.error(Blocked::TooManyRedirects);
    }
    match check_parsed(policy, attempt.url()) {
        Ok(()) => attempt.follow(),
        Err(b) => attempt.error(b),
    }
}

/// Resolves names with the system resolver and keeps only the addresses the policy
/// allows; with none left the request fails before any connection is made.
struct PolicyResolver {
    policy: Arc<AddressPolicy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts in the URL's port (or the scheme's default).
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.allows(a.ip()))
                .collect();
            if allowed.is_empty() {
                if !found.is_empty() {
                    tracing::info!(%host, "refused: the name resolves only to disallowed addresses");
                }
                return Err(Box::new(Blocked::Address) as _);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public() -> AddressPolicy {
        AddressPolicy::public_only()
    }

    #[test]
    fn url_checks() {
        let cases = [
            ("http://example.com/a.mp4", Ok(())),
            ("https://example.com:8443/a.mp4", Ok(())),
            ("http://8.8.8.8/a.mp4", Ok(())),
            ("http://[2606:4700::1111]/a.mp4", Ok(())),
            ("file:///etc/passwd", Err(Blocked::Scheme)),
            ("ftp://example.com/a.mp4", Err(Blocked::Scheme)),
            ("gopher://example.com/", Err(Blocked::Scheme)),
            ("http://127.0.0.1:8080/a.mp4", Err(Blocked::Address)),
            ("http://localhost/a.mp4", Err(Blocked::Address)),
            ("http://LOCALHOST./a.mp4", Err(Blocked::Address)),
            ("http://api.localhost/a.mp4", Err(Blocked::Address)),
            (
                "http://169.254.169.254/latest/meta-data/",
                Err(Blocked::Address),
            ),
            ("http://[::1]/a", Err(Blocked::Address)),
            ("http://[::ffff:127.0.0.1]/a", Err(Blocked::Address)),
            ("http://[fe80::1]/a", Err(Blocked::Address)),
            ("http://10.0.0.1/a", Err(Blocked::Address)),
            ("http://0.0.0.0/a", Err(Blocked::Address)),
            // Spellings the URL parser normalises to 127.0.0.1 / 169.254.169.254.
            ("http://2130706433/a", Err(Blocked::Address)),
            ("http://0x7f.1/a", Err(Blocked::Address)),
            ("http://0251.0376.0251.0376/a", Err(Blocked::Address)),
        ];
        for (url, want) in cases {
            let parsed = Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            let got = check_parsed(&public(), &parsed);
            assert_eq!(got, want, "{url}");
        }
    }

    #[test]
    fn unparsable_urls_are_invalid() {
        for url in ["", "not a url", "http://", "http://exa mple.com/"] {
            assert!(
                matches!(check_url(&public(), url), Err(FetchError::InvalidUrl)),
                "{url}"
            );
        }
    }

    #[test]
    fn allowances_apply_to_literals() {
        let open = AddressPolicy::public_only().allow_private(true);
        assert!(check_url(&open, "http://127.0.0.1:9/a").is_ok());
        assert!(check_url(&open, "http://localhost:9/a").is_ok());
        let net = AddressPolicy::public_only().allow_nets(["127.0.0.2/32".parse().unwrap()]);
        assert!(check_url(&net, "http://127.0.0.2:9/a").is_ok());
        assert!(check_url(&net, "http://127.0.0.1:9/a").is_err());
        assert!(check_url(&net, "http://localhost:9/a").is_err());
    }

    #[test]
    fn hosts_are_judged_whatever_the_scheme() {
        let allowed =
            |policy: &AddressPolicy, url: &str| host_allowed(policy, &Url::parse(url).unwrap());
        let open = AddressPolicy::public_only().allow_private(true);
        for url in [
            "rtmp://a.example/live",
            "rtmps://8.8.8.8:443/app",
            "srt://[2606:4700::1111]:9",
        ] {
            assert!(allowed(&public(), url), "{url}");
        }
        for url in [
            "rtmp://127.0.0.1/live",
            "rtmp://localhost:1935/x",
            "srt://10.0.0.1:9",
            "rtmp://[::1]/x",
        ] {
            assert!(!allowed(&public(), url), "{url}");
            assert!(allowed(&open, url), "{url}");
        }
    }
}
