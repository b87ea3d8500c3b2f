//! Admitting publishers and running their broadcasts. A publisher names its live input
//! by stream key; the key must be the input's current one, the input enabled, and no
//! other publisher on air for it — on this process or any other (the run is claimed in
//! the database under a lease that the broadcast renews while it lasts).
//!
//! A broadcast outlives its publisher's connection by the input's `timeoutSeconds`: a
//! publisher that drops and comes back within it continues the same broadcast — the
//! same packager, playlists, segments and recording — with its timestamps moved on
//! from where the last one stopped (status `reconnecting`, then `reconnected`). Then the
//! broadcast ends: its run goes off air, and its recording is queued for packaging.
//!
//! A run's files are stored under `live/{input}/{run}/`; the edges find the run on air
//! in the database and serve its playlists and segments from the blob store.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use usher_core::live::RecordingMode;
use usher_core::time_fmt::now_micros;
use usher_core::{LiveInputId, Video, VideoId, VideoState};
use usher_store::{BlobWriter, Blobs, Db, LiveInputRecord};

use crate::flv::{self, TagKind};
use crate::outputs::Restreams;
use crate::packager::{Codecs, Layout, Packager};
use crate::receiver::{Receiver, RunSink};

/// How long a run stays on air without its ingest renewing it: a crashed ingest's input
/// takes a new publisher after at most this.
pub const RUN_LEASE: Duration = Duration::from_secs(15);
const RENEW_EVERY: Duration = Duration::from_secs(5);
/// Tags held back until the first video tag says which codec the run carries.
const MAX_HELD_TAGS: usize = 512;
/// Tags waited for an audio tag, when the metadata does not say whether there is audio
/// (about 2 s of video).
const AUDIO_WAIT_TAGS: usize = 64;
/// How long a run's files stay after it ends, for players still reading its last
/// segments.
pub const LINGER: Duration = Duration::from_secs(30);
/// How long the packager may take to write its last segment.
const FINISH_GRACE: Duration = Duration::from_secs(10);
/// How often a broadcast looks for outputs added, changed or removed while it runs.
const OUTPUTS_REFRESH: Duration = Duration::from_secs(5);
/// Milliseconds between the last tag of a publisher and the first of the one that
/// reconnects (about a frame): timestamps must keep rising across the gap.
const RECONNECT_STEP_MS: u32 = 40;

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

/// How this process ingests.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub ffmpeg: PathBuf,
    /// Which addresses outputs may reach (the copy policy).
    pub policy: usher_outbound::AddressPolicy,
    /// Heights of the lower renditions every broadcast gets (`--live-ladder`).
    pub ladder: Vec<u32>,
}

/// Everything a broadcast needs from the server, and the broadcasts of this process.
pub struct Ingest {
    db: Db,
    blobs: Blobs,
    ffmpeg: PathBuf,
    policy: usher_outbound::AddressPolicy,
    ladder: Vec<u32>,
    receiver: Receiver,
    stop: CancellationToken,
    sessions: Mutex<HashMap<LiveInputId, Arc<tokio::sync::Mutex<Session>>>>,
}

impl Ingest {
    pub async fn start(
        db: Db,
        blobs: Blobs,
        config: IngestConfig,
        stop: CancellationToken,
    ) -> std::io::Result<Arc<Self>> {
        let receiver = Receiver::start(blobs.clone(), stop.clone()).await?;
        Ok(Arc::new(Self {
            db,
            blobs,
            ffmpeg: config.ffmpeg,
            policy: config.policy,
            ladder: config.ladder,
            receiver,
            stop,
            sessions: Mutex::default(),
        }))
    }

    fn session(&self, input: &LiveInputId) -> Option<Arc<tokio::sync::Mutex<Session>>> {
        self.sessions.lock().ok()?.get(input).cloned()
    }

    /// Checks `stream_key` and attaches the publisher to its input's broadcast: the one
    /// waiting for it to come back, else a new one.
    pub async fn admit(self: &Arc<Self>, stream_key: &str) -> Result<Publisher, Refusal> {
        let input = self
            .db
            .live_input_for_stream_key(stream_key)
            .await
            .map_err(unavailable)?
            .ok_or(Refusal::UnknownKey)?;
        self.admit_record(input).await
    }

