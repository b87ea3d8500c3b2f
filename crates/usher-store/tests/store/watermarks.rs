//! Watermark profiles, the copy of a profile's image a video keeps, clips and storage
//! usage: the rules the API relies on, on both backends.

use bytes::Bytes;
use usher_core::time_fmt::now_micros;
use usher_core::{
    AccountId, ClipSpan, Video, VideoId, VideoState, Watermark, WatermarkId, WatermarkPosition,
};
use usher_store::layout::{video_watermark_key, watermark_key};
use usher_store::{MAX_WATERMARKS, PACKAGE_JOB, StoreError};

use crate::{Fixture, account, video};

fn profile(account: &AccountId, name: &str, created: i64) -> Watermark {
    Watermark {
        uid: WatermarkId::generate(),
        account_id: account.clone(),
        name: name.into(),
        size: 1234,
        width: 48,
        height: 16,
        opacity: 0.5,
        padding: 0.1,
        scale: 0.25,
        position: WatermarkPosition::LowerLeft,
        downloaded_from: Some("https://example.com/logo.png".into()),
        created,
    }
}

async fn profiles_round_trip_and_stay_in_their_account(f: &Fixture) {
    let (a, b) = (account(&f.db).await, account(&f.db).await);
    let first = profile(&a, "first", 10);
    let mut second = profile(&a, "second", 20);
    second.downloaded_from = None;
    second.position = WatermarkPosition::Center;
    // Inserted newest first; listed oldest first.
    f.db.insert_watermark(&second).await.unwrap();
    f.db.insert_watermark(&first).await.unwrap();
    let theirs = profile(&b, "b's", 5);
    f.db.insert_watermark(&theirs).await.unwrap();

    assert_eq!(
        f.db.watermark(&a, &first.uid).await.unwrap().as_ref(),
        Some(&first)
    );
    assert_eq!(
        f.db.watermark(&a, &second.uid).await.unwrap().as_ref(),
        Some(&second)
    );
    assert_eq!(
        f.db.list_watermarks(&a).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(
        f.db.list_watermarks(&b).await.unwrap(),
        vec![theirs.clone()]
    );
    // Another account's profile does not exist for B, for reading or deleting.
    assert!(f.db.watermark(&b, &first.uid).await.unwrap().is_none());
    assert!(
        f.db.delete_watermark(&b, &first.uid)
            .await
            .unwrap()
            .is_none()
    );
    assert!(f.db.watermark(&a, &first.uid).await.unwrap().is_some());
    // Deleted once, by its owner.
    assert_eq!(
        f.db.delete_watermark(&a, &first.uid).await.unwrap(),
        Some(first.clone())
    );
    assert!(
        f.db.delete_watermark(&a, &first.uid)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(f.db.list_watermarks(&a).await.unwrap(), vec![second]);
    assert_eq!(f.db.list_watermarks(&b).await.unwrap(), vec![theirs]);
}

async fn the_profile_limit_is_per_account(f: &Fixture) {
    let (a, b) = (account(&f.db).await, account(&f.db).await);
    for i in 0..MAX_WATERMARKS {
        f.db.insert_watermark(&profile(&a, "p", i as i64))
            .await
            .unwrap();
    }
    let over = profile(&a, "one too many", 0);
    assert!(matches!(
        f.db.insert_watermark(&over).await,
        Err(StoreError::LimitReached("watermark profiles"))
    ));
    assert!(f.db.watermark(&a, &over.uid).await.unwrap().is_none());
    f.db.insert_watermark(&profile(&b, "b", 0)).await.unwrap();
    // Deleting one frees its slot.
    let gone = f.db.list_watermarks(&a).await.unwrap()[0].uid.clone();
    f.db.delete_watermark(&a, &gone).await.unwrap().unwrap();
    f.db.insert_watermark(&over).await.unwrap();
}

async fn a_video_keeps_its_snapshot_and_image_after_the_profile_goes(f: &Fixture) {
    let a = account(&f.db).await;
    let wm = profile(&a, "logo", 1);
    let image = Bytes::from_static(b"\x89PNG not really, but bytes are bytes");
    f.blobs
        .put_bytes(&watermark_key(&a, &wm.uid), image.clone())
        .await
        .unwrap();
    f.db.insert_watermark(&wm).await.unwrap();

    let uid = VideoId::generate();
    f.blobs
        .copy(&watermark_key(&a, &wm.uid), &video_watermark_key(&uid))
        .await
        .unwrap();
    let mut v = Video::new(uid.clone(), a.clone(), VideoState::Queued, now_micros());
    v.watermark = Some(wm.clone());
    f.db.insert_video(&v, Some(usher_store::NewJob { kind: PACKAGE_JOB }))
        .await
        .unwrap();

    // The profile and its image go; the video's copy of both stays.
    f.db.delete_watermark(&a, &wm.uid).await.unwrap().unwrap();
    f.blobs.delete(&watermark_key(&a, &wm.uid)).await.unwrap();
    // Deleting what is gone is no error.
    f.blobs.delete(&watermark_key(&a, &wm.uid)).await.unwrap();
    assert!(!f.blobs.exists(&watermark_key(&a, &wm.uid)).await.unwrap());
    assert_eq!(
        f.db.video(&a, &uid).await.unwrap().unwrap().watermark,
        Some(wm)
    );
    assert_eq!(
        f.blobs
            .get_bytes(&video_watermark_key(&uid), 1 << 20)
            .await
            .unwrap(),
        Some(image.clone())
    );
    // Copying over an existing blob replaces it; a missing source is NotFound.
    let other = Bytes::from_static(b"another image");
    f.blobs
        .put_bytes("watermarks/x/y", other.clone())
        .await
        .unwrap();
    f.blobs
        .copy("watermarks/x/y", &video_watermark_key(&uid))
        .await
        .unwrap();
    assert_eq!(
        f.blobs
            .get_bytes(&video_watermark_key(&uid), 1 << 20)
            .await
            .unwrap(),
        Some(other)
    );
    let missing = f
        .blobs
        .copy("watermarks/x/none", "uploads/z/watermark")
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    // Deleting the video deletes its copy: it lies under the video's media prefixes.
    usher_store::delete_video_and_media(&f.db, &f.blobs, &uid, usher_store::Deletion::Owned(&a))
        .await
        .unwrap()
        .unwrap();
    assert!(!f.blobs.exists(&video_watermark_key(&uid)).await.unwrap());
}

/// Moves a queued video to `ready` with a known duration, as a worker would.
async fn make_ready(f: &Fixture, uid: &VideoId, duration: f64) {
    assert!(
        f.db.transition(uid, &[VideoState::Queued], VideoState::InProgress, 2)
            .await
            .unwrap()
    );
    // A NULL float first, then a value, through the same SQL: on PostgreSQL the NULL
    // must not prepare the statement with a `float4` parameter (see nullable.rs).
    for duration in [None, Some(duration)] {
        f.db.set_probed(
            uid,
            &usher_store::ProcessingUpdate {
                duration,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    assert!(f.db.mark_ready(uid, "g1", None, 3).await.unwrap().is_some());
}

fn clip_of(source: &VideoId, account: &AccountId, span: ClipSpan) -> Video {
    let mut v = Video::new(
        VideoId::generate(),
        account.clone(),
        VideoState::Queued,
        now_micros(),
    );
    v.clipped_from = Some(source.clone());
    v.clip = Some(span);
    v
}

async fn a_clip_is_inserted_only_from_a_ready_source_of_its_account(f: &Fixture) {
    let (a, b) = (account(&f.db).await, account(&f.db).await);
    let source = video(&f.db, &a, 1, "source").await;
    let span = ClipSpan {
        start: 1.5,
        end: 3.25,
    };
    // Not ready yet: refused, nothing inserted.
    let early = clip_of(&source, &a, span);
    assert!(!f.db.insert_clip(&early).await.unwrap());
    assert!(f.db.video(&a, &early.uid).await.unwrap().is_none());
    make_ready(f, &source, 10.0).await;
    // Another account cannot clip it.
    let stolen = clip_of(&source, &b, span);
    assert!(!f.db.insert_clip(&stolen).await.unwrap());
    assert!(f.db.video_by_uid(&stolen.uid).await.unwrap().is_none());
    // The owner can; the clip and its package job arrive together.
    let clip = clip_of(&source, &a, span);
    assert!(f.db.insert_clip(&clip).await.unwrap());
    let stored = f.db.video(&a, &clip.uid).await.unwrap().unwrap();
    assert_eq!(stored.clipped_from.as_ref(), Some(&source));
    assert_eq!(stored.clip, Some(span));
    assert_eq!(stored.state, VideoState::Queued);
    let jobs = f.db.jobs_for_video(&clip.uid).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, PACKAGE_JOB);
    // A deleted source takes no more clips.
    f.db.delete_video(&a, &source).await.unwrap().unwrap();
    let late = clip_of(&source, &a, span);
    assert!(!f.db.insert_clip(&late).await.unwrap());
    assert!(f.db.video(&a, &late.uid).await.unwrap().is_none());
}

async fn storage_usage_counts_stored_videos_by_account_and_creator(f: &Fixture) {
    let (a, b) = (account(&f.db).await, account(&f.db).await);
    // Nothing yet: zero, as a float.
    let none = f.db.storage_usage(&a, None).await.unwrap();
    assert_eq!((none.video_count, none.total_seconds), (0, 0.0));

    let with_creator = |creator: Option<&'static str>, state: VideoState| {
        let (db, a) = (f.db.clone(), a.clone());
        async move {
            let mut v = Video::new(VideoId::generate(), a, state, now_micros());
            v.creator = creator.map(Into::into);
            db.insert_video(&v, None).await.unwrap();
            v.uid
        }
    };
    let r1 = with_creator(Some("alice"), VideoState::Queued).await;
    make_ready(f, &r1, 90.0).await;
    let r2 = with_creator(Some("bob"), VideoState::Queued).await;
    make_ready(f, &r2, 30.5).await;
    // Queued and not probed yet: counted, with no minutes.
    with_creator(Some("alice"), VideoState::Queued).await;
    // Nothing stored or kept: not counted.
    with_creator(Some("alice"), VideoState::PendingUpload).await;
    with_creator(Some("alice"), VideoState::Downloading).await;
    let failed = with_creator(Some("alice"), VideoState::Queued).await;
    f.db.set_probed(
        &failed,
        &usher_store::ProcessingUpdate {
            duration: Some(600.0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    f.db.mark_error(&failed, usher_core::ErrorReason::Unknown, 5)
        .await
        .unwrap();
    // Another account's video.
    let theirs = video(&f.db, &b, 1, "b").await;
    make_ready(f, &theirs, 1000.0).await;

    let all = f.db.storage_usage(&a, None).await.unwrap();
    assert_eq!(all.video_count, 3);
    assert!((all.total_seconds - 120.5).abs() < 1e-9, "{all:?}");
    let alice = f.db.storage_usage(&a, Some("alice")).await.unwrap();
    assert_eq!(alice.video_count, 2);
    assert!((alice.total_seconds - 90.0).abs() < 1e-9, "{alice:?}");
    let nobody = f.db.storage_usage(&a, Some("nobody")).await.unwrap();
    assert_eq!((nobody.video_count, nobody.total_seconds), (0, 0.0));
    let theirs = f.db.storage_usage(&b, None).await.unwrap();
    assert_eq!(theirs.video_count, 1);
    assert!((theirs.total_seconds - 1000.0).abs() < 1e-9);
}

conformance!(
    profiles_round_trip_and_stay_in_their_account,
    the_profile_limit_is_per_account,
    a_video_keeps_its_snapshot_and_image_after_the_profile_goes,
    a_clip_is_inserted_only_from_a_ready_source_of_its_account,
    storage_usage_counts_stored_videos_by_account_and_creator,
);
