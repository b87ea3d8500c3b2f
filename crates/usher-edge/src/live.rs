//! Serving a live input's broadcast: `/{live input uid or token}/manifest/video.m3u8`
//! and `video.mpd`, and the playlists and segments they name, from the run on air
//! (`live/{input}/{run}/` in the blob store, written by `usher_live`). The decision is
//! the video's ([`crate::access::decide`] on a [`LiveChannel`]); only what is sent
//! differs: playlists change every segment and are read afresh, segments never change.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use usher_core::{AccountId, LiveInputId, Video};
use usher_store::layout::{LIVE_DASH_MANIFEST, LIVE_HLS_MASTER, live_run_prefix};

use crate::access::{Denial, Resource, Subject};
use crate::serve::{EdgeState, denied};

/// Largest playlist read: a 6-segment window is a few KiB.
const MAX_PLAYLIST_BYTES: u64 = 1 << 20;
/// How long a playlist read from the store is served from memory. A playlist changes
/// once a segment (2 s), so this adds at most this much to a viewer's latency, while
/// thousands of viewers reloading it cost one store read per interval instead of one
/// each (measured: 131 µs of CPU per playlist read from local files, docs/performance.md).
pub const PLAYLIST_TTL: Duration = Duration::from_millis(250);
/// Playlists kept: a few per broadcast on air.
const PLAYLISTS: usize = 10_000;

/// Live playlists recently read from the store.
pub struct Playlists {
    cache: quick_cache::sync::Cache<String, (Instant, Bytes)>,
}

impl Default for Playlists {
    fn default() -> Self {
        Self {
            cache: quick_cache::sync::Cache::new(PLAYLISTS),
        }
    }
}

impl Playlists {
    /// The playlist at `key`, from memory if read less than [`PLAYLIST_TTL`] ago.
    async fn get(
        &self,
        blobs: &usher_store::Blobs,
        key: &str,
    ) -> Result<Option<Bytes>, usher_store::StoreError> {
        if let Some((at, body)) = self.cache.get(key)
            && at.elapsed() < PLAYLIST_TTL
        {
            return Ok(Some(body));
        }
        let read = blobs.get_bytes(key, MAX_PLAYLIST_BYTES).await?;
        if let Some(body) = &read {
            self.cache
                .insert(key.to_owned(), (Instant::now(), body.clone()));
        }
        Ok(read)
    }
}

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

/// Who is watching which broadcast, from the media playlists this edge serves: a viewer
/// is a client address and the id (uid or token) it plays by, seen in the last
/// [`VIEWER_WINDOW`].
#[derive(Default)]
pub struct Viewers {
    seen: Mutex<HashMap<LiveInputId, HashMap<u64, Instant>>>,
}

/// A player reloads its playlist every segment (2 s); one not seen for this long has
/// left.
pub const VIEWER_WINDOW: Duration = Duration::from_secs(30);

impl Viewers {
    /// Counts `viewer` as watching `input` now, and sets the input's viewer gauge.
    pub fn saw(&self, input: &LiveInputId, viewer: u64) {
        let now = Instant::now();
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        let watching = seen.entry(input.clone()).or_default();
        watching.insert(viewer, now);
        watching.retain(|_, at| now.duration_since(*at) < VIEWER_WINDOW);
        let count = i64::try_from(watching.len()).unwrap_or(i64::MAX);
        usher_metrics::metrics()
            .live_viewers
            .get_or_create(&usher_metrics::InputLabels {
                input: input.to_string(),
            })
            .set(count);
    }
}

impl Viewers {
    /// Viewers per input now, forgetting inputs nobody watches any more.
    pub fn snapshot(&self) -> Vec<(String, i64)> {
        let now = Instant::now();
        let Ok(mut seen) = self.seen.lock() else {
            return Vec::new();
        };
        seen.retain(|_, watching| {
            watching.retain(|_, at| now.duration_since(*at) < VIEWER_WINDOW);
            !watching.is_empty()
        });
        seen.iter()
            .map(|(input, w)| {
                (
                    input.to_string(),
                    i64::try_from(w.len()).unwrap_or(i64::MAX),
                )
            })
            .collect()
    }
}

