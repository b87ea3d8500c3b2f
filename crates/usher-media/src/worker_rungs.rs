//! Progressive publishing's second step: the rungs below a copied top rendition that
//! was published first. They are encoded on the source's key frames like the one-pass
//! ladder's, checked against the published top, and published as a new generation
//! that carries the first one's files over (store-side copies: hard links on disk,
//! server-side copies on S3), then switched to in one conditional update. Until then
//! the video plays from the first generation; a viewer never sees half a ladder.
//!
//! If the worker dies in between, the job is taken back as any other and finds the
//! video ready with its top alone: [`Worker::finish_ladder`] picks up from there.

use std::path::Path;

use usher_core::time_fmt::now_micros;
use usher_core::{Video, VideoId};
use usher_store::layout::{generation_prefix, masters_prefix, original_key};

use super::{JobError, Worker, remove_scratch};
use crate::command::MANIFEST_DIR;
use crate::error::MediaError;
use crate::index::SegmentIndex;
use crate::manifest::{DASH_MPD_FILE, HLS_MASTER_FILE};
use crate::package::{INDEX_FILE, package_below};
use crate::plan::{Edits, Plan, Rung, plan, transcode};
use crate::probe::Probe;
use crate::{package, probe, publish};

/// A generation published with the top of its ladder alone.
pub(super) struct TopAlone<'a> {
    pub uid: &'a VideoId,
    pub generation: &'a str,
    /// Its `manifest/index.json`.
    pub index: &'a SegmentIndex,
}

impl Worker {
    /// Encodes `lower` below the copy published as `top`, and switches the video to a
    /// generation holding the whole ladder. A ladder that does not line up is
    /// transcoded whole instead, and published the same way.
    pub(super) async fn publish_rungs(
        &self,
        top: TopAlone<'_>,
        input: &Path,
        probed: &Probe,
        lower: &[Rung],
        work: &Path,
    ) -> Result<(), JobError> {
        let TopAlone {
            uid,
            generation,
            index: published,
        } = top;
        let out = work.join("rungs");
        let (next, whole_index) = match package_below(
            &self.tools,
            input,
            probed,
            lower,
            published,
            &out,
        )
        .await
        {
            Ok(packaged) => (
                self.carry_over(uid, generation, &out, &packaged.files)
                    .await?,
                packaged.index,
            ),
            Err(MediaError::Ladder(why)) => {
                tracing::warn!(%why, "the rungs do not line up with the copy; transcoding the ladder");
                let whole = work.join("transcoded");
                let plan = transcode(probed, Edits::default());
                let packaged = package(&self.tools, input, probed, &plan, &whole, |_| {}).await?;
                let video = self.db.video_by_uid(uid).await?;
                let pct = video.map_or(0.0, |v| v.thumbnail_pct);
                let mut files = packaged.files.clone();
                files.push(self.poster(&whole, pct, packaged.duration_secs).await?);
                (
                    self.upload_generation(uid, &whole, &files).await?,
                    packaged.index,
                )
            }
            Err(e) => return Err(e.into()),
        };
        let (old, new) = (
            generation_prefix(uid, generation),
            generation_prefix(uid, &next),
        );
        let masters = publish::prepare(&self.db, &self.blobs, uid, &whole_index).await?;
        match self
            .db
            .replace_generation(uid, generation, &next, Some(&masters), now_micros())
            .await?
        {
            Some(replaced) => {
                tracing::info!("published the rest of the ladder");
                self.blobs.delete_prefix(&old).await?;
                publish::remove_stale(&self.blobs, uid, &masters, replaced.as_deref()).await;
                self.catch_up_tracks(uid).await;
            }
            None => {
                // Deleted, or re-packaged, while we worked: what we wrote is unreachable.
                self.blobs.delete_prefix(&new).await?;
                self.blobs
                    .delete_prefix(&masters_prefix(uid, &masters.revision))
                    .await?;
            }
        }
        Ok(())
    }

    /// A new generation: `generation`'s files but its manifests (the copy, the audio,
    /// the MP4 and the poster, copied inside the store), plus `files` from `out` (the
    /// new rungs and the manifests of the whole ladder). Returns its name.
    async fn carry_over(
        &self,
        uid: &VideoId,
        generation: &str,
        out: &Path,
        files: &[std::path::PathBuf],
    ) -> Result<String, JobError> {
        let next = self.upload_generation(uid, out, files).await?;
        let (old, new) = (
            generation_prefix(uid, generation),
            generation_prefix(uid, &next),
        );
        let replaced: Vec<String> = [HLS_MASTER_FILE, DASH_MPD_FILE, INDEX_FILE]
            .iter()
            .map(|f| format!("{old}/{MANIFEST_DIR}/{f}"))
            .collect();
        for key in self.blobs.list(&old).await? {
            if replaced.contains(&key) {
                continue;
            }
            let Some(rel) = key.strip_prefix(&old) else {
                continue;
            };
            self.blobs.copy(&key, &format!("{new}{rel}")).await?;
        }
        Ok(next)
    }

    /// A package job taken back on a video that is already ready: if only the top of its
    /// ladder was published (the worker died between the two steps of progressive
    /// publishing), publishes the rest; otherwise there is nothing left to do.
    pub(super) async fn finish_ladder(&self, video: &Video) -> Result<(), JobError> {
        let Some(generation) = video.media_generation.as_deref() else {
            return Ok(());
        };
        if video.clip.is_some() || video.watermark.is_some() {
            return Ok(()); // transcoded: published whole
        }
        // A generation the dead worker was writing, never switched to.
        self.remove_unpublished(video).await?;
        let work = tempfile::Builder::new()
            .prefix("job-")
            .tempdir_in(&self.cfg.scratch)
            .map_err(|e| MediaError::io("creating a scratch directory", e))?;
        let index_path = work.path().join(INDEX_FILE);
        let key = format!(
            "{}/{MANIFEST_DIR}/{INDEX_FILE}",
            generation_prefix(&video.uid, generation)
        );
        self.blobs.download_to(&key, &index_path).await?;
        let bytes = tokio::fs::read(&index_path)
            .await
            .map_err(|e| MediaError::io("reading the published index", e))?;
        let published: SegmentIndex = serde_json::from_slice(&bytes)
            .map_err(|e| MediaError::UnexpectedOutput(format!("published index: {e}")))?;
        if published.video().count() > 1 {
            return Ok(());
        }
        let input = self
            .local_blob(&original_key(&video.uid), &work.path().join("input"))
            .await?;
        let probed = probe(&self.tools, &input).await?;
        if let Plan::Remux { lower } = plan(&probed)
            && !lower.is_empty()
        {
            tracing::info!("publishing the rest of a ladder whose top was published alone");
            let top = TopAlone {
                uid: &video.uid,
                generation,
                index: &published,
            };
            self.publish_rungs(top, &input, &probed, &lower, work.path())
                .await?;
        }
        remove_scratch(work).await;
        Ok(())
    }
}
