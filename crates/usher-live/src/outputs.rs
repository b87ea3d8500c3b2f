//! Simulcast (`…/live_inputs/{uid}/outputs`): the broadcast re-streamed, as received,
//! to each enabled output's RTMP URL. Each output is its own supervised ffmpeg fed
//! through its own bounded queue, so a slow or failing target never holds up ingest or
//! the other outputs: a queue that overflows, or an ffmpeg that exits, restarts that
//! output alone, with backoff, from the next key frame.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use usher_core::LiveOutputId;
use usher_outbound::AddressPolicy;
use usher_store::LiveOutputRecord;

use crate::flv::{self, TagKind};

/// Tags an output may fall behind by (about 10 s of a 30 fps broadcast with audio)
/// before it is restarted.
const QUEUE_TAGS: usize = 1024;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// An attempt that lasted this long resets the backoff.
const HEALTHY_AFTER: Duration = Duration::from_secs(30);

type Tag = (TagKind, u32, Bytes);

/// The codec configuration a decoder needs before anything else: sent first to every
/// (re)started output.
#[derive(Default)]
struct Headers {
    video: Option<Bytes>,
    audio: Option<Bytes>,
}

struct Running {
    target: String,
    queue: mpsc::Sender<Tag>,
    /// Set when a tag did not fit in the queue: the output has a gap and restarts.
    overflowed: Arc<AtomicBool>,
    stop: CancellationToken,
}

/// The outputs of one broadcast.
pub struct Restreams {
    ffmpeg: PathBuf,
    policy: AddressPolicy,
    headers: Arc<Mutex<Headers>>,
    running: HashMap<LiveOutputId, Running>,
}

/// Where an output's stream goes: its URL with the stream key as the last segment.
pub fn target(output: &LiveOutputRecord) -> String {
    let key = output.stream_key.expose();
    let url = output.url.trim_end_matches('/');
    if key.is_empty() {
        url.to_owned()
    } else {
        format!("{url}/{key}")
    }
}

/// An AVC or AAC sequence header (the codec configuration), not media.
fn is_config(kind: TagKind, body: &[u8]) -> bool {
    match kind {
        TagKind::Video => body.len() > 1 && body[0] & 0x0f == 7 && body[1] == 0,
        TagKind::Audio => body.len() > 1 && body[0] >> 4 == 10 && body[1] == 0,
    }
}

fn is_key_frame(kind: TagKind, body: &[u8]) -> bool {
    kind == TagKind::Video && body.first().is_some_and(|b| b >> 4 == 1)
}

impl Restreams {
    pub fn new(ffmpeg: PathBuf, policy: AddressPolicy) -> Self {
        Self {
            ffmpeg,
            policy,
            headers: Arc::default(),
            running: HashMap::new(),
        }
    }

