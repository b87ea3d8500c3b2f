//! tus through the real routes, in-process: creation (`POST /stream` with
//! `Upload-Length`, `Upload-Metadata` and the query), then a `PATCH` of the upload URL
//! with a fuzzed `Upload-Offset`, `Content-Type` and body, then a `HEAD`. Each answer
//! must be under 500, and an accepted `PATCH` must report an offset within the length.
//!
//! Input: lines `Upload-Length`, `Upload-Metadata`, query string, `Upload-Offset`,
//! `Content-Type`, then the `PATCH` body. An empty line leaves that header out.
#![no_main]

use std::cell::RefCell;

use axum::body::Body;
use axum::http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use usher_fuzz::api::Api;

thread_local! {
    static API: RefCell<Api> = RefCell::new(Api::new());
}

/// Adds `name: value` unless the value is empty or not a valid header value.
fn header(
    b: axum::http::request::Builder,
    name: &str,
    value: &[u8],
) -> axum::http::request::Builder {
    match HeaderValue::from_bytes(value) {
        Ok(v) if !value.is_empty() => b.header(name, v),
        _ => b,
    }
}

fuzz_target!(|data: &[u8]| {
    let (f, body) = usher_fuzz::lines(data, 5);
    let query = usher_fuzz::text(f[2]);
    API.with_borrow_mut(|api| {
        let mut uri = format!("/client/v4/accounts/{}/stream", api.account);
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(&query);
        }
        let b = api
            .authed()
            .method("POST")
            .uri(uri)
            .header("tus-resumable", "1.0.0");
        let b = header(b, "upload-length", f[0]);
        let b = header(b, "upload-metadata", f[1]);
        let Ok(create) = b.body(Body::empty()) else {
            return;
        };
        let created = api.send(create);
        created.assert_client_error_at_worst("tus creation");
        if created.status != 201 {
            return;
        }
        let location = created.headers["location"]
            .to_str()
            .expect("an ASCII Location");
        let path = location
            .strip_prefix("http://fuzz.invalid")
            .expect("Location under the public URL")
            .to_owned();
        let length: u64 = created_length(f[0]);

        let b = api
            .authed()
            .method("PATCH")
            .uri(&path)
            .header("tus-resumable", "1.0.0");
        let b = header(b, "upload-offset", f[3]);
        let b = header(b, "content-type", f[4]);
        let patch = b
            .header("content-length", body.len())
            .body(Body::from(body.to_vec()))
            .expect("a PATCH request");
        let patched = api.send(patch);
        patched.assert_client_error_at_worst("tus PATCH");
        if patched.status == 204 {
            let offset: u64 = patched.headers["upload-offset"]
                .to_str()
                .ok()
                .and_then(|v| v.parse().ok())
                .expect("a numeric Upload-Offset");
            assert!(offset <= length, "offset {offset} past the length {length}");
        }

        let head = api
            .authed()
            .method("HEAD")
            .uri(&path)
            .header("tus-resumable", "1.0.0")
            .body(Body::empty())
            .expect("a HEAD request");
        api.send(head).assert_client_error_at_worst("tus HEAD");
    });
});

/// The length creation accepted (it parsed it the same way).
fn created_length(v: &[u8]) -> u64 {
    std::str::from_utf8(v)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .expect("creation accepted a numeric Upload-Length")
}