    /// The passphrase an SRT caller for `uid` must encrypt with, if the input may take a
    /// publisher now (known, enabled, not on air here or elsewhere).
    pub async fn srt_passphrase(&self, uid: &LiveInputId) -> Result<String, Refusal> {
        let input = self.input(uid).await?;
        if !input.enabled {
            return Err(Refusal::Disabled);
        }
        if let Some(session) = self.session(uid) {
            let s = session.lock().await;
            if !s.ended && s.publisher.is_some() {
                return Err(Refusal::AlreadyLive);
            }
        }
        Ok(input.srt_passphrase.expose().to_owned())
    }

    /// Attaches a publisher that proved itself otherwise (an SRT caller that completed
    /// its encrypted handshake) to `uid`'s broadcast.
    pub async fn admit_input(self: &Arc<Self>, uid: &LiveInputId) -> Result<Publisher, Refusal> {
        let input = self.input(uid).await?;
        self.admit_record(input).await
    }

    async fn input(&self, uid: &LiveInputId) -> Result<LiveInputRecord, Refusal> {
        self.db
            .live_input(uid)
            .await
            .map_err(unavailable)?
            .ok_or(Refusal::UnknownKey)
    }

    async fn admit_record(self: &Arc<Self>, input: LiveInputRecord) -> Result<Publisher, Refusal> {
        if !input.enabled {
            return Err(Refusal::Disabled);
        }
        if let Some(session) = self.session(&input.uid) {
            let mut s = session.lock().await;
            if !s.ended {
                if s.publisher.is_some() {
                    return Err(Refusal::AlreadyLive);
                }
                s.reattach(&self.db).await;
                let generation = s.generation;
                drop(s);
                return Ok(Publisher {
                    ingest: self.clone(),
                    input: input.uid,
                    session,
                    generation,
                });
            }
        }
        let session = Session::begin(self, input).await?;
        let uid = session.input.uid.clone();
        let generation = session.generation;
        let session = Arc::new(tokio::sync::Mutex::new(session));
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.insert(uid.clone(), session.clone());
        }
        tokio::spawn(refresh_outputs(
            self.clone(),
            uid.clone(),
            Arc::downgrade(&session),
        ));
        Ok(Publisher {
            ingest: self.clone(),
            input: uid,
            session,
            generation,
        })
    }

    /// Ends `input`'s broadcast if it is still waiting for publisher `generation`'s
    /// successor.
    async fn end_if_abandoned(&self, input: &LiveInputId, generation: u64) {
        let Some(session) = self.session(input) else {
            return;
        };
        let mut s = session.lock().await;
        if s.ended || s.publisher.is_some() || s.generation != generation {
            return;
        }
        s.end(self).await;
        drop(s);
        if let Ok(mut sessions) = self.sessions.lock()
            && sessions
                .get(input)
                .is_some_and(|c| Arc::ptr_eq(c, &session))
        {
            sessions.remove(input);
        }
    }
}

fn unavailable(e: usher_store::StoreError) -> Refusal {
    tracing::error!(error = %e, "live ingest could not use the store");
    Refusal::Unavailable
}

/// A recording in the making: the broadcast as received (FLV), streamed into the
/// upload blob of a `live-inprogress` video.
struct Recording {
    video: VideoId,
    writer: BlobWriter,
}

/// One broadcast of an input, on this process.
struct Session {
    input: LiveInputRecord,
    run: String,
    sink: RunSink,
    lease: CancellationToken,
    codecs: Codecs,
    /// The publisher's frame height, from its metadata.
    source_height: Option<u32>,
    /// Whether the metadata announces audio.
    has_audio: Option<bool>,
    /// Tags that arrived before the first video tag.
    held: Vec<(TagKind, u32, Bytes)>,
    packager: Option<Packager>,
    recording: Option<Recording>,
    outputs: Restreams,
    /// Publishers so far; the current one is `Some(generation)`.
    generation: u64,
    publisher: Option<u64>,
    /// Added to a publisher's timestamps; set at its first tag after a reconnect.
    offset: u32,
    rebase: bool,
    last_ts: u32,
    ended: bool,
}

