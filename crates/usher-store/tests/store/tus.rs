//! Resumable uploads staged in the shared store: one writer at a time holds an upload by
//! a lease that lapses when its process dies; the offset moves by compare-and-set, only
//! for that writer, together with the record of the part that holds the bytes; a
//! refused request is taken back whole; completion joins the parts into the original and
//! is finished by the next claim wherever it was interrupted. Writers on separate
//! handles to the database and store (as on separate machines) see one upload.

use std::time::Duration;

use bytes::Bytes;
use usher_core::time_fmt::now_micros;
use usher_core::{Video, VideoId, VideoState};
use usher_store::layout::{original_key, tus_parts_prefix};
use usher_store::{
    ANY_OFFSET, Blobs, CHECKPOINT_BYTES, Claim, Db, Finished, TusClaim, TusPart, TusUpload,
    TusWriter,
};

use crate::{Fixture, account};

const SECOND: i64 = 1_000_000;
const NOW_ONLY: Duration = Duration::ZERO;

/// A new `pendingupload` video with a resumable upload of `length` bytes.
async fn pending(f: &Fixture, length: i64) -> VideoId {
    let v = Video::new(
        VideoId::generate(),
        account(&f.db).await,
        VideoState::PendingUpload,
        1,
    );
    f.db.insert_tus_upload(&v, length, "", None, i64::MAX)
        .await
        .unwrap();
    v.uid
}

async fn upload(db: &Db, uid: &VideoId) -> TusUpload {
    db.tus_upload(uid).await.unwrap().unwrap()
}

fn part(start: i64, end: i64, writer: &str) -> TusPart {
    TusPart {
        start,
        end,
        writer: writer.into(),
    }
}

async fn held(db: &Db, blobs: &Blobs, uid: &VideoId, offset: i64) -> TusWriter {
    match TusWriter::claim(db, blobs, uid, offset, NOW_ONLY)
        .await
        .unwrap()
    {
        Claim::Held(w) => w,
        Claim::Busy => panic!("busy at {offset}"),
        Claim::Refused => panic!("refused at {offset}"),
    }
}

/// Sends `data` as a request body arrives, in 64 KiB chunks.
async fn send(w: &mut TusWriter, data: &[u8]) {
    for chunk in data.chunks(64 * 1024) {
        assert!(w.write(Bytes::copy_from_slice(chunk)).await.unwrap());
    }
}

/// Bytes that differ everywhere, so a part out of order or twice would show.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn stored_original(f: &Fixture, uid: &VideoId, len: usize) -> Vec<u8> {
    f.blobs
        .get_bytes(&original_key(uid), len as u64)
        .await
        .unwrap()
        .unwrap()
        .to_vec()
}

async fn staged(f: &Fixture, uid: &VideoId) -> Vec<String> {
    f.blobs.list(&tus_parts_prefix(uid)).await.unwrap()
}

