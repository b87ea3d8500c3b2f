//! The reaper: videos past `scheduledDeletion`, and expired `pendingupload` videos past
//! the grace period, lose their record, jobs and every blob.

use std::time::Duration;

use bytes::Bytes;
use usher_core::time_fmt::now_micros;
use usher_core::{Video, VideoId, VideoState};
use usher_store::layout::tus_parts_prefix;
use usher_store::{
    Claim, Deletion, PENDING_UPLOAD_GRACE, Reaper, TusWriter, VideoEdit, delete_video_and_media,
};

use crate::{Backend, Fixture, account, video};

async fn put_media(f: &Fixture, uid: &VideoId) {
    for key in [
        format!("uploads/{uid}/original"),
        format!("videos/{uid}/g1/video.m3u8"),
    ] {
        let mut w = f.blobs.writer(&key).await.unwrap();
        w.write(Bytes::from_static(b"bytes")).await.unwrap();
        w.finish().await.unwrap();
    }
}

async fn gone(f: &Fixture, uid: &VideoId) -> bool {
    for prefix in usher_store::media_prefixes(uid) {
        if !f.blobs.list(&prefix).await.unwrap().is_empty() {
            return false;
        }
    }
    true
}

const SECOND: i64 = 1_000_000;

async fn reaps_videos_past_their_scheduled_deletion_and_nothing_else(f: &Fixture) {
    let a = account(&f.db).await;
    let now = now_micros();
    let due = video(&f.db, &a, 1, "due").await;
    let later = video(&f.db, &a, 2, "later").await;
    let kept = video(&f.db, &a, 3, "kept").await;
    for (uid, at) in [(&due, now - SECOND), (&later, now + 60 * SECOND)] {
        let edit = VideoEdit {
            scheduled_deletion: Some(Some(at)),
            ..VideoEdit::default()
        };
        f.db.edit_video(&a, uid, &edit, now).await.unwrap().unwrap();
    }
    for uid in [&due, &later, &kept] {
        put_media(f, uid).await;
    }
    let epoch = f.db.access_epoch();
    let reaper = Reaper::new(f.db.clone(), f.blobs.clone());
    assert_eq!(reaper.run_once(now).await.unwrap(), 1);
    assert!(f.db.video(&a, &due).await.unwrap().is_none());
    assert!(f.db.jobs_for_video(&due).await.unwrap().is_empty());
    assert!(gone(f, &due).await);
    assert!(
        f.db.access_epoch() > epoch,
        "edges must drop the video at once"
    );
    for uid in [&later, &kept] {
        assert!(f.db.video(&a, uid).await.unwrap().is_some());
        assert!(!gone(f, uid).await);
    }
    assert_eq!(
        reaper.run_once(now).await.unwrap(),
        0,
        "nothing more is due"
    );
    assert_eq!(reaper.run_once(now + 61 * SECOND).await.unwrap(), 1);
    assert!(f.db.video(&a, &later).await.unwrap().is_none());
}

async fn reaps_expired_pending_uploads_only_after_the_grace_period(f: &Fixture) {
    let a = account(&f.db).await;
    let now = now_micros();
    let uid = VideoId::generate();
    let mut v = Video::new(uid.clone(), a.clone(), VideoState::PendingUpload, now);
    v.upload_expiry = Some(now);
    // A resumable upload abandoned with a part staged in the store.
    f.db.insert_tus_upload(&v, 100, "", None, now)
        .await
        .unwrap();
    let Claim::Held(mut w) = TusWriter::claim(&f.db, &f.blobs, &uid, 0, Duration::ZERO)
        .await
        .unwrap()
    else {
        panic!("an idle upload is claimed");
    };
    assert!(w.write(Bytes::from_static(b"first bytes")).await.unwrap());
    assert!(w.checkpoint().await.unwrap());
    w.release().await.unwrap();
    assert_eq!(
        f.blobs.list(&tus_parts_prefix(&uid)).await.unwrap().len(),
        1
    );
    let grace = i64::try_from(PENDING_UPLOAD_GRACE.as_micros()).unwrap();
    let reaper = Reaper::new(f.db.clone(), f.blobs.clone());
    assert_eq!(
        reaper.run_once(now + SECOND).await.unwrap(),
        0,
        "still in grace"
    );
    // A video that did arrive keeps its (long past) upload expiry without being reaped.
    let arrived = video(&f.db, &a, now, "arrived").await;
    assert_eq!(reaper.run_once(now + grace + SECOND).await.unwrap(), 1);
    assert!(f.db.video(&a, &uid).await.unwrap().is_none());
    assert!(f.db.tus_upload(&uid).await.unwrap().is_none());
    assert!(f.db.tus_parts(&uid).await.unwrap().is_empty());
    assert!(gone(f, &uid).await, "the staged parts went with it");
    assert!(f.db.video(&a, &arrived).await.unwrap().is_some());
}

async fn the_api_delete_and_the_reaper_share_one_deletion(f: &Fixture) {
    let (a, b) = (account(&f.db).await, account(&f.db).await);
    let uid = video(&f.db, &a, 1, "x").await;
    put_media(f, &uid).await;
    // Another account's delete, or a reaper that finds it not due, removes nothing.
    assert!(
        delete_video_and_media(&f.db, &f.blobs, &uid, Deletion::Owned(&b))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        delete_video_and_media(&f.db, &f.blobs, &uid, Deletion::Due(now_micros()))
            .await
            .unwrap()
            .is_none()
    );
    assert!(!gone(f, &uid).await);
    let deleted = delete_video_and_media(&f.db, &f.blobs, &uid, Deletion::Owned(&a))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.uid, uid);
    assert!(gone(f, &uid).await);
    assert!(f.db.video(&a, &uid).await.unwrap().is_none());
}

/// Locally, what a writer killed mid-write leaves beside the blob (`<key>#<n>`) is swept
/// once old. S3 keeps unfinished multipart uploads out of sight and expires them by its
/// own lifecycle rules, so there the sweep has nothing to do and touches nothing.
async fn partial_writes_of_dead_writers_are_swept_once_old(f: &Fixture) {
    let a = account(&f.db).await;
    let uid = video(&f.db, &a, 1, "x").await;
    put_media(f, &uid).await;
    let Some(root) = &f.root else {
        assert_eq!(f.backend, Backend::PostgresS3);
        let n = f
            .blobs
            .remove_abandoned_staging(std::time::Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(n, 0);
        assert!(!gone(f, &uid).await, "finished blobs are never touched");
        return;
    };
    let dir = root.join("uploads").join(uid.as_str());
    let old = dir.join("original#7");
    let fresh = dir.join("original#8");
    std::fs::write(&old, b"half").unwrap();
    std::fs::write(&fresh, b"half").unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let n = f
        .blobs
        .remove_abandoned_staging(usher_store::ABANDONED_STAGING_AGE)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert!(!old.exists(), "the abandoned partial write is gone");
    assert!(fresh.exists(), "a write that may be live is kept");
    assert!(
        dir.join("original").exists(),
        "finished blobs are never touched"
    );
}

conformance!(
    reaps_videos_past_their_scheduled_deletion_and_nothing_else,
    reaps_expired_pending_uploads_only_after_the_grace_period,
    the_api_delete_and_the_reaper_share_one_deletion,
    partial_writes_of_dead_writers_are_swept_once_old,
);
