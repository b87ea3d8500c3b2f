//! The player's HTTP contract, checked over plain HTTP: pages and their headers,
//! assets, `frame-ancestors`, `parentOrigin` believed only from the player page,
//! preflights and CORS headers. `browser.rs` plays the same pages in Chromium.

use serde_json::json;

use crate::app::spawn_app;
use crate::browser::{ready_video, workspace_root};

#[tokio::test]
async fn player_pages_assets_and_preflights_over_http() {
    let app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let uid = ready_video(&app, tmp.path(), "a.mp4").await;
    let usher = app.url.clone();
    let get = |path: &str, headers: &[(&str, &str)]| {
        let mut rb = app.http.get(format!("{usher}/{path}"));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        rb.send()
    };
    let header = |r: &reqwest::Response, h: &str| {
        r.headers()
            .get(h)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };

    // A public video with no allowedOrigins: the page, framable anywhere, and its
    // assets, named for good and cached for good.
    let r = get(&format!("{uid}/iframe"), &[]).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&r, "cache-control"), "public, max-age=300");
    assert!(!header(&r, "content-security-policy").contains("frame-ancestors"));
    let html = r.text().await.unwrap();
    assert!(html.contains("<video id=\"usher-video\""), "{html}");
    let watch = get(&format!("{uid}/watch"), &[]).await.unwrap();
    assert_eq!(watch.status(), 200);
    assert!(
        watch
            .text()
            .await
            .unwrap()
            .contains("<h1 class=\"usher-title\">a.mp4</h1>")
    );
    let hls =
        std::fs::read(workspace_root().join("web/node_modules/hls.js/dist/hls.min.js")).unwrap();
    let mut assets = Vec::new();
    for part in html.split("\"../_player/").skip(1) {
        assets.push(part.split('"').next().unwrap().to_owned());
    }
    assert_eq!(assets.len(), 3, "stylesheet, hls.js, player.js: {html}");
    for name in &assets {
        let r = get(&format!("_player/{name}"), &[]).await.unwrap();
        assert_eq!(r.status(), 200, "{name}");
        assert_eq!(
            header(&r, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        let ct = header(&r, "content-type");
        let body = r.bytes().await.unwrap();
        if name.starts_with("hls-") {
            assert_eq!(ct, "text/javascript; charset=utf-8");
            assert_eq!(
                body.as_ref(),
                hls.as_slice(),
                "the pinned hls.js, unchanged"
            );
        } else if name.ends_with(".css") {
            assert_eq!(ct, "text/css; charset=utf-8");
        } else {
            assert_eq!(ct, "text/javascript; charset=utf-8");
            assert!(String::from_utf8_lossy(&body).contains("parentOrigin"));
        }
    }
    assert_eq!(get("_player/nope.js", &[]).await.unwrap().status(), 404);
    let r = get(&format!("{uid}/iframe?startTime=soon"), &[])
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("startTime must be"));

    // Only example.com may embed it.
    let r = app
        .auth(app.http.post(app.api(&format!("/stream/{uid}"))))
        .json(&json!({"allowedOrigins": ["example.com"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = format!("{uid}/iframe");
    let allowed_referer = [("Referer", "https://example.com/blog/post")];
    let r = get(&page, &allowed_referer).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "cache-control"), "private, no-cache");
    assert_eq!(header(&r, "referrer-policy"), "same-origin");
    assert!(
        header(&r, "content-security-policy")
            .ends_with("frame-ancestors http://example.com:* https://example.com:*"),
        "{}",
        header(&r, "content-security-policy")
    );
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("data-parent-origin=\"https://example.com:443\"")
    );
    // No Origin and no Referer, another site, or another site naming an allowed one in
    // the page's own query: refused, with a page that says why.
    for headers in [
        &[][..],
        &[("Referer", "https://evil.example/")][..],
        &[("Origin", "https://www.example.com")][..],
    ] {
        let r = get(&format!("{page}?parentOrigin=https://example.com"), headers)
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{headers:?}");
        assert_eq!(header(&r, "cache-control"), "no-store");
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("cannot be played on this site")
        );
    }

    // The player's own requests: their Referer is the player page, and the embedding
    // site comes as parentOrigin — believed only from there.
    let manifest = format!("{uid}/manifest/video.m3u8");
    let from_player = format!("{usher}/{uid}/iframe?autoplay=true");
    let with = |o: &str| {
        format!(
            "{manifest}?parentOrigin={}",
            o.replace(':', "%3A").replace('/', "%2F")
        )
    };
    let r = get(&with("https://example.com"), &[("Referer", &from_player)])
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = get(&with("https://evil.example"), &[("Referer", &from_player)])
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = get(&with("https://example.com"), &[]).await.unwrap();
    assert_eq!(r.status(), 403, "parentOrigin from no page at all");
    let r = get(
        &with("https://example.com"),
        &[("Referer", "https://evil.example/x/iframe")],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403, "parentOrigin from another site's page");

    // CORS for a player on the allowed site itself: preflight, then the request.
    let preflight = |origin: &str| {
        app.http
            .request(
                reqwest::Method::OPTIONS,
                format!("{usher}/{uid}/manifest/v0/seg_00001.m4s"),
            )
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "range")
            .send()
    };
    let r = preflight("https://example.com").await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        "https://example.com"
    );
    assert_eq!(
        header(&r, "access-control-allow-methods"),
        "GET, HEAD, OPTIONS"
    );
    assert_eq!(header(&r, "access-control-allow-headers"), "range");
    assert_eq!(header(&r, "access-control-max-age"), "7200");
    assert!(header(&r, "vary").contains("Origin"));
    let r = preflight("https://evil.example").await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(header(&r, "access-control-allow-origin"), "");
    let r = get(
        &format!("{uid}/manifest/v0/seg_00001.m4s"),
        &[("Origin", "https://example.com"), ("Range", "bytes=0-9")],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        "https://example.com"
    );
    assert!(header(&r, "access-control-expose-headers").contains("Content-Range"));
    // A refusal is readable cross-origin, so a player can show its reason.
    let r = get(&manifest, &[("Origin", "https://evil.example")])
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        "https://evil.example"
    );
    assert_eq!(
        r.text().await.unwrap().trim(),
        "this origin may not play the video"
    );

    // Private now: by uid the page says so (not "missing"); with a token it plays and is
    // private to the viewer.
    app.edit(&uid, json!({"requireSignedURLs": true})).await;
    let missing = get("0123456789abcdef0123456789abcdef/iframe", &allowed_referer)
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let by_uid = get(&page, &allowed_referer).await.unwrap();
    assert_eq!(by_uid.status(), 401);
    let (private_page, missing_page) =
        (by_uid.text().await.unwrap(), missing.text().await.unwrap());
    assert!(
        private_page.contains("This video is private"),
        "{private_page}"
    );
    assert!(
        missing_page.contains("This video is unavailable"),
        "{missing_page}"
    );
    let token = app.token(&uid, json!({})).await;
    let r = get(&format!("{token}/watch"), &allowed_referer)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "cache-control").starts_with("private"));
}
