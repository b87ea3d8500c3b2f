//! Races between processes sharing one database: what SQLite serialises for free must
//! hold on PostgreSQL too, where transactions really run side by side.

use std::collections::HashSet;

use usher_core::time_fmt::now_micros;
use usher_core::{Video, VideoId, VideoState};
use usher_store::{
    Db, DbOptions, PACKAGE_JOB, StoreError, UploadClaim, VideoEdit, WEBHOOK_JOB, WebhookRecord,
};

use crate::{Fixture, account, key, video};

/// Claimers per process in the claim race; two processes' worth exceed one pool.
const CLAIMERS: usize = 12;
const JOBS: i64 = 60;

/// Several processes starting at once on a database nobody has migrated yet all
/// succeed, and end up with one schema.
async fn processes_starting_together_on_a_fresh_database_all_migrate_it(f: &Fixture) {
    let url = f.fresh_database_url().await;
    let dbs = futures_util::future::join_all((0..4).map(|_| Db::connect(&url))).await;
    let dbs: Vec<Db> = dbs.into_iter().map(Result::unwrap).collect();
    let a = account(&dbs[0]).await;
    let uid = video(&dbs[1], &a, 1, "x").await;
    assert!(dbs[3].video(&a, &uid).await.unwrap().is_some());
    for db in dbs {
        db.close().await;
    }
}

/// Many claimers in two processes drain the queue: every job is handed out exactly once
/// and counts exactly one attempt.
async fn concurrent_claimers_never_share_a_job(f: &Fixture) {
    let other = Db::connect(&f.db_url).await.unwrap();
    let a = account(&f.db).await;
    let mut uids = Vec::new();
    for i in 0..JOBS {
        uids.push(video(&f.db, &a, i, "x").await);
    }
    let now = now_micros();
    let claimers = (0..2 * CLAIMERS).map(|w| {
        let db = if w % 2 == 0 {
            f.db.clone()
        } else {
            other.clone()
        };
        tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(job) = db
                .claim_job(&[PACKAGE_JOB], &format!("w{w}"), 60_000_000, now)
                .await
                .unwrap()
            {
                got.push(job.id);
            }
            got
        })
    });
    let mut ids = Vec::new();
    for claimer in futures_util::future::join_all(claimers).await {
        ids.extend(claimer.unwrap());
    }
    let distinct: HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "a job was handed out twice");
    assert_eq!(ids.len(), JOBS as usize, "every job was claimed");
    for uid in &uids {
        let jobs = f.db.jobs_for_video(uid).await.unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].attempts, 1, "claimed once");
    }
    other.close().await;
}

/// Two requests presenting one upload URL at once: exactly one gets to upload.
async fn one_upload_url_is_claimed_by_one_request(f: &Fixture) {
    let a = account(&f.db).await;
    for round in 0..10 {
        let uid = VideoId::generate();
        let v = Video::new(uid.clone(), a.clone(), VideoState::PendingUpload, 1);
        let hash = format!("hash-{round}");
        f.db.insert_direct_upload(&v, &hash, now_micros() + 60_000_000)
            .await
            .unwrap();
        let claims = futures_util::future::join_all((0..4).map(|_| {
            let (db, hash) = (f.db.clone(), hash.clone());
            tokio::spawn(async move { db.claim_direct_upload(&hash, now_micros()).await })
        }))
        .await;
        let claims: Vec<UploadClaim> = claims.into_iter().map(|c| c.unwrap().unwrap()).collect();
        let won = claims
            .iter()
            .filter(|c| **c == UploadClaim::Claimed(uid.clone()))
            .count();
        assert_eq!(won, 1, "round {round}: {claims:?}");
        assert_eq!(
            claims.iter().filter(|c| **c == UploadClaim::Used).count(),
            3
        );
    }
}

