//! Who is calling: `Authorization: Bearer <api token>` or the legacy
//! `X-Auth-Email` + `X-Auth-Key` pair, checked against the account named in the path.
//! A credential for one account never opens another: the account id in the path picks
//! the stored digests the presented secret is compared with, in constant time.

use std::collections::HashMap;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Path};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use usher_core::AccountId;
use usher_core::secret::matches_digest;

use crate::error::ApiError;
use crate::rate_limit;
use crate::state::ApiState;

/// An account whose credentials the request proved.
#[derive(Debug, Clone)]
pub struct Authed {
    pub account: AccountId,
}

struct Presented {
    bearer: Option<String>,
    email: Option<String>,
    key: Option<String>,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn presented(h: &HeaderMap) -> Presented {
    let bearer = header(h, "authorization").and_then(|v| {
        let (scheme, rest) = v.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| rest.trim().to_owned())
    });
    Presented {
        bearer,
        email: header(h, "x-auth-email").map(str::to_owned),
        key: header(h, "x-auth-key").map(str::to_owned),
    }
}

impl FromRequestParts<ApiState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let creds = presented(&parts.headers);
        if !creds.any() {
            return Err(ApiError::MissingCredentials);
        }
        let client = client_of(state, parts);
        let params: Path<HashMap<String, String>> = Path::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NoRoute)?;
        let Some(account) = params
            .get("account_id")
            .and_then(|s| s.parse::<AccountId>().ok())
        else {
            count_failure(state, client, None).await;
            return Err(ApiError::Authentication);
        };
        checked(state, client, &creds, &account).await?;
        Ok(Authed { account })
    }
}

/// The client's address as the edges would resolve it (trusted proxies included); `None`
/// without a socket (requests made in-process).
pub(crate) fn client_of(state: &ApiState, parts: &Parts) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    Some(state.clients.client_ip(peer.0.ip(), &parts.headers))
}

/// Checks that `headers` carry a credential of `account`, for routes whose path names
/// no account (a resumable upload's URL names only the upload).
pub(crate) async fn require(
    state: &ApiState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
    account: &AccountId,
) -> Result<(), ApiError> {
    let creds = presented(headers);
    if !creds.any() {
        return Err(ApiError::MissingCredentials);
    }
    checked(state, client, &creds, account).await
}

/// [`verify`] under the failed-authentication limits: refused at once (429) when the
/// client failed too often, and a failure counted against it.
async fn checked(
    state: &ApiState,
    client: Option<IpAddr>,
    creds: &Presented,
    account: &AccountId,
) -> Result<(), ApiError> {
    if let Some(ip) = client
        && let Err(secs) =
            rate_limit::may_authenticate(&state.db, &state.limits(), ip, Some(account)).await?
    {
        return Err(ApiError::RateLimited(secs));
    }
    let verdict = verify(state, creds, account).await;
    if matches!(verdict, Err(ApiError::Authentication)) {
        count_failure(state, client, Some(account)).await;
    }
    verdict
}

/// Counts a failed authentication of `client` (nothing to count without one).
async fn count_failure(state: &ApiState, client: Option<IpAddr>, account: Option<&AccountId>) {
    if let Some(ip) = client
        && let Err(e) = rate_limit::failed(&state.db, ip, account).await
    {
        tracing::warn!(error = %e, "could not count a failed authentication");
    }
}

impl Presented {
    fn any(&self) -> bool {
        self.bearer.is_some() || (self.email.is_some() && self.key.is_some())
    }
}

async fn verify(state: &ApiState, creds: &Presented, account: &AccountId) -> Result<(), ApiError> {
    let Some(record) = state.db.account(account).await? else {
        return Err(ApiError::Authentication);
    };
    let bearer_ok = creds
        .bearer
        .as_deref()
        .is_some_and(|t| matches_digest(t, &record.api_token_hash));
    // Clients that hold both kinds send both (the TypeScript SDK does); either proves it.
    let legacy_ok = creds
        .email
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case(&record.email))
        && creds
            .key
            .as_deref()
            .is_some_and(|k| matches_digest(k, &record.api_key_hash));
    if bearer_ok || legacy_ok {
        Ok(())
    } else {
        Err(ApiError::Authentication)
    }
}
