//! `usher upload FILE`: a tus client. It creates the upload (as the SDKs' `stream.create`
//! does), sends the file in chunks with a progress bar, and on a lost connection or a
//! server restart asks the server where it stands (`HEAD`) and goes on from there. The
//! upload URL is remembered ([`super::resume`]), so after a Ctrl-C the same command
//! resumes. Then it waits for the video to be ready, unless `--no-wait`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::resume::{Remembered, ResumeStore};
use super::{Api, CallError, print_json, videos};
use crate::cli::UploadArgs;

/// Bytes per `PATCH`: large enough to keep the pipe full, small enough that a retry
/// after a failure resends little (the server acknowledges within a request too).
const CHUNK: u64 = 64 * 1024 * 1024;
/// Read size while streaming a chunk (and how often the bar moves).
const READ_SIZE: usize = 256 * 1024;
/// Waits between retries while the server is unreachable: doubling up to the maximum.
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(5);
/// How often the video is polled while it is processed.
const POLL: Duration = Duration::from_secs(1);
const TUS: &str = "1.0.0";

pub async fn run(args: UploadArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.client)?;
    let store = ResumeStore::open()?;
    let fingerprint =
        ResumeStore::fingerprint(&args.client.server, &args.client.account, &args.file)?;
    let size = std::fs::metadata(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?
        .len();
    anyhow::ensure!(size > 0, "{} is empty", args.file.display());

    let bar = progress_bar(size);
    let work = send(&api, &args, &store, &fingerprint, size, &bar);
    let uid = tokio::select! {
        r = work => r?,
        _ = tokio::signal::ctrl_c() => {
            bar.abandon();
            eprintln!(
                "usher: interrupted at {} of {size} bytes; run the same command again to resume",
                bar.position()
            );
            std::process::exit(130);
        }
    };
    store.forget(&fingerprint);
    bar.finish_with_message("uploaded");
    if !bar.is_hidden() {
        eprintln!();
    }
    eprintln!("uploaded {size} bytes: video {uid}");

    let video = if args.no_wait {
        api.call(Method::GET, &format!("/stream/{uid}")).await?
    } else {
        wait_until_processed(&api, &uid, Duration::from_secs(args.retry_for)).await?
    };
    if args.client.json {
        print_json(&video)?;
    } else {
        println!("{}", videos::summary(&video));
        if let Some(hls) = video["playback"]["hls"].as_str() {
            println!("  hls  {hls}");
        }
    }
    if video["status"]["state"] == "error" {
        bail!(
            "the video could not be processed: {} {}",
            video["status"]["errorReasonCode"].as_str().unwrap_or(""),
            video["status"]["errorReasonText"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

/// A line for the user: above the bar on a terminal, plainly on stderr otherwise (a
/// hidden bar prints nothing).
fn note(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

fn progress_bar(size: u64) -> ProgressBar {
    let bar = ProgressBar::new(size);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {bytes}/{total_bytes} [{wide_bar}] {bytes_per_sec} eta {eta} {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Creates or resumes the upload and sends every byte; returns the video's uid.
async fn send(
    api: &Api,
    args: &UploadArgs,
    store: &ResumeStore,
    fingerprint: &str,
    size: u64,
    bar: &ProgressBar,
) -> anyhow::Result<String> {
    let retry_for = Duration::from_secs(args.retry_for);
    let resumed = match store.get(fingerprint) {
        Some(r) => match head(api, &r.url).await {
            Ok((offset, length)) if length == size => {
                note(bar, format!("resuming video {} at byte {offset}", r.uid));
                Some((r, offset))
            }
            Ok(_) | Err(CallError::Refused { .. }) => {
                store.forget(fingerprint);
                None
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let (upload, mut offset) = match resumed {
        Some(x) => x,
        None => {
            let created = retrying(retry_for, bar, || create(api, args, size)).await?;
            store.put(fingerprint, &created)?;
            (created, 0)
        }
    };
    bar.set_position(offset);
    // The rate shown is of what this run sends, not of what was sent before.
    bar.reset_eta();
    let mut failing_since: Option<Instant> = None;
    let mut wait = FIRST_RETRY;
    while offset < size {
        let len = CHUNK.min(size - offset);
        let sent = match patch(api, &upload.url, &args.file, offset, len, bar).await {
            Ok(next) => Ok(next),
            // Where the server stands after a failure is what its HEAD says.
            Err(CallError::Unavailable(why)) => Err(why),
            Err(CallError::Refused { status, .. }) if status == StatusCode::CONFLICT => {
                Err("the server's offset differs".to_owned())
            }
            Err(CallError::Refused { status, message })
                if matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) =>
            {
                store.forget(fingerprint);
                bail!(
                    "the upload is gone ({status}: {message}); run the command again to start over"
                );
            }
            Err(e) => return Err(e.into()),
        };
        match sent {
            Ok(next) => {
                offset = next;
                failing_since = None;
                wait = FIRST_RETRY;
            }
            Err(why) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() > retry_for {
                    bail!("gave up after {}s: {why}", retry_for.as_secs());
                }
                note(
                    bar,
                    format!("{why}; retrying in {:.1}s", wait.as_secs_f64()),
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_RETRY);
                if let Ok((server_offset, _)) = head(api, &upload.url).await {
                    offset = server_offset;
                }
                bar.set_position(offset);
                bar.reset_eta();
            }
        }
        bar.set_position(offset);
    }
    Ok(upload.uid)
}

/// Runs `call` until it succeeds, retrying what a retry may fix for up to `retry_for`.
async fn retrying<T, F, Fut>(retry_for: Duration, bar: &ProgressBar, call: F) -> anyhow::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    let start = Instant::now();
    let mut wait = FIRST_RETRY;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(CallError::Unavailable(why)) if start.elapsed() < retry_for => {
                note(
                    bar,
                    format!("{why}; retrying in {:.1}s", wait.as_secs_f64()),
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_RETRY);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn create(api: &Api, args: &UploadArgs, size: u64) -> Result<Remembered, CallError> {
    let name = args.name.clone().unwrap_or_else(|| file_name(&args.file));
    let mut metadata = format!("name {}", STANDARD.encode(name));
    if args.require_signed_urls {
        metadata.push_str(",requiresignedurls");
    }
    let resp = api
        .request(Method::POST, &api.url("/stream"))
        .header("tus-resumable", TUS)
        .header("upload-length", size)
        .header("upload-metadata", metadata)
        .send()
        .await
        .map_err(CallError::from_reqwest)?;
    let status = resp.status();
    if status != StatusCode::CREATED {
        let body = resp.text().await.unwrap_or_default();
        return Err(CallError::from_answer(status, &body));
    }
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| CallError::Unavailable(format!("the server's answer lacks {name}")))
    };
    Ok(Remembered {
        url: header("location")?,
        uid: header("stream-media-id")?,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "upload".into())
}

/// The server's offset and the upload's length.
async fn head(api: &Api, url: &str) -> Result<(u64, u64), CallError> {
    let resp = api
        .request(Method::HEAD, url)
        .header("tus-resumable", TUS)
        .send()
        .await
        .map_err(CallError::from_reqwest)?;
    let status = resp.status();
    if status != StatusCode::OK {
        return Err(CallError::from_answer(status, ""));
    }
    let number = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| CallError::Unavailable(format!("the server's answer lacks {name}")))
    };
    Ok((number("upload-offset")?, number("upload-length")?))
}

/// Sends `len` bytes of the file from `offset`; returns the server's new offset.
async fn patch(
    api: &Api,
    url: &str,
    file: &Path,
    offset: u64,
    len: u64,
    bar: &ProgressBar,
) -> Result<u64, CallError> {
    let local = |e: std::io::Error| CallError::Refused {
        status: StatusCode::BAD_REQUEST,
        message: format!("reading {}: {e}", file.display()),
    };
    let mut f = tokio::fs::File::open(file).await.map_err(local)?;
    f.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(local)?;
    let progress = bar.clone();
    let body = tokio_util::io::ReaderStream::with_capacity(f.take(len), READ_SIZE).map(move |r| {
        if let Ok(chunk) = &r {
            progress.inc(chunk.len() as u64);
        }
        r
    });
    let resp = api
        .request(Method::PATCH, url)
        .header("tus-resumable", TUS)
        .header("upload-offset", offset)
        .header("content-type", "application/offset+octet-stream")
        .header("content-length", len)
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .map_err(CallError::from_reqwest)?;
    let status = resp.status();
    if status != StatusCode::NO_CONTENT {
        let body = resp.text().await.unwrap_or_default();
        return Err(CallError::from_answer(status, &body));
    }
    resp.headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| CallError::Unavailable("the server's answer lacks Upload-Offset".into()))
}

/// Polls the video until it is ready or errored, with a spinner.
async fn wait_until_processed(api: &Api, uid: &str, retry_for: Duration) -> anyhow::Result<Value> {
    let spinner = ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(120));
    let mut last_state = String::new();
    let path = format!("/stream/{uid}");
    loop {
        let v = retrying(retry_for, &spinner, || api.call(Method::GET, &path)).await?;
        let state = v["status"]["state"].as_str().unwrap_or("").to_owned();
        if state == "ready" || state == "error" {
            spinner.finish_and_clear();
            return Ok(v);
        }
        let pct = v["status"]["pctComplete"].as_str().unwrap_or("0");
        spinner.set_message(format!("processing: {state} {pct}%"));
        if spinner.is_hidden() && state != last_state {
            eprintln!("processing: {state}");
        }
        last_state = state;
        tokio::time::sleep(POLL).await;
    }
}
