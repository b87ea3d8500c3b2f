//! `token explain` (SPEC §9): the decision the edge would take for a token now, with
//! every check it runs and its verdict. The checks are the edge's own
//! ([`crate::access::verify_token_observed`], [`crate::access::decide_observed`]), reported to
//! a list instead of to nobody; only the lookups differ, because an explanation is
//! asked for by an account and must reveal nothing of another's: a key or a video that
//! is not the asking account's is reported as unknown, whether it exists or not.

use std::net::IpAddr;

use serde::Serialize;
use usher_core::origin::RequestOrigin;
use usher_core::time_fmt::now_secs;
use usher_core::{AccountId, VideoId};
use usher_store::{Db, StoreError};

use crate::access::{
    Check, Denial, Presented, Request, Resource, decide_observed, observe, parse_token, token_kid,
    verify_token_observed,
};
use crate::cache::LiveKey;
use crate::serve::allowed;

/// What to explain: a token, and the request the edge would be deciding.
#[derive(Debug, Clone)]
pub struct Question<'a> {
    pub token: &'a str,
    /// The video asked for; by default the one the token names (`sub`).
    pub video: Option<VideoId>,
    pub resource: Resource,
    pub client: IpAddr,
    pub country: Option<&'a str>,
    pub origin: Option<&'a RequestOrigin>,
    pub skew: i64,
}

/// The answer: what the edge would answer, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub allowed: bool,
    /// The HTTP status the edge would answer.
    pub status: u16,
    /// Its reason, as the edge would send it.
    pub reason: String,
    /// The video the decision was about, when it is the asking account's.
    pub video: Option<String>,
    pub checks: Vec<Check>,
}

/// Explains `q` for `account`. Store failures are errors, not refusals.
pub async fn explain(
    db: &Db,
    account: &AccountId,
    q: &Question<'_>,
) -> Result<Explanation, StoreError> {
    let mut checks = Vec::new();
    let mut video_uid = None;
    let outcome = decide_for(db, account, q, &mut checks, &mut video_uid).await?;
    Ok(match outcome {
        Ok(()) => Explanation {
            allowed: true,
            status: 200,
            reason: "allowed".to_owned(),
            video: video_uid,
            checks,
        },
        Err(d) => Explanation {
            allowed: false,
            status: d.status(),
            reason: d.to_string(),
            video: video_uid,
            checks,
        },
    })
}

async fn decide_for(
    db: &Db,
    account: &AccountId,
    q: &Question<'_>,
    checks: &mut Vec<Check>,
    video_uid: &mut Option<String>,
) -> Result<Result<(), Denial>, StoreError> {
    let token = match observe(checks, "token", parse_token(q.token), |_| {
        "a JWT".to_owned()
    }) {
        Ok(t) => t,
        Err(d) => return Ok(Err(d)),
    };
    let key = match token_kid(&token) {
        Some(kid) => db
            .key(&kid)
            .await?
            .filter(|k| &k.account_id == account)
            .and_then(LiveKey::from_record),
        None => None,
    };
    let claims = match verify_token_observed(&token, key.as_ref().map(LiveKey::info), checks) {
        Ok(c) => c,
        Err(d) => return Ok(Err(d)),
    };
    let Some(key) = key else {
        return Ok(Err(Denial::InvalidToken("unknown signing key")));
    };
    let wanted = q.video.clone().or_else(|| claims.sub.parse().ok());
    let video = match wanted {
        Some(uid) => db.video(account, &uid).await?,
        None => None,
    };
    let video = match observe(checks, "video", video.ok_or(Denial::NotFound), |v| {
        format!("video {} of this account", v.uid)
    }) {
        Ok(v) => v,
        Err(d) => return Ok(Err(d)),
    };
    *video_uid = Some(video.uid.to_string());
    let facts = Request {
        resource: q.resource,
        client: q.client,
        country: q.country,
        origin: q.origin,
        now: now_secs(),
        skew: q.skew,
    };
    let presented = Presented::Token {
        claims: &claims,
        key_account: &key.account,
    };
    Ok(decide_observed(
        &video,
        &allowed(&video),
        presented,
        &facts,
        video.downloads_enabled,
        checks,
    )
    .map(|_| ()))
}
