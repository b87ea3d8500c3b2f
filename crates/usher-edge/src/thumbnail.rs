//! `/{id}/thumbnails/thumbnail.jpg`: the stored poster frame, or one cut on demand for
//! `time`, `width`, `height` and `fit`, cached next to the published media.

use axum::extract::Request;
use axum::response::Response;

use crate::serve::{Authorized, EdgeState, send};

pub async fn serve(st: &EdgeState, auth: &Authorized, req: Request) -> Response {
    send(st, auth, "thumbnails/thumbnail.jpg", req).await
}
