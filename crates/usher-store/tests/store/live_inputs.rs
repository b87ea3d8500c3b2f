//! Live inputs and their outputs: what the API and the ingest rely on, on both backends —
//! every account-scoped call misses another account's input, a stream key finds its
//! input only whole, and every change to an input moves the access epoch.

use usher_core::live::RecordingMode;
use usher_core::time_fmt::now_micros;
use usher_core::{AccountId, LiveInputId, LiveOutputId, Secret, Video, VideoState};
use usher_store::{
    Db, LiveInputEdit, LiveInputRecord, LiveOutputRecord, MAX_LIVE_INPUTS, MAX_LIVE_OUTPUTS,
    StoreError,
};

use crate::{Fixture, account};

async fn input(db: &Db, account: &AccountId, created: i64) -> LiveInputRecord {
    let i = LiveInputRecord::new(account.clone(), created);
    db.insert_live_input(&i).await.unwrap();
    i
}

fn output(input: &LiveInputRecord, url: &str, created: i64) -> LiveOutputRecord {
    LiveOutputRecord {
        uid: LiveOutputId::generate(),
        live_input_uid: input.uid.clone(),
        account_id: input.account_id.clone(),
        url: url.into(),
        stream_key: Secret::new("target-key"),
        enabled: true,
        created,
        modified: created,
    }
}

async fn inputs_round_trip_and_stay_in_their_account(f: &Fixture) {
    let (a, b) = (account(&f.db).await, account(&f.db).await);
    let mut first = LiveInputRecord::new(a.clone(), 10);
    first.meta.insert("name".into(), "town hall".into());
    first.default_creator = Some("alice".into());
    first.delete_recording_after_days = Some(45);
    first.recording.mode = RecordingMode::Automatic;
    first.recording.allowed_origins = vec!["example.com".into()];
    first.recording.timeout_seconds = 7;
    f.db.insert_live_input(&first).await.unwrap();
    let second = input(&f.db, &a, 20).await;
    let theirs = input(&f.db, &b, 5).await;

    let got = f.db.account_live_input(&a, &first.uid).await.unwrap();
    assert_eq!(got.as_ref(), Some(&first));
    assert_eq!(
        f.db.live_input(&first.uid).await.unwrap(),
        Some(first.clone())
    );
    // Newest first.
    assert_eq!(
        f.db.list_live_inputs(&a).await.unwrap(),
        vec![second.clone(), first.clone()]
    );
    assert_eq!(f.db.list_live_inputs(&b).await.unwrap(), vec![theirs]);

    // Another account's input does not exist for B, by any call.
    let edit = LiveInputEdit {
        enabled: Some(false),
        ..Default::default()
    };
    assert!(
        f.db.account_live_input(&b, &first.uid)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.db.update_live_input(&b, &first.uid, &edit, 30)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.db.delete_live_input(&b, &first.uid)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.db.videos_of_live_input(&b, &first.uid)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        f.db.account_live_input(&a, &first.uid).await.unwrap(),
        Some(first.clone())
    );

    // Deleted once, by its owner.
    assert_eq!(
        f.db.delete_live_input(&a, &first.uid).await.unwrap(),
        Some(first.clone())
    );
    assert!(
        f.db.delete_live_input(&a, &first.uid)
            .await
            .unwrap()
            .is_none()
    );
    assert!(f.db.live_input(&first.uid).await.unwrap().is_none());
    assert_eq!(f.db.list_live_inputs(&a).await.unwrap(), vec![second]);
}

async fn an_update_changes_only_what_it_names_and_moves_the_epoch(f: &Fixture) {
    let a = account(&f.db).await;
    let mut before = LiveInputRecord::new(a.clone(), 10);
    before.default_creator = Some("alice".into());
    before.delete_recording_after_days = Some(30);
    f.db.insert_live_input(&before).await.unwrap();

    let epoch = f.db.access_epoch();
    let edit = LiveInputEdit {
        enabled: Some(false),
        require_signed_urls: Some(true),
        allowed_origins: Some(vec!["*.example.com".into()]),
        delete_recording_after_days: Some(None),
        ..Default::default()
    };
    let after =
        f.db.update_live_input(&a, &before.uid, &edit, 99)
            .await
            .unwrap()
            .unwrap();
    assert!(
        f.db.access_epoch() > epoch,
        "the edges must drop what they cached"
    );
    assert!(!after.enabled);
    assert!(after.recording.require_signed_urls);
    assert_eq!(after.recording.allowed_origins, vec!["*.example.com"]);
    assert_eq!(after.delete_recording_after_days, None);
    assert_eq!(after.modified, 99);
    // Untouched: what the edit did not name, the creation time and the secrets.
    assert_eq!(after.default_creator.as_deref(), Some("alice"));
    assert_eq!(after.recording.mode, RecordingMode::Off);
    assert_eq!(after.created, 10);
    assert_eq!(after.stream_key, before.stream_key);
    assert_eq!(after.srt_passphrase, before.srt_passphrase);
    assert_eq!(f.db.live_input(&before.uid).await.unwrap(), Some(after));

    let epoch = f.db.access_epoch();
    f.db.delete_live_input(&a, &before.uid)
        .await
        .unwrap()
        .unwrap();
    assert!(f.db.access_epoch() > epoch);
}

