//! The player pages, `/{id}/iframe` and `/{id}/watch`.

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::response::Response;
use std::net::SocketAddr;

use crate::access::{Denial, Resource};
use crate::serve::{EdgeState, authorize, denied, viewer};

pub async fn page(
    State(st): State<EdgeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let viewer = viewer(&st, peer, &req);
    match authorize(&st, &id, Resource::Player, &viewer).await {
        Ok(_) => denied(&Denial::NotFound),
        Err(d) => denied(&d),
    }
}