async fn claims_admit_one_writer_at_a_time(f: &Fixture) {
    let uid = pending(f, 100).await;
    let db = &f.db;
    let now = now_micros();
    let until = now + 60 * SECOND;
    let free = TusClaim::Claimed { took_over: false };
    assert_eq!(
        db.claim_tus_upload(&uid, 0, "w1", now, until)
            .await
            .unwrap(),
        free
    );
    for offset in [0, ANY_OFFSET] {
        assert_eq!(
            db.claim_tus_upload(&uid, offset, "w2", now, until)
                .await
                .unwrap(),
            TusClaim::Busy
        );
    }
    assert_eq!(
        db.claim_tus_upload(&uid, 5, "w2", now, until)
            .await
            .unwrap(),
        TusClaim::Refused,
        "not at that offset"
    );
    assert!(db.renew_tus_claim(&uid, "w1", until).await.unwrap());
    assert!(!db.renew_tus_claim(&uid, "w2", until).await.unwrap());

    // Once its lease has lapsed (the holder died), the next claim takes over and says so;
    // the old holder can no longer renew.
    assert_eq!(
        db.claim_tus_upload(&uid, 0, "w2", until, until + SECOND)
            .await
            .unwrap(),
        TusClaim::Claimed { took_over: true }
    );
    assert!(!db.renew_tus_claim(&uid, "w1", until).await.unwrap());
    // Only the holder lets go.
    db.release_tus_claim(&uid, "w1").await.unwrap();
    assert_eq!(
        db.claim_tus_upload(&uid, 0, "w3", now, until)
            .await
            .unwrap(),
        TusClaim::Busy
    );
    db.release_tus_claim(&uid, "w2").await.unwrap();

    // Of two claiming at once, exactly one holds it.
    for round in 0..5 {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        let (x, y) = tokio::join!(
            db.claim_tus_upload(&uid, 0, &a, now, until),
            db.claim_tus_upload(&uid, 0, &b, now, until),
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert!(
            (x == free) ^ (y == free),
            "exactly one of two racing claims wins: {x:?} {y:?}"
        );
        let winner = if x == free { a } else { b };
        db.release_tus_claim(&uid, &winner).await.unwrap();
    }

    // A complete upload is nobody's to claim.
    assert_eq!(
        db.claim_tus_upload(&uid, 0, "w4", now, until)
            .await
            .unwrap(),
        free
    );
    assert!(
        db.record_tus_part(&uid, &part(0, 100, "w4"), until)
            .await
            .unwrap()
    );
    assert!(db.complete_tus_upload(&uid, "w4", 100, now).await.unwrap());
    for offset in [100, ANY_OFFSET] {
        assert_eq!(
            db.claim_tus_upload(&uid, offset, "w5", now, until)
                .await
                .unwrap(),
            TusClaim::Refused
        );
    }
}

/// The acknowledged offset moves only from where the part starts, only for the writer
/// holding the upload, and with the part's record: of two racing from one offset,
/// exactly one moves it, and the records tile the upload.
async fn offsets_move_by_compare_and_set_with_their_parts(f: &Fixture) {
    let uid = pending(f, 100).await;
    let db = &f.db;
    let until = now_micros() + 60 * SECOND;
    db.claim_tus_upload(&uid, 0, "w1", 0, until).await.unwrap();
    assert!(
        db.record_tus_part(&uid, &part(0, 10, "w1"), until)
            .await
            .unwrap()
    );
    assert!(
        !db.record_tus_part(&uid, &part(0, 20, "w1"), until)
            .await
            .unwrap(),
        "stale start"
    );
    assert!(
        !db.record_tus_part(&uid, &part(10, 20, "w2"), until)
            .await
            .unwrap(),
        "not the holder"
    );
    assert!(
        db.record_tus_part(&uid, &part(10, 20, "w1"), until)
            .await
            .unwrap()
    );
    for _ in 0..5 {
        let from = upload(db, &uid).await.received;
        let (five, seven) = (part(from, from + 5, "w1"), part(from, from + 7, "w1"));
        let (x, y) = tokio::join!(
            db.record_tus_part(&uid, &five, until),
            db.record_tus_part(&uid, &seven, until),
        );
        assert!(
            x.unwrap() ^ y.unwrap(),
            "exactly one of two racing writes moves the offset"
        );
    }
    let received = upload(db, &uid).await.received;
    let parts = db.tus_parts(&uid).await.unwrap();
    assert_eq!(parts.len(), 7);
    assert_eq!(parts[0].start, 0);
    assert!(
        parts.windows(2).all(|w| w[0].end == w[1].start),
        "{parts:?}"
    );
    assert_eq!(parts.last().unwrap().end, received);

    // Taking back: only the holder, only from where it stands.
    assert_eq!(
        db.rewind_tus_upload(&uid, "w2", received, 10)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        db.rewind_tus_upload(&uid, "w1", received + 1, 10)
            .await
            .unwrap(),
        None
    );
    let dropped = db
        .rewind_tus_upload(&uid, "w1", received, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dropped, parts[1..].to_vec());
    assert_eq!(upload(db, &uid).await.received, 10);
    assert_eq!(db.tus_parts(&uid).await.unwrap(), parts[..1].to_vec());

    assert!(
        db.record_tus_part(&uid, &part(10, 100, "w1"), until)
            .await
            .unwrap()
    );
    assert!(
        !db.complete_tus_upload(&uid, "w2", 100, 2).await.unwrap(),
        "only the holder completes"
    );
    assert!(db.complete_tus_upload(&uid, "w1", 100, 2).await.unwrap());
    assert!(db.tus_parts(&uid).await.unwrap().is_empty());
    assert!(
        !db.record_tus_part(&uid, &part(100, 101, "w1"), until)
            .await
            .unwrap(),
        "a complete upload takes no more"
    );
}

/// Two requests on two "machines" (separate handles to the database and the store):
/// the first stages a checkpoint's worth and a tail, the second resumes and completes.
/// While one holds the upload the other is turned away.
async fn writers_anywhere_stage_parts_and_complete_the_upload(f: &Fixture) {
    let data = pattern(2 * CHECKPOINT_BYTES + 12_345);
    let uid = pending(f, data.len() as i64).await;
    let (db2, blobs2) = (
        Db::connect(&f.db_url).await.unwrap(),
        Blobs::open(&f.media_url).unwrap(),
    );

    let mut first = held(&f.db, &f.blobs, &uid, 0).await;
    assert!(matches!(
        TusWriter::claim(&db2, &blobs2, &uid, 0, NOW_ONLY)
            .await
            .unwrap(),
        Claim::Busy
    ));
    let cut = CHECKPOINT_BYTES + 1000;
    send(&mut first, &data[..cut]).await;
    // A checkpoint's worth is stored and acknowledged as it arrives; the rest at the end.
    assert_eq!(first.acknowledged(), CHECKPOINT_BYTES as i64);
    assert_eq!(upload(&f.db, &uid).await.received, CHECKPOINT_BYTES as i64);
    assert!(first.checkpoint().await.unwrap());
    first.release().await.unwrap();
    assert_eq!(upload(&db2, &uid).await.received, cut as i64);
    assert_eq!(staged(f, &uid).await.len(), 2);

    let mut second = held(&db2, &blobs2, &uid, cut as i64).await;
    assert!(matches!(
        TusWriter::claim(&f.db, &f.blobs, &uid, cut as i64, NOW_ONLY)
            .await
            .unwrap(),
        Claim::Busy
    ));
    send(&mut second, &data[cut..]).await;
    let claimed = upload(&db2, &uid).await;
    let Finished::Done(done) = second.complete(&claimed).await.unwrap() else {
        panic!("not completed");
    };
    assert!(done.done && done.received == data.len() as i64);
    assert!(
        stored_original(f, &uid, data.len()).await == data,
        "original differs"
    );
    assert!(staged(f, &uid).await.is_empty(), "parts removed");
    assert!(f.db.tus_parts(&uid).await.unwrap().is_empty());
    let v = f.db.video_by_uid(&uid).await.unwrap().unwrap();
    assert_eq!(v.state, VideoState::Queued);
    assert_eq!(v.size, data.len() as i64);
    assert!(matches!(
        TusWriter::claim(&f.db, &f.blobs, &uid, ANY_OFFSET, NOW_ONLY)
            .await
            .unwrap(),
        Claim::Refused
    ));
    db2.close().await;
}

/// A request refused mid-body (it overflowed the upload) is undone whole: the parts it
/// recorded go, from the record and from the store, and the offset is back where it
/// began.
async fn a_refused_request_is_taken_back_whole(f: &Fixture) {
    let data = pattern(CHECKPOINT_BYTES + 100);
    let uid = pending(f, (2 * CHECKPOINT_BYTES) as i64).await;
    let mut first = held(&f.db, &f.blobs, &uid, 0).await;
    send(&mut first, &data[..50]).await;
    assert!(first.checkpoint().await.unwrap());
    first.release().await.unwrap();

    let mut w = held(&f.db, &f.blobs, &uid, 50).await;
    send(&mut w, &data[50..]).await;
    assert!(w.acknowledged() > 50, "a checkpoint was recorded");
    assert!(w.discard().await.unwrap());
    assert_eq!(upload(&f.db, &uid).await.received, 50);
    let parts = f.db.tus_parts(&uid).await.unwrap();
    let spans: Vec<_> = parts.iter().map(|p| (p.start, p.end)).collect();
    assert_eq!(spans, vec![(0, 50)]);
    assert_eq!(staged(f, &uid).await.len(), 1);
    // Let go: the next request is served at once.
    held(&f.db, &f.blobs, &uid, 50)
        .await
        .release()
        .await
        .unwrap();
}

/// A writer that died (its lease lapsed) after storing a part it never recorded: the
/// next claim takes over, removes that part, and resumes from the acknowledged offset.
async fn a_dead_writers_claim_lapses_and_its_unrecorded_part_is_removed(f: &Fixture) {
    let data = pattern(100);
    let uid = pending(f, 100).await;
    let now = now_micros();
    f.db.claim_tus_upload(&uid, 0, "dead", now, now + 60 * SECOND)
        .await
        .unwrap();
    let recorded = part(0, 40, "dead");
    f.blobs
        .put_durably(
            &recorded.key(&uid),
            vec![Bytes::copy_from_slice(&data[..40])],
        )
        .await
        .unwrap();
    // Recorded with a lease that has run out by the next claim.
    assert!(f.db.record_tus_part(&uid, &recorded, now).await.unwrap());
    let stray = part(40, 70, "dead");
    f.blobs
        .put_durably(
            &stray.key(&uid),
            vec![Bytes::from_static(b"never acknowledged")],
        )
        .await
        .unwrap();
    assert_eq!(staged(f, &uid).await.len(), 2);

    let mut w = held(&f.db, &f.blobs, &uid, 40).await;
    assert_eq!(w.acknowledged(), 40);
    assert_eq!(staged(f, &uid).await, vec![recorded.key(&uid)]);
    send(&mut w, &data[40..]).await;
    let claimed = upload(&f.db, &uid).await;
    assert!(matches!(
        w.complete(&claimed).await.unwrap(),
        Finished::Done(_)
    ));
    assert!(stored_original(f, &uid, 100).await == data);
}

/// Completion interrupted after every byte was recorded, and again after the original
/// was assembled and the parts removed but before the commit: each time the next claim
/// finishes it (without the parts, in the second case).
async fn an_interrupted_completion_is_finished_by_the_next_claim(f: &Fixture) {
    let data = pattern(30);
    for assembled in [false, true] {
        let uid = pending(f, 30).await;
        let mut w = held(&f.db, &f.blobs, &uid, 0).await;
        for piece in data.chunks(10) {
            send(&mut w, piece).await;
            assert!(w.checkpoint().await.unwrap());
        }
        // The process died here (it never completed).
        drop(w);
        if assembled {
            let parts = f.db.tus_parts(&uid).await.unwrap();
            let sources: Vec<_> = parts.iter().map(|p| (p.key(&uid), 10)).collect();
            f.blobs.concat(&sources, &original_key(&uid)).await.unwrap();
            f.blobs
                .delete_prefix(&tus_parts_prefix(&uid))
                .await
                .unwrap();
        }
        let stalled = upload(&f.db, &uid).await;
        assert!(!stalled.done && stalled.received == 30);
        // The dropped writer let go in the background; wait for that, as a request would.
        let next = match TusWriter::claim(&f.db, &f.blobs, &uid, 30, Duration::from_secs(5))
            .await
            .unwrap()
        {
            Claim::Held(w) => w,
            Claim::Busy => panic!("the finished upload is claimed: busy (assembled: {assembled})"),
            Claim::Refused => {
                panic!("the finished upload is claimed: refused (assembled: {assembled})")
            }
        };
        let Finished::Done(done) = next.complete(&stalled).await.unwrap() else {
            panic!("not finished (assembled: {assembled})");
        };
        assert!(done.done);
        assert!(stored_original(f, &uid, 30).await == data);
        assert!(staged(f, &uid).await.is_empty());
    }
}

/// A recorded part missing from the store (removed by hand): completing sends the upload
/// back to where that part began, so the client resends from there; nothing half-joined
/// appears.
async fn a_lost_part_sends_the_upload_back_to_it(f: &Fixture) {
    let data = pattern(30);
    let uid = pending(f, 30).await;
    let mut w = held(&f.db, &f.blobs, &uid, 0).await;
    for piece in data.chunks(10) {
        send(&mut w, piece).await;
        assert!(w.checkpoint().await.unwrap());
    }
    let lost = f.db.tus_parts(&uid).await.unwrap()[1].clone();
    f.blobs.delete(&lost.key(&uid)).await.unwrap();
    let claimed = upload(&f.db, &uid).await;
    assert_eq!(w.complete(&claimed).await.unwrap(), Finished::Resume(10));
    assert_eq!(upload(&f.db, &uid).await.received, 10);
    assert_eq!(f.db.tus_parts(&uid).await.unwrap().len(), 1);
    assert_eq!(staged(f, &uid).await.len(), 1);
    assert!(!f.blobs.exists(&original_key(&uid)).await.unwrap());
    // The resend completes it.
    let mut again = held(&f.db, &f.blobs, &uid, 10).await;
    send(&mut again, &data[10..]).await;
    let claimed = upload(&f.db, &uid).await;
    assert!(matches!(
        again.complete(&claimed).await.unwrap(),
        Finished::Done(_)
    ));
    assert!(stored_original(f, &uid, 30).await == data);
}

conformance!(
    claims_admit_one_writer_at_a_time,
    offsets_move_by_compare_and_set_with_their_parts,
    writers_anywhere_stage_parts_and_complete_the_upload,
    a_refused_request_is_taken_back_whole,
    a_dead_writers_claim_lapses_and_its_unrecorded_part_is_removed,
    an_interrupted_completion_is_finished_by_the_next_claim,
    a_lost_part_sends_the_upload_back_to_it,
);
