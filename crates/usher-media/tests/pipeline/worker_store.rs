//! The worker against a blob store without local files (as S3 is): the upload is read
//! through the store into scratch space, and every output lands in the store.

use std::path::Path;
use std::sync::Arc;

use object_store::memory::InMemory;
use usher_core::time_fmt::now_micros;
use usher_core::{
    AccountId, ClipSpan, ErrorReason, Video, VideoId, VideoState, Watermark, WatermarkId,
    WatermarkPosition,
};
use usher_media::worker::{Worker, WorkerConfig};
use usher_store::layout::{generation_prefix, original_key, video_watermark_key};
use usher_store::{AccountRecord, Blobs, Db, NewJob, PACKAGE_JOB};

use crate::{duration_of, ffmpeg, ffprobe, h264_aac_720p, make_clip, mean_rgb, rgb_frame, tools};

/// A SQLite database and an in-memory blob store (no local paths, as with S3), an
/// account, and a worker over them.
struct Setup {
    dir: tempfile::TempDir,
    db: Db,
    blobs: Blobs,
    account: AccountId,
    worker: Worker,
}

impl Setup {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(configure: impl FnOnce(&mut WorkerConfig)) -> Self {
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
        let scratch = dir.path().join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        let mut config = WorkerConfig::new("test-worker".into(), scratch);
        configure(&mut config);
        let worker = Worker::new(db.clone(), blobs.clone(), Arc::new(tools()), config);
        Self {
            dir,
            db,
            blobs,
            account,
            worker,
        }
    }

    /// A queued video with a package job; `upload` becomes its original if given.
    async fn video(&self, upload: Option<&Path>, edit: impl FnOnce(&mut Video)) -> VideoId {
        let uid = VideoId::generate();
        if let Some(file) = upload {
            self.blobs
                .put_file(&original_key(&uid), file)
                .await
                .unwrap();
        }
        let mut video = Video::new(
            uid.clone(),
            self.account.clone(),
            VideoState::Queued,
            now_micros(),
        );
        edit(&mut video);
        self.db
            .insert_video(&video, Some(NewJob { kind: PACKAGE_JOB }))
            .await
            .unwrap();
        uid
    }

    /// Runs the next job and returns the video as it ends.
    async fn run(&self, uid: &VideoId) -> Video {
        assert!(self.worker.run_once().await.unwrap());
        self.db.video_by_uid(uid).await.unwrap().unwrap()
    }

    /// A published file of a ready video, copied out of the store.
    async fn published(&self, video: &Video, file: &str) -> std::path::PathBuf {
        let prefix = generation_prefix(&video.uid, video.media_generation.as_deref().unwrap());
        let local = self.dir.path().join(file.replace('/', "_"));
        self.blobs
            .download_to(&format!("{prefix}/{file}"), &local)
            .await
            .unwrap();
        local
    }
}

fn watermark(account: &AccountId) -> Watermark {
    Watermark {
        uid: WatermarkId::generate(),
        account_id: account.clone(),
        name: "logo".into(),
        size: 0,
        width: 64,
        height: 32,
        opacity: 1.0,
        padding: 0.0,
        scale: 0.0,
        position: WatermarkPosition::LowerLeft,
        downloaded_from: None,
        created: now_micros(),
    }
}

