//! Store conformance: the metadata database and blob store behave as the API, edge and
//! workers rely on. Every test runs on SQLite + local files (the embedded defaults) and
//! on PostgreSQL + S3 (the scaled-out backends, started by scripts/test-services).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use usher_core::time_fmt::now_micros;
use usher_core::{ErrorReason, Video, VideoId, VideoState};
use usher_store::{COPY_JOB, Db, JobState, PACKAGE_JOB, StoreError, VideoEdit, VideoFilter};

#[macro_use]
mod support;

mod blobs;
mod captions;
mod live_inputs;
mod live_runs;
mod races;
mod reaper;
mod secrets;
mod tracks;
mod tus;
mod view_stats;
mod watermarks;
mod webhooks;

pub(crate) use support::{Backend, Fixture, account, key, video};

async fn migrations_are_idempotent_across_processes(f: &Fixture) {
    let (a, b) = tokio::join!(Db::connect(&f.db_url), Db::connect(&f.db_url));
    a.unwrap().close().await;
    b.unwrap().close().await;
}

async fn key_limit_and_revocation_are_per_account(f: &Fixture) {
    let a = account(&f.db).await;
    let b = account(&f.db).await;
    let k1 = key(&a);
    f.db.insert_key(&k1, 2).await.unwrap();
    f.db.insert_key(&key(&a), 2).await.unwrap();
    assert!(matches!(
        f.db.insert_key(&key(&a), 2).await,
        Err(StoreError::LimitReached(_))
    ));
    f.db.insert_key(&key(&b), 2).await.unwrap();
    // B cannot revoke A's key; A can, once.
    assert!(!f.db.revoke_user_key(&b, &k1.id, 1).await.unwrap());
    assert!(f.db.revoke_user_key(&a, &k1.id, 1).await.unwrap());
    assert!(!f.db.revoke_user_key(&a, &k1.id, 2).await.unwrap());
    assert_eq!(f.db.user_keys(&a).await.unwrap().len(), 1);
    assert!(f.db.live_key(&a, &k1.id).await.unwrap().is_none());
    assert_eq!(f.db.key(&k1.id).await.unwrap().unwrap().revoked_at, Some(1));
    // A revoked key frees a slot.
    f.db.insert_key(&key(&a), 2).await.unwrap();
}