    /// Passes one tag to every running output, never waiting for one.
    pub fn send(&mut self, kind: TagKind, ts: u32, body: &Bytes) {
        if is_config(kind, body)
            && let Ok(mut h) = self.headers.lock()
        {
            match kind {
                TagKind::Video => h.video = Some(body.clone()),
                TagKind::Audio => h.audio = Some(body.clone()),
            }
        }
        for r in self.running.values() {
            // A full queue: that output is too slow; its task restarts it from the next
            // key frame.
            if r.queue.try_send((kind, ts, body.clone())).is_err() {
                r.overflowed.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Starts the enabled outputs not running yet and stops the rest (deleted, disabled
    /// or retargeted).
    pub fn sync(&mut self, outputs: &[LiveOutputRecord]) {
        let wanted: HashMap<&LiveOutputId, String> = outputs
            .iter()
            .filter(|o| o.enabled)
            .map(|o| (&o.uid, target(o)))
            .collect();
        self.running.retain(|uid, r| {
            let keep = wanted.get(uid) == Some(&r.target);
            if !keep {
                r.stop.cancel();
            }
            keep
        });
        for output in outputs.iter().filter(|o| o.enabled) {
            if self.running.contains_key(&output.uid) {
                continue;
            }
            let (queue, rx) = mpsc::channel(QUEUE_TAGS);
            let stop = CancellationToken::new();
            let overflowed = Arc::new(AtomicBool::new(false));
            let target = target(output);
            tokio::spawn(supervise(
                Output {
                    uid: output.uid.clone(),
                    target: target.clone(),
                    ffmpeg: self.ffmpeg.clone(),
                    policy: self.policy.clone(),
                    headers: self.headers.clone(),
                    overflowed: overflowed.clone(),
                },
                rx,
                stop.clone(),
            ));
            self.running.insert(
                output.uid.clone(),
                Running {
                    target,
                    queue,
                    overflowed,
                    stop,
                },
            );
        }
    }

    pub fn stop_all(&mut self) {
        for (_, r) in self.running.drain() {
            r.stop.cancel();
        }
    }
}

impl Drop for Restreams {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Whether every address `target`'s host resolves to may be reached (the same policy
/// as copies from URLs: no loopback or private networks unless the operator allows).
async fn reachable(policy: &AddressPolicy, target: &str) -> bool {
    let Some((scheme, rest)) = target.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let default_port = if scheme == "rtmps" { 443 } else { 1935 };
    let addr = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_owned()
    } else {
        format!("{authority}:{default_port}")
    };
    match tokio::net::lookup_host(addr).await {
        Ok(addrs) => {
            let ips: Vec<_> = addrs.map(|a| a.ip()).collect();
            !ips.is_empty() && ips.iter().all(|ip| policy.allows(*ip))
        }
        Err(_) => false,
    }
}

/// What one output's task works with.
struct Output {
    uid: LiveOutputId,
    target: String,
    ffmpeg: PathBuf,
    policy: AddressPolicy,
    headers: Arc<Mutex<Headers>>,
    overflowed: Arc<AtomicBool>,
}

/// Runs one output until `stop`: ffmpeg after ffmpeg, with backoff between failures.
async fn supervise(out: Output, mut queue: mpsc::Receiver<Tag>, stop: CancellationToken) {
    let mut backoff = FIRST_RETRY;
    loop {
        let started = tokio::time::Instant::now();
        out.overflowed.store(false, Ordering::Relaxed);
        let outcome = if reachable(&out.policy, &out.target).await {
            tokio::select! {
                () = stop.cancelled() => return,
                r = attempt(&out, &mut queue) => r,
            }
        } else {
            Err("its address is not allowed (see --copy-allow-private)".to_owned())
        };
        match outcome {
            Ok(()) => return,
            Err(why) => tracing::warn!(
                output = %out.uid,
                why,
                "live output failed; retrying in {backoff:?}"
            ),
        }
        if started.elapsed() >= HEALTHY_AFTER {
            backoff = FIRST_RETRY;
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_RETRY);
        // What queued up meanwhile is stale: the next attempt starts at a key frame.
        while queue.try_recv().is_ok() {}
    }
}

/// One ffmpeg: codec configuration first, then tags from the next key frame on, until
/// the queue overflows (seen as a gap), the broadcast ends or ffmpeg fails.
async fn attempt(out: &Output, queue: &mut mpsc::Receiver<Tag>) -> Result<(), String> {
    let mut child = Command::new(&out.ffmpeg)
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-f",
            "flv",
            "-i",
            "pipe:0",
        ])
        .args(["-map", "0", "-c", "copy", "-f", "flv"])
        .arg(&out.target)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("could not start ffmpeg: {e}"))?;
    let Some(mut stdin) = child.stdin.take() else {
        return Err("ffmpeg has no stdin".into());
    };
    let (video, audio) = match out.headers.lock() {
        Ok(h) => (h.video.clone(), h.audio.clone()),
        Err(_) => (None, None),
    };
    let io = |e: std::io::Error| format!("ffmpeg stopped reading: {e}");
    stdin.write_all(&flv::header()).await.map_err(io)?;
    for (kind, body) in [(TagKind::Video, video), (TagKind::Audio, audio)] {
        if let Some(body) = body {
            write_tag(&mut stdin, kind, 0, &body).await.map_err(io)?;
        }
    }
    let mut keyed = false;
    let mut first_ts = None;
    loop {
        let (kind, ts, body) = tokio::select! {
            tag = queue.recv() => match tag {
                Some(t) => t,
                None => break,
            },
            status = child.wait() => return Err(format!("ffmpeg exited: {status:?}")),
        };
        // Configuration passes whenever it comes (a run that has just started sends it
        // after this output was started); media from the first key frame on.
        let config = is_config(kind, &body);
        keyed = keyed || is_key_frame(kind, &body);
        if !keyed && !config {
            continue;
        }
        // The target sees a stream that starts at 0, whenever it joined.
        let at = match (config, first_ts) {
            (true, None) => 0,
            (_, Some(base)) => ts.wrapping_sub(base),
            (false, None) => {
                first_ts = Some(ts);
                0
            }
        };
        write_tag(&mut stdin, kind, at, &body).await.map_err(io)?;
        if out.overflowed.load(Ordering::Relaxed) {
            return Err("the output fell too far behind".into());
        }
    }
    drop(stdin);
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
    Ok(())
}

async fn write_tag(
    w: &mut (impl AsyncWriteExt + Unpin),
    kind: TagKind,
    ts: u32,
    body: &[u8],
) -> std::io::Result<()> {
    let head = flv::tag_head(kind, ts, body.len())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "tag too large"))?;
    w.write_all(&head).await?;
    w.write_all(body).await?;
    w.write_all(&flv::trailer(body.len())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_and_key_frames_are_told_from_media() {
        assert!(is_config(TagKind::Video, &[0x17, 0]));
        assert!(!is_config(TagKind::Video, &[0x17, 1]));
        assert!(is_config(TagKind::Audio, &[0xaf, 0]));
        assert!(!is_config(TagKind::Audio, &[0xaf, 1]));
        assert!(is_key_frame(TagKind::Video, &[0x17, 1]));
        assert!(!is_key_frame(TagKind::Video, &[0x27, 1]));
        assert!(!is_key_frame(TagKind::Audio, &[0x1f, 1]));
    }
}
