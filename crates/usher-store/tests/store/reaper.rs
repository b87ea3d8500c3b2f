//! The reaper: videos past `scheduledDeletion`, and expired `pendingupload` videos past
//! the grace period, lose their record, jobs and every blob.

use bytes::Bytes;
use usher_core::time_fmt::now_micros;
use usher_core::{Video, VideoId, VideoState};
use usher_store::{
    Deletion, PENDING_UPLOAD_GRACE, Reaper, Staging, VideoEdit, delete_video_and_media,
};

use crate::{Fixture, account, fixture, video};

fn staging(f: &Fixture) -> Staging {
    Staging::new(f.root.with_file_name("tus"))
}

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

fn gone(f: &Fixture, uid: &VideoId) -> bool {
    !f.root.join("uploads").join(uid.as_str()).exists()
        && !f.root.join("videos").join(uid.as_str()).exists()
}

const SECOND: i64 = 1_000_000;

#[tokio::test]
async fn reaps_videos_past_their_scheduled_deletion_and_nothing_else() {
    let f = fixture().await;
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
        put_media(&f, uid).await;
    }
    let epoch = f.db.access_epoch();
    let reaper = Reaper::new(f.db.clone(), f.blobs.clone(), staging(&f));
    assert_eq!(reaper.run_once(now).await.unwrap(), 1);
    assert!(f.db.video(&a, &due).await.unwrap().is_none());
    assert!(f.db.jobs_for_video(&due).await.unwrap().is_empty());
    assert!(gone(&f, &due));
    assert!(
        f.db.access_epoch() > epoch,
        "edges must drop the video at once"
    );
    for uid in [&later, &kept] {
        assert!(f.db.video(&a, uid).await.unwrap().is_some());
        assert!(!gone(&f, uid));
    }
    assert_eq!(
        reaper.run_once(now).await.unwrap(),
        0,
        "nothing more is due"
    );
    assert_eq!(reaper.run_once(now + 61 * SECOND).await.unwrap(), 1);
    assert!(f.db.video(&a, &later).await.unwrap().is_none());
}

#[tokio::test]
async fn reaps_expired_pending_uploads_only_after_the_grace_period() {
    let f = fixture().await;
    let a = account(&f.db).await;
    let now = now_micros();
    let uid = VideoId::generate();
    let mut v = Video::new(uid.clone(), a.clone(), VideoState::PendingUpload, now);
    v.upload_expiry = Some(now);
    f.db.insert_video(&v, None).await.unwrap();
    let grace = i64::try_from(PENDING_UPLOAD_GRACE.as_micros()).unwrap();
    let reaper = Reaper::new(f.db.clone(), f.blobs.clone(), staging(&f));
    assert_eq!(
        reaper.run_once(now + SECOND).await.unwrap(),
        0,
        "still in grace"
    );
    // A video that did arrive keeps its (long past) upload expiry without being reaped.
    let arrived = video(&f.db, &a, now, "arrived").await;
    assert_eq!(reaper.run_once(now + grace + SECOND).await.unwrap(), 1);
    assert!(f.db.video(&a, &uid).await.unwrap().is_none());
    assert!(f.db.video(&a, &arrived).await.unwrap().is_some());
}

#[tokio::test]
async fn the_api_delete_and_the_reaper_share_one_deletion() {
    let f = fixture().await;
    let (a, b) = (account(&f.db).await, account(&f.db).await);
    let uid = video(&f.db, &a, 1, "x").await;
    put_media(&f, &uid).await;
    // Another account's delete, or a reaper that finds it not due, removes nothing.
    assert!(
        delete_video_and_media(&f.db, &f.blobs, &staging(&f), &uid, Deletion::Owned(&b))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        delete_video_and_media(
            &f.db,
            &f.blobs,
            &staging(&f),
            &uid,
            Deletion::Due(now_micros())
        )
        .await
        .unwrap()
        .is_none()
    );
    assert!(!gone(&f, &uid));
    let deleted = delete_video_and_media(&f.db, &f.blobs, &staging(&f), &uid, Deletion::Owned(&a))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.uid, uid);
    assert!(gone(&f, &uid));
    assert!(f.db.video(&a, &uid).await.unwrap().is_none());
}

#[tokio::test]
async fn partial_writes_of_dead_writers_are_swept_once_old() {
    let f = fixture().await;
    let a = account(&f.db).await;
    let uid = video(&f.db, &a, 1, "x").await;
    put_media(&f, &uid).await;
    // What a writer killed mid-write leaves beside the blob: `<key>#<n>`.
    let dir = f.root.join("uploads").join(uid.as_str());
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
