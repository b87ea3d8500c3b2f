//! Fetching a watermark image from the `url` a customer gives, while the request
//! waits: through the outbound client and its address policy (the same one copies use:
//! private, loopback and link-local hosts only with `--copy-allow-private`), at most
//! `MAX_IMAGE_BYTES` + 1 bytes held, within `FETCH_TIMEOUT` overall.

use std::time::Duration;

use usher_core::watermark::MAX_IMAGE_BYTES;
use usher_outbound::FetchError;

use crate::error::ApiError;
use crate::routes::copy::url_error;
use crate::state::ApiState;

/// How long fetching the image may take from first byte sent to last byte read. An
/// image of 2 MiB that takes longer is on an origin too slow to wait for in a request.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest URL accepted, as for copies.
const MAX_URL_LEN: usize = 4096;

/// The image's bytes and the URL as checked.
pub async fn image(st: &ApiState, url: &str) -> Result<(Vec<u8>, String), ApiError> {
    if url.len() > MAX_URL_LEN {
        return Err(ApiError::bad("url: at most 4096 characters"));
    }
    let client = st.outbound()?;
    let checked = client.check_url(url).map_err(url_error)?.to_string();
    let fetched = tokio::time::timeout(FETCH_TIMEOUT, async {
        let mut resp = client.get(&checked)?.send().await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        if resp.content_length().is_some_and(|n| n > MAX_IMAGE_BYTES) {
            return Err(FetchError::TooLarge(MAX_IMAGE_BYTES));
        }
        let mut out = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            if (out.len() + chunk.len()) as u64 > MAX_IMAGE_BYTES {
                return Err(FetchError::TooLarge(MAX_IMAGE_BYTES));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    })
    .await
    .unwrap_or(Err(FetchError::Timeout));
    match fetched {
        Ok(bytes) => Ok((bytes, checked)),
        Err(e) => Err(fetch_error(e)),
    }
}

/// What went wrong, for the customer: every failure is the URL's (400), naming it.
fn fetch_error(e: FetchError) -> ApiError {
    match e {
        FetchError::Status(s) => ApiError::bad(format!("url: the origin answered HTTP {s}")),
        FetchError::TooLarge(limit) => ApiError::bad(format!(
            "url: the image is larger than the limit of {limit} bytes"
        )),
        FetchError::Timeout => ApiError::bad(format!(
            "url: the image did not arrive within {} seconds",
            FETCH_TIMEOUT.as_secs()
        )),
        FetchError::Connect => ApiError::bad("url: could not connect to the origin"),
        FetchError::Transfer => ApiError::bad("url: the transfer from the origin broke off"),
        FetchError::TooManyRedirects => ApiError::bad("url: too many redirects"),
        FetchError::Setup | FetchError::Store(_) => ApiError::internal(e),
        other => url_error(other),
    }
}
