//! Serving `/{uid or token}/<path>`: resolve what the request names, decide with
//! [`crate::access::decide`], then send the published file with ranges and conditional
//! requests. Videos, keys and verified tokens come from [`crate::cache`], which a
//! revocation or policy edit makes stale (at once in this process, within a poll
//! interval in others).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use usher_core::origin::{AllowedOrigin, RequestOrigin};
use usher_core::revocation::token_id;
use usher_core::time_fmt::now_secs;
use usher_core::{AccountId, KeyId, LiveInputId, Video, VideoId, VideoState};
use usher_store::{Blobs, Db};

use crate::access::{
    Denial, Presented, Request as AccessRequest, Resource, decide, parse_token, token_kid,
    verify_token,
};
use crate::analytics::{Analytics, Hit};
use crate::cache::{EdgeCache, LiveKey, VerifiedToken};
use crate::client::{Client, Clients};
use crate::files::Files;
use crate::live::LiveChannel;
use crate::published::{Place, blob_key, content_type};

#[derive(Clone)]
pub struct EdgeState {
    pub db: Db,
    pub blobs: Blobs,
    /// Seconds of tolerated clock difference on token times.
    pub clock_skew: i64,
    pub clients: Arc<Clients>,
    pub cache: Arc<EdgeCache>,
    /// Published files kept in memory.
    pub files: Arc<Files>,
    /// Cuts thumbnails on demand; without it only the stored poster is served.
    pub thumbnails: Option<Arc<crate::thumbnail::Thumbnailer>>,
    /// Who watches which broadcast, for the live viewer counts.
    pub viewers: Arc<crate::live::Viewers>,
    /// Live playlists read from the store in the last moment.
    pub playlists: Arc<crate::live::Playlists>,
    /// Usher's own origin as viewers see it (`--public-url`), so requests from its
    /// player page are recognised behind a proxy that rewrites `Host`.
    pub public_origin: Option<Arc<RequestOrigin>>,
    /// Viewing analytics, counted here and flushed by an [`crate::analytics::Flusher`].
    pub analytics: Arc<Analytics>,
}

impl EdgeState {
    /// Bytes of published media kept in memory unless the caller says otherwise.
    pub const DEFAULT_FILE_CACHE: u64 = 256 << 20;

    pub fn new(db: Db, blobs: Blobs, clock_skew: i64, clients: Clients) -> Self {
        Self {
            db,
            blobs,
            clock_skew,
            clients: Arc::new(clients),
            cache: Arc::new(EdgeCache::default()),
            files: Arc::new(Files::new(Self::DEFAULT_FILE_CACHE)),
            thumbnails: None,
            viewers: Arc::default(),
            playlists: Arc::default(),
            public_origin: None,
            analytics: Arc::new(Analytics::new(true)),
        }
    }
}

pub use crate::published::classify;

pub fn denied(d: &Denial) -> Response {
    usher_metrics::metrics()
        .denials
        .get_or_create(&usher_metrics::ReasonLabels { reason: d.label() })
        .inc();
    let status = StatusCode::from_u16(d.status()).unwrap_or(StatusCode::FORBIDDEN);
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        format!("{d}\n"),
    )
        .into_response()
}

/// Who is asking and from which site.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub client: Client,
    pub origin: Option<RequestOrigin>,
}

/// The value of query parameter `name`, percent-decoded.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    form_urlencoded::parse(req.uri().query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub fn viewer(st: &EdgeState, peer: SocketAddr, req: &Request) -> Viewer {
    Viewer {
        client: st.clients.resolve(peer.ip(), req.headers()),
        origin: request_origin(st.public_origin.as_deref(), req),
    }
}

