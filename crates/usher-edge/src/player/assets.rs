//! The player's static files: hls.js as pinned in `web/package-lock.json`, and our own
//! script and stylesheet, all compiled into the binary and served under `/_player/` by
//! names that change with their content, so browsers may cache them for good.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use usher_core::fnv::fnv1a;

/// hls.js, installed from the npm registry at the version `web/package-lock.json` pins
/// (`scripts/install-deps` runs `npm ci` before any build).
const HLS_JS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../web/node_modules/hls.js/dist/hls.min.js"
));
/// The version of [`HLS_JS`]; it names the file so browsers may cache it for good.
pub const HLS_VERSION: &str = "1.7.4";
const PLAYER_JS: &str = include_str!("../../assets/player.js");
const PLAYER_CSS: &str = include_str!("../../assets/player.css");

/// Where the assets live. `_` never starts a video uid (hex) or a JWT, so no `{id}`
/// path can collide with it.
pub const ASSET_PREFIX: &str = "/_player/";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// The files, in [`Asset`] order.
struct File {
    name: String,
    body: &'static [u8],
    content_type: &'static str,
}

/// Assets are named by their version or content hash, so a new build never meets a
/// stale cached copy.
static FILES: LazyLock<[File; 3]> = LazyLock::new(|| {
    [
        File {
            name: format!("hls-{HLS_VERSION}.min.js"),
            body: HLS_JS,
            content_type: JAVASCRIPT,
        },
        File {
            name: format!("player.{:016x}.js", fnv1a(PLAYER_JS.as_bytes())),
            body: PLAYER_JS.as_bytes(),
            content_type: JAVASCRIPT,
        },
        File {
            name: format!("player.{:016x}.css", fnv1a(PLAYER_CSS.as_bytes())),
            body: PLAYER_CSS.as_bytes(),
            content_type: "text/css; charset=utf-8",
        },
    ]
});

#[derive(Debug, Clone, Copy)]
pub enum Asset {
    HlsJs = 0,
    Script = 1,
    Stylesheet = 2,
}

impl Asset {
    /// Its URL relative to a page at `/{id}/iframe` or `/{id}/watch` (relative, so
    /// Usher also works under a path prefix behind a proxy).
    pub fn url(self) -> String {
        format!("..{ASSET_PREFIX}{}", FILES[self as usize].name)
    }
}

/// `GET /_player/{file}`: hls.js and the player's own script and stylesheet.
pub async fn asset(Path(file): Path<String>) -> Response {
    let Some(a) = FILES.iter().find(|a| a.name == file) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, a.content_type),
            (header::CACHE_CONTROL, IMMUTABLE),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        a.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_hls_js_is_the_pinned_version() {
        let pinned = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../web/node_modules/hls.js/package.json"
        ));
        assert!(
            pinned.contains(&format!("\"version\": \"{HLS_VERSION}\"")),
            "web/node_modules/hls.js is not {HLS_VERSION}: update HLS_VERSION"
        );
        let needle = format!("\"{HLS_VERSION}\"");
        assert!(
            HLS_JS.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "hls.min.js does not say it is {HLS_VERSION}"
        );
    }

    #[test]
    fn asset_names_follow_their_content() {
        assert_eq!(
            Asset::HlsJs.url(),
            format!("../_player/hls-{HLS_VERSION}.min.js")
        );
        let script = Asset::Script.url();
        assert!(script.starts_with("../_player/player.") && script.ends_with(".js"));
        assert!(Asset::Stylesheet.url().ends_with(".css"));
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }
}