async fn a_stream_key_finds_its_input_only_whole(f: &Fixture) {
    let a = account(&f.db).await;
    let one = input(&f.db, &a, 1).await;
    let two = input(&f.db, &a, 2).await;
    let key = one.stream_key.expose();
    assert_ne!(key, two.stream_key.expose());
    assert_eq!(key.len(), 65);
    assert!(key.starts_with(&format!("{}k", one.uid)));

    let found = f.db.live_input_for_stream_key(key).await.unwrap();
    assert_eq!(found.map(|i| i.uid), Some(one.uid.clone()));
    // The right uid with another input's secret half, one changed character, a key of
    // an input that does not exist, and things that are no key at all.
    let mixed = format!("{}k{}", one.uid, &two.stream_key.expose()[33..]);
    let mut flipped = key.to_owned();
    let last = if flipped.ends_with('0') { "1" } else { "0" };
    flipped.replace_range(64.., last);
    let unknown = format!("{}k{}", LiveInputId::generate(), &key[33..]);
    for bad in [
        mixed.as_str(),
        flipped.as_str(),
        unknown.as_str(),
        one.uid.as_str(),
        "",
        "../../etc/passwd",
    ] {
        assert!(
            f.db.live_input_for_stream_key(bad).await.unwrap().is_none(),
            "{bad}"
        );
    }
}

async fn the_status_is_none_until_the_input_connects(f: &Fixture) {
    let a = account(&f.db).await;
    let i = input(&f.db, &a, 1).await;
    assert_eq!(i.status, None);
    let before = now_micros();
    f.db.set_live_input_status(&i.uid, Some("connected"))
        .await
        .unwrap();
    let status =
        f.db.live_input(&i.uid)
            .await
            .unwrap()
            .unwrap()
            .status
            .unwrap();
    assert_eq!(status.state, "connected");
    assert!(status.entered_at >= before, "{status:?}");
    f.db.set_live_input_status(&i.uid, Some("disconnected"))
        .await
        .unwrap();
    let got = f.db.live_input(&i.uid).await.unwrap().unwrap();
    assert_eq!(got.status.unwrap().state, "disconnected");
    f.db.set_live_input_status(&i.uid, None).await.unwrap();
    assert_eq!(f.db.live_input(&i.uid).await.unwrap().unwrap().status, None);
}

async fn the_input_limit_is_per_account(f: &Fixture) {
    let (a, b) = (account(&f.db).await, account(&f.db).await);
    for i in 0..MAX_LIVE_INPUTS {
        input(&f.db, &a, i as i64).await;
    }
    let over = LiveInputRecord::new(a.clone(), 0);
    assert!(matches!(
        f.db.insert_live_input(&over).await,
        Err(StoreError::LimitReached("live inputs"))
    ));
    input(&f.db, &b, 0).await;
    let gone = f.db.list_live_inputs(&a).await.unwrap()[0].uid.clone();
    f.db.delete_live_input(&a, &gone).await.unwrap().unwrap();
    f.db.insert_live_input(&over).await.unwrap();
}

