//! The request holding an upload: it claims the upload (a lease, renewed in the
//! background while the request lives), gathers the bytes it receives into a part of at
//! most [`CHECKPOINT_BYTES`], and at each checkpoint stores that part durably in the
//! media store and then records it, moving the offset by compare-and-set. A part becomes
//! visible only when whole, so a process killed mid-request loses at most the part it
//! was gathering; the next request, on any process, takes over once the lease lapses and
//! removes what the dead one stored but never recorded.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use usher_core::VideoId;
use usher_core::ids::random_hex_id;
use usher_core::time_fmt::{Micros, now_micros};

use super::TusPart;
use super::lease::TusClaim;
use crate::blobs::Blobs;
use crate::db::Db;
use crate::error::Result;
use crate::layout::tus_parts_prefix;

/// Most bytes gathered before they are stored and acknowledged: a crash in the middle of
/// a large `PATCH` loses at most this much, and it is what one request holds in memory.
pub const CHECKPOINT_BYTES: usize = 8 * 1024 * 1024;
/// How long a claim lasts unless renewed: a process that dies mid-request holds its
/// upload this long at most.
pub const LEASE: Duration = Duration::from_secs(6);
/// How often a live request renews its claim; a few renewals fit in one lease, so a
/// slow database round does not cost a healthy writer its upload.
pub const RENEW_EVERY: Duration = Duration::from_secs(2);
/// How long a request waits for the upload's current writer to let go before it is
/// refused (409): longer than a lease, so that a request following a crash waits the
/// dead writer's lease out and is served rather than refused.
pub const CLAIM_WAIT: Duration = Duration::from_secs(8);
/// How often a waiting request asks again.
const CLAIM_RETRY: Duration = Duration::from_millis(100);

fn lease_end() -> Micros {
    now_micros().saturating_add(i64::try_from(LEASE.as_micros()).unwrap_or(i64::MAX))
}

/// What a claim came to.
pub enum Claim {
    Held(TusWriter),
    /// Another request still held the upload after the wait.
    Busy,
    /// The upload is not at that offset, is complete, or is gone.
    Refused,
}

/// One request's hold on an upload. Let go with [`TusWriter::release`] (or by
/// completing it); dropping it lets go too, in the background.
pub struct TusWriter {
    pub(super) db: Db,
    pub(super) blobs: Blobs,
    pub(super) uid: VideoId,
    /// This request's name in the lease and in its parts' keys.
    pub(super) writer: String,
    /// The offset when claimed: where a refused request goes back to.
    start: i64,
    /// Recorded (durable and acknowledged) so far.
    pub(super) acked: i64,
    /// The part being gathered: the bytes after `acked`.
    pending: Vec<Bytes>,
    pending_len: usize,
    heartbeat: tokio::task::JoinHandle<()>,
    /// Still this writer's, as far as it knows.
    pub(super) held: bool,
}

