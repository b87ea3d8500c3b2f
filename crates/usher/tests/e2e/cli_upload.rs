//! `usher upload` against a real server: a small video to `ready`, then a large file
//! interrupted by Ctrl-C (SIGINT) and resumed by running the same command again, and a
//! large file whose server is killed and restarted mid-upload, which the same run
//! rides out. The stored bytes are compared with the file each time.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::app::{self, App, BIN, free_port, spawn_app};
use crate::media::clip;
use crate::{H264_AAC, READY_DEADLINE};

/// Large enough that the upload cannot finish while the server is stopped (the socket
/// buffers hold a few MiB at most).
const BIG: usize = 256 * 1024 * 1024;
const DEADLINE: Duration = Duration::from_secs(120);

/// A server on a fixed port with matching public URL, so upload URLs survive a restart.
fn serve_on(data_dir: &Path, account: app::Account, port: u16) -> App {
    let listen = format!("127.0.0.1:{port}");
    let public = format!("http://{listen}");
    app::start(
        data_dir,
        account,
        &["--listen", &listen, "--public-url", &public],
    )
}

struct Cli {
    state: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Self {
            state: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self, app: &App, server: &str, file: &Path, extra: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(["upload"])
            .arg(file)
            .args(["--server", server, "--account", &app.account.id])
            .args(extra)
            .env("USHER_TOKEN", &app.account.token)
            .env("XDG_STATE_HOME", self.state.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

fn wait_output(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

/// Waits until some upload has a part staged on the server (in its media store, under
/// `uploads/{uid}/parts/`); returns the part.
fn wait_for_staged_bytes(data_dir: &Path) -> PathBuf {
    let uploads = data_dir.join("media/uploads");
    let start = Instant::now();
    loop {
        let parts = std::fs::read_dir(&uploads)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|upload| std::fs::read_dir(upload.path().join("parts")).into_iter())
            .flatten()
            .flatten();
        for e in parts {
            if e.metadata().map(|m| m.len() > 0).unwrap_or(false) {
                return e.path();
            }
        }
        assert!(start.elapsed() < DEADLINE, "no bytes ever arrived");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn big_file(dir: &Path) -> PathBuf {
    let path = dir.join("big.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    let mut block = vec![0u8; 1 << 20];
    for i in 0..BIG / block.len() {
        // Every MiB differs, so a misplaced chunk would show in the comparison.
        block
            .iter_mut()
            .enumerate()
            .for_each(|(j, b)| *b = (i * 31 + j * 7) as u8);
        f.write_all(&block).unwrap();
    }
    path
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    let (mut fa, mut fb) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let na = fa.read(&mut ba).unwrap();
        let mut nb = 0;
        while nb < na {
            let n = fb.read(&mut bb[nb..na]).unwrap();
            if n == 0 {
                return false;
            }
            nb += n;
        }
        if na == 0 {
            return fb.read(&mut bb).unwrap() == 0;
        }
        if ba[..na] != bb[..na] {
            return false;
        }
    }
}

fn stored(app: &App, uid: &str) -> PathBuf {
    app.data_dir
        .join("media/uploads")
        .join(uid)
        .join("original")
}

/// The uid on the `uploaded … video UID` line.
fn uploaded_uid(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| {
            l.split("video ")
                .nth(1)
                .filter(|_| l.starts_with("uploaded"))
        })
        .unwrap_or_else(|| panic!("no 'uploaded' line in {stderr}"))
        .trim()
        .to_owned()
}

#[tokio::test]
async fn usher_upload_reaches_ready_and_prints_the_video() {
    let app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "mine.mp4", "640x360", 4, H264_AAC);
    let cli = Cli::new();
    let out = cli
        .command(&app, &app.url, &src, &["--json", "--require-signed-urls"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(v["status"]["state"], "ready", "{v}");
    assert_eq!(v["meta"]["name"], "mine.mp4");
    assert_eq!(v["requireSignedURLs"], true);
    let uid = v["uid"].as_str().unwrap();
    assert!(same_bytes(&src, &stored(&app, uid)));
    assert_eq!(
        app.wait_final(uid, READY_DEADLINE).await["status"]["state"],
        "ready"
    );

    // Bad credentials are a clear refusal, not a retry loop.
    let out = Command::new(BIN)
        .args(["upload"])
        .arg(&src)
        .args([
            "--server",
            &app.url,
            "--account",
            &app.account.id,
            "--token",
            "wrong",
        ])
        .env("XDG_STATE_HOME", cli.state.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("403") && stderr.contains("Authentication error"),
        "{stderr}"
    );
}

/// A 256 MiB `usher upload --no-wait` under way to a server on a fixed port, with bytes
/// already staged on the server.
struct MidUpload {
    first: App,
    server: App,
    file: PathBuf,
    base: String,
    cli: Cli,
    child: Child,
    _tmp: tempfile::TempDir,
}

fn start_big_upload() -> MidUpload {
    let port = free_port();
    let first = spawn_app(&[]);
    let server = serve_on(&first.data_dir, first.account.clone(), port);
    let tmp = tempfile::tempdir().unwrap();
    let file = big_file(tmp.path());
    let base = format!("http://127.0.0.1:{port}");
    let cli = Cli::new();
    let child = cli
        .command(&server, &base, &file, &["--no-wait"])
        .spawn()
        .unwrap();
    wait_for_staged_bytes(&server.data_dir);
    MidUpload {
        first,
        server,
        file,
        base,
        cli,
        child,
        _tmp: tmp,
    }
}

#[tokio::test]
async fn ctrl_c_then_the_same_command_resumes() {
    let MidUpload {
        first,
        server,
        file,
        base,
        cli,
        child,
        _tmp,
    } = start_big_upload();
    // Hold the server still so the upload is surely mid-way, then press Ctrl-C.
    signal(server.child.id(), "-STOP");
    signal(child.id(), "-INT");
    let out = wait_output(child);
    signal(server.child.id(), "-CONT");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("run the same command again to resume"),
        "{stderr}"
    );

    let out = cli
        .command(&server, &base, &file, &["--no-wait"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("resuming video"), "{stderr}");
    let uid = uploaded_uid(&stderr);
    assert!(
        same_bytes(&file, &stored(&server, &uid)),
        "stored bytes differ"
    );
    drop(first);
}

#[tokio::test]
async fn a_server_restart_mid_upload_is_ridden_out() {
    let MidUpload {
        first,
        mut server,
        file,
        base,
        child,
        _tmp,
        ..
    } = start_big_upload();
    // The fixed port the upload URLs name (the server's first listener is on port 0).
    let port = base.rsplit(':').next().unwrap().to_owned();
    signal(server.child.id(), "-STOP");
    server.child.kill().unwrap(); // SIGKILL, mid-upload
    server.child.wait().unwrap();
    let data_dir = server.data_dir.clone();
    drop(server);
    let _again = serve_on(&data_dir, first.account.clone(), port.parse().unwrap());

    let out = wait_output(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("retrying"), "{stderr}");
    let uid = uploaded_uid(&stderr);
    assert!(
        same_bytes(
            &file,
            &data_dir.join("media/uploads").join(&uid).join("original")
        ),
        "stored bytes differ"
    );
    drop(first);
}