/// The request's origin: `Origin`, else `Referer`; but for a request from Usher's own
/// player page, the embedding page's origin that the player forwards as `?parentOrigin=`.
/// Only a `Referer`/`Origin` naming this server's player page lets `parentOrigin` count:
/// a page elsewhere that sends neither (`no-referrer`) cannot choose its own origin.
fn request_origin(public: Option<&RequestOrigin>, req: &Request) -> Option<RequestOrigin> {
    let headers = req.headers();
    let get = |h| headers.get(h).and_then(|v: &HeaderValue| v.to_str().ok());
    let (raw, from_referer) = match get(header::ORIGIN) {
        Some(o) => (o, false),
        None => (get(header::REFERER)?, true),
    };
    let origin = RequestOrigin::parse(raw)?;
    let ours = public == Some(&origin)
        || get(header::HOST).is_some_and(|host| {
            RequestOrigin::parse(&format!("{}://{host}", origin.scheme)).as_ref() == Some(&origin)
        });
    if !ours {
        return Some(origin);
    }
    // Same-origin requests carry the player page's URL as their Referer; an `Origin`
    // header alone cannot say which of our pages sent it.
    let from_player = from_referer && is_player_page(raw);
    if from_player {
        return query_param(req, "parentOrigin").and_then(|p| RequestOrigin::parse(&p));
    }
    Some(origin)
}

fn is_player_page(referer: &str) -> bool {
    let path = referer
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("");
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.ends_with("/iframe") || path.ends_with("/watch")
}

/// A request the access decision let through.
#[derive(Debug, Clone)]
pub struct Authorized {
    pub video: Arc<Video>,
    /// Served for a token: `Cache-Control: private`.
    pub private: bool,
}

/// What a granted request plays: a video, or a live input's broadcast.
#[derive(Debug, Clone)]
pub enum Granted {
    Video(Authorized),
    Live {
        channel: Arc<LiveChannel>,
        private: bool,
    },
}

/// `GET /{id}/{*rest}` through the router; [`crate::fast_path`] calls [`answer_media`]
/// directly for most requests.
pub async fn media(
    State(st): State<EdgeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((id, rest)): Path<(String, String)>,
    req: Request,
) -> Response {
    answer_media(&st, peer, &id, &rest, req).await
}

/// Answers a request for the published file `rest` of `{id}` (a uid or a token).
pub async fn answer_media(
    st: &EdgeState,
    peer: SocketAddr,
    id: &str,
    rest: &str,
    req: Request,
) -> Response {
    let Some(published) = classify(rest) else {
        return denied(&Denial::NotFound);
    };
    let viewer = viewer(st, peer, &req);
    // A HEAD answer sends no body: nothing is delivered, nobody watched.
    let counted = st.analytics.enabled() && req.method() != axum::http::Method::HEAD;
    match authorize_counted(st, id, published.resource, &viewer).await {
        Ok(Granted::Video(auth)) => {
            let resp = if published.resource == Resource::Thumbnail {
                crate::thumbnail::serve(st, &auth, req).await
            } else {
                send(st, &auth, rest, &published.place, req).await
            };
            let v = &auth.video;
            let generation = v.media_generation.as_deref();
            count(
                counted,
                st,
                (v.account_id.as_str(), v.uid.as_str(), generation),
                id,
                rest,
                &viewer,
                &resp,
            );
            resp
        }
        Ok(Granted::Live { channel, private }) => {
            let who = crate::live::viewer_key(viewer.client.ip, id);
            let resp = crate::live::send(st, &channel, private, rest, who, req).await;
            let c = &channel;
            count(
                counted,
                st,
                (c.account_id.as_str(), c.uid.as_str(), None),
                id,
                rest,
                &viewer,
                &resp,
            );
            resp
        }
        Err(r) => {
            refused(st, &r);
            denied(&r.denial)
        }
    }
}

