//! The worker against a blob store without local files (as S3 is): the upload is read
//! through the store into scratch space, and every output lands in the store.

use std::sync::Arc;

use object_store::memory::InMemory;
use usher_core::time_fmt::now_micros;
use usher_core::{AccountId, Video, VideoId, VideoState};
use usher_media::worker::{Worker, WorkerConfig};
use usher_store::layout::{generation_prefix, original_key};
use usher_store::{AccountRecord, Blobs, Db, NewJob, PACKAGE_JOB};

use crate::{h264_aac_720p, tools};

#[tokio::test]
async fn a_job_reads_its_upload_from_the_store_and_publishes_into_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}/usher.db", dir.path().display()))
        .await
        .unwrap();
    let blobs = Blobs::from_store(Arc::new(InMemory::new()));
    let account = AccountId::generate();
    db.insert_account(&AccountRecord {
        id: account.clone(),
        email: "a@example.com".into(),
        api_token_hash: "t".into(),
        api_key_hash: "k".into(),
        created: now_micros(),
    })
    .await
    .unwrap();
    let src = h264_aac_720p(dir.path());
    let uid = VideoId::generate();
    assert!(blobs.local_path(&original_key(&uid)).is_none());
    blobs.put_file(&original_key(&uid), &src).await.unwrap();
    let video = Video::new(uid.clone(), account, VideoState::Queued, now_micros());
    db.insert_video(&video, Some(NewJob { kind: PACKAGE_JOB }))
        .await
        .unwrap();

    let scratch = dir.path().join("scratch");
    // `Worker::run` makes it; the test steps the worker with `run_once`.
    std::fs::create_dir_all(&scratch).unwrap();
    let worker = Worker::new(
        db.clone(),
        blobs.clone(),
        Arc::new(tools()),
        WorkerConfig::new("test-worker".into(), scratch.clone()),
    );
    assert!(worker.run_once().await.unwrap());

    let v = db.video_by_uid(&uid).await.unwrap().unwrap();
    assert_eq!(
        v.state,
        VideoState::Ready,
        "{:?}",
        db.jobs_for_video(&uid).await.unwrap()
    );
    let prefix = generation_prefix(&uid, v.media_generation.as_deref().unwrap());
    let published = blobs.list(&prefix).await.unwrap();
    for file in [
        "manifest/video.m3u8",
        "manifest/video.mpd",
        "manifest/v0/init.mp4",
        "manifest/v0/seg_00001.m4s",
        "downloads/default.mp4",
        "thumbnails/thumbnail.jpg",
    ] {
        let key = format!("{prefix}/{file}");
        assert!(published.contains(&key), "{key} in {published:?}");
    }
    let mp4 = blobs
        .head(&format!("{prefix}/downloads/default.mp4"))
        .await
        .unwrap()
        .unwrap();
    assert!(mp4.size > 100_000, "{mp4:?}");
    let left: Vec<_> = std::fs::read_dir(&scratch).unwrap().collect();
    assert!(
        left.is_empty(),
        "the downloaded input went with the job: {left:?}"
    );
}
