//! The one wrapper every ffmpeg/ffprobe run goes through.
//!
//! A subprocess here is killed when its future is dropped (a cancelled job must not leave
//! an encoder running), never reads our stdin, is bounded in time by a limit the caller
//! derives from the input's duration, and waits for a permit from the shared semaphore.
//! Its stdout is either captured up to a fixed size (ffprobe's JSON) or parsed as
//! ffmpeg's `-progress` stream; its stderr is reduced to the last few KiB, which is
//! what ends up in the error and the job record — ffmpeg can print megabytes of
//! per-packet complaints about a broken file, and only the end says why it gave up.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::sync::Semaphore;

/// Fixed part of every duration-scaled timeout: process start-up, probing the input and
/// writing the MP4's `moov` up front (a second pass over the file) on a slow disk.
pub const TIMEOUT_BASE: Duration = Duration::from_secs(120);
/// Seconds of run time allowed per second of input. The five-rung 1080p x264 `veryfast`
/// ladder takes ~0.9 s per second of input on two cores (0.55 s below a copied top);
/// 10× leaves room for a machine that is far busier than that without letting a
/// wedged process hold a job forever.
pub const TIMEOUT_SECS_PER_INPUT_SEC: f64 = 10.0;
/// Cap on a duration-scaled timeout, whatever duration the container claims.
pub const TIMEOUT_MAX: Duration = Duration::from_secs(12 * 3600);
/// Most stdout kept from a capturing run. ffprobe's JSON for a normal file is a few
/// KiB; a file with thousands of streams or huge tags is refused rather than buffered.
pub const MAX_STDOUT_BYTES: usize = 4 << 20;
/// How much of the end of stderr is kept for errors and job records.
pub const STDERR_TAIL_BYTES: usize = 4096;

/// How long to allow a run over an input of `duration_secs`.
pub fn timeout_for(duration_secs: f64) -> Duration {
    let scaled = if duration_secs.is_finite() && duration_secs > 0.0 {
        duration_secs * TIMEOUT_SECS_PER_INPUT_SEC
    } else {
        0.0
    };
    (TIMEOUT_BASE + Duration::from_secs_f64(scaled.min(TIMEOUT_MAX.as_secs_f64()))).min(TIMEOUT_MAX)
}

/// A failed subprocess run: which program, how it failed, and the end of its stderr.
#[derive(Debug, thiserror::Error)]
#[error("{program} {failure}")]
pub struct ProcessError {
    pub program: &'static str,
    pub failure: Failure,
    pub stderr_tail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("could not be started: {0}")]
    Spawn(#[source] io::Error),
    #[error("failed ({0})")]
    Exit(ExitStatus),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("wrote more than {0} bytes to stdout")]
    OutputTooLarge(usize),
    #[error("pipe error: {0}")]
    Io(#[source] io::Error),
}

impl ProcessError {
    /// Whether running the same command again could succeed: the machine was busy or
    /// short of something, as opposed to the input being bad. An exit by signal is
    /// counted as the machine's fault (typically the OOM killer).
    pub fn is_retryable(&self) -> bool {
        match &self.failure {
            Failure::Spawn(_) | Failure::Timeout(_) | Failure::Io(_) => true,
            Failure::Exit(status) => status.code().is_none(),
            Failure::OutputTooLarge(_) => false,
        }
    }

    /// True when the program ran to completion and reported failure itself.
    pub fn exited_with_error(&self) -> bool {
        matches!(&self.failure, Failure::Exit(status) if status.code().is_some())
    }
}

/// A command about to run; built by [`crate::Tools::ffmpeg`] / [`crate::Tools::ffprobe`].
#[derive(Debug)]
pub struct Invocation {
    name: &'static str,
    program: PathBuf,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    timeout: Duration,
    permits: Arc<Semaphore>,
}

enum Stdout<'a> {
    Capture,
    Progress(&'a (dyn Fn(f64) + Send + Sync)),
}

