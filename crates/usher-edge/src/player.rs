//! The player pages, `/{id}/iframe` (to embed) and `/{id}/watch` (to link to): an HTML5
//! `<video>` driven by hls.js, with captions, audio-track and quality menus that
//! `assets/player.js` builds from what hls.js finds in the masters; everything served by
//! Usher itself so playback needs no other site. A page request goes through the access
//! decision like any other; a refusal answers with a page saying why, never an empty
//! black box.
//!
//! The player's own requests come from Usher's page, whose origin says nothing about
//! where it is embedded. So when the video has `allowedOrigins`, the page carries the
//! embedding site's origin — taken from the page request's own `Origin`/`Referer`, which
//! the decision has just checked, never from a query parameter — and its script
//! forwards it as `?parentOrigin=` on every manifest, segment and thumbnail request
//! (the edge believes that parameter only from its own player page). Because a
//! `Referer` names only the direct parent, `frame-ancestors` keeps the page from being
//! shown inside any other site further up.

mod assets;
mod csp;
mod params;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use usher_core::origin::RequestOrigin;

pub use assets::{ASSET_PREFIX, HLS_VERSION, asset};
pub use params::{ParamError, PlayerParams, Preload};

use assets::Asset;

use crate::access::{Denial, Resource};
use crate::serve::{EdgeState, Granted, Viewer, allowed, authorize_counted, parse_origins};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Iframe,
    Watch,
}

pub async fn iframe(
    State(st): State<EdgeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    page(Page::Iframe, &st, peer, &id, req).await
}

pub async fn watch(
    State(st): State<EdgeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    page(Page::Watch, &st, peer, &id, req).await
}

async fn page(kind: Page, st: &EdgeState, peer: SocketAddr, id: &str, req: Request) -> Response {
    let params = match PlayerParams::parse(req.uri().query()) {
        Ok(p) => p,
        Err(e) => {
            return message_page(
                StatusCode::BAD_REQUEST,
                "This player link is malformed",
                &e.to_string(),
            );
        }
    };
    let viewer = Viewer {
        client: st.clients.resolve(peer.ip(), req.headers()),
        origin: embedding_origin(req.headers()),
    };
    match authorize_counted(st, id, Resource::Player, &viewer).await {
        Ok(granted) => render(kind, &Shown::of(&granted), &params, viewer.origin.as_ref()),
        Err(r) => {
            crate::serve::refused(st, &r);
            refusal(&r.denial)
        }
    }
}

/// What a page shows: a video, or a live input's broadcast (which has no poster and
/// may not have started).
struct Shown<'a> {
    title: Option<&'a str>,
    allowed: Vec<usher_core::origin::AllowedOrigin>,
    private: bool,
    live: bool,
}

impl<'a> Shown<'a> {
    fn of(granted: &'a Granted) -> Self {
        match granted {
            Granted::Video(auth) => Self {
                title: auth.video.name(),
                allowed: allowed(&auth.video),
                private: auth.private,
                live: false,
            },
            Granted::Live { channel, private } => Self {
                title: channel.name.as_deref(),
                allowed: parse_origins(&channel.allowed_origins),
                private: *private,
                live: true,
            },
        }
    }
}

/// The site the page is requested from: `Origin`, else `Referer` (an iframe's request
/// carries its parent page as the `Referer`). Unlike the player's own requests, a
/// `?parentOrigin=` here is ignored: anyone can write it into a link.
fn embedding_origin(headers: &HeaderMap) -> Option<RequestOrigin> {
    let get = |h| headers.get(h).and_then(|v: &HeaderValue| v.to_str().ok());
    match get(header::ORIGIN) {
        Some(o) => RequestOrigin::parse(o),
        None => RequestOrigin::parse(get(header::REFERER)?),
    }
}

fn origin_string(o: &RequestOrigin) -> String {
    format!("{}://{}:{}", o.scheme, o.host, o.port)
}

