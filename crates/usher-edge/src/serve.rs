//! Serving `/{uid or token}/<path>`: resolve what the request names, decide with
//! [`crate::access::decide`], then send the published file with ranges and conditional
//! requests. Keys and policies are read from the database on every request, so a
//! revocation or policy edit applies to the very next request.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use usher_core::origin::{AllowedOrigin, RequestOrigin};
use usher_core::time_fmt::now_secs;
use usher_core::{KeyId, Video, VideoId};
use usher_store::layout::generation_prefix;
use usher_store::{Blobs, Db};
use usher_token::{UnverifiedToken, VerifyingKey};

use crate::access::{
    Denial, KeyInfo, Presented, Request as AccessRequest, Resource, decide, verify_token,
};

#[derive(Clone)]
pub struct EdgeState {
    pub db: Db,
    pub blobs: Blobs,
    /// Seconds of tolerated clock difference on token times.
    pub clock_skew: i64,
}

/// Which published file a path names, and what kind of resource it is. Anything else
/// is not served, whatever the token says.
pub fn classify(path: &str) -> Option<Resource> {
    let seg = |s: &str| {
        s == "index.m3u8"
            || s == "init.mp4"
            || s.strip_prefix("seg_")
                .and_then(|r| r.strip_suffix(".m4s"))
                .is_some_and(|n| n.len() == 5 && n.bytes().all(|b| b.is_ascii_digit()))
    };
    match path {
        "manifest/video.m3u8" | "manifest/video.mpd" => Some(Resource::Media),
        "downloads/default.mp4" => Some(Resource::Download),
        "thumbnails/thumbnail.jpg" => Some(Resource::Thumbnail),
        _ => {
            let rest = path.strip_prefix("manifest/")?;
            let (rendition, file) = rest.split_once('/')?;
            let (kind, n) = rendition.split_at_checked(1)?;
            let ok = matches!(kind, "v" | "a")
                && !n.is_empty()
                && n.len() <= 2
                && n.bytes().all(|b| b.is_ascii_digit())
                && seg(file);
            ok.then_some(Resource::Media)
        }
    }
}

fn content_type(path: &str) -> &'static str {
    if path.ends_with(".m3u8") {
        "application/vnd.apple.mpegurl"
    } else if path.ends_with(".mpd") {
        "application/dash+xml"
    } else if path.ends_with(".jpg") {
        "image/jpeg"
    } else {
        "video/mp4"
    }
}

fn denied(d: &Denial) -> Response {
    let status = StatusCode::from_u16(d.status()).unwrap_or(StatusCode::FORBIDDEN);
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        format!("{d}\n"),
    )
        .into_response()
}

fn request_origin(headers: &HeaderMap) -> Option<RequestOrigin> {
    let get = |h| headers.get(h).and_then(|v: &HeaderValue| v.to_str().ok());
    get(header::ORIGIN)
        .or_else(|| get(header::REFERER))
        .and_then(RequestOrigin::parse)
}

pub async fn media(
    State(st): State<EdgeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((id, rest)): Path<(String, String)>,
    req: Request,
) -> Response {
    let Some(resource) = classify(&rest) else {
        return denied(&Denial::NotFound);
    };
    match resolve_and_decide(&st, &id, resource, peer, req.headers()).await {
        Ok((video, private)) => send(&st, &video, &rest, private, req).await,
        Err(d) => denied(&d),
    }
}