/// Edits of different settings racing on one video: none undoes another.
async fn concurrent_edits_of_different_settings_all_stick(f: &Fixture) {
    let a = account(&f.db).await;
    let uid = video(&f.db, &a, 1, "x").await;
    for round in 0..15_i64 {
        let edits = [
            VideoEdit {
                creator: Some(Some(format!("c{round}"))),
                ..VideoEdit::default()
            },
            VideoEdit {
                thumbnail_pct: Some(round as f64 / 100.0),
                ..VideoEdit::default()
            },
            VideoEdit {
                max_duration_seconds: Some(Some(round + 1)),
                ..VideoEdit::default()
            },
            VideoEdit {
                require_signed_urls: Some(round % 2 == 0),
                ..VideoEdit::default()
            },
        ];
        let tasks = edits.into_iter().map(|edit| {
            let (db, a, uid) = (f.db.clone(), a.clone(), uid.clone());
            tokio::spawn(async move { db.edit_video(&a, &uid, &edit, now_micros()).await })
        });
        for t in futures_util::future::join_all(tasks).await {
            t.unwrap().unwrap().unwrap();
        }
        let v = f.db.video(&a, &uid).await.unwrap().unwrap();
        assert_eq!(
            (
                v.creator.as_deref(),
                v.thumbnail_pct,
                v.max_duration_seconds,
                v.require_signed_urls
            ),
            (
                Some(format!("c{round}").as_str()),
                round as f64 / 100.0,
                Some(round + 1),
                round % 2 == 0
            ),
            "round {round}: an edit was lost"
        );
    }
}

/// Keys created at once never exceed the account's limit.
async fn concurrent_key_creation_respects_the_limit(f: &Fixture) {
    let a = account(&f.db).await;
    let results = futures_util::future::join_all((0..10).map(|_| {
        let (db, k) = (f.db.clone(), key(&a));
        tokio::spawn(async move { db.insert_key(&k, 3).await })
    }))
    .await;
    let mut made = 0;
    for r in results {
        match r.unwrap() {
            Ok(()) => made += 1,
            Err(StoreError::LimitReached(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(made, 3);
    assert_eq!(f.db.user_keys(&a).await.unwrap().len(), 3);
}

/// A pool of one connection serves every operation: none holds a connection while it
/// waits for a second one (which would hang a small pool under load).
async fn one_connection_is_enough_for_every_operation(f: &Fixture) {
    let zero = DbOptions {
        max_connections: Some(0),
        ..DbOptions::default()
    };
    assert!(matches!(
        Db::connect_with(&f.db_url, &zero).await,
        Err(StoreError::Config(_))
    ));
    let one = DbOptions {
        max_connections: Some(1),
        acquire_timeout: std::time::Duration::from_secs(5),
    };
    let db = Db::connect_with(&f.db_url, &one).await.unwrap();
    let a = account(&db).await;
    db.put_webhook(&WebhookRecord {
        account_id: a.clone(),
        notification_url: "http://hook.example/".into(),
        secret: "s".into(),
        modified: 1,
    })
    .await
    .unwrap();
    db.insert_key(&key(&a), 5).await.unwrap();
    let uid = video(&db, &a, 1, "x").await;
    let edit = VideoEdit {
        require_signed_urls: Some(true),
        ..VideoEdit::default()
    };
    db.edit_video(&a, &uid, &edit, 2).await.unwrap().unwrap();
    let job = db
        .claim_job(&[PACKAGE_JOB], "w", 60_000_000, 3)
        .await
        .unwrap()
        .unwrap();
    assert!(
        db.transition(&uid, &[VideoState::Queued], VideoState::InProgress, 4)
            .await
            .unwrap()
    );
    assert_eq!(
        db.mark_ready(&uid, "g1", None, 5).await.unwrap(),
        Some(None)
    );
    db.finish_job(&job.id, "w", 5).await.unwrap();
    let hook = db
        .claim_job(&[WEBHOOK_JOB], "d", 60_000_000, 6)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hook.video_uid, uid);
    assert!(db.poll_access_version().await.unwrap());
    assert!(db.delete_video(&a, &uid).await.unwrap().is_some());
    db.close().await;
}

conformance!(
    processes_starting_together_on_a_fresh_database_all_migrate_it,
    concurrent_claimers_never_share_a_job,
    one_upload_url_is_claimed_by_one_request,
    concurrent_edits_of_different_settings_all_stick,
    concurrent_key_creation_respects_the_limit,
    one_connection_is_enough_for_every_operation,
);
