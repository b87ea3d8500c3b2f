//! One ffmpeg per broadcast run: reads the publisher's stream as FLV on its stdin and
//! writes fMP4 segments with a live HLS playlist and a dynamic DASH MPD — one set of
//! segments for both — to a [`crate::receiver`] URL.
//!
//! H.264 and AAC are copied (the segments then follow the publisher's key frames, which
//! is why the README asks for a key frame every 2 s or less); anything else is
//! transcoded, with key frames placed every segment ([`SEGMENT_SECONDS`], or
//! [`LOW_LATENCY_SEGMENT_SECONDS`] for inputs that `preferLowLatency`).

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};

use crate::flv::{self, TagKind};

/// Target segment length. Players start two or three segments behind the live edge, so
/// this sets most of the latency.
pub const SEGMENT_SECONDS: u32 = 2;
/// The segment length of inputs that `preferLowLatency`: half the latency, twice the
/// requests (a copied stream is cut only at the publisher's key frames, so it needs
/// one every second).
pub const LOW_LATENCY_SEGMENT_SECONDS: u32 = 1;
/// Seconds of media a live playlist lists.
pub const WINDOW_SECONDS: u32 = 12;
/// Seconds of segments kept after they leave the playlist, for players a little behind.
pub const EXTRA_SECONDS: u32 = 8;

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

/// What a run's packager makes: the top rendition (the publisher's own video, or its
/// transcode) and the live ladder's rungs below it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    pub codecs: Codecs,
    /// Heights of the lower renditions, highest first; none at or above the source.
    pub rungs: Vec<u32>,
    /// Target segment length.
    pub segment_seconds: u32,
}

impl Layout {
    /// The operator's ladder (`--live-ladder`) for a source `source_height` pixels tall
    /// (unknown until the publisher's metadata says): never upscaled.
    pub fn new(codecs: Codecs, ladder: &[u32], source_height: Option<u32>) -> Self {
        let mut rungs: Vec<u32> = ladder
            .iter()
            .copied()
            .filter(|h| *h >= 2 && source_height.is_none_or(|s| *h < s))
            .collect();
        rungs.sort_unstable_by(|a, b| b.cmp(a));
        rungs.dedup();
        Self {
            codecs,
            rungs,
            segment_seconds: SEGMENT_SECONDS,
        }
    }

    /// Shorter segments, for an input that `preferLowLatency`.
    pub fn low_latency(mut self, on: bool) -> Self {
        if on {
            self.segment_seconds = LOW_LATENCY_SEGMENT_SECONDS;
        }
        self
    }
}

/// Video bit rate of a live rung `height` pixels tall: the on-demand ladder's rate for
/// that height (SPEC §7), by frame area between its entries.
pub fn rung_kbps(height: u32) -> u32 {
    let (h, kbps) = usher_media::plan::LADDER
        .iter()
        .copied()
        .min_by_key(|(h, _)| h.abs_diff(height))
        .unwrap_or((720, 2800));
    let scaled = f64::from(kbps) * (f64::from(height) / f64::from(h)).powi(2);
    (scaled.round() as u32).max(usher_media::plan::MIN_VIDEO_KBPS)
}