async fn resolve_and_decide(
    st: &EdgeState,
    id: &str,
    resource: Resource,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<(Video, bool), Denial> {
    let origin = request_origin(headers);
    let facts = AccessRequest {
        resource,
        client: peer.ip().to_canonical(),
        country: None,
        origin: origin.as_ref(),
        now: now_secs(),
        skew: st.clock_skew,
    };
    let internal = |e: usher_store::StoreError| {
        tracing::error!(error = %e, "edge could not read the store");
        Denial::NotFound
    };
    let load = |uid: VideoId| async move {
        st.db
            .video_by_uid(&uid)
            .await
            .map_err(internal)?
            .ok_or(Denial::NotFound)
    };
    if let Ok(uid) = id.parse::<VideoId>() {
        let video = load(uid).await?;
        let origins = allowed(&video);
        let grant = decide(&video, &origins, Presented::Uid, &facts, true)?;
        return Ok((video, grant.private));
    }
    let token = UnverifiedToken::parse(id).map_err(|_| Denial::NotFound)?;
    let kid: KeyId = token
        .kid()
        .and_then(|k| k.parse().ok())
        .ok_or(Denial::InvalidToken("unknown signing key"))?;
    let record = st
        .db
        .key(&kid)
        .await
        .map_err(internal)?
        .ok_or(Denial::InvalidToken("unknown signing key"))?;
    let key = STANDARD
        .decode(&record.public_key)
        .ok()
        .and_then(|der| VerifyingKey::from_spki_der(&der).ok())
        .ok_or(Denial::InvalidToken("unknown signing key"))?;
    let info = KeyInfo {
        account: &record.account_id,
        key: &key,
        revoked: record.revoked_at.is_some(),
    };
    // The video is named by the token's `sub`, which is only trusted once signed.
    let claims = verify_token(&token, Some(info))?;
    let uid: VideoId = claims.sub.parse().map_err(|_| Denial::NotFound)?;
    let video = load(uid).await?;
    let origins = allowed(&video);
    let presented = Presented::Token {
        claims: &claims,
        key_account: &record.account_id,
    };
    let grant = decide(&video, &origins, presented, &facts, true)?;
    Ok((video, grant.private))
}

fn allowed(video: &Video) -> Vec<AllowedOrigin> {
    // Entries were validated when stored; one that no longer parses matches nothing.
    video
        .allowed_origins
        .iter()
        .filter_map(|o| AllowedOrigin::parse(o).ok())
        .collect()
}

async fn send(st: &EdgeState, video: &Video, rest: &str, private: bool, req: Request) -> Response {
    let Some(generation) = video.media_generation.as_deref() else {
        return denied(&Denial::NotFound);
    };
    let key = format!("{}/{rest}", generation_prefix(&video.uid, generation));
    let Some(path) = st.blobs.local_path(&key) else {
        return denied(&Denial::NotFound);
    };
    let filename = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("filename=")))
        .filter(|f| {
            f.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
        .map(str::to_owned);
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut resp = match ServeFile::new(&path)
        .oneshot(req.map(|_| Body::empty()))
        .await
    {
        Ok(r) => r.map(Body::new).into_response(),
        Err(e) => match e {},
    };
    if resp.status() == StatusCode::NOT_FOUND {
        return denied(&Denial::NotFound);
    }
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(rest)),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if private {
            "private, max-age=300"
        } else {
            "public, max-age=300"
        }),
    );
    // The origin was already checked by the access decision; reflect it for players on other sites.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        origin.unwrap_or(HeaderValue::from_static("*")),
    );
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(name) = filename.filter(|_| rest == "downloads/default.mp4")
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_published_files_are_addressable() {
        for ok in [
            "manifest/video.m3u8",
            "manifest/video.mpd",
            "manifest/v0/index.m3u8",
            "manifest/a0/init.mp4",
            "manifest/v12/seg_00001.m4s",
            "downloads/default.mp4",
            "thumbnails/thumbnail.jpg",
        ] {
            assert!(classify(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "manifest/index.json",
            "manifest/../../../etc/passwd",
            "manifest/v0/../../x",
            "manifest/v0/seg_1.m4s",
            "manifest/x0/init.mp4",
            "manifest/v/init.mp4",
            "manifest/v0/init.mp4/x",
            "../usher.db",
            "downloads/other.mp4",
        ] {
            assert!(classify(bad).is_none(), "{bad}");
        }
        assert_eq!(classify("downloads/default.mp4"), Some(Resource::Download));
    }
}
