//! Completing an upload whose every byte is recorded: the parts are concatenated, in
//! order, into the original; the parts are removed; the upload is marked complete and
//! the video queued in one transaction. Each step can be interrupted (`kill -9`) and is
//! finished by whichever request next claims the upload: an original already in place
//! at its full length is not assembled again.

use usher_core::time_fmt::now_micros;

use super::{TusPart, TusUpload, TusWriter};
use crate::blobs::Concat;
use crate::error::{Result, StoreError};
use crate::layout::{original_key, tus_parts_prefix};

/// How completing an upload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Complete and queued: the upload as it now stands.
    Done(TusUpload),
    /// A recorded part was missing from the store (removed by hand?): the upload went
    /// back to where that part began, and the client resends the rest from there.
    Resume(i64),
    /// It was not this request's to finish any more: deleted, or taken over by another
    /// request after this one's lease lapsed.
    Lost,
}

impl TusWriter {
    /// Records what is gathered, then completes the upload (see the module). `upload`
    /// is the upload as claimed; every byte of its length must be in.
    pub async fn complete(mut self, upload: &TusUpload) -> Result<Finished> {
        if !self.checkpoint().await? {
            return Ok(Finished::Lost);
        }
        if self.acked != upload.length {
            return Err(StoreError::Corrupt(format!(
                "completing upload {} at {} of {} bytes",
                self.uid, self.acked, upload.length
            )));
        }
        let key = original_key(&self.uid);
        let length = u64::try_from(upload.length).unwrap_or(0);
        let assembled = self
            .blobs
            .head(&key)
            .await?
            .is_some_and(|m| m.size == length);
        if !assembled {
            let parts = self.db.tus_parts(&self.uid).await?;
            if let Some(gap) = first_gap(&parts, upload.length) {
                tracing::warn!(uid = %self.uid, gap, "recorded parts do not cover the upload");
                return self.resume_from(gap).await;
            }
            let sources: Vec<(String, u64)> = parts
                .iter()
                .map(|p| (p.key(&self.uid), u64::try_from(p.len()).unwrap_or(0)))
                .collect();
            if let Concat::BadPart(i) = self.blobs.concat(&sources, &key).await? {
                let at = parts.get(i).map_or(0, |p| p.start);
                tracing::warn!(uid = %self.uid, at, "a staged part is missing or damaged");
                return self.resume_from(at).await;
            }
        }
        // The parts go before the commit: with the original in place they are no longer
        // needed, and a crash between the two leaves what the next claim finishes.
        self.blobs
            .delete_prefix(&tus_parts_prefix(&self.uid))
            .await?;
        if self
            .db
            .complete_tus_upload(&self.uid, &self.writer, upload.length, now_micros())
            .await?
        {
            self.lost(); // nothing to let go of: completing cleared the claim
            tracing::info!(uid = %self.uid, bytes = upload.length, "resumable upload complete");
            return Ok(Finished::Done(TusUpload {
                received: upload.length,
                done: true,
                ..upload.clone()
            }));
        }
        self.lost();
        match self.db.tus_upload(&self.uid).await? {
            Some(u) if u.done => Ok(Finished::Done(u)),
            Some(_) => Ok(Finished::Lost),
            None => {
                // The video was deleted meanwhile: its bytes must not stay behind.
                self.blobs.delete(&key).await?;
                Ok(Finished::Lost)
            }
        }
    }

    async fn resume_from(mut self, at: i64) -> Result<Finished> {
        if self.rewind(at).await?.is_none() {
            return Ok(Finished::Lost);
        }
        self.release().await?;
        Ok(Finished::Resume(at))
    }
}

/// Where the recorded parts stop tiling `[0, length)`, if they do not.
fn first_gap(parts: &[TusPart], length: i64) -> Option<i64> {
    let mut at = 0;
    for p in parts {
        if p.start != at || p.is_empty() {
            return Some(at);
        }
        at = p.end;
    }
    match at.cmp(&length) {
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Less => Some(at),
        // Past the end cannot be recorded; if it were, nothing of it could be trusted.
        std::cmp::Ordering::Greater => Some(0),
    }
}

#[cfg(test)]
mod tests {
    use super::{TusPart, first_gap};

    fn parts(spans: &[(i64, i64)]) -> Vec<TusPart> {
        spans
            .iter()
            .map(|&(start, end)| TusPart {
                start,
                end,
                writer: "w".into(),
            })
            .collect()
    }

    #[test]
    fn parts_must_tile_the_upload_from_zero_to_its_length() {
        assert_eq!(first_gap(&parts(&[(0, 5), (5, 9), (9, 10)]), 10), None);
        assert_eq!(first_gap(&parts(&[(0, 10)]), 10), None);
        assert_eq!(first_gap(&parts(&[]), 10), Some(0));
        assert_eq!(first_gap(&parts(&[(0, 5), (6, 10)]), 10), Some(5));
        assert_eq!(first_gap(&parts(&[(1, 10)]), 10), Some(0));
        assert_eq!(first_gap(&parts(&[(0, 5), (5, 8)]), 10), Some(8));
        assert_eq!(first_gap(&parts(&[(0, 5), (5, 5), (5, 10)]), 10), Some(5));
        assert_eq!(first_gap(&parts(&[(0, 12)]), 10), Some(0));
    }
}
