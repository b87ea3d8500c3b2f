//! Where ffmpeg and ffprobe live, and the permits that bound how many run at once.
//!
//! One [`Tools`] value is built at start-up and cloned into every task; clones share the
//! same semaphore, so the bound holds across the whole process however many workers
//! are packaging.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::error::MediaError;
use crate::process::Invocation;

/// Subprocesses allowed at once by default. ffmpeg already spreads one transcode over
/// every core (x264 threads), so running more than a couple only adds memory pressure
/// and makes each job slower; operators with big machines raise it.
pub const DEFAULT_MAX_CONCURRENT_PROCESSES: usize = 2;

/// Environment variable naming the ffmpeg binary; otherwise `ffmpeg` is looked up on `PATH`.
pub const FFMPEG_ENV: &str = "USHER_FFMPEG";
/// Environment variable naming the ffprobe binary; otherwise `ffprobe` is looked up on `PATH`.
pub const FFPROBE_ENV: &str = "USHER_FFPROBE";

/// The two media binaries plus the shared concurrency bound.
#[derive(Debug, Clone)]
pub struct Tools {
    ffmpeg: PathBuf,
    ffprobe: PathBuf,
    permits: Arc<Semaphore>,
}

impl Tools {
    /// Uses the given binaries as-is (no existence check), with the default bound.
    pub fn new(ffmpeg: impl Into<PathBuf>, ffprobe: impl Into<PathBuf>) -> Self {
        Self {
            ffmpeg: ffmpeg.into(),
            ffprobe: ffprobe.into(),
            permits: Arc::new(Semaphore::new(DEFAULT_MAX_CONCURRENT_PROCESSES)),
        }
    }

    /// Finds the binaries from `USHER_FFMPEG` / `USHER_FFPROBE`, else on `PATH`, and fails
    /// with a message an operator can act on when either is missing.
    pub fn from_env() -> Result<Self, MediaError> {
        let path = env::var_os("PATH");
        let ffmpeg = locate(FFMPEG_ENV, "ffmpeg", path.as_ref())?;
        let ffprobe = locate(FFPROBE_ENV, "ffprobe", path.as_ref())?;
        Ok(Self::new(ffmpeg, ffprobe))
    }

    /// Replaces the concurrency bound (at least one permit). Call before cloning: clones
    /// made earlier keep the old semaphore.
    pub fn with_max_concurrent(mut self, permits: usize) -> Self {
        self.permits = Arc::new(Semaphore::new(permits.max(1)));
        self
    }

    pub fn ffmpeg_path(&self) -> &Path {
        &self.ffmpeg
    }

    pub fn ffprobe_path(&self) -> &Path {
        &self.ffprobe
    }

    /// An ffmpeg run with the flags every invocation wants: no banner, no stdin
    /// interaction, and only real errors on stderr so the captured tail is meaningful.
    pub fn ffmpeg(&self, timeout: Duration) -> Invocation {
        Invocation::new("ffmpeg", &self.ffmpeg, timeout, self.permits.clone()).args([
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-y",
        ])
    }

    pub fn ffprobe(&self, timeout: Duration) -> Invocation {
        Invocation::new("ffprobe", &self.ffprobe, timeout, self.permits.clone()).args([
            "-hide_banner",
            "-v",
            "error",
        ])
    }
}

fn locate(var: &str, name: &str, path: Option<&OsString>) -> Result<PathBuf, MediaError> {
    if let Some(explicit) = env::var_os(var) {
        let explicit = PathBuf::from(explicit);
        return if explicit.is_file() {
            Ok(explicit)
        } else {
            Err(MediaError::ToolMissing(format!(
                "{var}={} does not name a file",
                explicit.display()
            )))
        };
    }
    path.and_then(|p| find_on_path(name, p)).ok_or_else(|| {
        MediaError::ToolMissing(format!(
            "`{name}` was not found on PATH; install ffmpeg or set {var}"
        ))
    })
}

fn find_on_path(name: &str, path: &OsString) -> Option<PathBuf> {
    env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_binaries_on_a_path_list() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("ffmpeg");
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let path = env::join_paths(["/nonexistent", dir.path().to_str().unwrap()]).unwrap();
        assert_eq!(find_on_path("ffmpeg", &path), Some(fake));
        assert_eq!(find_on_path("ffprobe", &path), None);
    }

    #[test]
    fn missing_binary_is_a_clear_retryable_error() {
        let err = locate(
            "USHER_TEST_UNSET_VAR",
            "ffmpeg",
            Some(&OsString::from("/nope")),
        )
        .unwrap_err();
        assert!(err.to_string().contains("ffmpeg"), "{err}");
        assert!(err.is_retryable());
    }
}