fn render(
    kind: Page,
    shown: &Shown<'_>,
    params: &PlayerParams,
    origin: Option<&RequestOrigin>,
) -> Response {
    let allowed = &shown.allowed;
    // Without a list, where the page is embedded does not matter to any request.
    let parent = origin
        .filter(|_| !allowed.is_empty())
        .map(origin_string)
        .unwrap_or_default();
    let forward = if parent.is_empty() {
        String::new()
    } else {
        let enc: String = form_urlencoded::byte_serialize(parent.as_bytes()).collect();
        format!("?parentOrigin={enc}")
    };
    let poster = match &params.poster {
        Some(p) => p.url.clone(),
        // A broadcast has no thumbnail to show.
        None if shown.live => String::new(),
        None => format!("thumbnails/thumbnail.jpg{forward}"),
    };
    let title = escape(
        shown
            .title
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(if shown.live { "Live" } else { "Video" }),
    );
    let flag = |on: bool, attr: &str| {
        if on {
            format!(" {attr}")
        } else {
            String::new()
        }
    };
    let start = params.start_time.map(|s| s.to_string()).unwrap_or_default();
    let (body_class, heading) = match kind {
        Page::Iframe => ("usher-iframe", String::new()),
        Page::Watch => (
            "usher-watch",
            format!("\n<h1 class=\"usher-title\">{title}</h1>"),
        ),
    };
    let html = format!(
        r#"<!doctype html>
<html lang="en" data-state="loading">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{css}">
<script src="{hls}" defer></script>
<script src="{js}" defer></script>
</head>
<body class="{body_class}">
<main class="usher-player">
<video id="usher-video" playsinline preload="{preload}" poster="{poster}" aria-label="{title}"{controls}{muted}{looped}
 data-src="manifest/video.m3u8" data-parent-origin="{parent}" data-start-time="{start}" data-autoplay="{autoplay}" data-preload="{preload}" data-live="{live}"></video>
<span id="usher-live" class="usher-live" hidden>LIVE</span>
<div id="usher-message" class="usher-message" role="alert" hidden><p class="usher-headline"></p><p class="usher-detail"></p></div>
</main>{heading}
</body>
</html>
"#,
        css = Asset::Stylesheet.url(),
        hls = Asset::HlsJs.url(),
        js = Asset::Script.url(),
        preload = params.preload.as_str(),
        poster = escape(&poster),
        controls = flag(params.controls, "controls"),
        muted = flag(params.muted, "muted"),
        looped = flag(params.looped, "loop"),
        parent = escape(&parent),
        autoplay = params.autoplay,
        live = shown.live,
    );
    let policy = csp::page_policy(allowed, params.poster.as_ref().map(|p| p.origin.as_str()));
    // A page for a token, or one that names its embedder, is for this viewer only.
    let cache = if shown.private || !allowed.is_empty() {
        "private, no-cache"
    } else {
        "public, max-age=300"
    };
    html_response(StatusCode::OK, &policy, cache, html)
}

fn html_response(status: StatusCode, policy: &str, cache: &'static str, html: String) -> Response {
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // Every part of the policy was validated on the way in; were one not a valid header
    // value after all, fail closed rather than drop the policy (and frame-ancestors).
    let policy = HeaderValue::from_str(policy).unwrap_or(HeaderValue::from_static(
        "default-src 'none'; frame-ancestors 'none'",
    ));
    h.insert(header::CONTENT_SECURITY_POLICY, policy);
    // The player's requests must carry the page's full URL as their `Referer` (that is
    // how the edge knows they come from its player page), and nothing beyond our own
    // site needs to see a token in a URL.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// What a viewer is told for each refusal.
fn headline(d: &Denial) -> &'static str {
    match d {
        Denial::NotFound => "This video is unavailable",
        Denial::SignedUrlRequired => "This video is private",
        Denial::Errored => "This video could not be processed",
        Denial::InvalidToken(_) => "This link is not valid",
        Denial::Expired => "This link has expired",
        Denial::NotYetValid => "This link is not valid yet",
        Denial::RuleBlocked => "This video is not available from your network or location",
        Denial::OriginDenied => "This video cannot be played on this site",
        Denial::DownloadDenied => "This video cannot be downloaded with this link",
        Denial::NotBroadcasting => "The broadcast has not started",
    }
}

fn refusal(d: &Denial) -> Response {
    let status = StatusCode::from_u16(d.status()).unwrap_or(StatusCode::FORBIDDEN);
    let detail = match d {
        Denial::NotFound => "It may not exist, or it may not be ready yet.".to_owned(),
        Denial::SignedUrlRequired => {
            "It plays only through a signed link: ask the site you came from for one.".to_owned()
        }
        Denial::Errored => "The upload could not be made into a playable video.".to_owned(),
        Denial::InvalidToken(why) => format!("The signed link was refused: {why}."),
        Denial::Expired => {
            "Signed links last a limited time: reload the page you came from for a new one."
                .to_owned()
        }
        Denial::NotYetValid => "Its validity starts later; check this device's clock.".to_owned(),
        Denial::RuleBlocked => {
            "Its owner does not allow playback from your network or location.".to_owned()
        }
        Denial::OriginDenied => "Its owner allows it only on sites they choose.".to_owned(),
        Denial::DownloadDenied => String::new(),
        Denial::NotBroadcasting => "Come back when it is on air.".to_owned(),
    };
    message_page(status, headline(d), &detail)
}

