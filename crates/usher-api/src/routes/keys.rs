//! Signing keys (`/stream/keys`): created here, shown once, stored as public keys only.

use axum::extract::{Path, State};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;
use usher_core::KeyId;
use usher_core::time_fmt::{format_micros, now_micros};
use usher_store::{KeyKind, KeyRecord};
use usher_token::SigningKey;

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::envelope::{ok, ok_list};
use crate::error::ApiError;
use crate::state::ApiState;

/// `keys.create` takes no parameters; whatever is sent is ignored.
#[derive(Debug, Default, Deserialize)]
pub struct CreateKey {}

pub async fn create(
    State(st): State<ApiState>,
    auth: Authed,
    JsonBody(_): JsonBody<CreateKey>,
) -> Result<Response, ApiError> {
    let id = KeyId::generate();
    let key = generate_key(&id).await?;
    let created = now_micros();
    let record = KeyRecord {
        id: id.clone(),
        account_id: auth.account,
        kind: KeyKind::User,
        public_key: STANDARD.encode(key.verifying_key().to_spki_der()),
        private_key: None,
        master_key_id: None,
        created,
        revoked_at: None,
    };
    st.db
        .insert_key(&record, st.config.max_signing_keys)
        .await?;
    Ok(ok(json!({
        "id": id.as_str(),
        "pem": key.to_base64_pem(),
        "jwk": key.to_base64_jwk(),
        "created": format_micros(created),
    })))
}

/// A new RSA-2048 key. Generation takes tens of milliseconds of CPU, so it runs off
/// the reactor.
pub async fn generate_key(id: &KeyId) -> Result<SigningKey, ApiError> {
    let kid = id.to_string();
    tokio::task::spawn_blocking(move || SigningKey::generate(kid))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

pub async fn list(State(st): State<ApiState>, auth: Authed) -> Result<Response, ApiError> {
    let keys = st.db.user_keys(&auth.account).await?;
    let items = keys
        .iter()
        .map(|k| json!({"id": k.id.as_str(), "created": format_micros(k.created)}))
        .collect();
    Ok(ok_list(items, None))
}

pub async fn delete(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, key_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let not_found = ApiError::NotFound("Signing key not found");
    let Ok(id) = key_id.parse::<KeyId>() else {
        return Err(not_found);
    };
    if st
        .db
        .revoke_user_key(&auth.account, &id, now_micros())
        .await?
    {
        Ok(ok("Revoked"))
    } else {
        Err(not_found)
    }
}
