//! Who is calling: `Authorization: Bearer <api token>` or the legacy
//! `X-Auth-Email` + `X-Auth-Key` pair, checked against the account named in the path.
//! A credential for one account never opens another: the account id in the path picks
//! the stored digests the presented secret is compared with, in constant time.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use usher_core::AccountId;
use usher_core::secret::matches_digest;

use crate::error::ApiError;
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
        let params: Path<HashMap<String, String>> = Path::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NoRoute)?;
        let account: AccountId = params
            .get("account_id")
            .and_then(|s| s.parse().ok())
            .ok_or(ApiError::Authentication)?;
        verify(state, &creds, &account).await?;
        Ok(Authed { account })
    }
}

/// Checks that `headers` carry a credential of `account`, for routes whose path names
/// no account (a resumable upload's URL names only the upload).
pub(crate) async fn require(
    state: &ApiState,
    headers: &HeaderMap,
    account: &AccountId,
) -> Result<(), ApiError> {
    let creds = presented(headers);
    if !creds.any() {
        return Err(ApiError::MissingCredentials);
    }
    verify(state, &creds, account).await
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
