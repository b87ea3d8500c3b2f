//! Access rules against the client's real address and country: HTTP clients bound to
//! different loopback addresses (and `::1`, on a second listener) ask a server that
//! reads a test GeoIP database, directly and through a trusted proxy.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use mmdb_writer::{Value as Mmdb, Writer};
use serde_json::{Value, json};

use crate::H264_AAC;
use crate::app::{App, spawn_app};
use crate::media::clip;

/// 127.0.0.2/32 is in the US.
const US: &str = "127.0.0.2";
/// 127.0.1.0/24 is in Great Britain (written in MaxMind's record shape).
const GB: &str = "127.0.1.5";
/// No record: the country is unknown.
const NOWHERE: &str = "127.0.0.3";
/// `::1` is in Germany.
const DE: &str = "::1";
/// The reverse proxy, inside `--trusted-proxy 127.0.0.0/31`; no country of its own.
const PROXY: &str = "127.0.0.1";
const TRUSTED: &str = "127.0.0.0/31";

const BLOCKED: &str = "blocked by the token's access rules";

/// A country database in both record shapes Usher reads.
fn write_geoip(dir: &Path) -> String {
    let code = |c: &str| Mmdb::map([("country_code", Mmdb::from(c))]);
    let mut w = Writer::new("Usher-Test-Country");
    for (net, record) in [
        ("127.0.0.2/32", code("US")),
        (
            "127.0.1.0/24",
            Mmdb::map([("country", Mmdb::map([("iso_code", Mmdb::from("GB"))]))]),
        ),
        ("::1/128", code("DE")),
    ] {
        w.insert_value(net.parse::<IpNet>().unwrap(), record)
            .unwrap();
    }
    let path = dir.join("test-country.mmdb");
    std::fs::write(&path, w.to_bytes().unwrap()).unwrap();
    path.to_string_lossy().into_owned()
}

/// A server with the test database, an IPv6 listener and a trusted proxy range, a
/// private ready video on it, and a signing key.
struct World {
    app: App,
    uid: String,
    key: (String, String),
    clients: HashMap<&'static str, reqwest::Client>,
    _tmp: tempfile::TempDir,
}

impl World {
    async fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let db = write_geoip(tmp.path());
        let app = spawn_app(&[
            "--geoip",
            &db,
            "--listen",
            "[::1]:0",
            "--trusted-proxy",
            TRUSTED,
        ]);
        assert!(app.urls[1].starts_with("http://[::1]:"), "{:?}", app.urls);
        let src = clip(tmp.path(), "a.mp4", "320x240", 2, H264_AAC);
        let uid = app.upload_ready(&src).await;
        app.edit(&uid, json!({"requireSignedURLs": true})).await;
        let key = app.post("/stream/keys", json!({})).await;
        let key = (
            key["id"].as_str().unwrap().to_owned(),
            key["pem"].as_str().unwrap().to_owned(),
        );
        let clients = [US, GB, NOWHERE, DE, PROXY]
            .into_iter()
            .map(|from| {
                let ip: IpAddr = from.parse().unwrap();
                let c = reqwest::Client::builder()
                    .local_address(ip)
                    .build()
                    .unwrap();
                (from, c)
            })
            .collect();
        Self {
            app,
            uid,
            key,
            clients,
            _tmp: tmp,
        }
    }

    /// A token for the video, signed with the signing key, carrying `rules`.
    async fn token(&self, rules: Value) -> String {
        self.app
            .token(
                &self.uid,
                json!({"id": self.key.0, "pem": self.key.1, "accessRules": rules}),
            )
            .await
    }

    /// The manifest for `token`, asked for from address `from` with these
    /// `X-Forwarded-For` header instances: status and body.
    async fn get(&self, from: &str, token: &str, xff: &[&str]) -> (u16, String) {
        let base = if from.contains(':') {
            &self.app.urls[1]
        } else {
            &self.app.url
        };
        let mut rb = self.clients[from].get(format!("{base}/{token}/manifest/video.m3u8"));
        for v in xff {
            rb = rb.header("X-Forwarded-For", *v);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.text().await.unwrap().trim().to_owned())
    }

    /// Asserts a 200 (a manifest) or a 403 with the rule refusal, per case.
    async fn expect(&self, token: &str, cases: &[(&str, &[&str], u16)]) {
        for &(from, xff, want) in cases {
            let (status, body) = self.get(from, token, xff).await;
            assert_eq!(
                status, want,
                "from {from} with X-Forwarded-For {xff:?}: {body}"
            );
            if want == 200 {
                assert!(body.starts_with("#EXTM3U"), "{body}");
            } else {
                assert_eq!(body, BLOCKED);
            }
        }
    }
}

