//! Persistence for Usher: metadata in SQLite or PostgreSQL (chosen by URL, one SQL text
//! through sqlx's `Any` driver), media blobs through `object_store`, and the job queue,
//! which is just rows in the metadata database; and the reaper, which deletes videos
//! whose time is up.

mod accounts;
mod audio_tracks;
mod blobs;
mod captions;
mod clips;
mod copy;
mod db;
mod direct_uploads;
mod error;
mod jobs;
mod keys;
pub mod layout;
mod live_events;
mod live_inputs;
mod live_outputs;
mod live_runs;
pub mod master_key;
mod nullable;
mod publish;
mod rate_counters;
mod reaper;
mod revoked_tokens;
mod row;
mod tus;
mod usage;
mod videos;
mod view_stats;
mod watermarks;
mod webhooks;

pub use accounts::AccountRecord;
pub use audio_tracks::{
    AUDIO_JOB, AudioTrackEdit, AudioTrackRecord, AudioTrackRefusal, AudioTrackStatus,
    MAX_AUDIO_TRACKS,
};
pub use blobs::{BlobMeta, BlobRead, BlobWriter, Blobs, Concat, PART_SIZE, READ_WINDOW};
pub use captions::{CaptionRecord, CaptionStatus};
pub use db::{Db, DbOptions};
pub use direct_uploads::UploadClaim;
pub use error::StoreError;
pub use jobs::{COPY_JOB, NewJob, PACKAGE_JOB};
pub use jobs::{Job, JobRecord, JobState};
pub use keys::{KeyKind, KeyRecord};
pub use layout::media_prefixes;
pub use live_events::{LIVE_WEBHOOK_JOB, LiveEvent};
pub use live_inputs::{
    LiveInputEdit, LiveInputRecord, LiveRecordingSettings, LiveStatus, MAX_LIVE_INPUTS,
};
pub use live_outputs::{LiveOutputRecord, MAX_LIVE_OUTPUTS};
pub use publish::{AudioRendition, CaptionTrack, Masters, TracksSnapshot};
pub use rate_counters::Window as RateWindow;
pub use reaper::{
    ABANDONED_STAGING_AGE, Deletion, PENDING_UPLOAD_GRACE, Reaper, delete_video_and_media,
};
pub use tus::{
    ANY_OFFSET, CHECKPOINT_BYTES, CLAIM_WAIT, Claim, Finished, LEASE, RENEW_EVERY, TusClaim,
    TusPart, TusUpload, TusWriter,
};
pub use usage::StorageUsage;
pub use videos::{ProcessingUpdate, VideoEdit, VideoFilter, VideoPage};
pub use view_stats::{MAX_VIEW_STATS_ROWS, VIEW_WINDOW_SECS, ViewDelta, ViewQuery, ViewStat};
pub use watermarks::MAX_WATERMARKS;
pub use webhooks::{WEBHOOK_JOB, WebhookRecord};
