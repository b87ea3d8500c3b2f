//! Live inputs (SPEC §8): `…/stream/live_inputs` create, list, get, update (`PUT`) and
//! delete, the recordings of one (`…/{uid}/videos`), and in [`outputs`] where its
//! broadcast is re-streamed. Another account's input is not found, by every path.

pub mod outputs;
mod render;
mod request;

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::Value;
use usher_core::LiveInputId;
use usher_core::time_fmt::now_micros;
use usher_store::LiveInputRecord;

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::envelope::{ok, ok_list};
use crate::error::ApiError;
use crate::state::ApiState;
use request::LiveInputRequest;

fn not_found() -> ApiError {
    ApiError::NotFound("Live input not found")
}

fn parse_uid(uid: &str) -> Result<LiveInputId, ApiError> {
    uid.parse().map_err(|_| not_found())
}

pub async fn create(
    State(st): State<ApiState>,
    auth: Authed,
    JsonBody(req): JsonBody<LiveInputRequest>,
) -> Result<Response, ApiError> {
    let edit = request::validate(req)?;
    let mut input = LiveInputRecord::new(auth.account, now_micros());
    edit.apply_to(&mut input);
    st.db.insert_live_input(&input).await?;
    Ok(ok(render::live_input(&input, &st.config)))
}

/// All the account's inputs (at most `MAX_LIVE_INPUTS`), newest first. `include_counts`
/// changes nothing: the count is always there.
pub async fn list(State(st): State<ApiState>, auth: Authed) -> Result<Response, ApiError> {
    let inputs = st.db.list_live_inputs(&auth.account).await?;
    Ok(ok(render::live_input_list(&inputs)))
}

pub async fn get(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    let input = st
        .db
        .account_live_input(&auth.account, &uid)
        .await?
        .ok_or_else(not_found)?;
    Ok(ok(render::live_input(&input, &st.config)))
}

pub async fn update(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
    JsonBody(req): JsonBody<LiveInputRequest>,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    let edit = request::validate(req)?;
    let input = st
        .db
        .update_live_input(&auth.account, &uid, &edit, now_micros())
        .await?
        .ok_or_else(not_found)?;
    Ok(ok(render::live_input(&input, &st.config)))
}

/// `POST …/live_inputs/{uid}/rotate_keys` (an Usher extension: Cloudflare has no way to
/// change a key short of a new input): a fresh stream key and SRT passphrase; the old
/// ones open nothing from now on.
pub async fn rotate_keys(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    let input = st
        .db
        .rotate_live_input_secrets(&auth.account, &uid, now_micros())
        .await?
        .ok_or_else(not_found)?;
    Ok(ok(render::live_input(&input, &st.config)))
}

/// Deletes the input and its outputs; its recordings stay, as videos of their own.
pub async fn delete(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    st.db
        .delete_live_input(&auth.account, &uid)
        .await?
        .ok_or_else(not_found)?;
    Ok(ok(Value::Null))
}

/// `GET …/live_inputs/{uid}/videos`: the input's recordings, newest first.
pub async fn videos(
    State(st): State<ApiState>,
    auth: Authed,
    Path((_, uid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let uid = parse_uid(&uid)?;
    if st
        .db
        .account_live_input(&auth.account, &uid)
        .await?
        .is_none()
    {
        return Err(not_found());
    }
    let videos = st.db.videos_of_live_input(&auth.account, &uid).await?;
    let items = videos
        .iter()
        .map(|v| crate::render::video(v, &st.config.edge_url))
        .collect();
    Ok(ok_list(items, None))
}