#[tokio::test]
async fn access_rules_see_the_clients_address_and_country() {
    let w = World::new().await;

    // ip.src, blocking one address and allowing one range.
    let t = w
        .token(json!([{"type": "ip.src", "action": "block", "ip": ["127.0.0.2/32"]}]))
        .await;
    w.expect(&t, &[(US, &[], 403), (NOWHERE, &[], 200), (GB, &[], 200)])
        .await;
    let t = w
        .token(json!([
            {"type": "ip.src", "action": "allow", "ip": ["127.0.1.0/24"]},
            {"type": "any", "action": "block"}
        ]))
        .await;
    w.expect(&t, &[(GB, &[], 200), (US, &[], 403), (DE, &[], 403)])
        .await;

    // Countries: GB only is refused from a US address, an unknown one and a German one.
    let t = w
        .token(json!([
            {"type": "ip.geoip.country", "action": "allow", "country": ["GB"]},
            {"type": "any", "action": "block"}
        ]))
        .await;
    w.expect(
        &t,
        &[
            (GB, &[], 200),
            (US, &[], 403),
            (NOWHERE, &[], 403),
            (DE, &[], 403),
        ],
    )
    .await;
    // Every request is decided, not just the manifest: a rendition is refused alike.
    let rendition = |from: &str| {
        w.clients[from]
            .get(format!("{}/{t}/manifest/v0/index.m3u8", w.app.url))
            .send()
    };
    assert_eq!(rendition(GB).await.unwrap().status(), 200);
    assert_eq!(rendition(US).await.unwrap().status(), 403);
    // Blocking the US leaves an unknown country alone.
    let t = w
        .token(json!([{"type": "ip.geoip.country", "action": "block", "country": ["US"]}]))
        .await;
    w.expect(&t, &[(US, &[], 403), (GB, &[], 200), (NOWHERE, &[], 200)])
        .await;
    // The IPv6 client's country is looked up too.
    let t = w
        .token(json!([
            {"type": "ip.geoip.country", "action": "allow", "country": ["DE"]},
            {"type": "any", "action": "block"}
        ]))
        .await;
    w.expect(&t, &[(DE, &[], 200), (US, &[], 403)]).await;

    // The first matching rule decides, in either order.
    let t = w
        .token(json!([
            {"type": "ip.src", "action": "allow", "ip": ["127.0.0.2"]},
            {"type": "ip.geoip.country", "action": "block", "country": ["US"]}
        ]))
        .await;
    w.expect(&t, &[(US, &[], 200)]).await;
    let t = w
        .token(json!([
            {"type": "ip.geoip.country", "action": "block", "country": ["US"]},
            {"type": "ip.src", "action": "allow", "ip": ["127.0.0.2"]}
        ]))
        .await;
    w.expect(&t, &[(US, &[], 403)]).await;

    // An IPv4 rule never matches an IPv6 client, nor an IPv6 rule an IPv4 one.
    let t = w
        .token(json!([{"type": "ip.src", "action": "block", "ip": ["0.0.0.0/0"]}]))
        .await;
    w.expect(&t, &[(DE, &[], 200), (US, &[], 403)]).await;
    let t = w
        .token(json!([{"type": "ip.src", "action": "block", "ip": ["::/0"]}]))
        .await;
    w.expect(&t, &[(DE, &[], 403), (US, &[], 200)]).await;
}

#[tokio::test]
async fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
    let w = World::new().await;
    let gb_only = w
        .token(json!([
            {"type": "ip.geoip.country", "action": "allow", "country": ["GB"]},
            {"type": "any", "action": "block"}
        ]))
        .await;

    // From untrusted peers the header is ignored, in both directions.
    w.expect(
        &gb_only,
        &[
            (US, &["127.0.1.5"], 403),
            (US, &["127.0.0.1, 127.0.1.5"], 403),
            (US, &["127.0.1.5", "127.0.1.5"], 403),
            (DE, &["127.0.1.5"], 403),
            (GB, &["127.0.0.2"], 200),
        ],
    )
    .await;

    // From the trusted proxy: the right-most entry that is not a trusted proxy is the
    // client; what the client put to its left is ignored.
    w.expect(
        &gb_only,
        &[
            (PROXY, &["127.0.1.5"], 200),
            (PROXY, &["127.0.0.2"], 403),
            (PROXY, &["127.0.0.2, 127.0.1.5"], 200),
            (PROXY, &["127.0.1.5, 127.0.0.2"], 403),
            (PROXY, &["127.0.0.2, 127.0.1.5, 127.0.0.0"], 200),
            (PROXY, &["127.0.0.2", "127.0.1.5"], 200),
            (PROXY, &["127.0.1.5", "127.0.0.2"], 403),
            (PROXY, &["127.0.1.5:51234"], 200),
            // An unreadable entry stops the walk at the proxy, which has no country.
            (PROXY, &["127.0.1.5, unknown"], 403),
            // No header: the proxy itself asked.
            (PROXY, &[], 403),
        ],
    )
    .await;

    // An IPv6 client behind the proxy gets its own country.
    let de_only = w
        .token(json!([
            {"type": "ip.geoip.country", "action": "allow", "country": ["DE"]},
            {"type": "any", "action": "block"}
        ]))
        .await;
    w.expect(
        &de_only,
        &[
            (PROXY, &["[::1]:4711"], 200),
            (PROXY, &["::1"], 200),
            (PROXY, &["127.0.1.5"], 403),
        ],
    )
    .await;

    // ip.src rules see the client, not the proxy.
    let no_proxy = w
        .token(json!([{"type": "ip.src", "action": "block", "ip": ["127.0.0.1/32"]}]))
        .await;
    w.expect(
        &no_proxy,
        &[(PROXY, &["127.0.1.5"], 200), (PROXY, &[], 403)],
    )
    .await;
}
