//! Audio tracks and the publication of masters: the rules the API and the publisher
//! rely on, on both backends.

use usher_core::{AudioTrackId, VideoId, VideoState};
use usher_store::{AUDIO_JOB, AudioTrackEdit, AudioTrackRefusal, AudioTrackStatus, Db, Masters};

use crate::{Fixture, account, video};

async fn ready(db: &Db, uid: &VideoId, generation: &str) {
    assert!(
        db.transition(uid, &[VideoState::Queued], VideoState::InProgress, 2)
            .await
            .unwrap()
    );
    assert!(
        db.mark_ready(uid, generation, None, 3)
            .await
            .unwrap()
            .is_some()
    );
}

async fn audio_jobs(db: &Db, uid: &VideoId) -> usize {
    db.jobs_for_video(uid)
        .await
        .unwrap()
        .iter()
        .filter(|j| j.kind == AUDIO_JOB)
        .count()
}

fn masters(revision: &str, version: i64, audio: &[&AudioTrackId]) -> Masters {
    Masters {
        revision: revision.into(),
        version,
        audio: audio.iter().map(|t| (*t).clone()).collect(),
    }
}

async fn version(db: &Db, uid: &VideoId) -> i64 {
    db.tracks_snapshot(uid).await.unwrap().unwrap().version
}

async fn tracks_wait_for_the_video_and_follow_cloudflares_rules(f: &Fixture) {
    let (a, b) = (account(&f.db).await, account(&f.db).await);
    let uid = video(&f.db, &a, 1, "dub").await;
    let add = |label: &'static str, now: i64| {
        let (db, a, uid) = (f.db.clone(), a.clone(), uid.clone());
        async move {
            db.insert_audio_track(&a, &uid, label, "https://example.com/x.mp3", now)
                .await
                .unwrap()
        }
    };
    let fr = add("Français", 4).await.unwrap();
    assert_eq!(fr.status, AudioTrackStatus::Queued);
    assert!(!fr.default);
    assert_eq!(
        audio_jobs(&f.db, &uid).await,
        0,
        "the video is not ready yet"
    );
    assert_eq!(add("Français", 4).await, Err(AudioTrackRefusal::LabelTaken));
    assert_eq!(
        f.db.insert_audio_track(&b, &uid, "x", "https://example.com/x", 5)
            .await
            .unwrap(),
        Err(AudioTrackRefusal::NotFound),
        "another account's video"
    );
    assert!(f.db.audio_tracks(&b, &uid).await.unwrap().is_none());

    // Ready: the queued track gets its job, once, and later tracks join a waiting job.
    ready(&f.db, &uid, "g1").await;
    assert_eq!(audio_jobs(&f.db, &uid).await, 1);
    let de = add("Deutsch", 5).await.unwrap();
    assert_eq!(
        audio_jobs(&f.db, &uid).await,
        1,
        "one waiting job covers both"
    );
    assert_eq!(
        f.db.queued_audio_tracks(&uid)
            .await
            .unwrap()
            .iter()
            .map(|t| t.label.as_str())
            .collect::<Vec<_>>(),
        ["Français", "Deutsch"]
    );

    // Encoded: the track appears in the publisher's snapshot and the version moves.
    let v0 = version(&f.db, &uid).await;
    assert!(
        f.db.audio_track_ready(&uid, &fr.uid, "{\"x\":1}", 6)
            .await
            .unwrap()
    );
    assert!(
        !f.db
            .audio_track_ready(&uid, &fr.uid, "{}", 6)
            .await
            .unwrap(),
        "only once"
    );
    let snap = f.db.tracks_snapshot(&uid).await.unwrap().unwrap();
    assert_eq!(snap.version, v0 + 1);
    assert_eq!(snap.audio.len(), 1, "only ready tracks are published");
    assert_eq!(snap.audio[0].rendition, "{\"x\":1}");
    f.db.audio_track_failed(&uid, &de.uid, "not audio", 7)
        .await
        .unwrap();

    // Default: one at a time; the default cannot be deleted.
    let set_default = |t: AudioTrackId, d: bool| {
        let (db, a, uid) = (f.db.clone(), a.clone(), uid.clone());
        async move {
            db.edit_audio_track(
                &a,
                &uid,
                &t,
                &AudioTrackEdit {
                    default: Some(d),
                    ..Default::default()
                },
                8,
            )
            .await
            .unwrap()
        }
    };
    assert!(set_default(fr.uid.clone(), true).await.unwrap().default);
    assert!(set_default(de.uid.clone(), true).await.unwrap().default);
    let tracks = f.db.audio_tracks(&a, &uid).await.unwrap().unwrap();
    assert_eq!(
        tracks
            .iter()
            .map(|t| (t.label.as_str(), t.default, t.status))
            .collect::<Vec<_>>(),
        [
            ("Français", false, AudioTrackStatus::Ready),
            ("Deutsch", true, AudioTrackStatus::Error)
        ]
    );
    assert_eq!(
        f.db.delete_audio_track(&a, &uid, &de.uid).await.unwrap(),
        Err(AudioTrackRefusal::IsDefault)
    );
    let relabel = AudioTrackEdit {
        label: Some("Deutsch".into()),
        ..Default::default()
    };
    assert_eq!(
        f.db.edit_audio_track(&a, &uid, &fr.uid, &relabel, 9)
            .await
            .unwrap(),
        Err(AudioTrackRefusal::LabelTaken)
    );
    assert_eq!(
        f.db.delete_audio_track(&b, &uid, &fr.uid).await.unwrap(),
        Err(AudioTrackRefusal::NotFound)
    );
    let before = version(&f.db, &uid).await;
    assert_eq!(
        f.db.delete_audio_track(&a, &uid, &fr.uid)
            .await
            .unwrap()
            .unwrap()
            .label,
        "Français"
    );
    assert_eq!(version(&f.db, &uid).await, before + 1);
    assert!(!f.db.audio_track_exists(&uid, &fr.uid).await.unwrap());
    assert!(f.db.audio_track_exists(&uid, &de.uid).await.unwrap());

    // Deleting the video takes its tracks along.
    f.db.delete_video(&a, &uid).await.unwrap().unwrap();
    assert!(f.db.tracks_snapshot(&uid).await.unwrap().is_none());
    assert!(f.db.queued_audio_tracks(&uid).await.unwrap().is_empty());
}

