//! `ApiError`: the one place that knows how each failure looks on the wire — HTTP
//! status, Cloudflare numeric code, message, and whether a retry could help. Internal
//! causes are logged in full and never sent to the client.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use usher_store::StoreError;

use crate::envelope::error_body;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Missing X-Auth-Key, X-Auth-Email or Authorization headers")]
    MissingCredentials,
    #[error("Authentication error")]
    Authentication,
    #[error("{0}")]
    NotFound(&'static str),
    #[error("No route for that URI")]
    NoRoute,
    #[error("Method not allowed for this endpoint")]
    MethodNotAllowed,
    #[error("{0}")]
    BadRequest(String),
    #[error("Malformed JSON in request body: {0}")]
    MalformedJson(String),
    #[error("Request body too large: the limit is {0} bytes")]
    PayloadTooLarge(u64),
    /// One part of the request (a file field) is over its own limit.
    #[error("{0}")]
    FieldTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    #[error("{0}")]
    LimitReached(&'static str),
    #[error("Rate limited: retry after {0} seconds")]
    RateLimited(u64),
    #[error("{0}")]
    NotImplemented(&'static str),
    /// Something that may happen once has happened (a one-time upload URL used).
    #[error("{0}")]
    Conflict(&'static str),
    /// Something that was valid has expired (an upload URL past its expiry).
    #[error("{0}")]
    Gone(&'static str),
    #[error("Internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn bad(msg: impl Into<String>) -> Self {
        Self::BadRequest(msg.into())
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingCredentials
            | Self::BadRequest(_)
            | Self::MalformedJson(_)
            | Self::LimitReached(_)
            | Self::NotImplemented(_) => StatusCode::BAD_REQUEST,
            Self::Authentication => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::NoRoute => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) | Self::FieldTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The Cloudflare v4 error code.
    pub fn code(&self) -> u32 {
        match self {
            Self::MissingCredentials => 9106,
            Self::Authentication => 10000,
            Self::NoRoute => 7000,
            Self::MethodNotAllowed => 7001,
            Self::NotFound(_) => 10003,
            Self::BadRequest(_) => 10005,
            Self::MalformedJson(_) => 10006,
            Self::PayloadTooLarge(_) | Self::FieldTooLarge(_) => 10007,
            Self::UnsupportedMediaType(_) => 10008,
            Self::LimitReached(_) => 10009,
            Self::NotImplemented(_) => 10010,
            Self::RateLimited(_) => 10429,
            Self::Gone(_) => 10011,
            Self::Conflict(_) => 10012,
            Self::Internal(_) => 10002,
        }
    }

    /// Whether the SDKs may retry: only rate limiting and genuine server faults.
    pub fn retryable(&self) -> bool {
        matches!(self, Self::RateLimited(_) | Self::Internal(_))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::LimitReached(what) => Self::LimitReached(match what {
                "signing keys" => "Too many signing keys: revoke one before creating another",
                "captions" => {
                    "Too many captions on this video: delete a language before adding another"
                }
                "watermark profiles" => {
                    "Too many watermark profiles: delete one before creating another"
                }
                "live inputs" => "Too many live inputs: delete one before creating another",
                "live outputs" => {
                    "Too many outputs on this live input: delete one before adding another"
                }
                _ => "Limit reached",
            }),
            other => Self::Internal(other.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(error = ?cause, "request failed");
        }
        let status = self.status();
        let mut resp = (status, error_body(self.code(), &self.to_string())).into_response();
        let headers = resp.headers_mut();
        if !self.retryable() {
            headers.insert("x-should-retry", HeaderValue::from_static("false"));
        }
        if let Self::RateLimited(secs) = self {
            headers.insert("retry-after", HeaderValue::from(secs));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_detail_never_reaches_the_client() {
        let e = ApiError::internal(anyhow::anyhow!("password=hunter2 at /var/lib/x"));
        assert_eq!(e.to_string(), "Internal error");
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn client_errors_say_do_not_retry() {
        let r = ApiError::bad("x").into_response();
        assert_eq!(r.headers()["x-should-retry"], "false");
        let r = ApiError::RateLimited(3).into_response();
        assert!(r.headers().get("x-should-retry").is_none());
        assert_eq!(r.headers()["retry-after"], "3");
    }
}