/// A page in the player's frame that says why nothing plays.
fn message_page(status: StatusCode, headline: &str, detail: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en" data-state="refused" data-status="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{headline}</title>
<link rel="stylesheet" href="{css}">
</head>
<body class="usher-iframe">
<main class="usher-player">
<div id="usher-message" class="usher-message" role="alert"><p class="usher-headline">{headline}</p><p class="usher-detail">{detail}</p></div>
</main>
</body>
</html>
"#,
        code = status.as_u16(),
        css = Asset::Stylesheet.url(),
        headline = escape(headline),
        detail = escape(detail),
    );
    html_response(status, csp::REFUSAL_POLICY, "no-store", html)
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_embedding_origin_ignores_parent_origin() {
        let mut h = HeaderMap::new();
        assert_eq!(embedding_origin(&h), None);
        h.insert(
            header::REFERER,
            HeaderValue::from_static("https://blog.example.com/post?parentOrigin=https://x.com"),
        );
        let o = embedding_origin(&h).unwrap();
        assert_eq!(origin_string(&o), "https://blog.example.com:443");
        // `Origin` wins over `Referer`; an opaque `null` origin is no origin.
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert_eq!(embedding_origin(&h), None);
    }

    fn page_for(allowed: &[&str], private: bool, query: &str, referer: &str) -> Response {
        use usher_core::{AccountId, Video, VideoId, VideoState};
        let mut v = Video::new(
            VideoId::generate(),
            AccountId::generate(),
            VideoState::Ready,
            0,
        );
        v.allowed_origins = allowed.iter().map(|s| (*s).to_owned()).collect();
        v.meta.insert("name".into(), "<b>Talk</b>".into());
        let granted = crate::serve::Granted::Video(crate::serve::Authorized {
            video: std::sync::Arc::new(v),
            private,
        });
        let params = PlayerParams::parse(Some(query)).unwrap();
        let origin = RequestOrigin::parse(referer);
        render(Page::Watch, &Shown::of(&granted), &params, origin.as_ref())
    }

    #[tokio::test]
    async fn the_page_carries_params_poster_and_the_checked_embedder() {
        let read = |r: Response| async {
            let b = axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap();
            String::from_utf8(b.to_vec()).unwrap()
        };
        // A list: the embedder is forwarded on the poster and to the script, and framing
        // is limited to the list.
        let r = page_for(
            &["localhost:8080"],
            true,
            "autoplay=true&muted&controls=false&loop&startTime=1m2s&parentOrigin=https://evil.example",
            "http://localhost:8080/blog/post",
        );
        assert_eq!(r.headers()[header::CACHE_CONTROL], "private, no-cache");
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.ends_with("frame-ancestors http://localhost:8080 https://localhost:8080"),
            "{csp}"
        );
        assert_eq!(r.headers()[header::REFERRER_POLICY], "same-origin");
        let html = read(r).await;
        assert!(
            html.contains(r#"data-parent-origin="http://localhost:8080""#),
            "{html}"
        );
        assert!(
            !html.contains("evil"),
            "a parentOrigin on the page URL is never trusted"
        );
        assert!(
            html.contains(
                r#"poster="thumbnails/thumbnail.jpg?parentOrigin=http%3A%2F%2Flocalhost%3A8080""#
            ),
            "{html}"
        );
        assert!(html.contains(" muted loop\n"), "{html}");
        assert!(!html.contains(" controls"), "{html}");
        assert!(html.contains(r#"data-start-time="62""#), "{html}");
        assert!(html.contains(r#"data-autoplay="true""#), "{html}");
        assert!(
            html.contains("&lt;b&gt;Talk&lt;/b&gt;") && !html.contains("<b>"),
            "{html}"
        );
        assert!(html.contains(&format!(r#"src="../_player/hls-{HLS_VERSION}.min.js""#)));

        // No list: nothing to forward, any site may frame it, shared caches may keep it;
        // a poster= URL replaces the thumbnail and is the one other image source.
        let r = page_for(
            &[],
            false,
            "poster=https%3A%2F%2Fimg.example.net%2Fp.jpg",
            "http://localhost:8080/",
        );
        assert_eq!(r.headers()[header::CACHE_CONTROL], "public, max-age=300");
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!csp.contains("frame-ancestors"), "{csp}");
        assert!(
            csp.contains("img-src 'self' data: https://img.example.net:443"),
            "{csp}"
        );
        let html = read(r).await;
        assert!(html.contains(r#"data-parent-origin="""#), "{html}");
        assert!(
            html.contains(r#"poster="https://img.example.net/p.jpg""#),
            "{html}"
        );
        assert!(html.contains(" controls"), "controls by default: {html}");
        assert!(
            !html.contains(" muted") && !html.contains(" loop"),
            "{html}"
        );
    }

    #[test]
    fn every_refusal_has_its_own_words() {
        let all = [
            Denial::NotFound,
            Denial::SignedUrlRequired,
            Denial::Errored,
            Denial::InvalidToken("bad signature"),
            Denial::Expired,
            Denial::NotYetValid,
            Denial::RuleBlocked,
            Denial::OriginDenied,
            Denial::DownloadDenied,
        ];
        let distinct: std::collections::HashSet<&str> = all.iter().map(headline).collect();
        assert_eq!(distinct.len(), all.len(), "{distinct:?}");
        let r = refusal(&Denial::OriginDenied);
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        assert!(
            !r.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("frame-ancestors"),
            "the reason must show inside any embed"
        );
    }
}
