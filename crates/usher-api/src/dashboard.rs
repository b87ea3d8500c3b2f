//! `/dashboard`: the web app (SPEC §10). Its script and stylesheet are built by
//! `scripts/install-deps` from `web/dashboard` (Preact, tus-js-client and uPlot, pinned
//! in `web/package-lock.json`) and compiled into the binary; this module renders the one
//! HTML page and serves the two files under names hashed from their content, so
//! browsers keep them for good and a new build is never mixed with a stale copy.
//!
//! Every response carries a strict Content-Security-Policy (no inline script or style,
//! nothing loaded from anywhere but here and the edge) and refuses to be framed. The app
//! holds no privilege of its own: it calls the public `/client/v4` API with the API
//! token its user signs in with.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use usher_core::fnv::fnv1a;
use usher_core::origin::RequestOrigin;

/// The app's script, built by `scripts/install-deps` (`vite build`) before any cargo
/// build, like hls.js for the player.
const DASHBOARD_JS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../web/dashboard/dist/dashboard.js"
));
const DASHBOARD_CSS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../web/dashboard/dist/dashboard.css"
));
/// The same, gzipped by `scripts/install-deps` (`gzip -9 -n`): what most browsers get.
const DASHBOARD_JS_GZ: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../web/dashboard/dist/dashboard.js.gz"
));
const DASHBOARD_CSS_GZ: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../web/dashboard/dist/dashboard.css.gz"
));

/// Where the page lives and where its assets are served from.
pub const DASHBOARD_PATH: &str = "/dashboard";
const ASSET_PREFIX: &str = "/dashboard/assets/";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The page itself is revalidated every time, so a new build's asset names are seen.
const NO_CACHE: &str = "no-cache";

/// What the dashboard's pages need to know about the deployment.
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// Where the edge answers viewers (`--edge-url`), for the page's CSP.
    pub edge_url: String,
}

struct Asset {
    name: String,
    body: &'static [u8],
    gzipped: &'static [u8],
    content_type: &'static str,
}

/// The script and the stylesheet, named by their content's FNV-1a hash.
static ASSETS: LazyLock<[Asset; 2]> = LazyLock::new(|| {
    [
        Asset {
            name: format!("dashboard.{:016x}.js", fnv1a(DASHBOARD_JS)),
            body: DASHBOARD_JS,
            gzipped: DASHBOARD_JS_GZ,
            content_type: "text/javascript; charset=utf-8",
        },
        Asset {
            name: format!("dashboard.{:016x}.css", fnv1a(DASHBOARD_CSS)),
            body: DASHBOARD_CSS,
            gzipped: DASHBOARD_CSS_GZ,
            content_type: "text/css; charset=utf-8",
        },
    ]
});

/// What every dashboard response carries, worked out once from the config.
struct Page {
    csp: HeaderValue,
    index: String,
}

/// The edge's origin as a CSP source (`scheme://host[:port]`), or `None` when the
/// configured URL is not a plain http(s) origin we can quote safely.
fn edge_source(edge_url: &str) -> Option<String> {
    let o = RequestOrigin::parse(edge_url)?;
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if !o.host.chars().all(safe) {
        return None;
    }
    let default_port = if o.scheme == "https" { 443 } else { 80 };
    Some(if o.port == default_port {
        format!("{}://{}", o.scheme, o.host)
    } else {
        format!("{}://{}:{}", o.scheme, o.host, o.port)
    })
}

/// The policy: scripts and styles from here only (no inline code at all), the player
/// framed from the edge, media and thumbnails from the edge, API calls to here (and
/// the edge), and no framing of the dashboard itself.
fn content_security_policy(edge: Option<&str>) -> String {
    let edge = edge.map(|e| format!(" {e}")).unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; \
         img-src 'self'{edge} data: blob:; media-src 'self'{edge} blob:; \
         connect-src 'self'{edge}; frame-src 'self'{edge}; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'none'"
    )
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The single page: the app mounts on `#app`; the edge's URL is handed over in a
/// `<meta>` (not a script: the CSP allows none inline).
fn index_html(edge_url: &str) -> String {
    let [js, css] = &*ASSETS;
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="usher-edge" content="{edge}">
<link rel="icon" href="data:,">
<title>Usher dashboard</title>
<link rel="stylesheet" href="{ASSET_PREFIX}{css}">
<script type="module" src="{ASSET_PREFIX}{js}"></script>
</head>
<body>
<div id="app"><noscript>The Usher dashboard needs JavaScript.</noscript></div>
</body>
</html>
"#,
        edge = escape_attr(edge_url.trim_end_matches('/')),
        css = css.name,
        js = js.name,
    )
}

