//! Admitting publishers and running their broadcasts. A publisher names its live input
//! by stream key; the key must be the input's current one, the input enabled, and no
//! other run on air for it — on this process or any other (the run is claimed in the
//! database under a lease that [`Broadcast`] renews while it lasts).
//!
//! A run's files are stored under `live/{input}/{run}/`; the edges find the run on air
//! in the database and serve its playlists and segments from the blob store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use usher_core::LiveInputId;
use usher_store::{Blobs, Db};

use crate::flv::TagKind;
use crate::packager::{Codecs, Packager};
use crate::receiver::{Receiver, RunSink};

/// How long a run stays on air without its ingest renewing it: a crashed ingest's input
/// takes a new publisher after at most this.
pub const RUN_LEASE: Duration = Duration::from_secs(15);
const RENEW_EVERY: Duration = Duration::from_secs(5);
/// Tags held back until the first video tag says which codec the run carries.
const MAX_HELD_TAGS: usize = 512;
/// How long a run's files stay after it ends, for players still reading its last
/// segments.
pub const LINGER: Duration = Duration::from_secs(30);

/// Why a publisher was refused. The text goes back to the publisher; it never says more
/// than that the key did not open anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("unknown stream key")]
    UnknownKey,
    #[error("this live input is disabled")]
    Disabled,
    #[error("this live input is already receiving a broadcast")]
    AlreadyLive,
    #[error("the server could not start the broadcast")]
    Unavailable,
}

/// Where a live run's files are kept.
pub fn run_prefix(input: &LiveInputId, run: &str) -> String {
    usher_store::layout::live_run_prefix(input.as_str(), run)
}

/// Everything a broadcast needs from the server.
pub struct Ingest {
    db: Db,
    blobs: Blobs,
    ffmpeg: PathBuf,
    receiver: Receiver,
    stop: CancellationToken,
}

impl Ingest {
    pub async fn start(
        db: Db,
        blobs: Blobs,
        ffmpeg: PathBuf,
        stop: CancellationToken,
    ) -> std::io::Result<Arc<Self>> {
        let receiver = Receiver::start(blobs.clone(), stop.clone()).await?;
        Ok(Arc::new(Self {
            db,
            blobs,
            ffmpeg,
            receiver,
            stop,
        }))
    }

    /// Checks `stream_key` and puts a new run on air for its input.
    pub async fn admit(self: &Arc<Self>, stream_key: &str) -> Result<Broadcast, Refusal> {
        let unavailable = |e: usher_store::StoreError| {
            tracing::error!(error = %e, "live ingest could not read the store");
            Refusal::Unavailable
        };
        let input = self
            .db
            .live_input_for_stream_key(stream_key)
            .await
            .map_err(unavailable)?
            .ok_or(Refusal::UnknownKey)?;
        if !input.enabled {
            return Err(Refusal::Disabled);
        }
        let uid = input.uid.clone();
        let run = usher_core::ids::random_hex_id();
        if !self
            .db
            .claim_live_run(uid.as_str(), &run, RUN_LEASE)
            .await
            .map_err(unavailable)?
        {
            return Err(Refusal::AlreadyLive);
        }
        if let Err(e) = self.db.set_live_input_status(&uid, Some("connected")).await {
            tracing::warn!(error = %e, input = %uid, "could not record the live input's status");
        }
        let metrics = usher_metrics::metrics();
        metrics.live_inputs_connected.inc();
        tracing::info!(input = %uid, run, "broadcast started");
        let sink = self.receiver.open(run_prefix(&uid, &run));
        let lease = CancellationToken::new();
        tokio::spawn(renew(
            self.db.clone(),
            uid.clone(),
            run.clone(),
            lease.clone(),
        ));
        Ok(Broadcast {
            ingest: self.clone(),
            input: uid,
            run,
            sink,
            lease,
            codecs: Codecs::default(),
            held: Vec::new(),
            packager: None,
        })
    }
}

/// Keeps a run's lease until `done`.
async fn renew(db: Db, input: LiveInputId, run: String, done: CancellationToken) {
    loop {
        tokio::select! {
            () = done.cancelled() => return,
            () = tokio::time::sleep(RENEW_EVERY) => {}
        }
        match db.renew_live_run(input.as_str(), &run, RUN_LEASE).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(input = %input, run, "the broadcast's lease was taken over");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, input = %input, "could not renew a broadcast lease")
            }
        }
    }
}

/// One publisher's run, from admission to [`Broadcast::end`].
pub struct Broadcast {
    ingest: Arc<Ingest>,
    input: LiveInputId,
    run: String,
    sink: RunSink,
    lease: CancellationToken,
    codecs: Codecs,
    /// Tags that arrived before the first video tag.
    held: Vec<(TagKind, u32, bytes::Bytes)>,
    packager: Option<Packager>,
}

impl Broadcast {
    pub fn input(&self) -> &LiveInputId {
        &self.input
    }

    /// Passes one audio or video message on to the packager; an error ends the run.
    pub async fn media(
        &mut self,
        kind: TagKind,
        timestamp_ms: u32,
        body: bytes::Bytes,
    ) -> std::io::Result<()> {
        usher_metrics::metrics()
            .live_publish_bytes
            .inc_by(body.len() as u64);
        if let Some(p) = self.packager.as_mut() {
            return p.write(kind, timestamp_ms, &body).await;
        }
        self.codecs.see(kind, &body);
        self.held.push((kind, timestamp_ms, body));
        if self.codecs.video.is_none() && self.held.len() < MAX_HELD_TAGS {
            return Ok(());
        }
        let mut p =
            Packager::spawn(&self.ingest.ffmpeg, self.codecs, &self.run, self.sink.url()).await?;
        for (kind, ts, body) in self.held.drain(..) {
            p.write(kind, ts, &body).await?;
        }
        self.packager = Some(p);
        Ok(())
    }

    /// Resolves once the run's first playlists are stored (for tests and latency
    /// figures).
    pub async fn first_playlist(&mut self) -> bool {
        self.sink.published(1).await
    }

    /// Ends the run: the packager writes its last segment, the run goes off air, and its
    /// files are removed after [`LINGER`].
    pub async fn end(mut self) {
        if let Some(p) = self.packager.take() {
            p.finish(Duration::from_secs(10)).await;
        }
        self.lease.cancel();
        let (db, input, run) = (&self.ingest.db, &self.input, &self.run);
        if let Err(e) = db.end_live_run(input.as_str(), run).await {
            tracing::warn!(error = %e, input = %input, "could not end the broadcast's run");
        }
        if let Err(e) = db.set_live_input_status(input, Some("disconnected")).await {
            tracing::warn!(error = %e, input = %input, "could not record the live input's status");
        }
        usher_metrics::metrics().live_inputs_connected.dec();
        tracing::info!(input = %input, run, "broadcast ended");
        let blobs = self.ingest.blobs.clone();
        let prefix = run_prefix(input, run);
        let stop = self.ingest.stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(LINGER) => {}
                () = stop.cancelled() => {}
            }
            if let Err(e) = blobs.delete_prefix(&prefix).await {
                tracing::warn!(error = %e, prefix, "could not remove an ended broadcast's files");
            }
        });
    }
}

impl Drop for Broadcast {
    fn drop(&mut self) {
        // A run dropped without `end` (its task failed) stops renewing, so its lease
        // runs out and the input can take a publisher again.
        self.lease.cancel();
    }
}
