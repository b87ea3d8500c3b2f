//! The media worker: claims jobs from the database queue — `package` turns the stored
//! upload (or, for a clip, its source's upload) into a published ladder, `copy` (see
//! [`crate::copy`]) first fetches a video from its URL — and records the outcome on the
//! video. Outputs are written to scratch
//! space, copied into a fresh generation in the blob store, and only then switched to
//! in one database update, so a crash at any point leaves either the old state or the
//! new one visible, never half of a rendition.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use usher_core::ids::random_hex_id;
use usher_core::time_fmt::now_micros;
use usher_core::{ErrorReason, Video, VideoId, VideoState};
use usher_outbound::{AddressPolicy, FetchError, Outbound};
use usher_store::layout::{
    generation_prefix, is_generation, masters_prefix, original_key, outputs_prefix,
};
use usher_store::{AUDIO_JOB, Blobs, COPY_JOB, Db, Job, ProcessingUpdate, StoreError};

use crate::audio::{AudioEncoder, AudioError};
use crate::command::DOWNLOAD_FILE;
use crate::copy::{Copier, CopyError};

#[path = "worker_inputs.rs"]
mod inputs;
#[path = "worker_rungs.rs"]
mod rungs;
use crate::error::MediaError;
use crate::plan::{Edits, Plan, plan_with};
use crate::probe::MIN_DURATION_SECS;
use crate::tools::Tools;
use crate::{package, probe, publish, thumbnail, thumbnail_time};
use usher_core::video::DEFAULT_MAX_VIDEO_BYTES;

/// How long a claim lasts without renewal; a worker that dies loses its job after this.
pub const LEASE: Duration = Duration::from_secs(60);
/// Renewals per lease: a worker may miss a few before another claims its job.
const HEARTBEATS_PER_LEASE: u32 = 4;
/// How long an idle worker waits before looking for work again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Attempts before a job whose failures look transient is given up on.
pub const MAX_ATTEMPTS: i64 = 3;
/// Delay before retry n is `RETRY_BACKOFF * n`.
const RETRY_BACKOFF: Duration = Duration::from_secs(5);
/// Progress is written to the database at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// How far up a chain of clips of clips the worker looks for the upload to cut from.
pub const MAX_CLIP_ANCESTORS: usize = 32;
/// The poster frame, relative to a generation.
pub const THUMBNAIL_FILE: &str = "thumbnails/thumbnail.jpg";

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Unique among all workers sharing the database (host, pid, index).
    pub name: String,
    /// Local scratch directory; each job works in its own subdirectory.
    pub scratch: PathBuf,
    pub poll_interval: Duration,
    /// Which hosts copy jobs may fetch from (the API's `copy_policy`).
    pub copy_policy: AddressPolicy,
    /// Largest file a copy job fetches, in bytes.
    pub max_video_bytes: u64,
    /// How long a claimed job stays this worker's without a renewal: after a crash on
    /// another machine, the wait before some other worker takes the job over.
    pub lease: Duration,
    /// Publish a remuxed video's copied top rendition as soon as it is packaged (the
    /// video turns `ready` then), and the rungs below it afterwards, as a new
    /// generation. Off: the video turns `ready` once its whole ladder is published.
    pub progressive_publishing: bool,
}

impl WorkerConfig {
    pub fn new(name: String, scratch: PathBuf) -> Self {
        Self {
            name,
            scratch,
            poll_interval: POLL_INTERVAL,
            copy_policy: AddressPolicy::public_only(),
            max_video_bytes: DEFAULT_MAX_VIDEO_BYTES,
            lease: LEASE,
            progressive_publishing: false,
        }
    }
}

pub struct Worker {
    db: Db,
    blobs: Blobs,
    tools: Arc<Tools>,
    cfg: WorkerConfig,
    /// `None` if the outbound HTTP client could not be built: copy jobs then fail.
    copier: Option<Copier>,
    /// Likewise for audio track jobs.
    audio: Option<AudioEncoder>,
}

