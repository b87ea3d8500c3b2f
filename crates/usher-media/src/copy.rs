//! `copy` jobs: fetch a video's file from the URL its owner gave (`POST …/stream/copy`)
//! into the blob store as its upload, then queue it for packaging. The fetch goes
//! through [`usher_outbound::Outbound`], so the address policy holds on every name,
//! literal and redirect. An interrupted fetch leaves nothing visible (the blob writer
//! only publishes when finished), so a retried job simply starts over.

use usher_core::time_fmt::now_micros;
use usher_core::{VideoId, VideoState};
use usher_outbound::{FetchError, Outbound};
use usher_store::layout::original_key;
use usher_store::{Blobs, Db, StoreError};

/// Why a copy stopped short.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the video has no source URL")]
    NoSource,
}

impl CopyError {
    /// Whether trying again later could help.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Fetch(e) => e.is_retryable(),
            Self::Store(_) => true,
            Self::NoSource => false,
        }
    }
}

/// What a worker needs to run copy jobs.
#[derive(Debug, Clone)]
pub struct Copier {
    pub outbound: Outbound,
    /// Largest file fetched, in bytes.
    pub max_bytes: u64,
}

impl Copier {
    /// Fetches the video's source into its upload key and queues it for packaging.
    /// A video deleted meanwhile, or already fetched, is left alone.
    pub async fn run(&self, db: &Db, blobs: &Blobs, uid: &VideoId) -> Result<(), CopyError> {
        let Some(video) = db.video_by_uid(uid).await? else {
            return Ok(()); // deleted while queued
        };
        if video.state != VideoState::Downloading {
            // An earlier attempt completed but died before finishing its job.
            return Ok(());
        }
        let url = db.copy_source(uid).await?.ok_or(CopyError::NoSource)?;
        let key = original_key(uid);
        tracing::info!("copying a video from its URL");
        let size = self
            .outbound
            .fetch_to_blob(&url, blobs, &key, self.max_bytes)
            .await?;
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        if !db.complete_copy(uid, size, now_micros()).await? {
            // Deleted while we fetched: what we stored is unreachable.
            blobs.delete_prefix(&key).await?;
        }
        Ok(())
    }
}
