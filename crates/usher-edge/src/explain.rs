//! `token explain` (SPEC §9): the decision the edge would take for a token now, with
//! every check it runs and its verdict. The checks are the edge's own
//! ([`crate::access::verify_token_observed`], [`crate::access::decide_observed`]), reported to
//! a list instead of to nobody; only the lookups differ, because an explanation is
//! asked for by an account and must reveal nothing of another's: a key or a video that
//! is not the asking account's is reported as unknown, whether it exists or not.

use std::net::IpAddr;

use serde::Serialize;
use usher_core::origin::RequestOrigin;
use usher_core::revocation::token_id;
use usher_core::time_fmt::now_secs;
use usher_core::{AccountId, LiveInputId, VideoId};
use usher_store::{Db, StoreError};

use crate::access::{
    Check, Denial, Presented, Request, Resource, Subject, decide_observed, observe, parse_token,
    token_kid, verify_token_observed,
};
use crate::cache::LiveKey;
use crate::live::LiveChannel;
use crate::serve::{allowed, parse_origins};

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
    let video = match &wanted {
        Some(uid) => db.video(account, uid).await?,
        None => None,
    };
    // Not a video: the account's live input of that uid, decided as the edge does.
    let live = match (&video, &wanted) {
        (None, Some(uid)) => match uid.as_str().parse::<LiveInputId>() {
            Ok(input) => match db.account_live_input(account, &input).await? {
                Some(rec) => Some(LiveChannel::new(rec, db.live_run(input.as_str()).await?)),
                None => None,
            },
            Err(_) => None,
        },
        _ => None,
    };
    let subject: Result<(&(dyn Subject + Sync), Vec<_>, bool), Denial> = match (&video, &live) {
        (Some(v), _) => Ok((v, allowed(v), v.downloads_enabled)),
        (None, Some(c)) => Ok((c, parse_origins(&c.allowed_origins), false)),
        (None, None) => Err(Denial::NotFound),
    };
    let (subject, origins, downloads) = match observe(checks, "video", subject, |(s, ..)| {
        if live.is_some() {
            format!("live input {} of this account", s.uid())
        } else {
            format!("video {} of this account", s.uid())
        }
    }) {
        Ok(v) => v,
        Err(d) => return Ok(Err(d)),
    };
    *video_uid = Some(subject.uid().to_owned());
    let facts = Request {
        resource: q.resource,
        client: q.client,
        country: q.country,
        origin: q.origin,
        now: now_secs(),
        skew: q.skew,
    };
    let uid: VideoId = subject
        .uid()
        .parse()
        .map_err(|_| StoreError::Corrupt("a uid that does not parse".into()))?;
    let revoked = db
        .is_token_revoked(&uid, &token_id(q.token, claims.jti.as_deref()))
        .await?;
    let presented = Presented::Token {
        claims: &claims,
        key_account: &key.account,
        revoked,
    };
    Ok(decide_observed(subject, &origins, presented, &facts, downloads, checks).map(|_| ()))
}