async fn tracks_of_a_failed_video_fail_too(f: &Fixture) {
    let a = account(&f.db).await;
    let uid = video(&f.db, &a, 1, "broken").await;
    let t =
        f.db.insert_audio_track(&a, &uid, "x", "https://example.com/x", 2)
            .await
            .unwrap()
            .unwrap();
    f.db.mark_error(&uid, usher_core::ErrorReason::NonVideo, 3)
        .await
        .unwrap();
    let tracks = f.db.audio_tracks(&a, &uid).await.unwrap().unwrap();
    assert_eq!(
        (&tracks[0].uid, tracks[0].status),
        (&t.uid, AudioTrackStatus::Error)
    );
    assert_eq!(audio_jobs(&f.db, &uid).await, 0);
}

async fn only_a_newer_rendering_of_the_tracks_replaces_the_masters(f: &Fixture) {
    let a = account(&f.db).await;
    let uid = video(&f.db, &a, 1, "m").await;
    assert_eq!(
        f.db.set_masters(&uid, "g1", &masters("r0", 0, &[]))
            .await
            .unwrap(),
        None,
        "not ready"
    );
    assert!(
        f.db.transition(&uid, &[VideoState::Queued], VideoState::InProgress, 2)
            .await
            .unwrap()
    );
    // Packaging publishes the generation with masters rendered from version 0.
    assert_eq!(
        f.db.mark_ready(&uid, "g1", Some(&masters("r0", 0, &[])), 3)
            .await
            .unwrap(),
        Some(None)
    );
    let snap = f.db.tracks_snapshot(&uid).await.unwrap().unwrap();
    assert!(snap.is_published());
    assert_eq!(snap.revision.as_deref(), Some("r0"));
    assert_eq!(
        f.db.video_by_uid(&uid)
            .await
            .unwrap()
            .unwrap()
            .manifest_revision
            .as_deref(),
        Some("r0")
    );
    let epoch = f.db.access_epoch();
    let track = AudioTrackId::generate();
    // Not newer: refused; another generation: refused.
    assert_eq!(
        f.db.set_masters(&uid, "g1", &masters("r1", 0, &[]))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        f.db.set_masters(&uid, "g0", &masters("r1", 5, &[]))
            .await
            .unwrap(),
        None
    );
    // Newer: switched, and edges are told.
    assert_eq!(
        f.db.set_masters(&uid, "g1", &masters("r2", 1, &[&track]))
            .await
            .unwrap(),
        Some(Some("r0".into()))
    );
    assert!(f.db.access_epoch() > epoch);
    let snap = f.db.tracks_snapshot(&uid).await.unwrap().unwrap();
    assert_eq!(
        (snap.revision.as_deref(), snap.published_version),
        (Some("r2"), 1)
    );
    // A slower publisher of an older version arriving late changes nothing.
    assert_eq!(
        f.db.set_masters(&uid, "g1", &masters("r1", 1, &[]))
            .await
            .unwrap(),
        None
    );
    let v = f.db.video_by_uid(&uid).await.unwrap().unwrap();
    assert_eq!(v.manifest_revision.as_deref(), Some("r2"));
    assert_eq!(
        v.published_audio,
        [track],
        "the edge serves the tracks it lists"
    );
}

conformance!(
    tracks_wait_for_the_video_and_follow_cloudflares_rules,
    tracks_of_a_failed_video_fail_too,
    only_a_newer_rendering_of_the_tracks_replaces_the_masters,
);
