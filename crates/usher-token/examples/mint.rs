//! Mint a signed-URL token offline, the way a customer's backend would.
//!
//! You need a signing key from `POST /accounts/{account_id}/stream/keys` (Usher or
//! Cloudflare Stream): its `id` plus either its `pem` or its `jwk` field (both are
//! base64, pass them as they are). The token is valid for one hour for one video;
//! with `--country` it only plays from those countries.
//!
//! ```text
//! cargo run -p usher-token --example mint -- \
//!     --key-id 8f9c0c5a…  --pem LS0tLS1CRUdJTi…  --video ea95132c15732412d22c1476fa83f27a \
//!     [--country GB --country IE]
//!
//! # or with the JWK (it carries its own key id), and settings from the environment:
//! USHER_JWK=eyJ1c2UiOi… USHER_VIDEO=ea95132c… cargo run -p usher-token --example mint
//! ```
//!
//! Every flag has an environment variable: `USHER_KEY_ID`, `USHER_PEM`, `USHER_JWK`,
//! `USHER_VIDEO`, `USHER_COUNTRY` (comma-separated). The token is printed on stdout:
//! use it in place of the video uid, e.g. `https://your-usher/{token}/manifest/video.m3u8`
//! or `…/{token}/iframe`.

use std::error::Error;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use usher_token::{Claims, SigningKey, Timestamp, parse_rules, sign};

/// How long minted tokens stay valid.
const TOKEN_LIFETIME_SECS: i64 = 60 * 60;

const USAGE: &str = "usage: mint --video UID (--jwk BASE64_JWK | --key-id ID --pem BASE64_PEM) \
                     [--country CC]...";

#[derive(Default)]
struct Args {
    key_id: Option<String>,
    pem: Option<String>,
    jwk: Option<String>,
    video: Option<String>,
    countries: Vec<String>,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut args = Args {
        key_id: env("USHER_KEY_ID"),
        pem: env("USHER_PEM"),
        jwk: env("USHER_JWK"),
        video: env("USHER_VIDEO"),
        countries: env("USHER_COUNTRY")
            .map(|list| list.split(',').map(|c| c.trim().to_owned()).collect())
            .unwrap_or_default(),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = argv
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--key-id" => args.key_id = Some(value),
            "--pem" => args.pem = Some(value),
            "--jwk" => args.jwk = Some(value),
            "--video" => args.video = Some(value),
            "--country" => args.countries.push(value),
            other => return Err(format!("unknown flag {other}\n{USAGE}").into()),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mint: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let key = match (&args.jwk, &args.pem, &args.key_id) {
        (Some(jwk), _, _) => SigningKey::from_base64_jwk(jwk)?,
        (None, Some(pem), Some(id)) => SigningKey::from_base64_pem(id.as_str(), pem)?,
        (None, Some(_), None) => return Err(format!("--pem needs --key-id\n{USAGE}").into()),
        (None, None, _) => return Err(format!("a key is required\n{USAGE}").into()),
    };
    let video = args
        .video
        .ok_or_else(|| format!("--video is required\n{USAGE}"))?;

    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    let mut claims = Claims::new(video);
    claims.exp = Some(Timestamp(now + TOKEN_LIFETIME_SECS));
    if !args.countries.is_empty() {
        // Cloudflare's documented pattern: allow these countries, block everyone else.
        claims.access_rules = parse_rules(&json!([
            {"type": "ip.geoip.country", "action": "allow", "country": args.countries},
            {"type": "any", "action": "block"}
        ]))?;
    }
    println!("{}", sign(&key, &claims)?);
    Ok(())
}