/// Counts a response to a granted request in the viewing analytics.
fn count(
    counted: bool,
    st: &EdgeState,
    (account, uid, generation): (&str, &str, Option<&str>),
    id: &str,
    rest: &str,
    viewer: &Viewer,
    resp: &Response,
) {
    if !counted || !resp.status().is_success() {
        return;
    }
    use axum::body::HttpBody as _;
    let bytes = resp.body().size_hint().exact().unwrap_or_else(|| {
        resp.headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0)
    });
    st.analytics.served(Hit {
        account,
        uid,
        generation,
        path: rest,
        id,
        client: viewer.client.ip,
        bytes,
        now: now_secs(),
    });
}

/// Counts a refusal in the viewing analytics of whatever it refused, once known.
pub fn refused(st: &EdgeState, r: &Refused) {
    if let Some((account, uid)) = &r.of {
        st.analytics
            .refused(account.as_str(), uid, r.denial.label(), now_secs());
    }
}

fn internal(e: usher_store::StoreError) -> Denial {
    tracing::error!(error = %e, "edge could not read the store");
    Denial::NotFound
}

async fn load_video(st: &EdgeState, uid: &VideoId, epoch: u64) -> Result<Arc<Video>, Denial> {
    if let Some(v) = st.cache.video(uid, epoch) {
        return Ok(v);
    }
    let v = Arc::new(
        st.db
            .video_by_uid(uid)
            .await
            .map_err(internal)?
            .ok_or(Denial::NotFound)?,
    );
    st.cache.put_video(epoch, v.clone());
    Ok(v)
}

/// A video or, when no video has this uid, a live input.
async fn load_subject(st: &EdgeState, uid: &VideoId, epoch: u64) -> Result<Target, Denial> {
    // A live input known to this edge first: otherwise every playlist reload would ask
    // the database for a video of that uid first (measured: a playlist's CPU went
    // from 53 to 14.5 µs, docs/performance.md).
    if let Ok(input) = uid.as_str().parse::<LiveInputId>()
        && let Some(c) = st.cache.live(&input, epoch)
    {
        return Ok(Target::Live(c));
    }
    match load_video(st, uid, epoch).await {
        // A recording still on air plays the broadcast.
        Ok(v) if v.state == VideoState::LiveInProgress => {
            let input = v.live_input.as_ref().ok_or(Denial::NotFound)?;
            let channel = load_live(st, input.as_str(), epoch).await?;
            Ok(Target::Live(Arc::new(channel.as_recording(&v))))
        }
        Ok(v) => Ok(Target::Video(v)),
        Err(Denial::NotFound) => load_live(st, uid.as_str(), epoch).await.map(Target::Live),
        Err(d) => Err(d),
    }
}

enum Target {
    Video(Arc<Video>),
    Live(Arc<LiveChannel>),
}

async fn load_live(st: &EdgeState, uid: &str, epoch: u64) -> Result<Arc<LiveChannel>, Denial> {
    let uid: LiveInputId = uid.parse().map_err(|_| Denial::NotFound)?;
    if let Some(c) = st.cache.live(&uid, epoch) {
        return Ok(c);
    }
    let input = st
        .db
        .live_input(&uid)
        .await
        .map_err(internal)?
        .ok_or(Denial::NotFound)?;
    let run = st.db.live_run(uid.as_str()).await.map_err(internal)?;
    let channel = Arc::new(LiveChannel::new(input, run));
    st.cache.put_live(epoch, channel.clone());
    Ok(channel)
}

/// The live key `kid`, from the cache or the store; `None` if there is no such key.
async fn load_key(st: &EdgeState, kid: &KeyId, epoch: u64) -> Result<Option<Arc<LiveKey>>, Denial> {
    if let Some(k) = st.cache.key(kid.as_str(), epoch) {
        return Ok(Some(k));
    }
    let Some(live) = st
        .db
        .key(kid)
        .await
        .map_err(internal)?
        .and_then(LiveKey::from_record)
    else {
        return Ok(None);
    };
    let live = Arc::new(live);
    st.cache.put_key(kid.as_str(), epoch, live.clone());
    Ok(Some(live))
}

