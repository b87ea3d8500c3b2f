//! RTMP ingest: what OBS and `ffmpeg -f flv rtmp://host/live/KEY` speak. The handshake,
//! chunk stream and AMF commands are `rml_rtmp`'s (a sans-IO server session); this
//! module moves bytes between it and the socket and answers its events. The stream key
//! is checked when the publisher asks to publish, before anything is accepted, and is
//! never logged.

use std::sync::Arc;
use std::time::Duration;

use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::flv::TagKind;
use crate::ingest::{Ingest, Publisher};

/// The application every publish URL names: `rtmp://host:port/live/STREAM_KEY`, as
/// Cloudflare's `rtmps.url` ends in `/live/`.
pub const APP: &str = "live";
/// From connecting to the publish request being answered.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long stopping waits for broadcasts to end (packagers to finish, recordings to
/// be stored).
const STOP_GRACE: Duration = Duration::from_secs(30);
/// Silence from a publisher after which its broadcast is over.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("RTMP handshake: {0}")]
    Handshake(String),
    #[error("RTMP session: {0}")]
    Session(String),
    #[error("timed out")]
    Timeout,
    #[error("refused: {0}")]
    Refused(String),
}

/// Accepts publishers on `listener` until `stop` (inside TLS when `tls` is given);
/// each connection runs on its own task.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    ingest: Arc<Ingest>,
    stop: CancellationToken,
) {
    // On stop, every connection ends its broadcast (the recording is queued) before
    // the server exits.
    let connections = TaskTracker::new();
    loop {
        let (tcp, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "RTMP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let (ingest, stop, tls) = (ingest.clone(), stop.clone(), tls.clone());
        connections.spawn(async move {
            let outcome = match tls {
                None => connection(tcp, &ingest, stop).await,
                Some(tls) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
                    Ok(Ok(io)) => connection(io, &ingest, stop).await,
                    Ok(Err(e)) => Err(Error::Io(e)),
                    Err(_) => Err(Error::Timeout),
                },
            };
            match outcome {
                Ok(()) => {}
                Err(Error::Refused(why)) => tracing::info!(%peer, why, "RTMP publisher refused"),
                Err(e) => tracing::info!(%peer, error = %e, "RTMP connection closed"),
            }
        });
    }
    connections.close();
    if tokio::time::timeout(STOP_GRACE, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("broadcasts did not end in time");
    }
}

async fn send(
    io: &mut (impl AsyncWrite + Unpin),
    results: Vec<ServerSessionResult>,
    events: &mut Vec<ServerSessionEvent>,
) -> Result<(), Error> {
    for r in results {
        match r {
            ServerSessionResult::OutboundResponse(p) => io.write_all(&p.bytes).await?,
            ServerSessionResult::RaisedEvent(e) => events.push(e),
            ServerSessionResult::UnhandleableMessageReceived(_) => {}
        }
    }
    Ok(())
}

async fn handshake(io: &mut (impl AsyncRead + AsyncWrite + Unpin)) -> Result<Vec<u8>, Error> {
    let mut hs = Handshake::new(PeerType::Server);
    let mut buf = vec![0u8; 4096];
    loop {
        let n = io.read(&mut buf).await?;
        if n == 0 {
            return Err(Error::Handshake("closed".into()));
        }
        match hs
            .process_bytes(&buf[..n])
            .map_err(|e| Error::Handshake(e.to_string()))?
        {
            HandshakeProcessResult::InProgress { response_bytes } => {
                io.write_all(&response_bytes).await?;
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                io.write_all(&response_bytes).await?;
                return Ok(remaining_bytes);
            }
        }
    }
}

