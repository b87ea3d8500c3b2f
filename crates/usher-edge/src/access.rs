//! The access decision (SPEC §4 items 1–5): may this request be served? Pure: the caller
//! has already looked up the video and the token's key, and knows the client's address,
//! country and origin. No HTTP types, so every rule is tested in a table below.

use std::net::IpAddr;

use usher_core::origin::{AllowedOrigin, RequestOrigin, origin_allowed};
use usher_core::{AccountId, Video, VideoState};
use usher_token::{
    Claims, ClaimsError, Decision, TokenError, UnverifiedToken, VerifyingKey, evaluate,
};

/// What is being asked for; downloads carry an extra condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Player and watch pages.
    Player,
    /// Manifests, init and media segments.
    Media,
    Thumbnail,
    /// The MP4 download.
    Download,
}

/// The token's key as the store knows it.
#[derive(Debug, Clone, Copy)]
pub struct KeyInfo<'a> {
    pub account: &'a AccountId,
    pub key: &'a VerifyingKey,
    pub revoked: bool,
}

/// How the request named the video.
#[derive(Debug, Clone, Copy)]
pub enum Presented<'a> {
    /// By its uid.
    Uid,
    /// By a token whose signature [`verify_token`] has checked, signed by a key of
    /// `key_account`.
    Token {
        claims: &'a Claims,
        key_account: &'a AccountId,
    },
}

/// Facts about the request itself.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub resource: Resource,
    pub client: IpAddr,
    pub country: Option<&'a str>,
    pub origin: Option<&'a RequestOrigin>,
    /// Unix seconds.
    pub now: i64,
    /// Seconds of tolerated clock difference on `exp`/`nbf`.
    pub skew: i64,
}

/// Why a request is refused. `status()` is what the edge answers; `reason()` is the
/// short plain text it sends, which never says more than the client already knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// Missing or not ready.
    #[error("not found")]
    NotFound,
    /// Private, and asked for by uid (SPEC §4 item 2): the uid is public inside every
    /// token, so there is nothing to hide, and "private" must read differently from
    /// "gone" to whoever is debugging a player.
    #[error("this video requires a signed URL")]
    SignedUrlRequired,
    #[error("video failed to process")]
    Errored,
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    #[error("token expired")]
    Expired,
    #[error("token not valid yet")]
    NotYetValid,
    #[error("blocked by the token's access rules")]
    RuleBlocked,
    #[error("this origin may not play the video")]
    OriginDenied,
    #[error("downloads are not allowed for this token")]
    DownloadDenied,
}

impl Denial {
    /// A stable name for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::SignedUrlRequired => "signed_url_required",
            Self::Errored => "errored",
            Self::InvalidToken(_) => "invalid_token",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::RuleBlocked => "rule_blocked",
            Self::OriginDenied => "origin_denied",
            Self::DownloadDenied => "download_denied",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::Errored => 424,
            Self::SignedUrlRequired | Self::InvalidToken(_) | Self::Expired | Self::NotYetValid => {
                401
            }
            Self::RuleBlocked | Self::OriginDenied | Self::DownloadDenied => 403,
        }
    }
}

/// What a granted request may rely on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Served for a token: responses must be `Cache-Control: private`.
    pub private: bool,
}

/// Decides one request. Every request is decided on its own ("evaluated
/// continuously"): nothing from an earlier grant is trusted.
pub fn decide(
    video: &Video,
    allowed_origins: &[AllowedOrigin],
    presented: Presented<'_>,
    req: &Request<'_>,
    downloads_enabled: bool,
) -> Result<Grant, Denial> {
    // Private first: by uid, the answer is the same whatever the video's state.
    if video.require_signed_urls && matches!(presented, Presented::Uid) {
        return Err(Denial::SignedUrlRequired);
    }
    match video.state {
        VideoState::Ready if video.ready_to_stream() => {}
        VideoState::Error => return Err(Denial::Errored),
        _ => return Err(Denial::NotFound),
    }
    let downloadable = match presented {
        Presented::Uid => true,
        Presented::Token {
            claims,
            key_account,
        } => check_claims(video, claims, key_account, req)?,
    };
    if req.resource == Resource::Download && (!downloads_enabled || !downloadable) {
        return Err(if downloads_enabled {
            Denial::DownloadDenied
        } else {
            Denial::NotFound
        });
    }
    if !origin_allowed(allowed_origins, req.origin) {
        return Err(Denial::OriginDenied);
    }
    Ok(Grant {
        private: matches!(presented, Presented::Token { .. }),
    })
}

/// The first half of deciding on a token, done once per request: its key is known and
/// live, it is RS256 and its signature holds. The claims it returns name the video
/// (`sub`), which [`decide`] then checks them against.
pub fn verify_token(
    token: &UnverifiedToken<'_>,
    key: Option<KeyInfo<'_>>,
) -> Result<Claims, Denial> {
    let key = key.ok_or(Denial::InvalidToken("unknown signing key"))?;
    if key.revoked {
        return Err(Denial::InvalidToken("signing key revoked"));
    }
    token.verify(key.key).map_err(|e| match e {
        TokenError::UnsupportedAlgorithm(_) => Denial::InvalidToken("only RS256 is accepted"),
        TokenError::BadSignature => Denial::InvalidToken("bad signature"),
        TokenError::InvalidClaims(_) => Denial::InvalidToken("invalid claims"),
        _ => Denial::InvalidToken("malformed token"),
    })
}

/// Checks verified claims against the video; returns whether they allow downloads.
fn check_claims(
    video: &Video,
    claims: &Claims,
    key_account: &AccountId,
    req: &Request<'_>,
) -> Result<bool, Denial> {
    // A key of another account signs nothing for this video, however valid.
    if key_account != &video.account_id {
        return Err(Denial::InvalidToken(
            "signing key does not belong to this video",
        ));
    }
    if claims.sub != video.uid.as_str() {
        return Err(Denial::InvalidToken("token is for another video"));
    }
    claims.check_time(req.now, req.skew).map_err(|e| match e {
        ClaimsError::Expired => Denial::Expired,
        ClaimsError::NotYetValid => Denial::NotYetValid,
        ClaimsError::MissingExp => Denial::InvalidToken("token has no expiry"),
        ClaimsError::TooFarInFuture => Denial::InvalidToken("expiry more than 24 hours ahead"),
    })?;
    if evaluate(&claims.access_rules, req.client, req.country) == Decision::Block {
        return Err(Denial::RuleBlocked);
    }
    Ok(claims.downloadable)
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
