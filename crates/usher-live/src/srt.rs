//! SRT ingest (what OBS and `ffmpeg -f mpegts srt://host:port?streamid=…&passphrase=…`
//! send): [`srt_tokio`] accepts each caller by its stream id — the live input's uid, as
//! the API hands out in `srt.streamId` — with that input's passphrase as the encryption
//! key, so a caller without the right passphrase never gets a connection. The MPEG-TS
//! it sends is turned into FLV by an ffmpeg (`-c copy`) and goes on exactly as an RTMP
//! publisher's media does: the same admission, packaging, recording and outputs.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use srt_protocol::access::{RejectReason, ServerRejectReason};
use srt_protocol::options::Passphrase;
use srt_protocol::settings::KeySettings;
use srt_tokio::{ConnectionRequest, SrtListener, SrtSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use usher_core::LiveInputId;

use crate::flv::{TagKind, read_tag_head};
use crate::ingest::{Ingest, Publisher, Refusal};

/// Silence from a caller after which its broadcast is over.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long stopping waits for SRT broadcasts to end.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// The live input a caller's stream id names: the uid itself, or the SRT access
/// control syntax's resource (`#!::r=UID,m=publish`).
pub fn input_of(stream_id: &str) -> Option<LiveInputId> {
    let id = match stream_id.strip_prefix("#!::") {
        Some(fields) => fields.split(',').find_map(|kv| kv.strip_prefix("r="))?,
        None => stream_id,
    };
    id.parse().ok()
}

/// Accepts SRT callers on `socket` until `stop`; returns its address once it listens.
///
/// `srt_protocol` answers a few malformed handshakes with a panic (`unimplemented!`),
/// which ends its listener's task: the listener is then bound afresh on the same
/// address, so a hostile caller costs the callers of that moment a retry, not the
/// ingest.
pub async fn serve(
    socket: tokio::net::UdpSocket,
    ingest: Arc<Ingest>,
    stop: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let local = socket.local_addr()?;
    let first = SrtListener::builder().socket(socket).bind(local).await?;
    let connections = TaskTracker::new();
    tokio::spawn(async move {
        let mut bound = Some(first);
        while !stop.is_cancelled() {
            let (_listener, mut incoming) = match bound.take() {
                Some(b) => b,
                None => match rebind(local).await {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::error!(error = %e, %local, "could not listen for SRT again");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            loop {
                let request = tokio::select! {
                    () = stop.cancelled() => break,
                    r = incoming.incoming().next() => match r {
                        Some(r) => r,
                        None => {
                            tracing::error!(%local, "the SRT listener stopped; listening again");
                            break;
                        }
                    },
                };
                let (ingest, stop) = (ingest.clone(), stop.clone());
                connections.spawn(async move {
                    let peer = request.remote();
                    if let Err(why) = caller(request, &ingest, stop).await {
                        tracing::info!(%peer, why, "SRT caller refused or gone");
                    }
                });
            }
        }
        connections.close();
        let _ = tokio::time::timeout(STOP_GRACE, connections.wait()).await;
    });
    Ok(local)
}

async fn rebind(local: SocketAddr) -> std::io::Result<(SrtListener, srt_tokio::SrtIncoming)> {
    let socket = tokio::net::UdpSocket::bind(local).await?;
    SrtListener::builder().socket(socket).bind(local).await
}

async fn reject(
    request: ConnectionRequest,
    reason: ServerRejectReason,
    why: String,
) -> Result<(), String> {
    let _ = request.reject(RejectReason::Server(reason)).await;
    Err(why)
}

/// One caller: checked by stream id, accepted with its input's passphrase, admitted,
/// then media until it stops.
async fn caller(
    request: ConnectionRequest,
    ingest: &Arc<Ingest>,
    stop: CancellationToken,
) -> Result<(), String> {
    let Some(uid) = request.stream_id().and_then(|s| input_of(s)) else {
        return reject(
            request,
            ServerRejectReason::BadRequest,
            "no live input in the stream id".into(),
        )
        .await;
    };
    let passphrase = match ingest.srt_passphrase(&uid).await {
        Ok(p) => p,
        Err(Refusal::AlreadyLive) => {
            return reject(request, ServerRejectReason::Conflict, "already live".into()).await;
        }
        Err(r) => return reject(request, ServerRejectReason::Forbidden, r.to_string()).await,
    };
    // The caller's own key length: the handshake panics on a mismatch.
    let key_size = request.key_size();
    let Ok(passphrase) = Passphrase::try_from(passphrase) else {
        return reject(
            request,
            ServerRejectReason::Forbidden,
            "unusable passphrase".into(),
        )
        .await;
    };
    let socket = request
        .accept(Some(KeySettings {
            key_size,
            passphrase,
        }))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let publisher = ingest.admit_input(&uid).await.map_err(|r| r.to_string())?;
    media(socket, publisher, stop).await
}

/// Pipes the caller's MPEG-TS through ffmpeg into FLV tags for the broadcast.
async fn media(
    mut socket: SrtSocket,
    mut publisher: Publisher,
    stop: CancellationToken,
) -> Result<(), String> {
    let mut demux = match Command::new(publisher.ffmpeg())
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-f",
            "mpegts",
            "-i",
            "pipe:0",
        ])
        .args([
            "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-f", "flv", "pipe:1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            publisher.leave().await;
            return Err(format!("could not start ffmpeg: {e}"));
        }
    };
    let (Some(mut stdin), Some(mut stdout)) = (demux.stdin.take(), demux.stdout.take()) else {
        publisher.leave().await;
        return Err("ffmpeg has no pipes".into());
    };
    // The caller's packets into ffmpeg, on a task of their own, until the caller stops.
    let feed = tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => break,
                n = tokio::time::timeout(IDLE_TIMEOUT, socket.next()) => n,
            };
            match next {
                Ok(Some(Ok((_, bytes)))) => {
                    if stdin.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                _ => break,
            }
        }
        // Dropping the socket closes the connection.
        drop(socket);
    });
    // ffmpeg's FLV out, tag by tag, into the broadcast.
    let outcome = async {
        let mut header = [0u8; 13];
        stdout
            .read_exact(&mut header)
            .await
            .map_err(|e| format!("no FLV: {e}"))?;
        loop {
            let mut head = [0u8; 11];
            if stdout.read_exact(&mut head).await.is_err() {
                return Ok(());
            }
            let (kind, size, ts) = read_tag_head(&head);
            let mut body = vec![0u8; size];
            let mut trailer = [0u8; 4];
            stdout
                .read_exact(&mut body)
                .await
                .map_err(|e| e.to_string())?;
            stdout
                .read_exact(&mut trailer)
                .await
                .map_err(|e| e.to_string())?;
            let kind = match kind {
                8 => TagKind::Audio,
                9 => TagKind::Video,
                _ => continue,
            };
            publisher
                .media(kind, ts, bytes::Bytes::from(body))
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    .await;
    feed.abort();
    let _ = demux.kill().await;
    publisher.leave().await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_id_names_the_input_plainly_or_in_access_control_syntax() {
        let uid = "0123456789abcdef0123456789abcdef";
        assert_eq!(input_of(uid).map(|u| u.to_string()), Some(uid.to_owned()));
        assert_eq!(
            input_of(&format!("#!::r={uid},m=publish")).map(|u| u.to_string()),
            Some(uid.to_owned())
        );
        assert_eq!(input_of("#!::m=publish"), None);
        assert_eq!(input_of("not-a-uid"), None);
        assert_eq!(input_of(""), None);
    }
}
