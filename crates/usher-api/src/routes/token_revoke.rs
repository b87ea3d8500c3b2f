//! `POST …/stream/{uid}/token/revoke` (SPEC §9): refuses one token everywhere without
//! revoking its key. Named by `{"jti"}` (every token from `POST …/token` carries one) or
//! by the token itself (`{"token"}`, which works for self-signed tokens without a jti
//! too). A token given whole must verify with one of the account's keys and be for this
//! video, so the list only ever names real tokens; it is remembered until the token's
//! own `exp`. A jti alone says nothing of its expiry: it is remembered as long as a
//! token from `POST …/token` can live.

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use usher_core::revocation::token_id;
use usher_core::time_fmt::{format_micros, now_micros, now_secs};
use usher_edge::cache::LiveKey;
use usher_token::claims::MAX_JTI_LEN;
use usher_token::{MAX_TOKEN_LEN, MAX_TTL_SECS, UnverifiedToken};

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::envelope::ok;
use crate::error::ApiError;
use crate::routes::videos::parse_uid;
use crate::state::ApiState;

#[derive(Debug, Default, Deserialize)]
pub struct RevokeRequest {
    token: Option<String>,
    jti: Option<String>,
}

pub async fn revoke(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
    JsonBody(req): JsonBody<RevokeRequest>,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    let now = now_secs();
    let skew = st.config.clock_skew;
    let (id, expires) = match (req.token, req.jti) {
        (Some(token), None) => {
            if token.len() > MAX_TOKEN_LEN {
                return Err(ApiError::bad("token: too long to be a token"));
            }
            let not_ours = || ApiError::bad("token: not a token signed by a key of this account");
            let parsed = UnverifiedToken::parse(&token).map_err(|_| not_ours())?;
            let kid = usher_edge::access::token_kid(&parsed).ok_or_else(not_ours)?;
            let key = st
                .db
                .key(&kid)
                .await?
                .filter(|k| k.account_id == auth.account)
                .and_then(LiveKey::from_record)
                .ok_or_else(not_ours)?;
            let claims = parsed.verify(&key.key).map_err(|_| not_ours())?;
            if claims.sub != uid.as_str() {
                return Err(ApiError::bad("token: it is for another video"));
            }
            let exp = claims.exp.map_or(now + MAX_TTL_SECS, |t| t.0);
            (token_id(&token, claims.jti.as_deref()), exp)
        }
        (None, Some(jti)) => {
            if jti.is_empty() || jti.len() > MAX_JTI_LEN {
                return Err(ApiError::bad(format!("jti: 1 to {MAX_JTI_LEN} characters")));
            }
            (token_id("", Some(&jti)), now + MAX_TTL_SECS)
        }
        _ => return Err(ApiError::bad("give either token or jti")),
    };
    // Kept a little past the expiry, as long as an edge's clock may lag.
    let expires = expires.saturating_add(skew);
    st.db
        .revoke_token(&auth.account, &uid, &id, expires, now_micros())
        .await?
        .ok_or(ApiError::NotFound("Video not found"))?;
    Ok(ok(json!({
        "revoked": id,
        "until": format_micros(expires.saturating_mul(1_000_000)),
    })))
}
