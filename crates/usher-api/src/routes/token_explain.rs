//! `POST …/stream/token/explain` (SPEC §9): the decision the edge would take for a token
//! now, every check with its verdict — computed by the edge's own decision code
//! (`usher_edge::explain`). The request the edge would be deciding is described by the
//! body: the client's `ip` (default: the caller's own address, as an edge would resolve
//! it), its `country` (default: where the GeoIP database places that address), the
//! `origin` the player sends, and the `resource` asked for.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use usher_core::VideoId;
use usher_core::origin::RequestOrigin;
use usher_edge::access::Resource;
use usher_edge::explain::{Question, explain};
use usher_token::MAX_TOKEN_LEN;

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::envelope::ok;
use crate::error::ApiError;
use crate::state::ApiState;

#[derive(Debug, Default, Deserialize)]
pub struct ExplainRequest {
    token: Option<String>,
    ip: Option<String>,
    country: Option<String>,
    origin: Option<String>,
    resource: Option<String>,
    video: Option<String>,
}

fn resource(name: Option<&str>) -> Result<Resource, ApiError> {
    Ok(match name.unwrap_or("media") {
        "media" | "manifest" | "segment" => Resource::Media,
        "download" => Resource::Download,
        "thumbnail" => Resource::Thumbnail,
        "player" | "iframe" | "watch" => Resource::Player,
        _ => {
            return Err(ApiError::bad(
                "resource: one of media, download, thumbnail, player",
            ));
        }
    })
}

pub async fn explain_token(
    State(st): State<ApiState>,
    auth: Authed,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ExplainRequest>,
) -> Result<Response, ApiError> {
    let token = req.token.ok_or_else(|| ApiError::bad("token: required"))?;
    if token.len() > MAX_TOKEN_LEN {
        return Err(ApiError::bad(format!(
            "token: at most {MAX_TOKEN_LEN} characters"
        )));
    }
    let client: IpAddr = match &req.ip {
        Some(ip) => ip
            .parse::<IpAddr>()
            .map_err(|_| ApiError::bad("ip: not an IPv4 or IPv6 address"))?
            .to_canonical(),
        None => st.clients.client_ip(peer.ip(), &headers),
    };
    let country = match &req.country {
        Some(c) => Some(
            usher_edge::client::Country::parse(c)
                .ok_or_else(|| ApiError::bad("country: a two-letter ISO 3166-1 code"))?,
        ),
        None => st.clients.country_of(client),
    };
    let origin = req
        .origin
        .as_deref()
        .map(|o| {
            RequestOrigin::parse(o)
                .ok_or_else(|| ApiError::bad("origin: a scheme://host[:port] origin"))
        })
        .transpose()?;
    let video = req
        .video
        .as_deref()
        .map(|v| {
            v.parse::<VideoId>()
                .map_err(|_| ApiError::bad("video: a video uid (32 hex characters)"))
        })
        .transpose()?;
    let question = Question {
        token: &token,
        video,
        resource: resource(req.resource.as_deref())?,
        client,
        country: country.as_ref().map(|c| c.as_str()),
        origin: origin.as_ref(),
        skew: st.config.clock_skew,
    };
    let answer = explain(&st.db, &auth.account, &question).await?;
    Ok(ok(answer))
}
