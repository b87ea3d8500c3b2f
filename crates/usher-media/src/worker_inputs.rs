//! Where a package job's inputs come from: the upload (the video's own, or for a clip
//! its source's), and the watermark image, as local files whatever the blob store.

use std::path::{Path, PathBuf};

use usher_core::{ErrorReason, Video, VideoId, Watermark};
use usher_store::layout::{original_key, video_watermark_key};

use super::{JobError, MAX_CLIP_ANCESTORS, Worker};
use crate::plan::Overlay;
use crate::probe::image_size;

impl Worker {
    /// Blob `key` as a local file: the blob itself when media is on local disk,
    /// otherwise a copy at `scratch`.
    pub(super) async fn local_blob(&self, key: &str, scratch: &Path) -> Result<PathBuf, JobError> {
        if let Some(path) = self.blobs.local_path(key)
            && tokio::fs::metadata(&path).await.is_ok()
        {
            return Ok(path);
        }
        self.blobs.download_to(key, scratch).await?;
        Ok(scratch.to_path_buf())
    }

    /// The video a clip is cut from: the nearest ancestor, following `clipped_from`,
    /// whose upload is still stored (the API states the span in that video's timeline).
    /// With none left — the source was deleted before the clip was made — the clip fails
    /// with `ERR_FETCH_ORIGIN_ERROR`: its origin could not be fetched, and trying again
    /// will not bring it back.
    pub(super) async fn clip_source(&self, video: &Video) -> Result<VideoId, JobError> {
        let mut next = video.clipped_from.clone();
        for _ in 0..MAX_CLIP_ANCESTORS {
            let Some(uid) = next else { break };
            if self.blobs.exists(&original_key(&uid)).await? {
                return Ok(uid);
            }
            next = self
                .db
                .video_by_uid(&uid)
                .await?
                .and_then(|v| v.clipped_from);
        }
        tracing::warn!("the clip's source video and its upload are gone");
        Err(JobError::Refused(ErrorReason::FetchOriginError))
    }

    /// The video's watermark as an overlay: its image (copied beside the upload by the
    /// API) as a local file, measured by ffprobe, with the profile's settings.
    pub(super) async fn overlay(
        &self,
        video: &Video,
        mark: &Watermark,
        work: &Path,
    ) -> Result<Overlay, JobError> {
        let key = video_watermark_key(&video.uid);
        if !self.blobs.exists(&key).await? {
            tracing::warn!("the video's watermark image is missing");
            return Err(JobError::Refused(ErrorReason::Unknown));
        }
        let image = self.local_blob(&key, &work.join("watermark")).await?;
        let (width, height) = image_size(&self.tools, &image).await?;
        Ok(Overlay {
            image,
            width,
            height,
            opacity: mark.opacity,
            padding: mark.padding,
            scale: mark.scale,
            position: mark.position,
        })
    }
}
