//! The video record and its lifecycle. States follow Cloudflare Stream's
//! `status.state`; transitions are explicit so that no layer moves a video from, say,
//! `ready` back to `queued` by accident.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, AudioTrackId, LiveInputId, VideoId};
use crate::reason::ErrorReason;
use crate::time_fmt::Micros;
use crate::watermark::Watermark;

/// The largest video accepted by default through resumable uploads and copies from a
/// URL: Cloudflare's limit, 30 GB.
pub const DEFAULT_MAX_VIDEO_BYTES: u64 = 30_000_000_000;

/// Default `thumbnailTimestampPct`: the first frame, as Cloudflare does.
pub const DEFAULT_THUMBNAIL_PCT: f64 = 0.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoState {
    /// A direct creator upload URL was handed out; no bytes yet.
    PendingUpload,
    /// Being copied from a URL.
    Downloading,
    /// Bytes stored, waiting for a worker.
    Queued,
    /// A worker is packaging it.
    InProgress,
    Ready,
    Error,
    /// The recording of a live broadcast that is still on air (Cloudflare's
    /// `live-inprogress`): it plays live, and is packaged once the broadcast ends.
    #[serde(rename = "live-inprogress")]
    LiveInProgress,
}

impl VideoState {
    pub const ALL: [VideoState; 7] = [
        Self::PendingUpload,
        Self::Downloading,
        Self::Queued,
        Self::InProgress,
        Self::Ready,
        Self::Error,
        Self::LiveInProgress,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingUpload => "pendingupload",
            Self::Downloading => "downloading",
            Self::Queued => "queued",
            Self::InProgress => "inprogress",
            Self::Ready => "ready",
            Self::Error => "error",
            Self::LiveInProgress => "live-inprogress",
        }
    }

    /// Whether the lifecycle allows moving from `self` to `next`.
    /// A retried job may go back from `inprogress` to `queued`; `ready` and `error` are final
    /// (a re-upload creates a new video).
    pub fn can_become(self, next: VideoState) -> bool {
        use VideoState::*;
        matches!(
            (self, next),
            (PendingUpload, Queued | Error)
                | (LiveInProgress, Queued | Error)
                | (Downloading, Queued | Error)
                | (Queued, InProgress | Error)
                | (InProgress, InProgress | Queued | Ready | Error)
        )
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Ready | Self::Error)
    }
}

impl fmt::Display for VideoState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown video state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for VideoState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, UnknownState> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// Everything Usher knows about one video.
#[derive(Debug, Clone, PartialEq)]
pub struct Video {
    pub uid: VideoId,
    pub account_id: AccountId,
    pub created: Micros,
    pub modified: Micros,
    /// When the bytes finished arriving.
    pub uploaded: Option<Micros>,
    pub creator: Option<String>,
    /// Free-form user metadata; `meta.name` is what `search` matches.
    pub meta: serde_json::Map<String, serde_json::Value>,
    /// Size in bytes of the uploaded file (0 until known).
    pub size: i64,
    /// Seconds; −1 until known.
    pub duration: f64,
    /// Pixels; −1 until known.
    pub width: i64,
    pub height: i64,
    pub state: VideoState,
    /// 0–100.
    pub pct_complete: f64,
    pub error_reason: Option<ErrorReason>,
    pub ready_at: Option<Micros>,
    pub require_signed_urls: bool,
    pub allowed_origins: Vec<String>,
    /// 0.0–1.0 of the duration.
    pub thumbnail_pct: f64,
    pub max_duration_seconds: Option<i64>,
    pub scheduled_deletion: Option<Micros>,
    pub upload_expiry: Option<Micros>,
    /// Which published output set the edge serves (outputs are written under a fresh
    /// generation and switched to in one update, so a half-written set is never seen).
    pub media_generation: Option<String>,
    /// The MP4 download may be served (`POST …/downloads` enables it).
    pub downloads_enabled: bool,
    /// The published master manifests (HLS and DASH) with the video's captions and audio
    /// tracks: a revision written beside the generation and switched to atomically, like
    /// the generation itself. `None`: the generation's own masters (no tracks).
    pub manifest_revision: Option<String>,
    /// The additional audio tracks the published masters list; the edge serves no other.
    pub published_audio: Vec<AudioTrackId>,
    /// The video this one was clipped from (`POST …/stream/clip`).
    pub clipped_from: Option<VideoId>,
    /// The span of the source this video is made of, for clips.
    pub clip: Option<ClipSpan>,
    /// The watermark burnt into every rendition: the profile as it was at upload.
    pub watermark: Option<Watermark>,
    /// The live input this video is a recording of (`liveInput`).
    pub live_input: Option<LiveInputId>,
}

/// Seconds of a source video, `start < end`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClipSpan {
    pub start: f64,
    pub end: f64,
}

impl ClipSpan {
    pub fn duration(&self) -> f64 {
        self.end - self.start
    }
}

impl Video {
    /// A new video record in `state`, with every measured field still unknown.
    pub fn new(uid: VideoId, account_id: AccountId, state: VideoState, now: Micros) -> Self {
        Self {
            uid,
            account_id,
            created: now,
            modified: now,
            uploaded: None,
            creator: None,
            meta: serde_json::Map::new(),
            size: 0,
            duration: -1.0,
            width: -1,
            height: -1,
            state,
            pct_complete: 0.0,
            error_reason: None,
            ready_at: None,
            require_signed_urls: false,
            allowed_origins: Vec::new(),
            thumbnail_pct: DEFAULT_THUMBNAIL_PCT,
            max_duration_seconds: None,
            scheduled_deletion: None,
            upload_expiry: None,
            media_generation: None,
            downloads_enabled: false,
            manifest_revision: None,
            published_audio: Vec::new(),
            clipped_from: None,
            clip: None,
            watermark: None,
            live_input: None,
        }
    }

    pub fn name(&self) -> Option<&str> {
        self.meta.get("name").and_then(|v| v.as_str())
    }

    pub fn ready_to_stream(&self) -> bool {
        self.state == VideoState::Ready && self.media_generation.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for st in VideoState::ALL {
            assert_eq!(st.as_str().parse::<VideoState>().unwrap(), st);
            assert_eq!(serde_json::to_value(st).unwrap(), st.as_str());
        }
        assert!("READY".parse::<VideoState>().is_err());
    }

    #[test]
    fn lifecycle_moves_forward_only() {
        use VideoState::*;
        assert!(Queued.can_become(InProgress));
        assert!(InProgress.can_become(Ready));
        assert!(InProgress.can_become(Queued));
        assert!(!Ready.can_become(Queued));
        assert!(!Error.can_become(Ready));
        assert!(!Queued.can_become(Ready));
        assert!(Ready.is_final() && Error.is_final() && !Queued.is_final());
    }
}