async fn videos_are_scoped_to_their_account(f: &Fixture) {
    let a = account(&f.db).await;
    let b = account(&f.db).await;
    let uid = video(&f.db, &a, 1, "cat").await;
    assert!(f.db.video(&a, &uid).await.unwrap().is_some());
    assert!(f.db.video(&b, &uid).await.unwrap().is_none());
    let edit = VideoEdit {
        require_signed_urls: Some(true),
        ..Default::default()
    };
    assert!(f.db.edit_video(&b, &uid, &edit, 2).await.unwrap().is_none());
    assert!(f.db.delete_video(&b, &uid).await.unwrap().is_none());
    let page =
        f.db.list_videos(
            &b,
            &VideoFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(page.videos.is_empty());
    assert!(
        !f.db
            .video(&a, &uid)
            .await
            .unwrap()
            .unwrap()
            .require_signed_urls
    );
}

async fn list_filters_order_and_counts(f: &Fixture) {
    let a = account(&f.db).await;
    let old = video(&f.db, &a, 100, "Holiday 100%").await;
    let mid = video(&f.db, &a, 200, "holiday_b").await;
    let new = video(&f.db, &a, 300, "work").await;
    let all = |f2: VideoFilter| {
        let db = f.db.clone();
        let a = a.clone();
        async move {
            db.list_videos(&a, &VideoFilter { limit: 100, ..f2 })
                .await
                .unwrap()
                .videos
                .into_iter()
                .map(|v| v.uid)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        all(VideoFilter::default()).await,
        vec![new.clone(), mid.clone(), old.clone()]
    );
    assert_eq!(
        all(VideoFilter {
            asc: true,
            ..Default::default()
        })
        .await[0],
        old
    );
    assert_eq!(
        all(VideoFilter {
            search: Some("HOLIDAY".into()),
            ..Default::default()
        })
        .await,
        vec![mid.clone(), old.clone()]
    );
    // LIKE wildcards in the search are literal.
    assert_eq!(
        all(VideoFilter {
            search: Some("100%".into()),
            ..Default::default()
        })
        .await,
        vec![old.clone()]
    );
    assert_eq!(
        all(VideoFilter {
            search: Some("y_b".into()),
            ..Default::default()
        })
        .await,
        vec![mid.clone()]
    );
    assert_eq!(
        all(VideoFilter {
            before: Some(300),
            ..Default::default()
        })
        .await,
        vec![mid.clone(), old.clone()]
    );
    assert_eq!(
        all(VideoFilter {
            after: Some(100),
            end: Some(200),
            ..Default::default()
        })
        .await,
        vec![mid.clone()]
    );
    let page =
        f.db.list_videos(
            &a,
            &VideoFilter {
                limit: 1,
                include_counts: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((page.videos.len(), page.total), (1, Some(3)));
    f.db.transition(&new, &[VideoState::Queued], VideoState::InProgress, 5)
        .await
        .unwrap();
    assert_eq!(
        all(VideoFilter {
            state: Some(VideoState::InProgress),
            ..Default::default()
        })
        .await,
        vec![new]
    );
}

async fn lifecycle_guards_hold_in_the_database(f: &Fixture) {
    let a = account(&f.db).await;
    let uid = video(&f.db, &a, 1, "x").await;
    // Not a legal move from queued.
    assert!(
        !f.db
            .transition(&uid, &[VideoState::Queued], VideoState::Ready, 2)
            .await
            .unwrap()
    );
    assert!(
        f.db.mark_ready(&uid, "g1", None, 3)
            .await
            .unwrap()
            .is_none(),
        "ready only from inprogress"
    );
    assert!(
        f.db.transition(&uid, &[VideoState::Queued], VideoState::InProgress, 2)
            .await
            .unwrap()
    );
    assert_eq!(
        f.db.mark_ready(&uid, "g1", None, 3).await.unwrap(),
        Some(None)
    );
    let v = f.db.video(&a, &uid).await.unwrap().unwrap();
    assert_eq!(
        (v.state, v.media_generation.as_deref(), v.pct_complete),
        (VideoState::Ready, Some("g1"), 100.0)
    );
    // A late failure never overrides a published video.
    f.db.mark_error(&uid, ErrorReason::Unknown, 4)
        .await
        .unwrap();
    assert_eq!(
        f.db.video(&a, &uid).await.unwrap().unwrap().state,
        VideoState::Ready
    );
    // The rest of a ladder replaces the published generation, only from the one it
    // was built on, and edges are told to look again.
    let epoch = f.db.access_epoch();
    let masters = usher_store::Masters {
        revision: "000000000000-r2".into(),
        version: 0,
        audio: vec![],
    };
    assert_eq!(
        f.db.replace_generation(&uid, "g0", "g2", Some(&masters), 5)
            .await
            .unwrap(),
        None
    );
    assert_eq!(f.db.access_epoch(), epoch, "nothing changed");
    assert_eq!(
        f.db.replace_generation(&uid, "g1", "g2", Some(&masters), 5)
            .await
            .unwrap(),
        Some(None),
        "switched, from no masters revision"
    );
    assert!(f.db.access_epoch() > epoch);
    let v = f.db.video(&a, &uid).await.unwrap().unwrap();
    assert_eq!(
        (v.state, v.media_generation.as_deref()),
        (VideoState::Ready, Some("g2"))
    );
    let snapshot = f.db.tracks_snapshot(&uid).await.unwrap().unwrap();
    assert_eq!(snapshot.revision.as_deref(), Some("000000000000-r2"));
    assert_eq!(
        f.db.replace_generation(&uid, "g1", "g3", None, 6)
            .await
            .unwrap(),
        None
    );
    let queued = video(&f.db, &a, 7, "y").await;
    assert!(
        f.db.replace_generation(&queued, "g1", "g2", None, 8)
            .await
            .unwrap()
            .is_none(),
        "only a ready video"
    );
}

async fn a_job_is_claimed_by_exactly_one_worker(f: &Fixture) {
    let a = account(&f.db).await;
    for i in 0..5 {
        video(&f.db, &a, i, "x").await;
    }
    let now = now_micros();
    let claims = futures_util::future::join_all((0..10).map(|w| {
        let db = f.db.clone();
        async move {
            db.claim_job(&[PACKAGE_JOB], &format!("w{w}"), 60_000_000, now)
                .await
                .unwrap()
        }
    }))
    .await;
    let mut ids: Vec<_> = claims.into_iter().flatten().map(|j| j.id).collect();
    assert_eq!(ids.len(), 5);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "no job handed out twice");
    assert!(
        f.db.claim_job(&[PACKAGE_JOB], "late", 60_000_000, now)
            .await
            .unwrap()
            .is_none()
    );
}

/// What `/metrics` and `/readyz` ask of the database.
async fn job_counts_follow_the_queue_and_ping_answers(f: &Fixture) {
    f.db.ping().await.unwrap();
    assert!(f.db.job_counts().await.unwrap().is_empty());
    let a = account(&f.db).await;
    for i in 0..3 {
        video(&f.db, &a, i, "x").await;
    }
    let now = now_micros();
    let job =
        f.db.claim_job(&[PACKAGE_JOB], "w", 60_000_000, now)
            .await
            .unwrap()
            .unwrap();
    let counts = f.db.job_counts().await.unwrap();
    assert_eq!(
        counts,
        vec![
            (PACKAGE_JOB.to_owned(), "queued".to_owned(), 2),
            (PACKAGE_JOB.to_owned(), "running".to_owned(), 1),
        ]
    );
    f.db.finish_job(&job.id, "w", now).await.unwrap();
    assert_eq!(
        f.db.job_counts().await.unwrap(),
        vec![(PACKAGE_JOB.to_owned(), "queued".to_owned(), 2)],
        "finished jobs are not counted"
    );
}

async fn an_expired_lease_is_claimed_again_and_the_old_holder_loses_it(f: &Fixture) {
    let a = account(&f.db).await;
    let uid = video(&f.db, &a, 1, "x").await;
    let job =
        f.db.claim_job(&[PACKAGE_JOB], "dead", 1_000, 10)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(job.attempts, 1);
    assert!(
        f.db.claim_job(&[PACKAGE_JOB], "other", 1_000, 500)
            .await
            .unwrap()
            .is_none(),
        "lease still held"
    );
    let again =
        f.db.claim_job(&[PACKAGE_JOB], "other", 1_000, 2_000)
            .await
            .unwrap()
            .unwrap();
    assert_eq!((again.id.as_str(), again.attempts), (job.id.as_str(), 2));
    assert!(!f.db.renew_lease(&job.id, "dead", 10_000).await.unwrap());
    assert!(f.db.renew_lease(&job.id, "other", 10_000).await.unwrap());
    f.db.retry_job(&job.id, "other", "boom", 50_000, 3_000)
        .await
        .unwrap();
    assert!(
        f.db.claim_job(&[PACKAGE_JOB], "w", 1_000, 40_000)
            .await
            .unwrap()
            .is_none(),
        "not due yet"
    );
    let third =
        f.db.claim_job(&[PACKAGE_JOB], "w", 1_000, 50_000)
            .await
            .unwrap()
            .unwrap();
    f.db.fail_job(&third.id, "w", "gave up", 60_000)
        .await
        .unwrap();
    let rec = &f.db.jobs_for_video(&uid).await.unwrap()[0];
    assert_eq!(
        (rec.state, rec.attempts, rec.last_error.as_deref()),
        (JobState::Failed, 3, Some("gave up"))
    );
}

async fn a_dead_workers_lease_can_end_early_and_a_handed_back_job_costs_no_attempt(f: &Fixture) {
    let a = account(&f.db).await;
    video(&f.db, &a, 1, "x").await;
    let job =
        f.db.claim_job(&[PACKAGE_JOB], "gone", 60_000_000, 10)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        f.db.running_jobs().await.unwrap(),
        vec![(job.id.clone(), "gone".to_owned())]
    );
    assert!(!f.db.expire_lease(&job.id, "someone-else").await.unwrap());
    assert!(
        f.db.claim_job(&[PACKAGE_JOB], "w", 60_000_000, 20)
            .await
            .unwrap()
            .is_none()
    );
    assert!(f.db.expire_lease(&job.id, "gone").await.unwrap());
    let again =
        f.db.claim_job(&[PACKAGE_JOB], "w", 60_000_000, 20)
            .await
            .unwrap()
            .unwrap();
    assert_eq!((again.id.as_str(), again.attempts), (job.id.as_str(), 2));

    f.db.hand_back_job(&again.id, "w", 30).await.unwrap();
    let rec = &f.db.jobs_for_video(&again.video_uid).await.unwrap()[0];
    assert_eq!((rec.state, rec.attempts), (JobState::Queued, 1));
    let third =
        f.db.claim_job(&[PACKAGE_JOB], "w2", 60_000_000, 30)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(third.attempts, 2);
}

async fn deleting_a_video_removes_its_jobs(f: &Fixture) {
    let a = account(&f.db).await;
    let uid = video(&f.db, &a, 1, "x").await;
    assert!(f.db.delete_video(&a, &uid).await.unwrap().is_some());
    assert!(f.db.jobs_for_video(&uid).await.unwrap().is_empty());
    assert!(
        f.db.claim_job(&[PACKAGE_JOB], "w", 1_000, now_micros())
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_copy_downloads_then_queues_exactly_one_package_job(f: &Fixture) {
    let a = account(&f.db).await;
    let uid = VideoId::generate();
    let v = Video::new(uid.clone(), a.clone(), VideoState::Downloading, 10);
    f.db.insert_copy(&v, "https://example.com/a.mp4")
        .await
        .unwrap();
    assert_eq!(
        f.db.copy_source(&uid).await.unwrap().as_deref(),
        Some("https://example.com/a.mp4")
    );
    let job =
        f.db.claim_job(&[PACKAGE_JOB, COPY_JOB], "w", 1_000, 20)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(job.kind, COPY_JOB);
    assert!(f.db.complete_copy(&uid, 1234, 30).await.unwrap());
    f.db.finish_job(&job.id, "w", 30).await.unwrap();
    let got = f.db.video_by_uid(&uid).await.unwrap().unwrap();
    assert_eq!((got.state, got.size), (VideoState::Queued, 1234));
    // A second completion (a retried copy racing a finished one) changes nothing.
    assert!(!f.db.complete_copy(&uid, 99, 40).await.unwrap());
    let kinds: Vec<_> =
        f.db.jobs_for_video(&uid)
            .await
            .unwrap()
            .into_iter()
            .map(|j| j.kind)
            .collect();
    assert_eq!(kinds, [COPY_JOB, PACKAGE_JOB]);
    let next =
        f.db.claim_job(&[PACKAGE_JOB, COPY_JOB], "w", 1_000, 50)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(next.kind, PACKAGE_JOB);
}

async fn deleting_a_copied_video_removes_its_source_and_completion_fails(f: &Fixture) {
    let a = account(&f.db).await;
    let uid = VideoId::generate();
    let v = Video::new(uid.clone(), a.clone(), VideoState::Downloading, 10);
    f.db.insert_copy(&v, "https://example.com/a.mp4")
        .await
        .unwrap();
    assert!(f.db.delete_video(&a, &uid).await.unwrap().is_some());
    assert!(f.db.copy_source(&uid).await.unwrap().is_none());
    assert!(!f.db.complete_copy(&uid, 1, 20).await.unwrap());
    assert!(f.db.jobs_for_video(&uid).await.unwrap().is_empty());
}

/// Read-then-write transactions racing plain writes, from two processes' worth of
/// connections: none fails (SQLite's deferred transactions would, with code 517), and
/// every change that can alter an edge decision moves the access epoch.
async fn concurrent_writers_never_fail_and_access_changes_move_the_epoch(f: &Fixture) {
    let other = Db::connect(&f.db_url).await.unwrap();
    let acct = account(&f.db).await;
    let uid = video(&f.db, &acct, 1, "race").await;

    other.poll_access_version().await.unwrap();
    let before = (f.db.access_epoch(), other.access_epoch());
    let (db, a, u) = (f.db.clone(), acct.clone(), uid.clone());
    let edits = tokio::spawn(async move {
        for i in 0..100 {
            let edit = VideoEdit {
                require_signed_urls: Some(i % 2 == 0),
                ..VideoEdit::default()
            };
            db.edit_video(&a, &u, &edit, now_micros()).await.unwrap();
        }
    });
    let (db2, u2) = (other.clone(), uid.clone());
    let writes = tokio::spawn(async move {
        for i in 0..300 {
            db2.set_uploaded(&u2, i, now_micros()).await.unwrap();
        }
    });
    edits.await.unwrap();
    writes.await.unwrap();
    // This process saw its own edits at once; the other sees them on its next poll.
    assert!(f.db.access_epoch() > before.0);
    assert_eq!(other.access_epoch(), before.1);
    assert!(other.poll_access_version().await.unwrap());
    assert!(other.access_epoch() > before.1);
    assert!(!other.poll_access_version().await.unwrap(), "nothing new");
}

conformance!(
    migrations_are_idempotent_across_processes,
    key_limit_and_revocation_are_per_account,
    videos_are_scoped_to_their_account,
    list_filters_order_and_counts,
    lifecycle_guards_hold_in_the_database,
    a_job_is_claimed_by_exactly_one_worker,
    job_counts_follow_the_queue_and_ping_answers,
    an_expired_lease_is_claimed_again_and_the_old_holder_loses_it,
    a_dead_workers_lease_can_end_early_and_a_handed_back_job_costs_no_attempt,
    deleting_a_video_removes_its_jobs,
    a_copy_downloads_then_queues_exactly_one_package_job,
    deleting_a_copied_video_removes_its_source_and_completion_fails,
    concurrent_writers_never_fail_and_access_changes_move_the_epoch,
);
