//! Captions: one per video and language, replaced by a second `PUT`, scoped to the
//! video's account, gone with the video, and every change moving the video's
//! `tracks_version` in the same transaction, so the publisher's snapshot of a version
//! holds exactly the captions of that version.

use usher_core::captions::LanguageTag;
use usher_core::{Video, VideoId, VideoState};
use usher_store::{CaptionStatus, Db, StoreError};

use crate::{Fixture, account, video};

const VTT_1: &str = "WEBVTT\n\n00:01.000 --> 00:02.000\none\n";
const VTT_2: &str = "WEBVTT\n\n00:03.000 --> 00:04.000\ntwo\n";
const LIMIT: usize = 100;

fn tag(s: &str) -> LanguageTag {
    LanguageTag::parse(s).unwrap()
}

async fn tracks_version(db: &Db, uid: &VideoId) -> i64 {
    db.tracks_snapshot(uid).await.unwrap().unwrap().version
}

/// `(language, label, text)` of each caption the publisher would render now.
async fn published(db: &Db, uid: &VideoId) -> Vec<(String, String, String)> {
    let snapshot = db.tracks_snapshot(uid).await.unwrap().unwrap();
    snapshot
        .captions
        .into_iter()
        .map(|c| (c.language, c.label, c.vtt))
        .collect()
}

fn track(language: &str, label: &str, vtt: &str) -> (String, String, String) {
    (language.into(), label.into(), vtt.into())
}

async fn captions_are_put_replaced_listed_and_deleted(f: &Fixture) {
    let a = account(&f.db).await;
    let uid = video(&f.db, &a, 1, "captioned").await;
    assert!(f.db.captions(&a, &uid).await.unwrap().is_empty());

    let en =
        f.db.put_caption(&a, &uid, &tag("en-us"), VTT_1, 10, LIMIT)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        (
            en.language.as_str(),
            en.label.as_str(),
            en.generated,
            en.status
        ),
        ("en-US", "English (US)", false, CaptionStatus::Ready)
    );
    assert_eq!((en.created, en.modified), (10, 10));
    let de =
        f.db.put_caption(&a, &uid, &tag("de"), VTT_2, 20, LIMIT)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(de.label, "Deutsch");

    // A second PUT replaces the text; the caption keeps its place and creation time.
    let again =
        f.db.put_caption(&a, &uid, &tag("EN-US"), VTT_2, 30, LIMIT)
            .await
            .unwrap()
            .unwrap();
    assert_eq!((again.created, again.modified), (10, 30));
    let listed = f.db.captions(&a, &uid).await.unwrap();
    assert_eq!(listed, vec![again.clone(), de.clone()]);
    assert_eq!(
        f.db.caption(&a, &uid, &tag("en-US")).await.unwrap(),
        Some(again)
    );
    assert_eq!(
        f.db.caption_vtt(&a, &uid, &tag("en-US"))
            .await
            .unwrap()
            .as_deref(),
        Some(VTT_2)
    );
    assert_eq!(f.db.caption(&a, &uid, &tag("fr")).await.unwrap(), None);
    assert_eq!(
        published(&f.db, &uid).await,
        [
            track("de", "Deutsch", VTT_2),
            track("en-US", "English (US)", VTT_2)
        ]
    );

    assert_eq!(
        f.db.delete_caption(&a, &uid, &tag("de")).await.unwrap(),
        Some(true)
    );
    assert_eq!(
        f.db.delete_caption(&a, &uid, &tag("de")).await.unwrap(),
        Some(false)
    );
    assert_eq!(f.db.caption_vtt(&a, &uid, &tag("de")).await.unwrap(), None);
    assert_eq!(f.db.captions(&a, &uid).await.unwrap().len(), 1);
}

