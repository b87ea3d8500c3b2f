//! Serving a live input's broadcast: `/{live input uid or token}/manifest/video.m3u8`
//! and `video.mpd`, and the playlists and segments they name, from the run on air
//! (`live/{input}/{run}/` in the blob store, written by `usher_live`). The decision is
//! the video's ([`crate::access::decide`] on a [`LiveChannel`]); only what is sent
//! differs: playlists change every segment and are read afresh, segments never change.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use usher_core::{AccountId, LiveInputId, Video};
use usher_store::layout::{LIVE_DASH_MANIFEST, LIVE_HLS_MASTER, live_run_prefix};

use crate::access::{Denial, Resource, Subject};
use crate::serve::{EdgeState, denied};

/// Largest playlist read: a 6-segment window is a few KiB.
const MAX_PLAYLIST_BYTES: u64 = 1 << 20;

/// A live input as the access decision and the edge need it.
#[derive(Debug, Clone)]
pub struct LiveChannel {
    /// Whose broadcast this is: where its files are.
    pub input: LiveInputId,
    /// What a token's `sub` names: the input, or a recording of the broadcast that is
    /// still on air (which plays the broadcast).
    pub uid: String,
    pub account_id: AccountId,
    pub name: Option<String>,
    pub require_signed_urls: bool,
    pub allowed_origins: Vec<String>,
    /// The broadcast run on air, if any.
    pub run: Option<String>,
}

impl LiveChannel {
    pub fn new(input: usher_store::LiveInputRecord, run: Option<String>) -> Self {
        Self {
            name: input
                .meta
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_owned),
            uid: input.uid.to_string(),
            input: input.uid,
            account_id: input.account_id,
            require_signed_urls: input.recording.require_signed_urls,
            allowed_origins: input.recording.allowed_origins,
            run: run.filter(|_| input.enabled),
        }
    }
}

impl LiveChannel {
    /// The broadcast as its recording in progress plays it: named by the video's uid,
    /// under the video's own access settings.
    pub fn as_recording(&self, video: &Video) -> Self {
        Self {
            input: self.input.clone(),
            uid: video.uid.to_string(),
            account_id: video.account_id.clone(),
            name: video.name().map(str::to_owned),
            require_signed_urls: video.require_signed_urls,
            allowed_origins: video.allowed_origins.clone(),
            run: self.run.clone(),
        }
    }
}

impl Subject for LiveChannel {
    fn uid(&self) -> &str {
        &self.uid
    }
    fn account(&self) -> &AccountId {
        &self.account_id
    }
    fn require_signed_urls(&self) -> bool {
        self.require_signed_urls
    }
    fn availability(&self, resource: Resource) -> Result<(), Denial> {
        match resource {
            Resource::Player => Ok(()),
            Resource::Media if self.run.is_some() => Ok(()),
            Resource::Media => Err(Denial::NotBroadcasting),
            Resource::Thumbnail | Resource::Download => Err(Denial::NotFound),
        }
    }
}

/// The file of the run that `rest` (what follows `/{id}/`) names.
fn live_file(rest: &str) -> Option<&str> {
    match rest {
        "manifest/video.m3u8" => Some(LIVE_HLS_MASTER),
        "manifest/video.mpd" => Some(LIVE_DASH_MANIFEST),
        _ => rest
            .strip_prefix("manifest/")
            .filter(|f| crate::published::is_live_file(f)),
    }
}

/// Sends file `rest` of the broadcast on air for an authorized request.
pub async fn send(
    st: &EdgeState,
    live: &LiveChannel,
    private: bool,
    rest: &str,
    req: Request,
) -> Response {
    let (Some(run), Some(file)) = (&live.run, live_file(rest)) else {
        return denied(&Denial::NotFound);
    };
    let key = format!("{}/{file}", live_run_prefix(live.input.as_str(), run));
    let origin = req.headers().get(header::ORIGIN).cloned();
    let scope = if private { "private" } else { "public" };
    let mut resp = if file.ends_with(".m3u8") || file.ends_with(".mpd") {
        match st.blobs.get_bytes(&key, MAX_PLAYLIST_BYTES).await {
            Ok(Some(body)) => {
                let mut r = (StatusCode::OK, body).into_response();
                // A playlist changes with every segment: players reload it every
                // target duration, and a cache in between may hold it a second.
                if let Ok(v) = HeaderValue::from_str(&format!("{scope}, max-age=1")) {
                    r.headers_mut().insert(header::CACHE_CONTROL, v);
                }
                r
            }
            // Not written yet: the run has just started.
            Ok(None) => return denied(&Denial::NotBroadcasting),
            Err(e) => {
                tracing::error!(error = %e, key, "edge could not read a live playlist");
                return (StatusCode::SERVICE_UNAVAILABLE, "try again\n").into_response();
            }
        }
    } else {
        let mut r = st.files.respond(&key, &st.blobs, req).await;
        if r.status() == StatusCode::NOT_FOUND {
            return denied(&Denial::NotFound);
        }
        if !r.status().is_server_error()
            && let Ok(v) = HeaderValue::from_str(&format!("{scope}, max-age=3600, immutable"))
        {
            r.headers_mut().insert(header::CACHE_CONTROL, v);
        }
        r
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::published::content_type(file)),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        origin.unwrap_or(HeaderValue::from_static("*")),
    );
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    resp
}
