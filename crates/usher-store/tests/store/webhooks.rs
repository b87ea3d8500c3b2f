//! Webhook subscriptions and the notification jobs that video outcomes enqueue.

use usher_core::time_fmt::now_micros;
use usher_core::{AccountId, ErrorReason, VideoState};
use usher_store::{JobState, PACKAGE_JOB, WEBHOOK_JOB, WebhookRecord};

use crate::{Fixture, account, video};

fn hook(acct: &AccountId, url: &str) -> WebhookRecord {
    WebhookRecord {
        account_id: acct.clone(),
        notification_url: url.into(),
        secret: "s3cr3t".into(),
        modified: 7,
    }
}

async fn one_webhook_per_account_replaced_and_deleted(f: &Fixture) {
    let (a, b) = (account(&f.db).await, account(&f.db).await);
    assert_eq!(f.db.webhook(&a).await.unwrap(), None);
    f.db.put_webhook(&hook(&a, "http://one.example/"))
        .await
        .unwrap();
    f.db.put_webhook(&hook(&a, "http://two.example/"))
        .await
        .unwrap();
    assert_eq!(
        f.db.webhook(&a).await.unwrap(),
        Some(hook(&a, "http://two.example/"))
    );
    assert_eq!(f.db.webhook(&b).await.unwrap(), None, "per account");
    assert!(f.db.delete_webhook(&a).await.unwrap());
    assert!(!f.db.delete_webhook(&a).await.unwrap());
    assert_eq!(f.db.webhook(&a).await.unwrap(), None);
}

async fn outcomes_enqueue_a_notification_only_for_subscribed_accounts(f: &Fixture) {
    let (a, b) = (account(&f.db).await, account(&f.db).await);
    f.db.put_webhook(&hook(&a, "http://hook.example/"))
        .await
        .unwrap();
    let ready = video(&f.db, &a, 1, "r").await;
    let failed = video(&f.db, &a, 2, "e").await;
    let quiet = video(&f.db, &b, 3, "q").await;
    for uid in [&ready, &failed, &quiet] {
        assert!(
            f.db.transition(uid, &[VideoState::Queued], VideoState::InProgress, 5)
                .await
                .unwrap()
        );
    }
    f.db.mark_ready(&ready, "g", None, 6).await.unwrap();
    f.db.mark_error(&failed, ErrorReason::NonVideo, 6)
        .await
        .unwrap();
    f.db.mark_ready(&quiet, "g", None, 6).await.unwrap();
    let kinds = |jobs: Vec<usher_store::JobRecord>| -> Vec<String> {
        jobs.into_iter().map(|j| j.kind).collect()
    };
    assert_eq!(
        kinds(f.db.jobs_for_video(&ready).await.unwrap()),
        [PACKAGE_JOB, WEBHOOK_JOB]
    );
    assert_eq!(
        kinds(f.db.jobs_for_video(&failed).await.unwrap()),
        [PACKAGE_JOB, WEBHOOK_JOB]
    );
    assert_eq!(
        kinds(f.db.jobs_for_video(&quiet).await.unwrap()),
        [PACKAGE_JOB]
    );
    // A late failure of a ready video changes nothing, so it notifies nothing.
    f.db.mark_error(&ready, ErrorReason::Unknown, 7)
        .await
        .unwrap();
    assert_eq!(f.db.jobs_for_video(&ready).await.unwrap().len(), 2);
}

async fn each_runner_claims_only_its_own_kinds(f: &Fixture) {
    let a = account(&f.db).await;
    f.db.put_webhook(&hook(&a, "http://hook.example/"))
        .await
        .unwrap();
    let uid = video(&f.db, &a, 1, "x").await;
    let now = now_micros();
    assert!(
        f.db.claim_job(&[], "nobody", 1_000, now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.db.claim_job(&[WEBHOOK_JOB], "dispatcher", 1_000, now)
            .await
            .unwrap()
            .is_none(),
        "the package job is not the dispatcher's"
    );
    let pkg =
        f.db.claim_job(&[PACKAGE_JOB], "media", 60_000_000, now)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(pkg.kind, PACKAGE_JOB);
    f.db.transition(&uid, &[VideoState::Queued], VideoState::InProgress, now)
        .await
        .unwrap();
    f.db.mark_ready(&uid, "g", None, now).await.unwrap();
    assert!(
        f.db.claim_job(&[PACKAGE_JOB], "media", 1_000, now)
            .await
            .unwrap()
            .is_none(),
        "the notification is not the media worker's"
    );
    let hook_job =
        f.db.claim_job(&[WEBHOOK_JOB], "dispatcher", 1_000, now)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        (hook_job.kind.as_str(), &hook_job.video_uid),
        (WEBHOOK_JOB, &uid)
    );
    f.db.finish_job(&hook_job.id, "dispatcher", now)
        .await
        .unwrap();
    let states: Vec<_> =
        f.db.jobs_for_video(&uid)
            .await
            .unwrap()
            .into_iter()
            .map(|j| j.state)
            .collect();
    assert_eq!(states, [JobState::Running, JobState::Done]);
}

conformance!(
    one_webhook_per_account_replaced_and_deleted,
    outcomes_enqueue_a_notification_only_for_subscribed_accounts,
    each_runner_claims_only_its_own_kinds,
);
