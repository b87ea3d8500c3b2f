//! The pipeline's one error type, and the two questions a worker asks of it: which
//! Cloudflare reason code to put on the video, and whether trying again could help.

use std::io;

use usher_core::ErrorReason;

use crate::process::ProcessError;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// ffmpeg or ffprobe is missing or misconfigured — the operator's problem, so the job
    /// should wait and retry once it is fixed rather than fail the video.
    #[error("media tools unavailable: {0}")]
    ToolMissing(String),

    /// The input cannot become a video; `detail` is for logs, `reason` for the customer.
    #[error("input rejected ({}): {detail}", reason.code())]
    BadInput {
        reason: ErrorReason,
        detail: String,
        stderr_tail: Option<String>,
    },

    /// A subprocess failed while working on an input that had probed fine.
    #[error(transparent)]
    Process(#[from] ProcessError),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },

    /// The renditions written cannot be switched between at every segment (`alignment.rs`).
    /// A remux falls back to a transcode; for a transcode it is a bug, not the input's.
    #[error("ladder not aligned: {0}")]
    Ladder(String),

    /// ffmpeg reported success but did not write what we asked for. A bug here or in
    /// the tool, not the machine's state, so retrying will not help.
    #[error("unexpected media output: {0}")]
    UnexpectedOutput(String),
}

impl MediaError {
    pub fn bad_input(reason: ErrorReason, detail: impl Into<String>) -> Self {
        Self::BadInput {
            reason,
            detail: detail.into(),
            stderr_tail: None,
        }
    }

    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// The `status.errorReasonCode` for a video whose job ended with this error.
    ///
    /// An ffmpeg run that exits non-zero on an input ffprobe accepted is blamed on the
    /// input (`ERR_MALFORMED_VIDEO`): our own arguments are covered by tests, while
    /// damaged files that probe fine and then fail mid-stream are common.
    pub fn reason(&self) -> ErrorReason {
        match self {
            Self::BadInput { reason, .. } => *reason,
            Self::Process(e) if e.exited_with_error() => ErrorReason::MalformedVideo,
            Self::ToolMissing(_)
            | Self::Process(_)
            | Self::Io { .. }
            | Self::Ladder(_)
            | Self::UnexpectedOutput(_) => ErrorReason::Unknown,
        }
    }

    /// Whether the job should be retried rather than the video failed: missing tools,
    /// spawn failures, timeouts, kills and I/O are the machine's fault; bad input is not.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::ToolMissing(_) | Self::Io { .. } => true,
            Self::Process(e) => e.is_retryable(),
            Self::BadInput { .. } | Self::Ladder(_) | Self::UnexpectedOutput(_) => false,
        }
    }

    /// The end of the failing tool's stderr, for the job record (never for customers).
    pub fn stderr_tail(&self) -> Option<&str> {
        match self {
            Self::BadInput { stderr_tail, .. } => stderr_tail.as_deref(),
            Self::Process(e) => Some(e.stderr_tail.as_str()),
            _ => None,
        }
        .filter(|tail| !tail.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::process::Failure;

    fn process(failure: Failure) -> MediaError {
        MediaError::Process(ProcessError {
            program: "ffmpeg",
            failure,
            stderr_tail: "boom".into(),
        })
    }

    #[test]
    fn whose_fault() {
        let bad = MediaError::bad_input(ErrorReason::NonVideo, "text file");
        assert_eq!(bad.reason(), ErrorReason::NonVideo);
        assert!(!bad.is_retryable());
        assert_eq!(bad.stderr_tail(), None);

        let timeout = process(Failure::Timeout(Duration::from_secs(1)));
        assert_eq!(timeout.reason(), ErrorReason::Unknown);
        assert!(timeout.is_retryable());
        assert_eq!(timeout.stderr_tail(), Some("boom"));

        let spawn = process(Failure::Spawn(io::Error::from(io::ErrorKind::NotFound)));
        assert!(spawn.is_retryable());

        let io = MediaError::io(
            "writing manifest",
            io::Error::from(io::ErrorKind::StorageFull),
        );
        assert!(io.is_retryable());
        assert_eq!(io.reason(), ErrorReason::Unknown);
    }

    #[cfg(unix)]
    #[test]
    fn exit_codes_blame_the_input_but_signals_do_not() {
        use std::os::unix::process::ExitStatusExt;
        let exited = process(Failure::Exit(std::process::ExitStatus::from_raw(1 << 8)));
        assert_eq!(exited.reason(), ErrorReason::MalformedVideo);
        assert!(!exited.is_retryable());
        let killed = process(Failure::Exit(std::process::ExitStatus::from_raw(9)));
        assert_eq!(killed.reason(), ErrorReason::Unknown);
        assert!(killed.is_retryable());
    }
}
