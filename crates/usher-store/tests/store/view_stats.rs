//! Viewing analytics: batches add up exactly once, a viewer is one view per window
//! across every edge, and each account reads only its own rows.

use usher_core::time_fmt::day_of;
use usher_core::{Video, VideoId, VideoState};
use usher_store::{NewJob, PACKAGE_JOB, ViewDelta, ViewQuery, ViewStat};

use crate::{Fixture, account, video};

fn delta(account: &str, uid: &str, day: i64) -> ViewDelta {
    ViewDelta {
        account: account.into(),
        uid: uid.into(),
        day,
        ..ViewDelta::default()
    }
}

async fn batches_add_up_once_and_viewers_count_once_per_window(f: &Fixture) {
    let db = &f.db;
    let a = account(db).await;
    let b = account(db).await;
    let cat = video(db, &a, 1, "cat").await;
    let mut dog = Video::new(VideoId::generate(), a.clone(), VideoState::Queued, 2);
    dog.creator = Some("alice".into());
    db.insert_video(&dog, Some(NewJob { kind: PACKAGE_JOB }))
        .await
        .unwrap();
    let theirs = video(db, &b, 3, "theirs").await;
    let day = day_of(1_800_000_000);

    // Edge 1: two viewers of cat, one of them twice in one window; a denial.
    let mut c1 = delta(a.as_str(), cat.as_str(), day);
    c1.millis = 12_000;
    c1.bytes = 1000;
    c1.sessions = vec![("v1".into(), 10), ("v2".into(), 10)];
    c1.denials = vec![("expired".into(), 2)];
    let mut d1 = delta(a.as_str(), dog.uid.as_str(), day);
    d1.denials = vec![("rule_blocked".into(), 1)];
    let t1 = delta(b.as_str(), theirs.as_str(), day);
    assert!(
        db.apply_view_batch("batch-1", &[c1.clone(), d1, t1])
            .await
            .unwrap()
    );
    // The same batch again (a retry after an ambiguous failure) adds nothing.
    assert!(!db.apply_view_batch("batch-1", &[c1.clone()]).await.unwrap());
    // Edge 2: v1 again in the same window (another edge, or after a restart) is not a
    // new view; v1 in the next window and a day later are.
    let mut c2 = delta(a.as_str(), cat.as_str(), day);
    c2.millis = 4_000;
    c2.bytes = 24;
    c2.sessions = vec![("v1".into(), 10), ("v1".into(), 11)];
    c2.denials = vec![("expired".into(), 1), ("origin_denied".into(), 5)];
    let mut c3 = delta(a.as_str(), cat.as_str(), day + 1);
    c3.sessions = vec![("v1".into(), 10 + 48)];
    assert!(db.apply_view_batch("batch-2", &[c2, c3]).await.unwrap());

    let all = ViewQuery {
        since: day - 1,
        until: day + 1,
        ..ViewQuery::default()
    };
    let stats = db.view_stats(&a, &all).await.unwrap();
    let find = |uid: &str, d: i64| -> ViewStat {
        stats
            .iter()
            .find(|s| s.uid == uid && s.day == usher_core::time_fmt::format_day(d))
            .cloned()
            .unwrap_or_else(|| panic!("no row for {uid} on day {d}: {stats:?}"))
    };
    let c = find(cat.as_str(), day);
    assert_eq!((c.views, c.millis, c.bytes), (3, 16_000, 1024));
    assert_eq!(
        c.denials.into_iter().collect::<Vec<_>>(),
        vec![("expired".into(), 3), ("origin_denied".into(), 5)]
    );
    assert_eq!(find(cat.as_str(), day + 1).views, 1);
    let d = find(dog.uid.as_str(), day);
    assert_eq!((d.views, d.denials.get("rule_blocked")), (0, Some(&1)));
    assert_eq!(stats.len(), 3, "only account A's rows: {stats:?}");
    assert!(stats.windows(2).all(|w| w[0].day <= w[1].day), "by day");

    // Filters: one uid, one creator, a range that leaves out a day.
    let a = &a;
    let one = |q: ViewQuery| async move { db.view_stats(a, &q).await.unwrap() };
    let by_uid = one(ViewQuery {
        uid: Some(dog.uid.to_string()),
        ..all.clone()
    })
    .await;
    assert_eq!(by_uid.len(), 1);
    let by_creator = one(ViewQuery {
        creator: Some("alice".into()),
        ..all.clone()
    })
    .await;
    assert_eq!(
        by_creator.iter().map(|s| &s.uid).collect::<Vec<_>>(),
        vec![dog.uid.as_str()]
    );
    let first_day = one(ViewQuery {
        until: day,
        ..all.clone()
    })
    .await;
    assert_eq!(first_day.len(), 2);
    // Another account's uid reads nothing.
    let none = one(ViewQuery {
        uid: Some(theirs.to_string()),
        ..all.clone()
    })
    .await;
    assert!(none.is_empty());

    // Old windows and batch ids are forgotten; a forgotten batch id could apply again,
    // which is why edges retry for minutes only.
    assert_eq!(
        db.forget_old_view_sessions(11, i64::MAX).await.unwrap(),
        2 + 2
    );
}

async fn live_viewers_are_the_sum_of_the_edges_latest_reports(f: &Fixture) {
    let db = &f.db;
    assert_eq!(db.live_viewers("in1").await.unwrap(), 0);
    db.report_live_viewers("e1", &[("in1".into(), 3), ("in2".into(), 1)])
        .await
        .unwrap();
    db.report_live_viewers("e2", &[("in1".into(), 2)])
        .await
        .unwrap();
    assert_eq!(db.live_viewers("in1").await.unwrap(), 5);
    assert_eq!(db.live_viewers("in2").await.unwrap(), 1);
    // An edge's new report replaces its old one, inputs it no longer sees included.
    db.report_live_viewers("e1", &[("in1".into(), 1)])
        .await
        .unwrap();
    assert_eq!(db.live_viewers("in1").await.unwrap(), 3);
    assert_eq!(db.live_viewers("in2").await.unwrap(), 0);
    db.report_live_viewers("e2", &[]).await.unwrap();
    assert_eq!(db.live_viewers("in1").await.unwrap(), 1);
}

conformance!(
    batches_add_up_once_and_viewers_count_once_per_window,
    live_viewers_are_the_sum_of_the_edges_latest_reports
);