/// One connection: handshake, connect, publish, media until the publisher stops.
async fn connection(
    mut io: impl AsyncRead + AsyncWrite + Unpin,
    ingest: &Arc<Ingest>,
    stop: CancellationToken,
) -> Result<(), Error> {
    let remaining = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut io))
        .await
        .map_err(|_| Error::Timeout)??;
    let session_err = |e: rml_rtmp::sessions::ServerSessionError| Error::Session(e.to_string());
    let (mut session, initial) =
        ServerSession::new(ServerSessionConfig::new()).map_err(session_err)?;
    let mut events = Vec::new();
    send(&mut io, initial, &mut events).await?;
    let results = session.handle_input(&remaining).map_err(session_err)?;
    send(&mut io, results, &mut events).await?;

    let admit_by = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    let mut broadcast: Option<Publisher> = None;
    let mut buf = vec![0u8; 64 * 1024];
    let outcome = loop {
        if let Err(e) = handle(&mut io, &mut session, &mut events, &mut broadcast, ingest).await {
            break Err(e);
        }
        if events
            .iter()
            .any(|e| matches!(e, ServerSessionEvent::PublishStreamFinished { .. }))
        {
            break Ok(());
        }
        let deadline = if broadcast.is_some() {
            tokio::time::Instant::now() + IDLE_TIMEOUT
        } else {
            admit_by
        };
        let n = tokio::select! {
            () = stop.cancelled() => break Ok(()),
            read = tokio::time::timeout_at(deadline, io.read(&mut buf)) => match read {
                Err(_) => break Err(Error::Timeout),
                Ok(Err(e)) => break Err(e.into()),
                Ok(Ok(0)) => break Ok(()),
                Ok(Ok(n)) => n,
            },
        };
        match session.handle_input(&buf[..n]) {
            Ok(results) => {
                if let Err(e) = send(&mut io, results, &mut events).await {
                    break Err(e);
                }
            }
            Err(e) => break Err(session_err(e)),
        }
    };
    if let Some(b) = broadcast {
        b.leave().await;
    }
    outcome
}

/// Answers the events the session raised.
async fn handle(
    io: &mut (impl AsyncWrite + Unpin),
    session: &mut ServerSession,
    events: &mut Vec<ServerSessionEvent>,
    broadcast: &mut Option<Publisher>,
    ingest: &Arc<Ingest>,
) -> Result<(), Error> {
    let session_err = |e: rml_rtmp::sessions::ServerSessionError| Error::Session(e.to_string());
    let mut more = Vec::new();
    for event in events.drain(..) {
        match event {
            ServerSessionEvent::ConnectionRequested {
                request_id,
                app_name,
            } => {
                if app_name.trim_end_matches('/') != APP {
                    let r = session
                        .reject_request(
                            request_id,
                            "NetConnection.Connect.Rejected",
                            "unknown application",
                        )
                        .map_err(session_err)?;
                    send(io, r, &mut more).await?;
                    return Err(Error::Refused(format!("application {app_name:?}")));
                }
                let r = session.accept_request(request_id).map_err(session_err)?;
                send(io, r, &mut more).await?;
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                stream_key,
                ..
            } => {
                let admitted = if broadcast.is_some() {
                    Err(crate::ingest::Refusal::AlreadyLive)
                } else {
                    ingest.admit(&stream_key).await
                };
                match admitted {
                    Ok(b) => {
                        *broadcast = Some(b);
                        let r = session.accept_request(request_id).map_err(session_err)?;
                        send(io, r, &mut more).await?;
                    }
                    Err(refusal) => {
                        let r = session
                            .reject_request(
                                request_id,
                                "NetStream.Publish.BadName",
                                &refusal.to_string(),
                            )
                            .map_err(session_err)?;
                        send(io, r, &mut more).await?;
                        io.flush().await?;
                        return Err(Error::Refused(refusal.to_string()));
                    }
                }
            }
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => {
                if let Some(b) = broadcast.as_mut() {
                    b.media(TagKind::Video, timestamp.value, data).await?;
                }
            }
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => {
                if let Some(b) = broadcast.as_mut() {
                    b.media(TagKind::Audio, timestamp.value, data).await?;
                }
            }
            ServerSessionEvent::StreamMetadataChanged { metadata, .. } => {
                if let Some(b) = broadcast.as_mut() {
                    b.metadata(metadata.video_height, metadata.audio_codec_id.is_some())
                        .await;
                }
            }
            ServerSessionEvent::PublishStreamFinished { .. } => more.push(event),
            _ => {}
        }
    }
    events.append(&mut more);
    Ok(())
}
