//! Downloading a customer's file straight into the blob store: streamed chunk by chunk
//! (never the whole file in memory), capped at a size, and all-or-nothing — on any
//! failure the unfinished blob is aborted, so nothing half-written becomes visible.

use usher_store::{BlobWriter, Blobs};

use crate::client::Outbound;
use crate::error::FetchError;

impl Outbound {
    /// GETs `url` and stores the body under `key`; returns its size in bytes. Refuses
    /// a non-2xx answer and stops once more than `max_bytes` have arrived.
    pub async fn fetch_to_blob(
        &self,
        url: &str,
        blobs: &Blobs,
        key: &str,
        max_bytes: u64,
    ) -> Result<u64, FetchError> {
        let mut resp = self.get(url)?.send().await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        // Refuse early when the origin announces a file that is too large.
        if resp.content_length().is_some_and(|n| n > max_bytes) {
            return Err(FetchError::TooLarge(max_bytes));
        }
        let mut writer = blobs.writer(key).await.map_err(FetchError::Store)?;
        match copy_body(&mut resp, &mut writer, max_bytes).await {
            Ok(()) => writer.finish().await.map_err(FetchError::Store),
            Err(e) => {
                writer.abort().await;
                Err(e)
            }
        }
    }
}

/// Moves the body into `writer` as it arrives; hyper hands out bounded chunks and the
/// writer holds at most a few parts in flight, so memory stays bounded.
async fn copy_body(
    resp: &mut reqwest::Response,
    writer: &mut BlobWriter,
    max_bytes: u64,
) -> Result<(), FetchError> {
    while let Some(chunk) = resp.chunk().await? {
        if writer.written().saturating_add(chunk.len() as u64) > max_bytes {
            return Err(FetchError::TooLarge(max_bytes));
        }
        writer.write(chunk).await.map_err(FetchError::Store)?;
    }
    Ok(())
}
