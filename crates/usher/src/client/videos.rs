//! `usher video list|get|delete`, through the API.

use reqwest::Method;
use serde_json::Value;

use super::{Api, print_json};
use crate::cli::ClientArgs;

fn check_uid(uid: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        uid.len() == 32 && uid.bytes().all(|b| b.is_ascii_hexdigit()),
        "not a video uid (32 hex characters): {uid:?}"
    );
    Ok(())
}

/// One line per video: uid, state, duration and name.
pub fn summary(v: &Value) -> String {
    let state = v["status"]["state"].as_str().unwrap_or("?");
    let state = match (state, v["status"]["errorReasonCode"].as_str()) {
        ("error", Some(code)) if !code.is_empty() => format!("error ({code})"),
        (s, _) => s.to_owned(),
    };
    let duration = v["duration"]
        .as_f64()
        .filter(|d| *d >= 0.0)
        .map_or("-".to_owned(), |d| format!("{d:.1}s"));
    format!(
        "{}  {state:<12} {duration:>8}  {}",
        v["uid"].as_str().unwrap_or_default(),
        v["meta"]["name"].as_str().unwrap_or("")
    )
}

pub async fn list(args: &ClientArgs, search: Option<&str>, limit: u32) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=1000).contains(&limit),
        "--limit must be from 1 to 1000"
    );
    let mut path = format!("/stream?limit={limit}");
    if let Some(s) = search {
        path.push_str("&search=");
        path.extend(form_urlencoded::byte_serialize(s.as_bytes()));
    }
    let videos = Api::new(args)?.call(Method::GET, &path).await?;
    if args.json {
        return print_json(&videos);
    }
    for v in videos.as_array().map(Vec::as_slice).unwrap_or_default() {
        println!("{}", summary(v));
    }
    Ok(())
}

pub async fn get(args: &ClientArgs, uid: &str) -> anyhow::Result<()> {
    check_uid(uid)?;
    let v = Api::new(args)?
        .call(Method::GET, &format!("/stream/{uid}"))
        .await?;
    if args.json {
        return print_json(&v);
    }
    println!("{}", summary(&v));
    for (label, url) in [
        ("hls", &v["playback"]["hls"]),
        ("dash", &v["playback"]["dash"]),
        ("thumbnail", &v["thumbnail"]),
    ] {
        if let Some(url) = url.as_str() {
            println!("  {label:<10} {url}");
        }
    }
    if v["requireSignedURLs"] == Value::Bool(true) {
        println!("  private: plays only with a signed token in place of the uid");
    }
    Ok(())
}

pub async fn delete(args: &ClientArgs, uid: &str) -> anyhow::Result<()> {
    check_uid(uid)?;
    Api::new(args)?
        .call(Method::DELETE, &format!("/stream/{uid}"))
        .await?;
    if args.json {
        return print_json(&serde_json::json!({ "uid": uid, "deleted": true }));
    }
    println!("{uid}: deleted");
    Ok(())
}
