//! `spawn_app()`: a real `usher serve` process on port 0 with a fresh data dir, and the
//! account it serves, stopped by PID when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_usher");
/// Generous: CI machines are shared and slow.
const START_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub token: String,
    pub key: String,
}

pub fn create_account(data_dir: &Path, email: &str) -> Account {
    create_account_with(data_dir, email, &[])
}

/// `usher account create` with storage flags (`--database-url`, `--media-url`).
pub fn create_account_with(data_dir: &Path, email: &str, extra: &[&str]) -> Account {
    let out = Command::new(BIN)
        .args([
            "account",
            "create",
            "--email",
            email,
            "--json",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(extra)
        .output()
        .expect("run usher account create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    Account {
        id: v["account_id"].as_str().unwrap().into(),
        email: v["email"].as_str().unwrap().into(),
        token: v["api_token"].as_str().unwrap().into(),
        key: v["api_key"].as_str().unwrap().into(),
    }
}

pub struct App {
    pub child: Child,
    /// The first listener's base URL.
    pub url: String,
    /// Every listener's, in `--listen` order (extra `--listen` flags add to the first).
    pub urls: Vec<String>,
    /// The RTMP ingest URL (`rtmp://addr/live/`), when started with `--rtmp-listen`.
    pub rtmp: Option<String>,
    /// The SRT ingest URL (`srt://addr`), when started with `--srt-listen`.
    pub srt: Option<String>,
    pub data_dir: PathBuf,
    pub account: Account,
    pub http: reqwest::Client,
    _tmp: Option<tempfile::TempDir>,
}

pub fn spawn_app(extra: &[&str]) -> App {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let account = create_account(&data_dir, "owner@example.com");
    let mut app = start(&data_dir, account, extra);
    app._tmp = Some(tmp);
    app
}

/// Starts a server on an existing data dir.
pub fn start(data_dir: &Path, account: Account, extra: &[&str]) -> App {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("USHER_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn usher serve");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (rtmp_tx, rtmp_rx) = std::sync::mpsc::channel();
    let (srt_tx, srt_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("usher listening on ") {
                let _ = tx.send(url.to_owned());
            } else if let Some(url) = line.strip_prefix("usher rtmp listening on ") {
                let _ = rtmp_tx.send(url.to_owned());
            } else if let Some(url) = line.strip_prefix("usher srt listening on ") {
                let _ = srt_tx.send(url.to_owned());
            }
        }
    });
    let listeners = 1 + extra.iter().filter(|a| **a == "--listen").count();
    let urls: Vec<String> = (0..listeners)
        .map(|_| {
            rx.recv_timeout(START_DEADLINE)
                .expect("server announced its address")
        })
        .collect();
    let rtmp = extra.contains(&"--rtmp-listen").then(|| {
        rtmp_rx
            .recv_timeout(START_DEADLINE)
            .expect("server announced its RTMP address")
    });
    let srt = extra.contains(&"--srt-listen").then(|| {
        srt_rx
            .recv_timeout(START_DEADLINE)
            .expect("server announced its SRT address")
    });
    App {
        child,
        url: urls[0].clone(),
        urls,
        rtmp,
        srt,
        data_dir: data_dir.to_owned(),
        account,
        http: reqwest::Client::new(),
        _tmp: None,
    }
}

impl App {
    pub fn api(&self, path: &str) -> String {
        format!("{}/client/v4/accounts/{}{path}", self.url, self.account.id)
    }

    pub fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        rb.bearer_auth(&self.account.token)
    }

    pub async fn upload(&self, file: &Path) -> (reqwest::StatusCode, Value) {
        let bytes = std::fs::read(file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name),
        );
        let resp = self
            .auth(self.http.post(self.api("/stream")))
            .multipart(form)
            .send()
            .await
            .unwrap();
        (resp.status(), resp.json().await.unwrap())
    }

    pub async fn video(&self, uid: &str) -> Value {
        let resp = self
            .auth(self.http.get(self.api(&format!("/stream/{uid}"))))
            .send()
            .await
            .unwrap();
        resp.json::<Value>().await.unwrap()["result"].clone()
    }

    /// Uploads `file`, waits until it is ready and returns its uid.
    pub async fn upload_ready(&self, file: &Path) -> String {
        let (status, body) = self.upload(file).await;
        assert_eq!(status, 200, "{body}");
        let uid = body["result"]["uid"].as_str().unwrap().to_owned();
        let v = self.wait_final(&uid, crate::READY_DEADLINE).await;
        assert_eq!(v["status"]["state"], "ready", "{v}");
        uid
    }

    /// `POST` of a JSON body to an account path, which must succeed; returns `result`.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .auth(self.http.post(self.api(path)))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{path}: {v}");
        v["result"].clone()
    }

    /// Edits a video's settings (`requireSignedURLs`, `allowedOrigins`, …).
    pub async fn edit(&self, uid: &str, body: Value) -> Value {
        self.post(&format!("/stream/{uid}"), body).await
    }

    /// A token from `POST …/token` with `body` as its options.
    pub async fn token(&self, uid: &str, body: Value) -> String {
        let r = self.post(&format!("/stream/{uid}/token"), body).await;
        r["token"].as_str().unwrap().to_owned()
    }

    /// Polls until the video is ready or errored, or the deadline passes.
    pub async fn wait_final(&self, uid: &str, deadline: Duration) -> Value {
        let start = Instant::now();
        loop {
            let v = self.video(uid).await;
            let state = v["status"]["state"].as_str().unwrap_or("").to_owned();
            if state == "ready" || state == "error" {
                return v;
            }
            assert!(start.elapsed() < deadline, "video {uid} stuck in {state}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until a worker is packaging `uid` with some output written, so that a kill
    /// now interrupts it mid-job.
    pub async fn wait_in_progress(&self, uid: &str, deadline: Duration) {
        let start = Instant::now();
        loop {
            let v = self.video(uid).await;
            let pct: f64 = v["status"]["pctComplete"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            if v["status"]["state"] == "inprogress" && pct > 0.0 {
                return;
            }
            assert_ne!(
                v["status"]["state"], "ready",
                "packaged before it could be interrupted"
            );
            assert!(start.elapsed() < deadline, "never started: {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -TERM failed");
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "server ignored SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A TCP port free on loopback right now (for servers that cannot take port 0).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `usher token sign` with a signing key's PEM, offline, as a customer would.
pub fn sign_offline(kid: &str, pem: &str, uid: &str, ttl: &str) -> std::process::Output {
    Command::new(BIN)
        .args([
            "token", "sign", "--key-id", kid, "--video", uid, "--ttl", ttl,
        ])
        .args(["--pem", pem])
        .output()
        .expect("run usher token sign")
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