/// ffmpeg's arguments for a run writing to `output` (a URL ending in `/`). `run` makes
/// segment names unique across runs of the same input.
pub fn arguments(layout: &Layout, run: &str, output: &str) -> Vec<OsString> {
    let codecs = layout.codecs;
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
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for _ in 0..=layout.rungs.len() {
        a.extend(["-map".into(), "0:v:0".into()]);
    }
    a.extend(["-map".into(), "0:a:0?".into()]);
    // Every rendition's key frames where the top one has them, so players switch at
    // any segment: the publisher's own when copied, else every SEGMENT_SECONDS.
    let seg = layout.segment_seconds.max(1);
    let key_frames = if codecs.video_copied() {
        "source".to_owned()
    } else {
        format!("expr:gte(t,n_forced*{seg})")
    };
    let x264 = |a: &mut Vec<String>, n: usize| {
        for (k, v) in [
            ("-c", "libx264"),
            ("-preset", "veryfast"),
            ("-tune", "zerolatency"),
            ("-pix_fmt", "yuv420p"),
        ] {
            a.push(format!("{k}:v:{n}"));
            a.push(v.to_owned());
        }
        a.push(format!("-force_key_frames:v:{n}"));
        a.push(key_frames.clone());
    };
    if codecs.video_copied() {
        a.extend(["-c:v:0".into(), "copy".into()]);
    } else {
        x264(&mut a, 0);
    }
    for (i, height) in layout.rungs.iter().enumerate() {
        let n = i + 1;
        x264(&mut a, n);
        let kbps = rung_kbps(*height);
        a.push(format!("-filter:v:{n}"));
        a.push(format!("scale=-2:'min(ih,{height})'"));
        for (k, v) in [
            ("-b:v", kbps),
            ("-maxrate:v", kbps + kbps / 2),
            ("-bufsize:v", 2 * kbps),
        ] {
            a.push(format!("{k}:{n}"));
            a.push(format!("{v}k"));
        }
    }
    if codecs.audio_copied() {
        a.extend(["-c:a".into(), "copy".into()]);
    } else {
        a.extend(["-c:a", "aac", "-b:a", "128k"].map(str::to_owned));
    }
    if !layout.rungs.is_empty() {
        // The renditions in one video AdaptationSet, so DASH players switch among them
        // (HLS lists each as a variant either way).
        a.push("-adaptation_sets".into());
        a.push(if codecs.audio.is_some() {
            "id=0,streams=v id=1,streams=a".into()
        } else {
            "id=0,streams=v".into()
        });
    }
    a.extend(
        [
            "-f",
            "dash",
            "-seg_duration",
            &seg.to_string(),
            "-window_size",
            &(WINDOW_SECONDS / seg).to_string(),
            "-extra_window_size",
            &(EXTRA_SECONDS / seg).to_string(),
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
        layout: &Layout,
        run: &str,
        output: &str,
    ) -> std::io::Result<Self> {
        let mut child = Command::new(ffmpeg)
            .args(arguments(layout, run, output))
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
        layout_args(&Layout::new(codecs, &[], None))
    }

    fn layout_args(layout: &Layout) -> String {
        arguments(layout, "r1", "http://127.0.0.1:1/s/")
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
        assert!(a.contains("-c:v:0 copy") && a.contains("-c:a copy"), "{a}");
        assert!(!a.contains("-adaptation_sets"), "{a}");
        assert!(a.ends_with("http://127.0.0.1:1/s/manifest.mpd"), "{a}");
        assert!(
            a.contains("seg-r1-$RepresentationID$-$Number%06d$.m4s"),
            "{a}"
        );

        let mut c = Codecs::default();
        c.see(TagKind::Video, &[0x12]); // Sorenson H.263
        c.see(TagKind::Audio, &[0x2f]); // MP3
        let a = args(c);
        assert!(
            a.contains("-c:v:0 libx264") && a.contains("-c:a aac"),
            "{a}"
        );
        assert!(
            a.contains("-force_key_frames:v:0 expr:gte(t,n_forced*2)"),
            "{a}"
        );
    }

    #[test]
    fn low_latency_inputs_get_one_second_segments_and_the_same_window() {
        let a = layout_args(&Layout::new(Codecs::default(), &[], None).low_latency(true));
        assert!(
            a.contains("-seg_duration 1 -window_size 12 -extra_window_size 8"),
            "{a}"
        );
        assert!(
            a.contains("-force_key_frames:v:0 expr:gte(t,n_forced*1)"),
            "{a}"
        );
        let a = layout_args(&Layout::new(Codecs::default(), &[], None));
        assert!(
            a.contains("-seg_duration 2 -window_size 6 -extra_window_size 4"),
            "{a}"
        );
    }

    #[test]
    fn the_live_ladder_never_upscales_and_keeps_key_frames_aligned() {
        let mut c = Codecs::default();
        c.see(TagKind::Video, &[0x17, 0]);
        c.see(TagKind::Audio, &[0xaf, 0]);
        assert_eq!(
            Layout::new(c, &[360, 720, 1080, 720], Some(720)).rungs,
            [360]
        );
        assert_eq!(Layout::new(c, &[360, 720], None).rungs, [720, 360]);
        let a = layout_args(&Layout::new(c, &[720, 360], Some(1080)));
        assert_eq!(a.matches("-map 0:v:0").count(), 3, "{a}");
        assert!(a.contains("-c:v:0 copy"), "{a}");
        assert!(a.contains("-filter:v:1 scale=-2:'min(ih,720)'"), "{a}");
        assert!(a.contains("-filter:v:2 scale=-2:'min(ih,360)'"), "{a}");
        assert!(a.contains("-force_key_frames:v:2 source"), "{a}");
        assert!(
            a.contains("-b:v:1 2800k") && a.contains("-b:v:2 800k"),
            "{a}"
        );
        assert!(
            a.contains("-adaptation_sets id=0,streams=v id=1,streams=a"),
            "{a}"
        );
        assert_eq!(rung_kbps(540), 1772); // 480p's 1400 by area
        assert_eq!(rung_kbps(100), usher_media::plan::MIN_VIDEO_KBPS);
    }
}