impl Session {
    async fn begin(ingest: &Arc<Ingest>, input: LiveInputRecord) -> Result<Self, Refusal> {
        let (db, uid) = (&ingest.db, input.uid.clone());
        let run = usher_core::ids::random_hex_id();
        if !db
            .claim_live_run(uid.as_str(), &run, RUN_LEASE)
            .await
            .map_err(unavailable)?
        {
            return Err(Refusal::AlreadyLive);
        }
        // Recordings of runs whose ingest died can never be finished.
        match db.orphaned_recordings(&uid).await {
            Ok(lost) if !lost.is_empty() => {
                tracing::warn!(input = %uid, ?lost, "recordings of an ingest that died marked errored");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, input = %uid, "could not look for orphaned recordings")
            }
        }
        let recording = match input.recording.mode {
            RecordingMode::Automatic => match start_recording(ingest, &input).await {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::error!(error = %e, input = %uid, "could not start the recording");
                    let _ = db.end_live_run(uid.as_str(), &run).await;
                    return Err(Refusal::Unavailable);
                }
            },
            RecordingMode::Off => None,
        };
        let mut outputs = Restreams::new(ingest.ffmpeg.clone(), ingest.policy.clone());
        match db.live_outputs_of(&uid).await {
            Ok(list) => outputs.sync(&list),
            Err(e) => tracing::warn!(error = %e, input = %uid, "could not read the live outputs"),
        }
        set_status(db, &uid, "connected").await;
        notify(db, &input, "live_input.connected").await;
        usher_metrics::metrics().live_inputs_connected.inc();
        tracing::info!(input = %uid, run, "broadcast started");
        let sink = ingest.receiver.open(run_prefix(&uid, &run));
        let lease = CancellationToken::new();
        tokio::spawn(renew(db.clone(), uid, run.clone(), lease.clone()));
        Ok(Self {
            input,
            run,
            sink,
            lease,
            codecs: Codecs::default(),
            source_height: None,
            has_audio: None,
            held: Vec::new(),
            packager: None,
            recording,
            outputs,
            generation: 1,
            publisher: Some(1),
            offset: 0,
            rebase: false,
            last_ts: 0,
            ended: false,
        })
    }

    async fn reattach(&mut self, db: &Db) {
        self.generation += 1;
        self.publisher = Some(self.generation);
        self.rebase = true;
        set_status(db, &self.input.uid, "reconnected").await;
        tracing::info!(input = %self.input.uid, run = self.run, "publisher reconnected");
    }

    async fn media(
        &mut self,
        ingest: &Ingest,
        kind: TagKind,
        ts: u32,
        body: Bytes,
    ) -> std::io::Result<()> {
        if self.rebase {
            self.offset = self
                .last_ts
                .wrapping_add(RECONNECT_STEP_MS)
                .wrapping_sub(ts);
            self.rebase = false;
        }
        let ts = ts.wrapping_add(self.offset);
        self.last_ts = self.last_ts.max(ts);
        if let Some(rec) = self.recording.as_mut() {
            record(rec, kind, ts, &body).await;
        }
        self.outputs.send(kind, ts, &body);
        if let Some(p) = self.packager.as_mut() {
            return p.write(kind, ts, &body).await;
        }
        self.codecs.see(kind, &body);
        self.held.push((kind, ts, body));
        // Which streams there are decides ffmpeg's arguments: wait for both, unless the
        // metadata says there is no audio, or for a while.
        let audio_settled = self.codecs.audio.is_some()
            || self.has_audio == Some(false)
            || self.held.len() >= AUDIO_WAIT_TAGS;
        let settled = self.codecs.video.is_some() && audio_settled;
        if !settled && self.held.len() < MAX_HELD_TAGS {
            return Ok(());
        }
        let layout = Layout::new(self.codecs, &ingest.ladder, self.source_height)
            .low_latency(self.input.prefer_low_latency);
        let mut p = Packager::spawn(&ingest.ffmpeg, &layout, &self.run, self.sink.url()).await?;
        for (kind, ts, body) in self.held.drain(..) {
            p.write(kind, ts, &body).await?;
        }
        self.packager = Some(p);
        Ok(())
    }

    /// Ends the broadcast: the packager writes its last segment, the run goes off air
    /// (its files are removed after [`LINGER`]) and the recording is queued.
    async fn end(&mut self, ingest: &Ingest) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.outputs.stop_all();
        if let Some(p) = self.packager.take() {
            p.finish(FINISH_GRACE).await;
        }
        self.lease.cancel();
        let (db, input, run) = (&ingest.db, &self.input.uid, &self.run);
        if let Err(e) = db.end_live_run(input.as_str(), run).await {
            tracing::warn!(error = %e, input = %input, "could not end the broadcast's run");
        }
        set_status(db, input, "disconnected").await;
        notify(db, &self.input, "live_input.disconnected").await;
        if let Some(rec) = self.recording.take() {
            finish_recording(db, rec).await;
        }
        usher_metrics::metrics().live_inputs_connected.dec();
        tracing::info!(input = %input, run, "broadcast ended");
        let blobs = ingest.blobs.clone();
        let prefix = run_prefix(input, run);
        let stop = ingest.stop.clone();
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