/// Routes under `/dashboard`.
pub fn router(config: DashboardConfig) -> Router {
    let edge = edge_source(&config.edge_url);
    let csp = HeaderValue::from_str(&content_security_policy(edge.as_deref()))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    let page = Arc::new(Page {
        csp,
        index: index_html(&config.edge_url),
    });
    Router::new()
        .route(DASHBOARD_PATH, get(index))
        .route("/dashboard/", get(index))
        .route("/dashboard/assets/{file}", get(asset))
        .route("/dashboard/{*path}", get(index))
        .with_state(page.clone())
        .layer(from_fn_with_state(page, security_headers))
}

/// The page for every app path: the app routes on the client.
async fn index(State(page): State<Arc<Page>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, NO_CACHE),
        ],
        page.index.clone(),
    )
        .into_response()
}

/// `GET /dashboard/assets/{file}`: the script or the stylesheet by its hashed name. The
/// raw path is compared, so a name that is not ours (undecodable included) is a 404.
async fn asset(uri: Uri, headers: axum::http::HeaderMap) -> Response {
    let file = uri.path().strip_prefix(ASSET_PREFIX).unwrap_or_default();
    let Some(a) = ASSETS.iter().find(|a| a.name == file) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CACHE_CONTROL, NO_CACHE)],
            "not found\n",
        )
            .into_response();
    };
    let (body, encoding) = if accepts_gzip(&headers) {
        (a.gzipped, Some("gzip"))
    } else {
        (a.body, None)
    };
    let mut resp = (
        [
            (header::CONTENT_TYPE, a.content_type),
            (header::CACHE_CONTROL, IMMUTABLE),
            (header::VARY, "Accept-Encoding"),
        ],
        body,
    )
        .into_response();
    if let Some(e) = encoding {
        resp.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
    }
    resp
}

