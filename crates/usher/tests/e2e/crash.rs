//! `kill -9` in the middle of packaging: nothing half-written is ever served, and a
//! restarted server takes the job back at once (its worker is known dead) and finishes
//! it, leaving one published generation and no scratch files behind.

use crate::app::{self, spawn_app};
use crate::media::clip;
use crate::{READY_DEADLINE, outputs};

/// MPEG-4 Part 2 input is transcoded to the H.264 ladder, which takes long enough to
/// catch the worker in the middle of it.
const MPEG4: &[&str] = &["-c:v", "mpeg4", "-q:v", "3", "-c:a", "aac"];

#[tokio::test]
async fn kill_9_during_packaging_then_restart_reaches_ready() {
    let mut app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "long.mp4", "1280x720", 20, MPEG4);
    let (status, body) = app.upload(&src).await;
    assert_eq!(status, 200, "{body}");
    let uid = body["result"]["uid"].as_str().unwrap().to_owned();

    app.wait_in_progress(&uid, READY_DEADLINE).await;
    let dead_pid = app.child.id();
    app.child.kill().unwrap(); // SIGKILL: no cleanup of any kind
    app.child.wait().unwrap();
    let dead_scratch: Vec<_> = std::fs::read_dir(app.data_dir.join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("proc-") && n.ends_with(&format!("-{dead_pid}")))
        .collect();
    assert_eq!(
        dead_scratch.len(),
        1,
        "the killed process had scratch space"
    );

    let again = app::start(&app.data_dir, app.account.clone(), &[]);
    // Until it is packaged again, the video is not served, half-written or otherwise.
    let manifest = format!("{}/{uid}/manifest/video.m3u8", again.url);
    let early = again.http.get(&manifest).send().await.unwrap();
    if again.video(&uid).await["status"]["state"] != "ready" {
        assert_eq!(
            early.status(),
            404,
            "an unfinished video must not be served"
        );
    }
    let v = again.wait_final(&uid, READY_DEADLINE).await;
    assert_eq!(v["status"]["state"], "ready", "{v}");
    assert!((v["duration"].as_f64().unwrap() - 20.0).abs() < 0.5, "{v}");
    let served = again.http.get(&manifest).send().await.unwrap();
    assert_eq!(served.status(), 200);
    // One published generation (the crashed attempt's was removed), no dead scratch.
    outputs(&again, &uid);
    assert!(
        !again.data_dir.join("tmp").join(&dead_scratch[0]).exists(),
        "the dead process's scratch space was removed"
    );
    drop(again);
}
