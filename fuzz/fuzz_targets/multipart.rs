//! Multipart bodies through the real routes, in-process: a basic upload (`POST /stream`,
//! streamed into the blob store) or a caption upload (`PUT …/captions/{lang}`, read
//! whole, then parsed as WebVTT/SRT). The body arrives in chunks whose size depends on
//! the input, as a network delivers it. Every answer must be under 500.
//!
//! Input: a line `captions` for the caption route (anything else: the upload route),
//! a line with the `Content-Type` (the boundary is the fuzzer's to choose), then the body.
#![no_main]

use std::cell::RefCell;

use axum::body::{Body, Bytes};
use axum::http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use usher_fuzz::api::Api;

thread_local! {
    static API: RefCell<Api> = RefCell::new(Api::new());
}

fuzz_target!(|data: &[u8]| {
    let (f, body) = usher_fuzz::lines(data, 2);
    let Ok(content_type) = HeaderValue::from_bytes(f[1]) else {
        return;
    };
    let chunk = body.len() % 97 + 1;
    let chunks: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    API.with_borrow_mut(|api| {
        let (method, uri, what) = if f[0] == b"captions" {
            let uri = format!(
                "/client/v4/accounts/{}/stream/{}/captions/en",
                api.account, api.video
            );
            ("PUT", uri, "caption upload")
        } else {
            let uri = format!("/client/v4/accounts/{}/stream", api.account);
            ("POST", uri, "basic upload")
        };
        let req = api
            .authed()
            .method(method)
            .uri(uri)
            .header("content-type", content_type)
            .header("content-length", body.len())
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .expect("a request");
        api.send(req).assert_client_error_at_worst(what);
    });
});