impl TusWriter {
    /// Claims the upload at `offset` (or wherever it stands, with
    /// [`super::ANY_OFFSET`]), waiting up to `wait` for another request holding it to
    /// let go or for its lease to lapse.
    pub async fn claim(
        db: &Db,
        blobs: &Blobs,
        uid: &VideoId,
        offset: i64,
        wait: Duration,
    ) -> Result<Claim> {
        let writer = random_hex_id();
        let deadline = Instant::now() + wait;
        let took_over = loop {
            match db
                .claim_tus_upload(uid, offset, &writer, now_micros(), lease_end())
                .await?
            {
                TusClaim::Claimed { took_over } => break took_over,
                TusClaim::Busy if Instant::now() < deadline => {
                    tokio::time::sleep(CLAIM_RETRY).await;
                }
                TusClaim::Busy => return Ok(Claim::Busy),
                TusClaim::Refused => return Ok(Claim::Refused),
            }
        };
        let heartbeat = tokio::spawn(heartbeat(db.clone(), uid.clone(), writer.clone()));
        let mut held = TusWriter {
            db: db.clone(),
            blobs: blobs.clone(),
            uid: uid.clone(),
            writer,
            start: 0,
            acked: 0,
            pending: Vec::new(),
            pending_len: 0,
            heartbeat,
            held: true,
        };
        // Where it stands now that nobody else can move it.
        let Some(upload) = db.tus_upload(uid).await? else {
            held.held = false;
            return Ok(Claim::Refused);
        };
        (held.start, held.acked) = (upload.received, upload.received);
        if took_over {
            // The previous writer died mid-request: a part it stored but never recorded
            // is garbage (it lies at or past the acknowledged offset).
            match held.remove_unrecorded_parts().await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(uid = %uid, parts = n, "removed parts a dead writer left unrecorded")
                }
                Err(e) => {
                    tracing::warn!(uid = %uid, error = %e, "could not remove unrecorded parts")
                }
            }
        }
        Ok(Claim::Held(held))
    }

    pub fn uid(&self) -> &VideoId {
        &self.uid
    }

    /// The upload's bytes so far, including those gathered but not yet recorded.
    pub fn offset(&self) -> i64 {
        self.acked + i64::try_from(self.pending_len).unwrap_or(i64::MAX)
    }

    /// The bytes recorded, durable and acknowledged.
    pub fn acknowledged(&self) -> i64 {
        self.acked
    }

    /// Appends `data`, recording a part whenever [`CHECKPOINT_BYTES`] have gathered.
    /// False if the upload turned out no longer to be this writer's (deleted, or taken
    /// over after its lease lapsed): nothing more can be recorded.
    pub async fn write(&mut self, data: Bytes) -> Result<bool> {
        self.pending_len += data.len();
        self.pending.push(data);
        if self.pending_len >= CHECKPOINT_BYTES {
            return self.checkpoint().await;
        }
        Ok(self.held)
    }

    /// Stores what has gathered as a part, durably, then records it: only then is it
    /// acknowledged. False (the part removed again) if the upload is no longer this
    /// writer's.
    pub async fn checkpoint(&mut self) -> Result<bool> {
        if self.pending.is_empty() || !self.held {
            return Ok(self.held);
        }
        let part = TusPart {
            start: self.acked,
            end: self.offset(),
            writer: self.writer.clone(),
        };
        let key = part.key(&self.uid);
        self.pending_len = 0;
        self.blobs
            .put_durably(&key, std::mem::take(&mut self.pending))
            .await?;
        if !self
            .db
            .record_tus_part(&self.uid, &part, lease_end())
            .await?
        {
            self.lost();
            if let Err(e) = self.blobs.delete(&key).await {
                tracing::warn!(uid = %self.uid, error = %e, "could not remove a part nobody recorded");
            }
            return Ok(false);
        }
        self.acked = part.end;
        Ok(true)
    }

    /// Takes back everything this request recorded (a refused `PATCH` is undone whole)
    /// and lets go. False if the upload was no longer this writer's to take back.
    pub async fn discard(&mut self) -> Result<bool> {
        self.pending.clear();
        self.pending_len = 0;
        if self.held && self.acked != self.start {
            let Some(dropped) = self.rewind(self.start).await? else {
                return Ok(false);
            };
            tracing::debug!(uid = %self.uid, parts = dropped, "took back a refused request");
        }
        let held = self.held;
        self.release().await?;
        Ok(held)
    }

    /// Lets go of the upload (what is gathered but not recorded is dropped).
    pub async fn release(&mut self) -> Result<()> {
        self.heartbeat.abort();
        if self.held {
            self.held = false;
            self.db.release_tus_claim(&self.uid, &self.writer).await?;
        }
        Ok(())
    }

    /// Moves the upload back from where this writer has it to `to`, removing the
    /// parts from there on; the number removed, or `None` if it is no longer this
    /// writer's.
    pub(super) async fn rewind(&mut self, to: i64) -> Result<Option<usize>> {
        let Some(dropped) = self
            .db
            .rewind_tus_upload(&self.uid, &self.writer, self.acked, to)
            .await?
        else {
            self.lost();
            return Ok(None);
        };
        self.acked = to;
        for part in &dropped {
            if let Err(e) = self.blobs.delete(&part.key(&self.uid)).await {
                tracing::warn!(uid = %self.uid, error = %e, "could not remove a dropped part");
            }
        }
        Ok(Some(dropped.len()))
    }

    /// The upload is not this writer's any more: stop renewing a claim it lost.
    pub(super) fn lost(&mut self) {
        self.held = false;
        self.heartbeat.abort();
    }

    /// Removes the part blobs that no record names; returns how many.
    async fn remove_unrecorded_parts(&self) -> Result<usize> {
        let recorded: HashSet<String> = self
            .db
            .tus_parts(&self.uid)
            .await?
            .iter()
            .map(|p| p.key(&self.uid))
            .collect();
        let mut removed = 0;
        for key in self.blobs.list(&tus_parts_prefix(&self.uid)).await? {
            if !recorded.contains(&key) {
                self.blobs.delete(&key).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

impl Drop for TusWriter {
    fn drop(&mut self) {
        self.heartbeat.abort();
        if !self.held {
            return;
        }
        // Dropped without letting go (an error on the way): let go in the background,
        // so the next request need not wait out the lease.
        let (db, uid, writer) = (self.db.clone(), self.uid.clone(), self.writer.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = db.release_tus_claim(&uid, &writer).await {
                    tracing::warn!(%uid, error = %e, "could not let go of an upload");
                }
            });
        }
    }
}

/// Renews the claim every [`RENEW_EVERY`] until it is lost or the writer stops it.
async fn heartbeat(db: Db, uid: VideoId, writer: String) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        match db.renew_tus_claim(&uid, &writer, lease_end()).await {
            Ok(true) => {}
            Ok(false) => return,
            // A passing database hiccup: the lease has room for the next try.
            Err(e) => tracing::warn!(%uid, error = %e, "could not renew an upload's claim"),
        }
    }
}