#[tokio::test]
async fn a_clip_is_cut_from_its_sources_upload_and_ends_in_error_once_that_is_gone() {
    let s = Setup::new().await;
    let src = make_clip(
        s.dir.path(),
        "source.mp4",
        "640x360",
        30,
        6,
        true,
        &[
            "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p", "-c:a",
            "aac",
        ],
    );
    let source = s.video(Some(&src), |_| {}).await;
    assert_eq!(s.run(&source).await.state, VideoState::Ready);
    // A clip of a clip: the span is in the first source's timeline, and only the first
    // source has an upload.
    let span = ClipSpan {
        start: 1.2,
        end: 4.0,
    };
    let middle = s
        .video(None, |v| {
            v.clipped_from = Some(source.clone());
            v.clip = Some(ClipSpan {
                start: 1.0,
                end: 5.0,
            });
        })
        .await;
    let clip = s
        .video(None, |v| {
            v.clipped_from = Some(middle.clone());
            v.clip = Some(span);
        })
        .await;
    s.run(&middle).await;
    let done = s.run(&clip).await;
    assert_eq!(
        done.state,
        VideoState::Ready,
        "{:?}",
        s.db.jobs_for_video(&clip).await.unwrap()
    );
    assert!((done.duration - 2.8).abs() < 0.1, "{}", done.duration);
    let mp4 = s.published(&done, "downloads/default.mp4").await;
    assert!((duration_of(&ffprobe(&mp4)) - 2.8).abs() < 0.1);
    assert!(
        s.blobs
            .exists(&format!(
                "{}/thumbnails/thumbnail.jpg",
                generation_prefix(&clip, done.media_generation.as_deref().unwrap())
            ))
            .await
            .unwrap()
    );

    // The source deleted (its upload with it) before a second clip is made.
    s.blobs
        .delete_prefix(&format!("uploads/{source}"))
        .await
        .unwrap();
    let orphan = s
        .video(None, |v| {
            v.clipped_from = Some(source.clone());
            v.clip = Some(span);
        })
        .await;
    let failed = s.run(&orphan).await;
    assert_eq!(failed.state, VideoState::Error);
    assert_eq!(failed.error_reason, Some(ErrorReason::FetchOriginError));
    assert!(failed.media_generation.is_none());
}

#[tokio::test]
async fn a_watermark_is_read_from_the_videos_copy_of_the_image() {
    let s = Setup::new().await;
    let src = make_clip(
        s.dir.path(),
        "gray.mp4",
        "320x240",
        30,
        2,
        false,
        &[
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ],
    );
    let image = s.dir.path().join("mark.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=64x32",
        "-frames:v",
        "1",
        image.to_str().unwrap(),
    ]);
    let marked = s
        .video(Some(&src), |v| v.watermark = Some(watermark(&s.account)))
        .await;
    s.blobs
        .put_file(&video_watermark_key(&marked), &image)
        .await
        .unwrap();
    let done = s.run(&marked).await;
    assert_eq!(
        done.state,
        VideoState::Ready,
        "{:?}",
        s.db.jobs_for_video(&marked).await.unwrap()
    );
    // Its own size (scale 0), in the lower left corner (no padding); the poster too
    // (the first frame, by default).
    let source = rgb_frame(&src, 0.0);
    for file in ["downloads/default.mp4", "thumbnails/thumbnail.jpg"] {
        let frame = rgb_frame(&s.published(&done, file).await, 0.0);
        let corner = mean_rgb(&frame, 320, (4, 60), (212, 236));
        assert!(corner[0] > 200.0 && corner[1] < 60.0, "{file}: {corner:?}");
        let (a, b) = (
            mean_rgb(&frame, 320, (4, 60), (150, 200)),
            mean_rgb(&source, 320, (4, 60), (150, 200)),
        );
        for c in 0..3 {
            assert!(
                (a[c] - b[c]).abs() < 10.0,
                "{file} above the mark: {a:?} vs {b:?}"
            );
        }
    }

    // Without its image (never copied), the video fails rather than going out unmarked.
    let missing = s
        .video(Some(&src), |v| v.watermark = Some(watermark(&s.account)))
        .await;
    let failed = s.run(&missing).await;
    assert_eq!(failed.state, VideoState::Error);
    assert_eq!(failed.error_reason, Some(ErrorReason::Unknown));
}

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

/// The published generations of a video (directories under `videos/{uid}`).
/// The generations in the store (beside them sits `masters/`).
async fn generations(s: &Setup, uid: &VideoId) -> Vec<String> {
    s.blobs
        .list_dirs(&usher_store::layout::outputs_prefix(uid))
        .await
        .unwrap()
        .into_iter()
        .filter(|d| {
            let name = d.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            usher_store::layout::is_generation(name)
        })
        .collect()
}

