//! `POST /stream/{uid}/token`: signed URL tokens minted by Usher for a video or a live
//! input, with either the account's own key or a signing key the caller proves it holds
//! (`id` + `pem`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use usher_core::time_fmt::{now_micros, now_secs};
use usher_core::{AccountId, KeyId, LiveInputId, VideoId};
use usher_store::master_key::account_key_aad;
use usher_store::{KeyKind, KeyRecord};
use usher_token::{Claims, MAX_TTL_SECS, SigningKey, Timestamp, VerifyingKey, parse_rules, sign};

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::envelope::ok;
use crate::error::ApiError;
use crate::state::ApiState;

/// Default lifetime and back-dating of a token, as Cloudflare's (one hour each way).
const DEFAULT_TTL_SECS: i64 = 60 * 60;

#[derive(Debug, Default, Deserialize)]
pub struct TokenRequest {
    id: Option<String>,
    pem: Option<String>,
    exp: Option<UnixTime>,
    nbf: Option<UnixTime>,
    downloadable: Option<bool>,
    #[serde(rename = "accessRules")]
    access_rules: Option<Value>,
    // Accepted for compatibility (`flags.original`); it has no effect here.
    #[allow(dead_code)]
    flags: Option<Flags>,
}

/// Unix seconds. Fractions are accepted and dropped: clients commonly send
/// `time.time() + 3600` unrounded.
#[derive(Debug, Clone, Copy)]
struct UnixTime(i64);

impl<'de> Deserialize<'de> for UnixTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        let secs = n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 1e15)
                    .map(|f| f.floor() as i64)
            })
            .ok_or_else(|| serde::de::Error::custom("expected unix seconds"))?;
        Ok(Self(secs))
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Flags {
    #[allow(dead_code)]
    original: Option<bool>,
}

pub async fn create(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
    JsonBody(req): JsonBody<TokenRequest>,
) -> Result<Response, ApiError> {
    let uid = subject(&st, &auth.account, &uid).await?;
    let now = now_secs();
    let exp = req.exp.map_or(now + DEFAULT_TTL_SECS, |t| t.0);
    let nbf = req.nbf.map_or(now - DEFAULT_TTL_SECS, |t| t.0);
    if exp <= now {
        return Err(ApiError::bad("exp: must be in the future"));
    }
    if exp > now + MAX_TTL_SECS {
        return Err(ApiError::bad("exp: must be at most 24 hours from now"));
    }
    if nbf < 0 {
        return Err(ApiError::bad("nbf: must be a unix timestamp"));
    }
    if nbf >= exp {
        return Err(ApiError::bad("nbf: must be before exp"));
    }
    let rules = match &req.access_rules {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => parse_rules(v).map_err(|e| ApiError::bad(format!("accessRules: {e}")))?,
    };
    let key = match (req.id.as_deref(), req.pem.as_deref()) {
        (None, None) => account_key(&st, &auth.account).await?,
        (Some(id), Some(pem)) => caller_key(&st, &auth.account, id, pem).await?,
        _ => return Err(ApiError::bad("id and pem must be given together")),
    };
    crate::rate_limit::token_request(&st.db, &st.limits(), &auth.account)
        .await?
        .map_err(ApiError::RateLimited)?;
    let mut claims = Claims::new(&uid);
    claims.exp = Some(Timestamp(exp));
    claims.nbf = Some(Timestamp(nbf));
    claims.downloadable = req.downloadable.unwrap_or(false);
    claims.access_rules = rules;
    // Names this one token, so that it can be revoked without its key.
    claims.jti = Some(usher_core::ids::random_hex_id());
    let token = sign(&key, &claims).map_err(ApiError::internal)?;
    Ok(ok(json!({ "token": token })))
}

/// What the token is for: the account's video, or else its live input (viewers watch a
/// broadcast by the input's uid, and a token whose `sub` is that uid plays it).
async fn subject(st: &ApiState, account: &AccountId, uid: &str) -> Result<String, ApiError> {
    let not_found = || ApiError::NotFound("Video not found");
    let video: VideoId = uid.parse().map_err(|_| not_found())?;
    if st.db.video(account, &video).await?.is_some() {
        return Ok(video.into());
    }
    let input: LiveInputId = uid.parse().map_err(|_| not_found())?;
    if st.db.account_live_input(account, &input).await?.is_some() {
        return Ok(input.into());
    }
    Err(not_found())
}

/// A signing key named by the caller, who must present its private half.
async fn caller_key(
    st: &ApiState,
    account: &AccountId,
    id: &str,
    pem: &str,
) -> Result<Arc<SigningKey>, ApiError> {
    let unknown = || ApiError::bad("id: no live signing key with this id");
    let id: KeyId = id.parse().map_err(|_| unknown())?;
    let record = st.db.live_key(account, &id).await?.ok_or_else(unknown)?;
    if record.kind != KeyKind::User {
        return Err(unknown());
    }
    let key = SigningKey::from_base64_pem(id.as_str(), pem)
        .map_err(|_| ApiError::bad("pem: not a base64-encoded RSA private key in PEM format"))?;
    let stored = STANDARD
        .decode(&record.public_key)
        .ok()
        .and_then(|der| VerifyingKey::from_spki_der(&der).ok())
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("stored public key of {id} unreadable"))
        })?;
    if !key.public_key_matches(&stored) {
        return Err(ApiError::bad("pem: does not belong to the signing key id"));
    }
    Ok(Arc::new(key))
}

/// The account's own signing key, created on first use and cached in memory.
async fn account_key(st: &ApiState, account: &AccountId) -> Result<Arc<SigningKey>, ApiError> {
    if let Some(k) = st.cached_account_key(account) {
        return Ok(k);
    }
    let key = match st.db.account_key(account).await? {
        Some(record) => {
            let aad = account_key_aad(&record.id, account);
            let der = match (&record.master_key_id, &record.private_key) {
                (Some(master), Some(sealed)) => st.master_keys.open(master, sealed, &aad)?,
                // Written in the clear before sealing existed, and not sealed yet (a
                // server started since seals it).
                (None, Some(clear)) => {
                    zeroize::Zeroizing::new(STANDARD.decode(clear).map_err(|_| {
                        ApiError::internal(anyhow::anyhow!("account key unreadable"))
                    })?)
                }
                (_, None) => {
                    return Err(ApiError::internal(anyhow::anyhow!(
                        "account key without its private half"
                    )));
                }
            };
            SigningKey::from_pkcs8_der(record.id.as_str(), &der).map_err(ApiError::internal)?
        }
        None => {
            let id = KeyId::generate();
            let key = super::keys::generate_key(&id).await?;
            let sealed = st.master_keys.seal(
                key.to_pkcs8_der().as_slice(),
                &account_key_aad(&id, account),
            )?;
            let record = KeyRecord {
                id,
                account_id: account.clone(),
                kind: KeyKind::Account,
                public_key: STANDARD.encode(key.verifying_key().to_spki_der()),
                private_key: Some(sealed.sealed),
                master_key_id: Some(sealed.master_key_id),
                created: now_micros(),
                revoked_at: None,
            };
            st.db.insert_key(&record, usize::MAX).await?;
            key
        }
    };
    Ok(st.cache_account_key(account, key))
}
