//! Why an outbound request failed, and whether trying again later could help. Messages
//! are safe to record on a job; callers show customers only a generic reason.

use usher_store::StoreError;

/// An outbound request's failure.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the URL is not valid")]
    InvalidUrl,
    #[error("only http and https URLs can be fetched")]
    Scheme,
    #[error("the URL has no host")]
    NoHost,
    #[error("the URL's host is not allowed (a private, loopback, link-local or reserved address)")]
    RefusedAddress,
    #[error("more than {} redirects", crate::MAX_REDIRECTS)]
    TooManyRedirects,
    #[error("the origin answered HTTP {0}")]
    Status(u16),
    #[error("the file is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("the origin did not answer in time")]
    Timeout,
    #[error("could not connect to the origin")]
    Connect,
    #[error("the transfer from the origin broke off")]
    Transfer,
    #[error("could not store the file")]
    Store(#[source] StoreError),
    #[error("the outbound HTTP client could not be set up")]
    Setup,
}

impl FetchError {
    /// Whether the same request could succeed later: network trouble and the origin's
    /// own (5xx, 408, 429) or our storage's failures, not a refusal or a 4xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout | Self::Connect | Self::Transfer | Self::Store(_) => true,
            Self::Status(s) => *s >= 500 || *s == 408 || *s == 429,
            Self::InvalidUrl
            | Self::Scheme
            | Self::NoHost
            | Self::RefusedAddress
            | Self::TooManyRedirects
            | Self::TooLarge(_)
            | Self::Setup => false,
        }
    }

    /// Classifies a reqwest error, finding our own refusals (raised inside the resolver
    /// or the redirect policy) in its cause chain.
    pub fn from_reqwest(e: reqwest::Error) -> Self {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if let Some(b) = c.downcast_ref::<Blocked>() {
                return (*b).into();
            }
            cause = c.source();
        }
        tracing::debug!(error = ?e, "outbound request failed");
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_redirect() {
            Self::TooManyRedirects
        } else if let Some(s) = e.status() {
            Self::Status(s.as_u16())
        } else if e.is_connect() {
            Self::Connect
        } else {
            Self::Transfer
        }
    }
}

impl From<reqwest::Error> for FetchError {
    fn from(e: reqwest::Error) -> Self {
        Self::from_reqwest(e)
    }
}

/// A refusal by the policy, raised where reqwest only lets us return a boxed error
/// (resolver, redirect policy) and recognised again by [`FetchError::from_reqwest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Blocked {
    #[error("scheme not allowed")]
    Scheme,
    #[error("no host")]
    NoHost,
    #[error("address not allowed")]
    Address,
    #[error("too many redirects")]
    TooManyRedirects,
}

impl From<Blocked> for FetchError {
    fn from(b: Blocked) -> Self {
        match b {
            Blocked::Scheme => Self::Scheme,
            Blocked::NoHost => Self::NoHost,
            Blocked::Address => Self::RefusedAddress,
            Blocked::TooManyRedirects => Self::TooManyRedirects,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_table() {
        let cases = [
            (FetchError::Timeout, true),
            (FetchError::Connect, true),
            (FetchError::Transfer, true),
            (FetchError::Status(500), true),
            (FetchError::Status(503), true),
            (FetchError::Status(429), true),
            (FetchError::Status(408), true),
            (FetchError::Status(404), false),
            (FetchError::Status(403), false),
            (FetchError::RefusedAddress, false),
            (FetchError::Scheme, false),
            (FetchError::TooLarge(1), false),
            (FetchError::TooManyRedirects, false),
            (FetchError::InvalidUrl, false),
        ];
        for (e, want) in cases {
            assert_eq!(e.is_retryable(), want, "{e}");
        }
    }
}