/// Whether `Accept-Encoding` takes gzip (named, and not with `q=0`).
fn accepts_gzip(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

/// Added to every dashboard response, whatever answered it.
async fn security_headers(State(page): State<Arc<Page>>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, page.csp.clone());
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    fn app(edge: &str) -> Router {
        router(DashboardConfig {
            edge_url: edge.to_owned(),
        })
    }

    async fn get(app: Router, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        let resp = app
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn assert_hardened(h: &axum::http::HeaderMap, edge: &str) {
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'; script-src 'self'; style-src 'self';"));
        assert!(csp.contains(&format!("frame-src 'self' {edge};")), "{csp}");
        assert!(
            csp.contains(&format!("connect-src 'self' {edge};")),
            "{csp}"
        );
        assert!(
            csp.contains(&format!("media-src 'self' {edge} blob:;")),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("base-uri 'none'; form-action 'none'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    }

    #[tokio::test]
    async fn every_app_path_is_the_page_uncached_and_hardened() {
        for path in [
            "/dashboard",
            "/dashboard/",
            "/dashboard/videos/abc",
            "/dashboard/keys",
        ] {
            let (status, h, body) = get(app("https://edge.example.com/"), path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
            assert_eq!(h[header::CACHE_CONTROL], NO_CACHE);
            assert_hardened(&h, "https://edge.example.com");
            assert!(
                body.contains(r#"<meta name="usher-edge" content="https://edge.example.com">"#)
            );
            assert!(body.contains(r#"<div id="app">"#));
            // Nothing inline: the only script and stylesheet are our two files.
            assert_eq!(body.matches("<script").count(), 1, "{body}");
            assert!(!body.contains("style="), "{body}");
            assert!(!body.contains("<style"), "{body}");
        }
    }

    #[tokio::test]
    async fn assets_are_served_by_content_hash_for_good() {
        let (_, _, page) = get(app("http://127.0.0.1:8787"), "/dashboard").await;
        for a in ASSETS.iter() {
            let url = format!("{ASSET_PREFIX}{}", a.name);
            assert!(page.contains(&url), "the page links {url}");
            let (status, h, body) = get(app("http://127.0.0.1:8787"), &url).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(h[header::CACHE_CONTROL], IMMUTABLE);
            assert_eq!(h[header::CONTENT_TYPE], a.content_type);
            assert_hardened(&h, "http://127.0.0.1:8787");
            assert_eq!(body.len(), a.body.len());
        }
        assert!(ASSETS[0].name.starts_with("dashboard.") && ASSETS[0].name.ends_with(".js"));
        assert!(ASSETS[1].name.ends_with(".css"));
    }

    #[tokio::test]
    async fn browsers_that_take_gzip_get_the_gzipped_copy() {
        let url = format!("{ASSET_PREFIX}{}", ASSETS[0].name);
        for (accept, gzipped) in [
            (Some("gzip, deflate, br, zstd"), true),
            (Some("br;q=1.0, gzip;q=0.8"), true),
            (Some("*"), true),
            (Some("gzip;q=0, br"), false),
            (Some("identity"), false),
            (None, false),
        ] {
            let mut req = Request::get(&url);
            if let Some(a) = accept {
                req = req.header(header::ACCEPT_ENCODING, a);
            }
            let resp = app("http://127.0.0.1:8787")
                .oneshot(req.body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(resp.headers()[header::VARY], "Accept-Encoding");
            assert_eq!(
                resp.headers().get(header::CONTENT_ENCODING).is_some(),
                gzipped,
                "{accept:?}"
            );
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            let want = if gzipped {
                ASSETS[0].gzipped
            } else {
                ASSETS[0].body
            };
            assert_eq!(body.as_ref(), want, "{accept:?}");
        }
        // The gzipped copy is the file's (gzip's header and the size in its trailer).
        for a in ASSETS.iter() {
            assert_eq!(&a.gzipped[..2], &[0x1f, 0x8b]);
            let n = a.gzipped.len();
            let isize = u32::from_le_bytes([
                a.gzipped[n - 4],
                a.gzipped[n - 3],
                a.gzipped[n - 2],
                a.gzipped[n - 1],
            ]);
            assert_eq!(isize as usize, a.body.len());
            assert!(a.gzipped.len() < a.body.len() / 2);
        }
    }

    #[tokio::test]
    async fn an_unknown_or_stale_asset_is_not_found_not_the_page() {
        for path in [
            "/dashboard/assets/dashboard.0000000000000000.js",
            "/dashboard/assets/..%2f..%2fetc%2fpasswd",
            "/dashboard/assets/%ff",
        ] {
            let (status, h, body) = get(app("http://127.0.0.1:8787"), path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(h[header::CACHE_CONTROL], NO_CACHE);
            assert_hardened(&h, "http://127.0.0.1:8787");
            assert!(!body.contains("<html"), "{path}");
        }
    }

    #[test]
    fn the_edge_origin_is_quoted_only_when_plain() {
        assert_eq!(
            edge_source("https://edge.example.com/"),
            Some("https://edge.example.com".into())
        );
        assert_eq!(
            edge_source("http://127.0.0.1:8787"),
            Some("http://127.0.0.1:8787".into())
        );
        assert_eq!(
            edge_source("https://video.example.com:8443/prefix"),
            Some("https://video.example.com:8443".into())
        );
        assert_eq!(edge_source("ftp://example.com"), None);
        assert_eq!(edge_source("https://a b; script-src *"), None);
        assert_eq!(edge_source(""), None);
        let csp = content_security_policy(None);
        assert!(
            csp.contains("frame-src 'self'; frame-ancestors 'none'"),
            "{csp}"
        );
    }

    #[test]
    fn the_page_escapes_the_edge_url() {
        let page = index_html(r#"https://x.example/"><script>"#);
        assert!(!page.contains(r#""><script>"#));
        assert!(page.contains("&quot;&gt;&lt;script&gt;"));
    }

    #[test]
    fn the_embedded_build_is_the_app() {
        assert!(
            DASHBOARD_JS.len() > 1000,
            "web/dashboard/dist/dashboard.js is empty"
        );
        assert!(
            DASHBOARD_JS
                .windows(16)
                .any(|w| w == b"usher.dashboard.".as_slice()),
            "dashboard.js is not the dashboard's build"
        );
        assert!(!DASHBOARD_CSS.is_empty());
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }
}