/// A token's verified claims: from the cache, or checked against its key now.
async fn verified(st: &EdgeState, id: &str, epoch: u64) -> Result<Arc<VerifiedToken>, Denial> {
    let metrics = usher_metrics::metrics();
    if let Some(t) = st.cache.token(id, epoch) {
        metrics.token_cache_hits.inc();
        return Ok(t);
    }
    metrics.token_cache_misses.inc();
    let token = parse_token(id)?;
    let key = match token_kid(&token) {
        Some(kid) => load_key(st, &kid, epoch).await?,
        None => None,
    };
    let claims = verify_token(&token, key.as_deref().map(LiveKey::info))?;
    let video = claims.sub.parse::<VideoId>().ok();
    let revoked = match &video {
        Some(uid) => st
            .db
            .is_token_revoked(uid, &token_id(id, claims.jti.as_deref()))
            .await
            .map_err(internal)?,
        None => false,
    };
    let v = Arc::new(VerifiedToken {
        claims,
        video,
        key_account: key.map(|k| k.account.clone()).ok_or(Denial::NotFound)?,
        revoked,
    });
    st.cache.put_token(id, epoch, v.clone());
    Ok(v)
}

/// A refusal, and whose video or live input it refused once that was known (an
/// unverifiable token or an unknown uid refuses nobody's).
#[derive(Debug)]
pub struct Refused {
    pub denial: Denial,
    pub of: Option<(AccountId, String)>,
}

impl From<Denial> for Refused {
    fn from(denial: Denial) -> Self {
        Self { denial, of: None }
    }
}

/// Runs the access decision for `{id}` (a uid or a token naming a video or a live
/// input) and `resource`.
pub async fn authorize_any(
    st: &EdgeState,
    id: &str,
    resource: Resource,
    viewer: &Viewer,
) -> Result<Granted, Denial> {
    authorize_counted(st, id, resource, viewer)
        .await
        .map_err(|r| r.denial)
}

/// [`authorize_any`], saying whose video a refusal refused (for the analytics).
pub async fn authorize_counted(
    st: &EdgeState,
    id: &str,
    resource: Resource,
    viewer: &Viewer,
) -> Result<Granted, Refused> {
    // Read before anything is loaded: a change committed after this point makes
    // whatever is cached below stale.
    let epoch = st.db.access_epoch();
    let facts = AccessRequest {
        resource,
        client: viewer.client.ip,
        country: viewer.client.country.as_ref().map(|c| c.as_str()),
        origin: viewer.origin.as_ref(),
        now: now_secs(),
        skew: st.clock_skew,
    };
    let (target, presented_token) = if let Ok(uid) = id.parse::<VideoId>() {
        (load_subject(st, &uid, epoch).await?, None)
    } else {
        let token = verified(st, id, epoch).await?;
        // The video is named by the token's `sub`, which is only trusted once signed.
        let uid = token.video.as_ref().ok_or(Denial::NotFound)?;
        (load_subject(st, uid, epoch).await?, Some(token))
    };
    let presented = match &presented_token {
        None => Presented::Uid,
        Some(t) => Presented::Token {
            claims: &t.claims,
            key_account: &t.key_account,
            revoked: t.revoked,
        },
    };
    match target {
        Target::Video(video) => {
            let origins = allowed(&video);
            let grant = decide(
                &*video,
                &origins,
                presented,
                &facts,
                video.downloads_enabled,
            )
            .map_err(|denial| Refused {
                denial,
                of: Some((video.account_id.clone(), video.uid.to_string())),
            })?;
            Ok(Granted::Video(Authorized {
                video,
                private: grant.private,
            }))
        }
        Target::Live(channel) => {
            let origins = parse_origins(&channel.allowed_origins);
            let grant =
                decide(&*channel, &origins, presented, &facts, false).map_err(|denial| {
                    Refused {
                        denial,
                        of: Some((channel.account_id.clone(), channel.uid.clone())),
                    }
                })?;
            Ok(Granted::Live {
                channel,
                private: grant.private,
            })
        }
    }
}