/// Why a job stopped short.
#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{}", .0.text())]
    Refused(ErrorReason),
    #[error(transparent)]
    Copy(#[from] CopyError),
    #[error(transparent)]
    Publish(#[from] publish::PublishError),
    #[error(transparent)]
    Audio(#[from] AudioError),
}

impl Worker {
    pub fn new(db: Db, blobs: Blobs, tools: Arc<Tools>, cfg: WorkerConfig) -> Self {
        let outbound = Outbound::new(cfg.copy_policy.clone()).ok();
        let copier = outbound.clone().map(|outbound| Copier {
            outbound,
            max_bytes: cfg.max_video_bytes,
        });
        let audio = outbound.map(|outbound| AudioEncoder {
            outbound,
            max_bytes: cfg.max_video_bytes,
        });
        Self {
            db,
            blobs,
            tools,
            cfg,
            copier,
            audio,
        }
    }

    /// Runs jobs until `shutdown`; a job interrupted by shutdown is handed back to the
    /// queue for another worker (or this one after a restart).
    pub async fn run(&self, shutdown: CancellationToken) {
        if let Err(e) = std::fs::create_dir_all(&self.cfg.scratch) {
            tracing::error!(error = %e, "cannot create scratch directory; worker stopped");
            return;
        }
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            // Not raced against `shutdown` here: `run_once_until` reacts to it itself, and
            // must get to hand an interrupted job back to the queue.
            match self.run_once_until(&shutdown).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "worker could not reach the queue"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.cfg.poll_interval) => {}
            }
        }
    }

    /// Claims and runs one job, if any is due; returns whether one was run. Tests step
    /// the worker with this instead of sleeping.
    pub async fn run_once(&self) -> Result<bool, StoreError> {
        self.run_once_until(&CancellationToken::new()).await
    }

    async fn run_once_until(&self, shutdown: &CancellationToken) -> Result<bool, StoreError> {
        let lease = i64::try_from(self.cfg.lease.as_micros()).unwrap_or(i64::MAX);
        let Some(job) = self
            .db
            .claim_job(
                &[usher_store::PACKAGE_JOB, COPY_JOB, AUDIO_JOB],
                &self.cfg.name,
                lease,
                now_micros(),
            )
            .await?
        else {
            return Ok(false);
        };
        let span = tracing::info_span!("job", id = %job.id, video = %job.video_uid, attempt = job.attempts);
        let _enter = span.enter();
        if job.attempts > MAX_ATTEMPTS {
            // Earlier attempts ended without a word: their process died mid-job (killed,
            // out of memory). Don't let one input take the workers down for ever.
            let why = format!(
                "gave up after {MAX_ATTEMPTS} attempts: the worker stopped mid-job each time"
            );
            tracing::warn!("{why}");
            self.give_up(&job, ErrorReason::Unknown, &why).await?;
            return Ok(true);
        }
        tracing::info!(kind = %job.kind, "running a job");
        let started = std::time::Instant::now();
        let outcome = tokio::select! {
            r = self.with_heartbeat(&job) => Some(r),
            _ = shutdown.cancelled() => None,
        };
        let now = now_micros();
        let ended = match outcome {
            None => {
                tracing::info!("shutting down: job handed back to the queue");
                self.db.hand_back_job(&job.id, &self.cfg.name, now).await?;
                self.back_to_queued(&job, now).await?;
                "handed_back"
            }
            Some(Ok(())) => {
                self.db.finish_job(&job.id, &self.cfg.name, now).await?;
                tracing::info!("job done");
                "done"
            }
            Some(Err(e)) => self.record_failure(&job, e).await?,
        };
        usher_metrics::job_ran(&job.kind, ended, started.elapsed());
        Ok(true)
    }

    /// Records how a job failed; returns the outcome for the job metrics.
    async fn record_failure(&self, job: &Job, e: JobError) -> Result<&'static str, StoreError> {
        let now = now_micros();
        if self.db.video_by_uid(&job.video_uid).await?.is_none() {
            // Deleted while we worked (its upload vanished under us): nothing to retry.
            self.db.finish_job(&job.id, &self.cfg.name, now).await?;
            return Ok("done");
        }
        let mut detail = e.to_string();
        if let JobError::Media(m) = &e
            && let Some(tail) = m.stderr_tail()
        {
            detail = format!("{detail}\n--- stderr (tail) ---\n{tail}");
        }
        let retryable = match &e {
            JobError::Media(m) => m.is_retryable(),
            JobError::Store(_) => true,
            JobError::Refused(_) => false,
            JobError::Copy(c) => c.is_retryable(),
            // A store hiccup while writing the masters; corrupt media won't get better.
            JobError::Publish(p) => matches!(p, publish::PublishError::Store(_)),
            JobError::Audio(a) => a.is_retryable(),
        };
        if retryable && job.attempts < MAX_ATTEMPTS {
            let delay = RETRY_BACKOFF * u32::try_from(job.attempts).unwrap_or(1);
            let at = now + i64::try_from(delay.as_micros()).unwrap_or(0);
            tracing::warn!(error = %detail, "job failed; will retry");
            self.requeue(job, &detail, at, now).await?;
            Ok("retry")
        } else {
            let reason = match &e {
                JobError::Media(m) => m.reason(),
                JobError::Refused(r) => *r,
                JobError::Store(_) => ErrorReason::Unknown,
                JobError::Copy(_) => ErrorReason::FetchOriginError,
                JobError::Publish(_) | JobError::Audio(_) => ErrorReason::Unknown,
            };
            tracing::warn!(error = %detail, reason = reason.code(), "job failed");
            self.give_up(job, reason, &detail).await?;
            Ok("failed")
        }
    }

    /// Ends a job for good. A failed packaging or copy fails the video; a failed audio
    /// job fails only the tracks it was encoding, never the video they belong to.
    async fn give_up(
        &self,
        job: &Job,
        reason: ErrorReason,
        detail: &str,
    ) -> Result<(), StoreError> {
        let now = now_micros();
        if job.kind == AUDIO_JOB {
            for t in self.db.queued_audio_tracks(&job.video_uid).await? {
                self.db
                    .audio_track_failed(&job.video_uid, &t.uid, detail, now)
                    .await?;
            }
        } else {
            self.db.mark_error(&job.video_uid, reason, now).await?;
        }
        self.db.fail_job(&job.id, &self.cfg.name, detail, now).await
    }

    /// Puts the job back in the queue (due at `at`) and the video back to `queued`.
    async fn requeue(&self, job: &Job, why: &str, at: i64, now: i64) -> Result<(), StoreError> {
        self.db
            .retry_job(&job.id, &self.cfg.name, why, at, now)
            .await?;
        self.back_to_queued(job, now).await
    }

    async fn back_to_queued(&self, job: &Job, now: i64) -> Result<(), StoreError> {
        self.db
            .transition(
                &job.video_uid,
                &[VideoState::InProgress],
                VideoState::Queued,
                now,
            )
            .await?;
        Ok(())
    }

    async fn with_heartbeat(&self, job: &Job) -> Result<(), JobError> {
        let work = self.run_job(job);
        tokio::pin!(work);
        let mut beat = tokio::time::interval(self.cfg.lease / HEARTBEATS_PER_LEASE);
        beat.tick().await;
        loop {
            tokio::select! {
                r = &mut work => return r,
                _ = beat.tick() => {
                    let until = now_micros() + i64::try_from(self.cfg.lease.as_micros()).unwrap_or(0);
                    if !self.db.renew_lease(&job.id, &self.cfg.name, until).await? {
                        tracing::warn!("lost the job's lease; abandoning it");
                        return Err(JobError::Refused(ErrorReason::Unknown));
                    }
                }
            }
        }
    }

    async fn run_job(&self, job: &Job) -> Result<(), JobError> {
        if job.kind == AUDIO_JOB {
            let audio = self
                .audio
                .as_ref()
                .ok_or(AudioError::Fetch(FetchError::Setup))?;
            return Ok(audio
                .run(
                    &self.db,
                    &self.blobs,
                    &self.tools,
                    &self.cfg.scratch,
                    &job.video_uid,
                )
                .await?);
        }
        if job.kind == COPY_JOB {
            let copier = self
                .copier
                .as_ref()
                .ok_or(CopyError::Fetch(FetchError::Setup))?;
            return Ok(copier.run(&self.db, &self.blobs, &job.video_uid).await?);
        }
        self.package_job(job).await
    }

    async fn package_job(&self, job: &Job) -> Result<(), JobError> {
        let uid = &job.video_uid;
        let Some(video) = self.db.video_by_uid(uid).await? else {
            return Ok(()); // deleted while queued
        };
        if video.state == VideoState::Ready {
            // Taken back after a crash between publishing a top rendition and the rest.
            return self.finish_ladder(&video).await;
        }
        if video.state.is_final() {
            return Ok(());
        }
        let now = now_micros();
        self.db
            .transition(
                uid,
                &[VideoState::Queued, VideoState::InProgress],
                VideoState::InProgress,
                now,
            )
            .await?;
        self.remove_unpublished(&video).await?;

        let work = tempfile::Builder::new()
            .prefix("job-")
            .tempdir_in(&self.cfg.scratch)
            .map_err(|e| MediaError::io("creating a scratch directory", e))?;
        let source = match video.clip {
            Some(_) => self.clip_source(&video).await?,
            None => uid.clone(),
        };
        let input = self
            .local_blob(&original_key(&source), &work.path().join("input"))
            .await?;

        let probed = probe(&self.tools, &input).await?;
        let edits = Edits {
            clip: video.clip,
            watermark: match &video.watermark {
                Some(mark) => Some(self.overlay(&video, mark, work.path()).await?),
                None => None,
            },
        };
        let plan = plan_with(&probed, edits);
        let duration = plan.output_duration(&probed);
        self.db
            .set_probed(
                uid,
                &ProcessingUpdate {
                    duration: Some(duration),
                    width: probed.video.as_ref().map(|v| i64::from(v.display_size().0)),
                    height: probed.video.as_ref().map(|v| i64::from(v.display_size().1)),
                },
            )
            .await?;
        if duration < MIN_DURATION_SECS {
            // A clip that starts past the end of its source.
            return Err(JobError::Refused(ErrorReason::DurationTooShort));
        }
        if let Some(max) = video.max_duration_seconds
            && duration > max as f64
        {
            return Err(JobError::Refused(ErrorReason::DurationExceedConstraint));
        }

        // Progressive publishing: the copy first, the rungs below it once it is out.
        let (first, later) = match &plan {
            Plan::Remux { lower } if self.cfg.progressive_publishing && !lower.is_empty() => {
                (Plan::Remux { lower: vec![] }, Some(lower.clone()))
            }
            _ => (plan.clone(), None),
        };
        let out = work.path().join("out");
        let progress = ProgressWriter::spawn(self.db.clone(), uid.clone());
        let report = progress.reporter();
        let packaged = package(&self.tools, &input, &probed, &first, &out, move |f| {
            report(f)
        })
        .await;
        progress.stop().await;
        let packaged = packaged?;

        let mut files = packaged.files.clone();
        files.push(
            self.poster(&out, video.thumbnail_pct, packaged.duration_secs)
                .await?,
        );
        let generation = self.upload_generation(uid, &out, &files).await?;
        // Everything is in the store: scratch goes before the video is announced ready
        // (but for the upload, when the rungs below the copy still need it).
        remove_dir(&out).await;
        let prefix = generation_prefix(uid, &generation);
        // Captions and audio tracks added while the video was processed are published
        // with it; later changes are caught up by `republish` below.
        let masters = publish::prepare(&self.db, &self.blobs, uid, &packaged.index).await?;
        match self
            .db
            .mark_ready(uid, &generation, Some(&masters), now_micros())
            .await?
        {
            None => {
                // Deleted (or moved on) while we worked: what we wrote is unreachable.
                self.blobs.delete_prefix(&prefix).await?;
                self.blobs
                    .delete_prefix(&masters_prefix(uid, &masters.revision))
                    .await?;
                return Ok(());
            }
            Some(Some(old)) if old != generation => {
                self.blobs
                    .delete_prefix(&generation_prefix(uid, &old))
                    .await?;
            }
            Some(_) => {}
        }
        publish::remove_stale(&self.blobs, uid, &masters, None).await;
        self.catch_up_tracks(uid).await;
        if let Some(lower) = later {
            let top = rungs::TopAlone {
                uid,
                generation: &generation,
                index: &packaged.index,
            };
            self.publish_rungs(top, &input, &probed, &lower, work.path())
                .await?;
        }
        remove_scratch(work).await;
        Ok(())
    }

    /// Cuts the poster frame into `out` at `pct` of the video, from the packaged MP4,
    /// not the upload: a clip's poster is inside the clip, and a watermark is on it.
    /// Returns its path relative to `out`.
    async fn poster(&self, out: &Path, pct: f64, duration_secs: f64) -> Result<PathBuf, JobError> {
        let at = thumbnail_time(pct, duration_secs);
        let thumb = out.join(THUMBNAIL_FILE);
        if let Some(dir) = thumb.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| MediaError::io("creating the thumbnail directory", e))?;
        }
        thumbnail(&self.tools, &out.join(DOWNLOAD_FILE), at, &thumb, None).await?;
        Ok(PathBuf::from(THUMBNAIL_FILE))
    }

    /// Publishes the captions and audio tracks changed while the video was packaged.
    async fn catch_up_tracks(&self, uid: &VideoId) {
        if let Err(e) = publish::republish(&self.db, &self.blobs, uid).await {
            // The video is ready with the tracks it had when packaged; the next change
            // to its tracks publishes again.
            tracing::warn!(error = %e, "could not publish tracks added during packaging");
        }
    }

    /// Copies `files` (relative to `out`) into a fresh generation; returns its name.
    async fn upload_generation(
        &self,
        uid: &VideoId,
        out: &Path,
        files: &[PathBuf],
    ) -> Result<String, JobError> {
        let generation = random_hex_id();
        let prefix = generation_prefix(uid, &generation);
        for rel in files {
            let key = format!("{prefix}/{}", rel.to_string_lossy());
            self.blobs.put_file(&key, &out.join(rel)).await?;
        }
        Ok(generation)
    }

    /// Removes output generations a crashed earlier attempt left behind.
    async fn remove_unpublished(&self, video: &Video) -> Result<(), StoreError> {
        let published = video
            .media_generation
            .as_deref()
            .map(|g| generation_prefix(&video.uid, g));
        for dir in self.blobs.list_dirs(&outputs_prefix(&video.uid)).await? {
            let name = dir.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            // Masters revisions and audio tracks live beside the generations.
            if is_generation(name) && Some(dir.trim_end_matches('/')) != published.as_deref() {
                self.blobs.delete_prefix(&dir).await?;
            }
        }
        Ok(())
    }
}