async fn set_status(db: &Db, input: &LiveInputId, state: &str) {
    if let Err(e) = db.set_live_input_status(input, Some(state)).await {
        tracing::warn!(error = %e, input = %input, "could not record the live input's status");
    }
}

/// Queues the account's webhook notification of `event`, if it has a webhook.
async fn notify(db: &Db, input: &LiveInputRecord, event: &str) {
    if let Err(e) = db
        .record_live_event(&input.account_id, &input.uid, event, now_micros())
        .await
    {
        tracing::warn!(error = %e, input = %input.uid, event, "could not queue a live notification");
    }
}

/// Creates the `live-inprogress` video a broadcast is recorded into, with the input's
/// access settings, and opens its upload blob.
async fn start_recording(
    ingest: &Ingest,
    input: &LiveInputRecord,
) -> Result<Recording, usher_store::StoreError> {
    let now = now_micros();
    let uid = VideoId::generate();
    let mut video = Video::new(
        uid.clone(),
        input.account_id.clone(),
        VideoState::LiveInProgress,
        now,
    );
    video.live_input = Some(input.uid.clone());
    video.meta = input.meta.clone();
    video.creator = input.default_creator.clone();
    video.require_signed_urls = input.recording.require_signed_urls;
    video.allowed_origins = input.recording.allowed_origins.clone();
    video.scheduled_deletion = input
        .delete_recording_after_days
        .map(|days| now.saturating_add(days.saturating_mul(86_400_000_000)));
    let mut writer = ingest
        .blobs
        .writer(&usher_store::layout::original_key(&uid))
        .await?;
    writer.write(Bytes::copy_from_slice(&flv::header())).await?;
    ingest.db.insert_video(&video, None).await?;
    tracing::info!(input = %input.uid, video = %uid, "recording the broadcast");
    Ok(Recording { video: uid, writer })
}

/// Appends one tag to the recording; a failed write ends the recording (as an error)
/// but not the broadcast.
async fn record(rec: &mut Recording, kind: TagKind, ts: u32, body: &Bytes) {
    let Some(head) = flv::tag_head(kind, ts, body.len()) else {
        return;
    };
    let mut tag = Vec::with_capacity(head.len() + body.len() + 4);
    tag.extend_from_slice(&head);
    tag.extend_from_slice(body);
    tag.extend_from_slice(&flv::trailer(body.len()));
    if let Err(e) = rec.writer.write(Bytes::from(tag)).await {
        tracing::error!(error = %e, video = %rec.video, "recording write failed");
    }
}