pub fn allowed(video: &Video) -> Vec<AllowedOrigin> {
    parse_origins(&video.allowed_origins)
}

pub fn parse_origins(entries: &[String]) -> Vec<AllowedOrigin> {
    // Entries were validated when stored; one that no longer parses matches nothing.
    entries
        .iter()
        .filter_map(|o| AllowedOrigin::parse(o).ok())
        .collect()
}

/// Sends the published file `rest` of an authorized video, which lives in `place`.
pub async fn send(
    st: &EdgeState,
    auth: &Authorized,
    rest: &str,
    place: &Place,
    req: Request,
) -> Response {
    let (video, private) = (&auth.video, auth.private);
    let Some(key) = blob_key(video, rest, place) else {
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
    let mut resp = st.files.respond(&key, &st.blobs, req).await;
    if resp.status() == StatusCode::NOT_FOUND {
        return denied(&Denial::NotFound);
    }
    let failed = resp.status().is_server_error();
    let h = resp.headers_mut();
    if failed {
        // The store failed, not the viewer: a player on another site may read why.
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            origin.unwrap_or(HeaderValue::from_static("*")),
        );
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        return resp;
    }
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

    fn origin_of(public: Option<&str>, uri: &str, headers: &[(&str, &str)]) -> Option<String> {
        let mut b = Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b.body(axum::body::Body::empty()).unwrap();
        request_origin(public.and_then(RequestOrigin::parse).as_ref(), &req)
            .map(|o| format!("{}://{}:{}", o.scheme, o.host, o.port))
    }

    #[test]
    fn the_request_origin_and_when_parent_origin_counts() {
        let host = ("host", "usher.test:8787");
        let player = ("referer", "http://usher.test:8787/abc/iframe?autoplay=true");
        let q = "/abc/manifest/video.m3u8?parentOrigin=https%3A%2F%2Fshop.example";
        // Origin first, else Referer.
        assert_eq!(
            origin_of(
                None,
                "/x",
                &[
                    ("origin", "https://a.example"),
                    ("referer", "https://b.example/p")
                ]
            ),
            Some("https://a.example:443".into())
        );
        assert_eq!(
            origin_of(None, "/x", &[("referer", "https://b.example/p")]),
            Some("https://b.example:443".into()),
            "Referer only"
        );
        assert_eq!(origin_of(None, "/x", &[]), None);
        // From our own player page, the forwarded embedding origin counts...
        assert_eq!(
            origin_of(None, q, &[host, player]),
            Some("https://shop.example:443".into())
        );
        // ...also behind a proxy that rewrites Host, recognised by --public-url...
        assert_eq!(
            origin_of(
                Some("https://videos.example"),
                q,
                &[
                    ("host", "10.0.0.5:8787"),
                    ("referer", "https://videos.example/abc/watch")
                ]
            ),
            Some("https://shop.example:443".into())
        );
        // ...and without a parentOrigin there is no origin at all.
        assert_eq!(
            origin_of(None, "/abc/manifest/video.m3u8", &[host, player]),
            None
        );
        // A page elsewhere cannot choose its origin with the query parameter: not with
        // its own Origin or Referer, not with none at all, not from another of our pages.
        for headers in [
            vec![host, ("origin", "https://evil.example")],
            vec![host, ("referer", "https://evil.example/abc/iframe")],
            vec![host],
            vec![
                host,
                ("referer", "http://usher.test:8787/abc/manifest/video.m3u8"),
            ],
            vec![host, ("origin", "http://usher.test:8787")],
        ] {
            assert_ne!(
                origin_of(None, q, &headers),
                Some("https://shop.example:443".into()),
                "{headers:?}"
            );
        }
    }
}