/// Removes a directory of published outputs off the async threads; a failure only
/// leaves files for the job's scratch cleanup.
async fn remove_dir(dir: &Path) {
    let dir = dir.to_path_buf();
    let outcome = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&dir)).await;
    if let Err(e) = outcome.map_err(std::io::Error::other).and_then(|r| r) {
        tracing::debug!(error = %e, "could not remove published outputs from scratch");
    }
}

/// Removes a job's scratch directory off the async threads (it may hold gigabytes).
async fn remove_scratch(work: tempfile::TempDir) {
    let path = work.path().to_owned();
    let outcome = tokio::task::spawn_blocking(move || work.close()).await;
    if let Err(e) = outcome.map_err(std::io::Error::other).and_then(|r| r) {
        tracing::warn!(error = %e, dir = %path.display(), "could not remove scratch space");
    }
}

/// Ends the leases of running jobs whose worker `is_gone` says has died, so they are
/// claimed again at once instead of after `LEASE`; returns how many.
pub async fn release_jobs_of(db: &Db, is_gone: impl Fn(&str) -> bool) -> Result<usize, StoreError> {
    let mut released = 0;
    for (job, worker) in db.running_jobs().await? {
        if is_gone(&worker) && db.expire_lease(&job, &worker).await? {
            tracing::info!(job, worker, "released a dead worker's job");
            released += 1;
        }
    }
    Ok(released)
}

/// Carries packaging progress (a sync callback inside ffmpeg's output loop) to the
/// database, at most every `PROGRESS_EVERY`.
struct ProgressWriter {
    tx: tokio::sync::watch::Sender<f64>,
    task: tokio::task::JoinHandle<()>,
}

impl ProgressWriter {
    fn spawn(db: Db, uid: usher_core::VideoId) -> Self {
        let (tx, mut rx) = tokio::sync::watch::channel(0.0f64);
        let task = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let pct = *rx.borrow_and_update() * 100.0;
                if let Err(e) = db.set_progress(&uid, pct).await {
                    tracing::debug!(error = %e, "could not record progress");
                }
                tokio::time::sleep(PROGRESS_EVERY).await;
            }
        });
        Self { tx, task }
    }

    fn reporter(&self) -> impl Fn(f64) + Send + Sync + 'static {
        let tx = self.tx.clone();
        move |fraction: f64| {
            // Packaging is not done until it is published: 100 is written by mark_ready.
            let _ = tx.send(fraction.clamp(0.0, 0.99));
        }
    }

    /// Stops writing; the final 100 % is written when the video is marked ready.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}