async fn captions_belong_to_the_video_s_account(f: &Fixture) {
    let (a, b) = (account(&f.db).await, account(&f.db).await);
    let uid = video(&f.db, &a, 1, "a's").await;
    f.db.put_caption(&a, &uid, &tag("fr"), VTT_1, 10, LIMIT)
        .await
        .unwrap()
        .unwrap();
    let version = tracks_version(&f.db, &uid).await;

    for lang in ["fr", "es"] {
        assert_eq!(
            f.db.put_caption(&b, &uid, &tag(lang), VTT_2, 20, LIMIT)
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(
        f.db.delete_caption(&b, &uid, &tag("fr")).await.unwrap(),
        None
    );
    assert!(f.db.captions(&b, &uid).await.unwrap().is_empty());
    assert_eq!(f.db.caption(&b, &uid, &tag("fr")).await.unwrap(), None);
    assert_eq!(f.db.caption_vtt(&b, &uid, &tag("fr")).await.unwrap(), None);

    // Nothing b tried changed a's caption or its version. (Positive control: a reads it.)
    assert_eq!(
        f.db.caption_vtt(&a, &uid, &tag("fr"))
            .await
            .unwrap()
            .as_deref(),
        Some(VTT_1)
    );
    assert_eq!(f.db.captions(&a, &uid).await.unwrap().len(), 1);
    assert_eq!(tracks_version(&f.db, &uid).await, version);
}

async fn every_caption_change_moves_the_tracks_version(f: &Fixture) {
    let a = account(&f.db).await;
    let uid = video(&f.db, &a, 1, "versions").await;
    let v0 = tracks_version(&f.db, &uid).await;

    f.db.put_caption(&a, &uid, &tag("en"), VTT_1, 10, LIMIT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tracks_version(&f.db, &uid).await, v0 + 1);
    assert_eq!(
        published(&f.db, &uid).await,
        [track("en", "English", VTT_1)]
    );
    f.db.put_caption(&a, &uid, &tag("en"), VTT_2, 20, LIMIT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tracks_version(&f.db, &uid).await, v0 + 2);
    assert_eq!(
        published(&f.db, &uid).await,
        [track("en", "English", VTT_2)]
    );
    assert_eq!(
        f.db.delete_caption(&a, &uid, &tag("en")).await.unwrap(),
        Some(true)
    );
    assert_eq!(tracks_version(&f.db, &uid).await, v0 + 3);
    assert!(published(&f.db, &uid).await.is_empty());

    // What changes nothing moves nothing.
    assert_eq!(
        f.db.delete_caption(&a, &uid, &tag("en")).await.unwrap(),
        Some(false)
    );
    assert_eq!(tracks_version(&f.db, &uid).await, v0 + 3);
}

async fn a_video_has_a_limited_number_of_caption_languages(f: &Fixture) {
    let a = account(&f.db).await;
    let uid = video(&f.db, &a, 1, "many").await;
    for l in ["en", "fr"] {
        f.db.put_caption(&a, &uid, &tag(l), VTT_1, 10, 2)
            .await
            .unwrap()
            .unwrap();
    }
    let version = tracks_version(&f.db, &uid).await;
    assert!(matches!(
        f.db.put_caption(&a, &uid, &tag("de"), VTT_1, 20, 2).await,
        Err(StoreError::LimitReached("captions"))
    ));
    assert_eq!(
        tracks_version(&f.db, &uid).await,
        version,
        "a refused PUT changes nothing"
    );
    assert_eq!(f.db.captions(&a, &uid).await.unwrap().len(), 2);
    // Replacing one of them is not a new language.
    f.db.put_caption(&a, &uid, &tag("fr"), VTT_2, 30, 2)
        .await
        .unwrap()
        .unwrap();
    // Nor is a second video's first caption.
    let other = video(&f.db, &a, 2, "other").await;
    f.db.put_caption(&a, &other, &tag("de"), VTT_1, 40, 2)
        .await
        .unwrap()
        .unwrap();
}

async fn deleting_a_video_deletes_its_captions(f: &Fixture) {
    let a = account(&f.db).await;
    let uid = video(&f.db, &a, 1, "doomed").await;
    let kept = video(&f.db, &a, 2, "kept").await;
    for v in [&uid, &kept] {
        f.db.put_caption(&a, v, &tag("ja"), VTT_1, 10, LIMIT)
            .await
            .unwrap()
            .unwrap();
    }
    assert!(f.db.delete_video(&a, &uid).await.unwrap().is_some());
    assert!(f.db.tracks_snapshot(&uid).await.unwrap().is_none());
    // A video with the same uid again starts with no captions: the rows are gone, not
    // just hidden behind the missing video.
    f.db.insert_video(
        &Video::new(uid.clone(), a.clone(), VideoState::Queued, 3),
        None,
    )
    .await
    .unwrap();
    assert!(f.db.captions(&a, &uid).await.unwrap().is_empty());
    assert!(published(&f.db, &uid).await.is_empty());
    assert_eq!(f.db.captions(&a, &kept).await.unwrap().len(), 1);
}

conformance!(
    captions_are_put_replaced_listed_and_deleted,
    captions_belong_to_the_video_s_account,
    every_caption_change_moves_the_tracks_version,
    a_video_has_a_limited_number_of_caption_languages,
    deleting_a_video_deletes_its_captions,
);