async fn finish_recording(db: &Db, rec: Recording) {
    let Recording { video, writer } = rec;
    let size = match writer.finish().await {
        Ok(n) => i64::try_from(n).unwrap_or(i64::MAX),
        Err(e) => {
            tracing::error!(error = %e, video = %video, "could not store the recording");
            let reason = usher_core::ErrorReason::Unknown;
            let _ = db.mark_error(&video, reason, now_micros()).await;
            return;
        }
    };
    match db.finish_recording(&video, size).await {
        Ok(true) => tracing::info!(video = %video, size, "recording queued for packaging"),
        Ok(false) => tracing::info!(video = %video, "the recording was deleted meanwhile"),
        Err(e) => tracing::error!(error = %e, video = %video, "could not queue the recording"),
    }
}

/// Follows the input's settings and outputs while its broadcast lasts.
async fn refresh_outputs(
    ingest: Arc<Ingest>,
    input: LiveInputId,
    session: std::sync::Weak<tokio::sync::Mutex<Session>>,
) {
    let db = ingest.db.clone();
    loop {
        tokio::time::sleep(OUTPUTS_REFRESH).await;
        let Some(session) = session.upgrade() else {
            return;
        };
        // An input deleted or disabled while on air takes its publisher off air.
        let on = match db.live_input(&input).await {
            Ok(found) => found.is_some_and(|i| i.enabled),
            Err(e) => {
                tracing::warn!(error = %e, input = %input, "could not read the live input");
                true
            }
        };
        let list = match db.live_outputs_of(&input).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, input = %input, "could not read the live outputs");
                continue;
            }
        };
        let mut s = session.lock().await;
        if s.ended {
            return;
        }
        if !on {
            tracing::info!(input = %input, "the live input was disabled or deleted while on air");
            s.publisher = None;
            s.end(&ingest).await;
            return;
        }
        s.outputs.sync(&list);
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

/// One publisher's connection to a broadcast, from admission to [`Publisher::leave`].
pub struct Publisher {
    ingest: Arc<Ingest>,
    input: LiveInputId,
    session: Arc<tokio::sync::Mutex<Session>>,
    generation: u64,
}

impl Publisher {
    pub fn input(&self) -> &LiveInputId {
        &self.input
    }

    /// The ffmpeg this server runs.
    pub fn ffmpeg(&self) -> &std::path::Path {
        &self.ingest.ffmpeg
    }

    /// Passes one audio or video message on; an error ends this publisher's connection.
    pub async fn media(
        &mut self,
        kind: TagKind,
        timestamp_ms: u32,
        body: Bytes,
    ) -> std::io::Result<()> {
        usher_metrics::metrics()
            .live_publish_bytes
            .inc_by(body.len() as u64);
        let mut s = self.session.lock().await;
        if s.ended || s.publisher != Some(self.generation) {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        s.media(&self.ingest, kind, timestamp_ms, body).await
    }

    /// The publisher's stream metadata: its frame height bounds the live ladder, and
    /// whether it has audio is known before any audio arrives.
    pub async fn metadata(&mut self, height: Option<u32>, audio: bool) {
        let mut s = self.session.lock().await;
        if s.publisher == Some(self.generation) {
            s.source_height = height.or(s.source_height);
            s.has_audio = Some(audio);
        }
    }

    /// The publisher is gone. The broadcast waits `timeoutSeconds` for it to come back
    /// (ends at once with 0, or when the server stops).
    pub async fn leave(self) {
        let mut s = self.session.lock().await;
        if s.publisher != Some(self.generation) {
            return;
        }
        s.publisher = None;
        let wait = u64::try_from(s.input.recording.timeout_seconds).unwrap_or(0);
        if wait == 0 || self.ingest.stop.is_cancelled() {
            drop(s);
            self.ingest
                .end_if_abandoned(&self.input, self.generation)
                .await;
            return;
        }
        set_status(&self.ingest.db, &self.input, "reconnecting").await;
        drop(s);
        let (ingest, input, generation) =
            (self.ingest.clone(), self.input.clone(), self.generation);
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(wait)) => {}
                () = ingest.stop.cancelled() => {}
            }
            ingest.end_if_abandoned(&input, generation).await;
        });
    }
}