impl Invocation {
    pub(crate) fn new(
        name: &'static str,
        program: &Path,
        timeout: Duration,
        permits: Arc<Semaphore>,
    ) -> Self {
        Self {
            name,
            program: program.to_path_buf(),
            args: Vec::new(),
            cwd: None,
            timeout,
            permits,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, A>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Runs the program in `dir`, so relative output paths land there.
    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    pub fn args_for_display(&self) -> Vec<String> {
        self.args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    /// Runs to completion and returns stdout (at most [`MAX_STDOUT_BYTES`]).
    pub async fn output(self) -> Result<Vec<u8>, ProcessError> {
        self.run(Stdout::Capture).await
    }

    /// Runs ffmpeg with `-progress pipe:1 -nostats` and reports the output time reached,
    /// in seconds, each time ffmpeg prints a progress block (every ~0.5 s, and at the end).
    pub async fn run_with_progress(
        mut self,
        on_progress: &(dyn Fn(f64) + Send + Sync),
    ) -> Result<(), ProcessError> {
        // Global options go first so they are not mistaken for per-file options.
        let progress = ["-progress", "pipe:1", "-nostats"].map(OsString::from);
        self.args.splice(0..0, progress);
        self.run(Stdout::Progress(on_progress)).await.map(drop)
    }

    async fn run(self, stdout_mode: Stdout<'_>) -> Result<Vec<u8>, ProcessError> {
        let fail = |failure, stderr_tail| ProcessError {
            program: self.name,
            failure,
            stderr_tail,
        };
        // Not time-limited: waiting for a permit is queueing, not a stuck process.
        let _permit = self.permits.clone().acquire_owned().await.map_err(|_| {
            fail(
                Failure::Spawn(io::Error::other("process semaphore closed")),
                String::new(),
            )
        })?;

        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        tracing::debug!(program = self.name, args = ?self.args_for_display(), "starting subprocess");
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| fail(Failure::Spawn(e), String::new()))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(fail(
                Failure::Io(io::Error::other("missing stdio pipes")),
                String::new(),
            ));
        };

        let mut tail = Tail::default();
        let mut captured = Vec::new();
        let outcome = tokio::time::timeout(self.timeout, async {
            let read_stdout = async {
                match stdout_mode {
                    Stdout::Capture => read_bounded(stdout, &mut captured).await,
                    Stdout::Progress(callback) => read_progress(stdout, callback).await,
                }
            };
            let read_stderr = tail.fill_from(stderr);
            let wait = async { child.wait().await.map_err(Failure::Io) };
            tokio::try_join!(read_stdout, read_stderr, wait).map(|(_, _, status)| status)
        })
        .await;

        let result = match outcome {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(Failure::Exit(status)),
            Ok(Err(failure)) => Err(failure),
            Err(_elapsed) => Err(Failure::Timeout(self.timeout)),
        };
        tracing::debug!(program = self.name, elapsed = ?started.elapsed(), ok = result.is_ok(), "subprocess finished");
        match result {
            Ok(()) => Ok(captured),
            Err(failure) => {
                // Reap it now rather than leaving it to kill_on_drop, so it is gone before
                // the permit is released.
                let _ = child.start_kill();
                let _ = child.wait().await;
                Err(fail(failure, tail.into_string()))
            }
        }
    }
}

async fn read_bounded(
    mut stdout: impl AsyncRead + Unpin,
    into: &mut Vec<u8>,
) -> Result<(), Failure> {
    let mut limited = (&mut stdout).take(MAX_STDOUT_BYTES as u64 + 1);
    limited.read_to_end(into).await.map_err(Failure::Io)?;
    if into.len() > MAX_STDOUT_BYTES {
        return Err(Failure::OutputTooLarge(MAX_STDOUT_BYTES));
    }
    Ok(())
}

async fn read_progress(
    stdout: impl AsyncRead + Unpin,
    callback: &(dyn Fn(f64) + Send + Sync),
) -> Result<(), Failure> {
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await.map_err(Failure::Io)? {
        if let Some(secs) = parse_progress_line(&line) {
            callback(secs);
        }
    }
    Ok(())
}

/// Seconds of output written, from one line of ffmpeg's `-progress` output. ffmpeg
/// prints `out_time_us=N/A` before the first packet and may print negative times for
/// inputs that start before zero; both are skipped.
pub fn parse_progress_line(line: &str) -> Option<f64> {
    let micros: i64 = line.trim().strip_prefix("out_time_us=")?.parse().ok()?;
    (micros >= 0).then(|| micros as f64 / 1e6)
}

/// The last [`STDERR_TAIL_BYTES`] of a stream.
#[derive(Default)]
struct Tail(Vec<u8>);

impl Tail {
    async fn fill_from(&mut self, mut stderr: impl AsyncRead + Unpin) -> Result<(), Failure> {
        let mut chunk = [0u8; 8192];
        loop {
            let n = stderr.read(&mut chunk).await.map_err(Failure::Io)?;
            if n == 0 {
                return Ok(());
            }
            self.push(&chunk[..n]);
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        if self.0.len() > STDERR_TAIL_BYTES {
            let excess = self.0.len() - STDERR_TAIL_BYTES;
            self.0.drain(..excess);
        }
    }

    fn into_string(self) -> String {
        String::from_utf8_lossy(&self.0).trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> Invocation {
        Invocation::new(
            "sh",
            Path::new("/bin/sh"),
            timeout,
            Arc::new(Semaphore::new(1)),
        )
        .args(["-c", script])
    }

    #[test]
    fn timeouts_scale_with_duration_and_are_capped() {
        assert_eq!(timeout_for(0.0), TIMEOUT_BASE);
        assert_eq!(timeout_for(f64::NAN), TIMEOUT_BASE);
        assert_eq!(timeout_for(10.0), TIMEOUT_BASE + Duration::from_secs(100));
        assert_eq!(timeout_for(1e12), TIMEOUT_MAX);
    }

    #[test]
    fn progress_lines() {
        assert_eq!(parse_progress_line("out_time_us=2500000"), Some(2.5));
        assert_eq!(parse_progress_line("out_time_us=N/A"), None);
        assert_eq!(parse_progress_line("out_time_us=-5"), None);
        assert_eq!(parse_progress_line("out_time_ms=2500000"), None);
    }

    #[test]
    fn tail_keeps_the_end() {
        let mut tail = Tail::default();
        tail.push(&vec![b'a'; STDERR_TAIL_BYTES]);
        tail.push(b"the reason");
        let s = tail.into_string();
        assert_eq!(s.len(), STDERR_TAIL_BYTES);
        assert!(s.ends_with("the reason"));
    }

    #[tokio::test]
    async fn captures_stdout_and_stderr_tail_on_failure() {
        let out = sh("echo hello", Duration::from_secs(5))
            .output()
            .await
            .unwrap();
        assert_eq!(out, b"hello\n");

        let err = sh("i=0; while [ $i -lt 2000 ]; do echo noise $i >&2; i=$((i+1)); done; echo fatal >&2; exit 3", Duration::from_secs(10))
            .output()
            .await
            .unwrap_err();
        assert!(err.exited_with_error() && !err.is_retryable(), "{err}");
        assert!(err.stderr_tail.ends_with("fatal"));
        assert!(err.stderr_tail.len() <= STDERR_TAIL_BYTES);
    }

    #[tokio::test]
    async fn timeout_kills_and_is_retryable() {
        let started = Instant::now();
        let err = sh("echo before >&2; sleep 30", Duration::from_millis(300))
            .output()
            .await
            .unwrap_err();
        assert!(matches!(err.failure, Failure::Timeout(_)), "{err}");
        assert!(err.is_retryable());
        assert_eq!(err.stderr_tail, "before");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn oversized_stdout_is_refused() {
        let err = sh("head -c 5000000 /dev/zero", Duration::from_secs(10))
            .output()
            .await
            .unwrap_err();
        assert!(matches!(err.failure, Failure::OutputTooLarge(_)), "{err}");
    }

    #[tokio::test]
    async fn missing_program_is_a_spawn_failure() {
        let inv = Invocation::new(
            "nope",
            Path::new("/nonexistent/bin"),
            Duration::from_secs(1),
            Arc::new(Semaphore::new(1)),
        );
        let err = inv.output().await.unwrap_err();
        assert!(matches!(err.failure, Failure::Spawn(_)) && err.is_retryable());
    }

    #[tokio::test]
    async fn progress_stream_is_parsed() {
        let seen = std::sync::Mutex::new(Vec::new());
        let record = |s: f64| seen.lock().unwrap().push(s);
        let stream = b"frame=1\nout_time_us=N/A\nout_time_us=1000000\nprogress=continue\nout_time_us=2000000\nprogress=end\n";
        read_progress(&stream[..], &record).await.unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![1.0, 2.0]);
    }
}