/// `GET /{live input uid}/views`: `{"liveViewers": n}`, the viewers every edge sees on
/// the broadcast now (reported at their last flush), as Cloudflare's endpoint of that
/// name answers. Any other uid is not found.
pub async fn views(
    axum::extract::State(st): axum::extract::State<EdgeState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let Ok(input) = id.parse::<LiveInputId>() else {
        return crate::serve::denied(&Denial::NotFound);
    };
    match st.db.live_input(&input).await {
        Ok(Some(_)) => {}
        Ok(None) => return crate::serve::denied(&Denial::NotFound),
        Err(e) => {
            tracing::error!(error = %e, "edge could not read the store");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    match st.db.live_viewers(input.as_str()).await {
        Ok(n) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            ],
            format!("{{\"liveViewers\":{n}}}"),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "edge could not read the store");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// A viewer's identity for [`Viewers`]: never stored, only hashed.
pub fn viewer_key(client: IpAddr, id: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    (client, id).hash(&mut h);
    h.finish()
}

/// Seconds since the newest segment of a live media playlist ended (its last
/// `#EXT-X-PROGRAM-DATE-TIME` plus its duration), as seen from `now_micros`.
pub fn newest_segment_age(playlist: &str, now_micros: i64) -> Option<f64> {
    let mut start = None;
    let mut duration = 0.0;
    for line in playlist.lines() {
        if let Some(t) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            start = program_date_time(t);
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = d.split(',').next()?.trim().parse::<f64>().ok()?;
        }
    }
    let end = start? as f64 + duration * 1e6;
    Some((now_micros as f64 - end) / 1e6)
}

/// ffmpeg writes `2026-12-06T03:20:03.000+0000`: RFC 3339 but for the offset's colon.
fn program_date_time(t: &str) -> Option<i64> {
    let t = t.trim();
    let fixed = match t.len().checked_sub(5).and_then(|i| t.split_at_checked(i)) {
        Some((head, off))
            if (off.starts_with('+') || off.starts_with('-'))
                && off[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{head}{}:{}", &off[..3], &off[3..])
        }
        _ => t.to_owned(),
    };
    usher_core::time_fmt::parse_rfc3339(&fixed)
}

/// Sends file `rest` of the broadcast on air for an authorized request by `viewer`.
pub async fn send(
    st: &EdgeState,
    live: &LiveChannel,
    private: bool,
    rest: &str,
    viewer: u64,
    req: Request,
) -> Response {
    let (Some(run), Some(file)) = (&live.run, live_file(rest)) else {
        return denied(&Denial::NotFound);
    };
    let key = format!("{}/{file}", live_run_prefix(live.input.as_str(), run));
    let origin = req.headers().get(header::ORIGIN).cloned();
    let scope = if private { "private" } else { "public" };
    let mut resp = if file.ends_with(".m3u8") || file.ends_with(".mpd") {
        match st.playlists.get(&st.blobs, &key).await {
            Ok(Some(body)) => {
                if file.starts_with("media_") {
                    st.viewers.saw(&live.input, viewer);
                    if let Some(age) = std::str::from_utf8(&body)
                        .ok()
                        .and_then(|p| newest_segment_age(p, usher_core::time_fmt::now_micros()))
                    {
                        usher_metrics::metrics()
                            .live_segment_age
                            .observe(age.max(0.0));
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_segment_age_comes_from_its_program_date_time() {
        let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000000,\n\
            #EXT-X-PROGRAM-DATE-TIME:2026-12-06T03:20:03.000+0000\nseg-a-0-000001.m4s\n\
            #EXTINF:1.500000,\n#EXT-X-PROGRAM-DATE-TIME:2026-12-06T03:20:05.000+0000\n\
            seg-a-0-000002.m4s\n";
        let end = usher_core::time_fmt::parse_rfc3339("2026-12-06T03:20:06.500Z").unwrap();
        let age = newest_segment_age(playlist, end + 2_250_000).unwrap();
        assert!((age - 2.25).abs() < 1e-6, "{age}");
        assert_eq!(newest_segment_age("#EXTM3U\n", end), None);
        // Another zone's offset counts.
        assert_eq!(
            program_date_time("2026-12-06T04:20:03.000+0100"),
            usher_core::time_fmt::parse_rfc3339("2026-12-06T03:20:03Z")
        );
    }

    #[test]
    fn viewers_are_counted_once_each_per_input() {
        let v = Viewers::default();
        let input = LiveInputId::generate();
        let a = viewer_key("192.0.2.1".parse().unwrap(), "tok");
        v.saw(&input, a);
        v.saw(&input, a);
        v.saw(&input, viewer_key("192.0.2.2".parse().unwrap(), "tok"));
        let seen = v.seen.lock().unwrap();
        assert_eq!(seen[&input].len(), 2);
    }
}