/// The master playlist a viewer of a ready video gets: the published masters revision
/// when there is one (what the edge serves), else the generation's own.
async fn master(s: &Setup, video: &Video) -> String {
    let Some(revision) = &video.manifest_revision else {
        return std::fs::read_to_string(s.published(video, "manifest/video.m3u8").await).unwrap();
    };
    let key = format!(
        "{}/video.m3u8",
        usher_store::layout::masters_prefix(&video.uid, revision)
    );
    let bytes = s.blobs.get_bytes(&key, 1 << 20).await.unwrap().unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn camera_clip(dir: &Path) -> std::path::PathBuf {
    make_clip(
        dir,
        "camera.mp4",
        "640x360",
        30,
        4,
        true,
        &[
            "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p", "-c:a",
            "aac",
        ],
    )
}

#[tokio::test]
async fn progressive_publishing_ends_with_the_whole_ladder_in_one_generation() {
    let s = Setup::with(|c| c.progressive_publishing = true).await;
    let src = camera_clip(s.dir.path());
    let uid = s.video(Some(&src), |_| {}).await;
    let done = s.run(&uid).await;
    assert_eq!(
        done.state,
        VideoState::Ready,
        "{:?}",
        s.db.jobs_for_video(&uid).await.unwrap()
    );
    let master = master(&s, &done).await;
    assert_eq!(master.matches("#EXT-X-STREAM-INF").count(), 2, "{master}");
    assert_eq!(
        generations(&s, &uid).await.len(),
        1,
        "the top-only generation is gone"
    );
    let prefix = generation_prefix(&uid, done.media_generation.as_deref().unwrap());
    let published = s.blobs.list(&prefix).await.unwrap();
    for file in [
        "manifest/v0/seg_00001.m4s",
        "manifest/v1/seg_00001.m4s",
        "manifest/v1/index.m3u8",
        "manifest/a0/init.mp4",
        "downloads/default.mp4",
        "thumbnails/thumbnail.jpg",
    ] {
        assert!(
            published.contains(&format!("{prefix}/{file}")),
            "{file}: {published:?}"
        );
    }
    // The same copy as in the first generation: the upload's own bitstream on top.
    let mp4 = s.published(&done, "downloads/default.mp4").await;
    assert_eq!(crate::packet_hash(&mp4, "v"), crate::packet_hash(&src, "v"));
}

#[tokio::test]
async fn a_job_taken_back_after_only_the_top_was_published_publishes_the_rest() {
    // The state a worker leaves when it dies between the two steps: the video ready on
    // a generation holding the copy alone, its package job still to run.
    let s = Setup::new().await;
    let src = camera_clip(s.dir.path());
    let uid = s.video(Some(&src), |_| {}).await;
    let tools = tools();
    let probed = usher_media::probe(&tools, &src).await.unwrap();
    let out = s.dir.path().join("top");
    let top = usher_media::package(
        &tools,
        &src,
        &probed,
        &usher_media::Plan::Remux { lower: vec![] },
        &out,
        |_| {},
    )
    .await
    .unwrap();
    let first = "0123456789abcdef0123456789abcdef";
    for rel in &top.files {
        let key = format!("{}/{}", generation_prefix(&uid, first), rel.display());
        s.blobs.put_file(&key, &out.join(rel)).await.unwrap();
    }
    assert!(
        s.db.transition(
            &uid,
            &[VideoState::Queued],
            VideoState::InProgress,
            now_micros()
        )
        .await
        .unwrap()
    );
    s.db.mark_ready(&uid, first, None, now_micros())
        .await
        .unwrap()
        .unwrap();
    let ready = s.db.video_by_uid(&uid).await.unwrap().unwrap();
    assert_eq!(
        master(&s, &ready)
            .await
            .matches("#EXT-X-STREAM-INF")
            .count(),
        1
    );

    let done = s.run(&uid).await;
    assert_eq!(done.state, VideoState::Ready);
    assert_ne!(done.media_generation.as_deref(), Some(first));
    assert_eq!(
        master(&s, &done).await.matches("#EXT-X-STREAM-INF").count(),
        2
    );
    assert_eq!(generations(&s, &uid).await.len(), 1);
    // Done: taken back once more, there is nothing left to do.
    s.db.enqueue_job(&uid, NewJob { kind: PACKAGE_JOB }, now_micros())
        .await
        .unwrap();
    let again = s.run(&uid).await;
    assert_eq!(again.media_generation, done.media_generation);
}
