//! One ffmpeg per broadcast run: reads the publisher's stream as FLV on its stdin and
//! writes fMP4 segments with a live HLS playlist and a dynamic DASH MPD — one set of
//! segments for both — to a [`crate::receiver`] URL.
//!
//! H.264 and AAC are copied (the segments then follow the publisher's key frames, which
//! is why the README asks for a key frame every 2 s or less); anything else is
//! transcoded, with key frames placed every [`SEGMENT_SECONDS`].

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};

use crate::flv::{self, TagKind};

/// Target segment length. Players start three segments behind the live edge, so this
/// sets most of the latency.
pub const SEGMENT_SECONDS: u32 = 2;
/// Segments a live playlist lists.
pub const WINDOW_SEGMENTS: u32 = 6;
/// Segments kept after they leave the playlist, for players that are a little behind.
pub const EXTRA_SEGMENTS: u32 = 4;

pub use usher_store::layout::{LIVE_DASH_MANIFEST as DASH_MANIFEST, LIVE_HLS_MASTER as HLS_MASTER};

/// The codecs a run's first tags announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Codecs {
    /// FLV video codec id of the first video tag (7 is H.264).
    pub video: Option<u8>,
    /// FLV sound format of the first audio tag (10 is AAC).
    pub audio: Option<u8>,
}

impl Codecs {
    /// Reads the codec from a tag body.
    pub fn see(&mut self, kind: TagKind, body: &[u8]) {
        let Some(&first) = body.first() else { return };
        match kind {
            TagKind::Video if self.video.is_none() => self.video = Some(first & 0x0f),
            TagKind::Audio if self.audio.is_none() => self.audio = Some(first >> 4),
            _ => {}
        }
    }

    pub fn video_copied(&self) -> bool {
        self.video == Some(7)
    }

    pub fn audio_copied(&self) -> bool {
        // Unknown until an audio tag arrives; AAC is what every encoder sends by default.
        self.audio.is_none_or(|a| a == 10)
    }
}

/// ffmpeg's arguments for a run writing to `output` (a URL ending in `/`). `run` makes
/// segment names unique across runs of the same input.
pub fn arguments(codecs: Codecs, run: &str, output: &str) -> Vec<OsString> {
    let mut a: Vec<String> = [
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-fflags",
        "+genpts",
        "-f",
        "flv",
        "-i",
        "pipe:0",
        "-map",
        "0:v:0",
        "-map",
        "0:a:0?",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    if codecs.video_copied() {
        a.extend(["-c:v".into(), "copy".into()]);
    } else {
        a.extend(
            [
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-tune",
                "zerolatency",
                "-pix_fmt",
                "yuv420p",
                "-force_key_frames",
            ]
            .map(str::to_owned),
        );
        a.push(format!("expr:gte(t,n_forced*{SEGMENT_SECONDS})"));
    }
    if codecs.audio_copied() {
        a.extend(["-c:a".into(), "copy".into()]);
    } else {
        a.extend(["-c:a", "aac", "-b:a", "128k"].map(str::to_owned));
    }
    a.extend(
        [
            "-f",
            "dash",
            "-seg_duration",
            &SEGMENT_SECONDS.to_string(),
            "-window_size",
            &WINDOW_SEGMENTS.to_string(),
            "-extra_window_size",
            &EXTRA_SEGMENTS.to_string(),
            "-use_template",
            "1",
            "-use_timeline",
            "1",
            "-hls_playlist",
            "1",
            "-streaming",
            "0",
            "-remove_at_exit",
            "0",
            "-method",
            "PUT",
            "-http_persistent",
            "1",
            "-init_seg_name",
        ]
        .map(str::to_owned),
    );
    a.push(format!("init-{run}-$RepresentationID$.m4s"));
    a.push("-media_seg_name".into());
    a.push(format!("seg-{run}-$RepresentationID$-$Number%06d$.m4s"));
    a.push(format!("{output}{DASH_MANIFEST}"));
    a.into_iter().map(OsString::from).collect()
}

/// A running packager.
pub struct Packager {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Packager {
    /// Starts ffmpeg and writes the FLV header.
    pub async fn spawn(
        ffmpeg: &Path,
        codecs: Codecs,
        run: &str,
        output: &str,
    ) -> std::io::Result<Self> {
        let mut child = Command::new(ffmpeg)
            .args(arguments(codecs, run, output))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(log_errors(stderr));
        }
        let mut stdin = child.stdin.take();
        if let Some(s) = stdin.as_mut() {
            s.write_all(&flv::header()).await?;
        }
        Ok(Self { child, stdin })
    }

    /// Feeds one tag. Fails once ffmpeg has gone.
    pub async fn write(
        &mut self,
        kind: TagKind,
        timestamp_ms: u32,
        body: &[u8],
    ) -> std::io::Result<()> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        };
        let head = flv::tag_head(kind, timestamp_ms, body.len())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "tag too large"))?;
        stdin.write_all(&head).await?;
        stdin.write_all(body).await?;
        stdin.write_all(&flv::trailer(body.len())).await
    }

    /// Ends the input and lets ffmpeg write its last segment and playlists; kills it if
    /// it takes longer than `grace`.
    pub async fn finish(mut self, grace: Duration) {
        drop(self.stdin.take());
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) if !status.success() => {
                tracing::warn!(%status, "live packager exited with an error");
            }
            Ok(_) => {}
            Err(_) => {
                tracing::warn!("live packager did not finish in time; stopping it");
                let _ = self.child.kill().await;
            }
        }
    }
}

/// ffmpeg's complaints, in our log. One is expected and harmless: over HTTP the DASH
/// muxer cannot write a temporary file and rename it, but each `PUT` is stored whole,
/// which is what the rename was for.
async fn log_errors(stderr: tokio::process::ChildStderr) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if !line.contains("Cannot use rename on non file protocol") {
            tracing::warn!(ffmpeg = line, "live packager");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(codecs: Codecs) -> String {
        arguments(codecs, "r1", "http://127.0.0.1:1/s/")
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn h264_and_aac_are_copied_and_the_rest_transcoded() {
        let mut c = Codecs::default();
        c.see(TagKind::Video, &[0x17, 0]);
        c.see(TagKind::Audio, &[0xaf, 0]);
        c.see(TagKind::Video, &[0x1c, 0]); // later tags change nothing
        assert!(c.video_copied() && c.audio_copied());
        let a = args(c);
        assert!(a.contains("-c:v copy") && a.contains("-c:a copy"), "{a}");
        assert!(a.ends_with("http://127.0.0.1:1/s/manifest.mpd"), "{a}");
        assert!(
            a.contains("seg-r1-$RepresentationID$-$Number%06d$.m4s"),
            "{a}"
        );

        let mut c = Codecs::default();
        c.see(TagKind::Video, &[0x12]); // Sorenson H.263
        c.see(TagKind::Audio, &[0x2f]); // MP3
        let a = args(c);
        assert!(a.contains("-c:v libx264") && a.contains("-c:a aac"), "{a}");
        assert!(a.contains("expr:gte(t,n_forced*2)"), "{a}");
    }
}