async fn outputs_belong_to_their_input_and_account(f: &Fixture) {
    let (a, b) = (account(&f.db).await, account(&f.db).await);
    let mine = input(&f.db, &a, 1).await;
    let other = input(&f.db, &a, 2).await;
    let theirs = input(&f.db, &b, 3).await;
    let first = output(&mine, "rtmp://a.example/live", 10);
    let second = output(&mine, "rtmps://b.example/app", 20);
    assert!(f.db.insert_live_output(&second).await.unwrap());
    assert!(f.db.insert_live_output(&first).await.unwrap());
    // B cannot add an output to A's input, even naming itself as the owner.
    let mut sneaky = output(&mine, "rtmp://evil.example/x", 30);
    sneaky.account_id = b.clone();
    assert!(!f.db.insert_live_output(&sneaky).await.unwrap());

    assert_eq!(
        f.db.list_live_outputs(&a, &mine.uid).await.unwrap(),
        Some(vec![first.clone(), second.clone()])
    );
    assert_eq!(
        f.db.list_live_outputs(&a, &other.uid).await.unwrap(),
        Some(vec![])
    );
    assert_eq!(f.db.list_live_outputs(&b, &mine.uid).await.unwrap(), None);
    assert_eq!(
        f.db.live_outputs_of(&mine.uid).await.unwrap(),
        vec![first.clone(), second.clone()]
    );

    // Switched off only by its account, and only under its own input.
    let set = |acct: &AccountId, input: &LiveInputId, enabled| {
        let (db, acct, input, uid) = (f.db.clone(), acct.clone(), input.clone(), first.uid.clone());
        async move {
            db.set_live_output_enabled(&acct, &input, &uid, enabled, 50)
                .await
                .unwrap()
        }
    };
    assert!(set(&b, &mine.uid, false).await.is_none());
    assert!(set(&a, &other.uid, false).await.is_none());
    assert!(set(&a, &theirs.uid, false).await.is_none());
    let off = set(&a, &mine.uid, false).await.unwrap();
    assert!(!off.enabled);
    assert_eq!((off.modified, off.created), (50, 10));
    assert_eq!(off.stream_key, first.stream_key);

    assert!(
        !f.db
            .delete_live_output(&b, &mine.uid, &first.uid)
            .await
            .unwrap()
    );
    assert!(
        !f.db
            .delete_live_output(&a, &other.uid, &first.uid)
            .await
            .unwrap()
    );
    assert!(
        f.db.delete_live_output(&a, &mine.uid, &first.uid)
            .await
            .unwrap()
    );
    assert!(
        !f.db
            .delete_live_output(&a, &mine.uid, &first.uid)
            .await
            .unwrap()
    );
    assert_eq!(f.db.live_outputs_of(&mine.uid).await.unwrap(), vec![second]);

    // Deleting the input takes its outputs with it.
    f.db.delete_live_input(&a, &mine.uid)
        .await
        .unwrap()
        .unwrap();
    assert!(f.db.live_outputs_of(&mine.uid).await.unwrap().is_empty());
    assert!(
        !f.db
            .insert_live_output(&output(&mine, "rtmp://a/b", 60))
            .await
            .unwrap()
    );
}

async fn the_output_limit_is_per_input(f: &Fixture) {
    let a = account(&f.db).await;
    let full = input(&f.db, &a, 1).await;
    for i in 0..MAX_LIVE_OUTPUTS {
        let o = output(&full, "rtmp://a.example/live", i as i64);
        assert!(f.db.insert_live_output(&o).await.unwrap());
    }
    assert!(matches!(
        f.db.insert_live_output(&output(&full, "rtmp://a/b", 0))
            .await,
        Err(StoreError::LimitReached("live outputs"))
    ));
    let other = input(&f.db, &a, 2).await;
    assert!(
        f.db.insert_live_output(&output(&other, "rtmp://a/b", 0))
            .await
            .unwrap()
    );
}

async fn recordings_list_under_their_input(f: &Fixture) {
    let (a, b) = (account(&f.db).await, account(&f.db).await);
    let i = input(&f.db, &a, 1).await;
    let recording = |created: i64| {
        let mut v = Video::new(
            usher_core::VideoId::generate(),
            a.clone(),
            VideoState::Queued,
            created,
        );
        v.live_input = Some(i.uid.clone());
        v
    };
    let (older, newer) = (recording(10), recording(20));
    f.db.insert_video(&older, None).await.unwrap();
    f.db.insert_video(&newer, None).await.unwrap();
    crate::video(&f.db, &a, 15, "not a recording").await;

    let listed = f.db.videos_of_live_input(&a, &i.uid).await.unwrap();
    assert_eq!(listed, vec![newer.clone(), older]);
    assert_eq!(listed[0].live_input.as_ref(), Some(&i.uid));
    assert!(
        f.db.videos_of_live_input(&b, &i.uid)
            .await
            .unwrap()
            .is_empty()
    );
    // A recording outlives its input.
    f.db.delete_live_input(&a, &i.uid).await.unwrap().unwrap();
    assert_eq!(
        f.db.video(&a, &newer.uid)
            .await
            .unwrap()
            .unwrap()
            .live_input,
        Some(i.uid)
    );
}

conformance!(
    inputs_round_trip_and_stay_in_their_account,
    an_update_changes_only_what_it_names_and_moves_the_epoch,
    a_stream_key_finds_its_input_only_whole,
    the_status_is_none_until_the_input_connects,
    the_input_limit_is_per_account,
    outputs_belong_to_their_input_and_account,
    the_output_limit_is_per_input,
    recordings_list_under_their_input,
);
