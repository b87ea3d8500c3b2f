//! The access decision (SPEC §4 items 1–5): may this request be served? Pure: the caller
//! has already looked up the video and the token's key, and knows the client's address,
//! country and origin. No HTTP types, so every rule is tested in a table below.

use std::net::IpAddr;

use usher_core::origin::{AllowedOrigin, RequestOrigin, origin_allowed};
use usher_core::{AccountId, KeyId, Video, VideoState};

/// What a request asks to play: a video, or a live input's broadcast. Both are decided
/// by the same rules (SPEC §8: "access control is identical to video").
pub trait Subject {
    /// The uid a token's `sub` must name.
    fn uid(&self) -> &str;
    fn account(&self) -> &AccountId;
    fn require_signed_urls(&self) -> bool;
    /// Whether there is anything to serve for `resource`: a video must be ready; a
    /// live input's player page always renders, its media only while it broadcasts.
    fn availability(&self, resource: Resource) -> Result<(), Denial>;
}

impl Subject for Video {
    fn uid(&self) -> &str {
        self.uid.as_str()
    }
    fn account(&self) -> &AccountId {
        &self.account_id
    }
    fn require_signed_urls(&self) -> bool {
        self.require_signed_urls
    }
    fn availability(&self, _: Resource) -> Result<(), Denial> {
        match self.state {
            VideoState::Ready if self.ready_to_stream() => Ok(()),
            VideoState::Error => Err(Denial::Errored),
            _ => Err(Denial::NotFound),
        }
    }
}
use usher_token::{
    Claims, ClaimsError, RuleAction, RuleMatch, TokenError, UnverifiedToken, VerifyingKey,
    first_match,
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
    /// `key_account`; `revoked` if this one token is on the revocation list.
    Token {
        claims: &'a Claims,
        key_account: &'a AccountId,
        revoked: bool,
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
    /// A live input asked for media while no broadcast is on air.
    #[error("the live input is not broadcasting")]
    NotBroadcasting,
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
            Self::NotBroadcasting => "not_broadcasting",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound | Self::NotBroadcasting => 404,
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

/// One check of a decision, as `token explain` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub check: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Where a decision reports each check it makes, in order. The edge's own requests
/// report to `()`, which does nothing (and the details are never formatted);
/// `token explain` collects them in a `Vec<Check>`. Either way it is one decision: the
/// same code decides, whoever listens.
pub trait Observer {
    fn check(&mut self, check: &'static str, ok: bool, detail: impl FnOnce() -> String);
}

impl Observer for () {
    #[inline(always)]
    fn check(&mut self, _: &'static str, _: bool, _: impl FnOnce() -> String) {}
}

impl Observer for Vec<Check> {
    fn check(&mut self, check: &'static str, ok: bool, detail: impl FnOnce() -> String) {
        self.push(Check {
            check,
            ok,
            detail: detail(),
        });
    }
}

/// Reports `outcome` of `check`: its detail when passed, the refusal when not.
pub(crate) fn observe<T>(
    obs: &mut impl Observer,
    check: &'static str,
    outcome: Result<T, Denial>,
    passed: impl FnOnce(&T) -> String,
) -> Result<T, Denial> {
    match &outcome {
        Ok(v) => obs.check(check, true, || passed(v)),
        Err(d) => obs.check(check, false, || d.to_string()),
    }
    outcome
}

/// Decides one request. Every request is decided on its own ("evaluated
/// continuously"): nothing from an earlier grant is trusted.
pub fn decide(
    video: &(impl Subject + ?Sized),
    allowed_origins: &[AllowedOrigin],
    presented: Presented<'_>,
    req: &Request<'_>,
    downloads_enabled: bool,
) -> Result<Grant, Denial> {
    decide_observed(
        video,
        allowed_origins,
        presented,
        req,
        downloads_enabled,
        &mut (),
    )
}

/// [`decide`], reporting every check to `obs` as it goes; stops at the first refusal,
/// as the edge does.
pub fn decide_observed(
    video: &(impl Subject + ?Sized),
    allowed_origins: &[AllowedOrigin],
    presented: Presented<'_>,
    req: &Request<'_>,
    downloads_enabled: bool,
    obs: &mut impl Observer,
) -> Result<Grant, Denial> {
    // Private first: by uid, the answer is the same whatever the video's state.
    if video.require_signed_urls() && matches!(presented, Presented::Uid) {
        obs.check("uid", false, || Denial::SignedUrlRequired.to_string());
        return Err(Denial::SignedUrlRequired);
    }
    observe(obs, "state", video.availability(req.resource), |()| {
        "ready".to_owned()
    })?;
    let downloadable = match presented {
        Presented::Uid => true,
        Presented::Token {
            claims,
            key_account,
            revoked,
        } => check_claims(video, claims, key_account, revoked, req, obs)?,
    };
    if req.resource == Resource::Download {
        let outcome = if !downloads_enabled {
            Err(Denial::NotFound)
        } else if !downloadable {
            Err(Denial::DownloadDenied)
        } else {
            Ok(())
        };
        observe(obs, "downloadable", outcome, |()| {
            "downloads are enabled and allowed for this request".to_owned()
        })?;
    }
    let origin = if origin_allowed(allowed_origins, req.origin) {
        Ok(())
    } else {
        Err(Denial::OriginDenied)
    };
    observe(obs, "origin", origin, |()| {
        match (allowed_origins.is_empty(), req.origin) {
            (true, _) => "the video allows every origin".to_owned(),
            (false, Some(o)) => format!("{}://{}:{} is allowed", o.scheme, o.host, o.port),
            (false, None) => "allowed".to_owned(),
        }
    })?;
    Ok(Grant {
        private: matches!(presented, Presented::Token { .. }),
    })
}

/// Reads `{id}` as a token. Anything that is neither a uid nor a JWT names nothing.
pub fn parse_token(id: &str) -> Result<UnverifiedToken<'_>, Denial> {
    UnverifiedToken::parse(id).map_err(|_| Denial::NotFound)
}

/// The signing key a token names, if it names one in our shape.
pub fn token_kid(token: &UnverifiedToken<'_>) -> Option<KeyId> {
    token.kid().and_then(|k| k.parse().ok())
}

/// The first half of deciding on a token, done once per request: its key is known and
/// live, it is RS256 and its signature holds. The claims it returns name the video
/// (`sub`), which [`decide`] then checks them against.
pub fn verify_token(
    token: &UnverifiedToken<'_>,
    key: Option<KeyInfo<'_>>,
) -> Result<Claims, Denial> {
    verify_token_observed(token, key, &mut ())
}

/// [`verify_token`], reporting its checks to `obs`.
pub fn verify_token_observed(
    token: &UnverifiedToken<'_>,
    key: Option<KeyInfo<'_>>,
    obs: &mut impl Observer,
) -> Result<Claims, Denial> {
    let key = observe(
        obs,
        "key",
        match key {
            None => Err(Denial::InvalidToken("unknown signing key")),
            Some(k) if k.revoked => Err(Denial::InvalidToken("signing key revoked")),
            Some(k) => Ok(k),
        },
        |_| format!("{} is a live signing key", token.kid().unwrap_or("?")),
    )?;
    let verified = token.verify(key.key).map_err(|e| match e {
        TokenError::UnsupportedAlgorithm(_) => Denial::InvalidToken("only RS256 is accepted"),
        TokenError::BadSignature => Denial::InvalidToken("bad signature"),
        TokenError::InvalidClaims(_) => Denial::InvalidToken("invalid claims"),
        _ => Denial::InvalidToken("malformed token"),
    });
    observe(obs, "signature", verified, |_| {
        "RS256, signed by that key".to_owned()
    })
}

/// Checks verified claims against the video; returns whether they allow downloads.
fn check_claims(
    video: &(impl Subject + ?Sized),
    claims: &Claims,
    key_account: &AccountId,
    revoked: bool,
    req: &Request<'_>,
    obs: &mut impl Observer,
) -> Result<bool, Denial> {
    // A key of another account signs nothing for this video, however valid.
    let account = if key_account == video.account() {
        Ok(())
    } else {
        Err(Denial::InvalidToken(
            "signing key does not belong to this video",
        ))
    };
    observe(obs, "account", account, |()| {
        "the signing key belongs to the video's account".to_owned()
    })?;
    let sub = if claims.sub == video.uid() {
        Ok(())
    } else {
        Err(Denial::InvalidToken("token is for another video"))
    };
    observe(obs, "sub", sub, |()| format!("names video {}", video.uid()))?;
    let listed = if revoked {
        Err(Denial::InvalidToken("token revoked"))
    } else {
        Ok(())
    };
    observe(obs, "revoked", listed, |()| match &claims.jti {
        Some(jti) => format!("token {jti} is not revoked"),
        None => "this token is not revoked".to_owned(),
    })?;
    let time = |e: ClaimsError| match e {
        ClaimsError::Expired => Denial::Expired,
        ClaimsError::NotYetValid => Denial::NotYetValid,
        ClaimsError::MissingExp => Denial::InvalidToken("token has no expiry"),
        ClaimsError::TooFarInFuture => Denial::InvalidToken("expiry more than 24 hours ahead"),
    };
    let (now, skew) = (req.now, req.skew);
    observe(
        obs,
        "exp",
        claims.check_exp(now, skew).map_err(time),
        |()| {
            let exp = claims.exp.map_or(0, |t| t.0);
            if exp > now {
                format!("expires in {} s", exp - now)
            } else {
                format!(
                    "expired {} s ago, within the {skew} s of clock skew allowed",
                    now - exp
                )
            }
        },
    )?;
    observe(
        obs,
        "nbf",
        claims.check_nbf(now, skew).map_err(time),
        |()| match claims.nbf {
            Some(t) => format!("valid since {} s ago", now - t.0),
            None => "no nbf".to_owned(),
        },
    )?;
    observe(
        obs,
        "ttl",
        claims.check_ttl(now, skew).map_err(time),
        |()| "expiry within 24 hours".to_owned(),
    )?;
    let matched = first_match(&claims.access_rules, req.client, req.country);
    let rules = match matched {
        Some((_, rule)) if rule.action == RuleAction::Block => Err(Denial::RuleBlocked),
        _ => Ok(()),
    };
    // Formatted only when someone listens (`token explain`), never on the edge's path.
    let client = || {
        format!(
            "{} ({})",
            req.client,
            req.country.unwrap_or("country unknown")
        )
    };
    match (&rules, matched) {
        (Err(_), Some((i, rule))) => obs.check("rules", false, || {
            format!(
                "rule {} ({}) matches {}: blocked",
                i + 1,
                describe(rule),
                client()
            )
        }),
        (_, Some((i, rule))) => obs.check("rules", true, || {
            format!(
                "rule {} ({}) matches {}: allowed",
                i + 1,
                describe(rule),
                client()
            )
        }),
        (_, None) => obs.check("rules", true, || {
            format!(
                "{} rules, none matches {}: allowed",
                claims.access_rules.len(),
                client()
            )
        }),
    }
    rules?;
    Ok(claims.downloadable)
}

/// A rule as its author wrote it, e.g. `block ip.geoip.country [CN, RU]`.
fn describe(rule: &usher_token::AccessRule) -> String {
    let list = match &rule.matcher {
        RuleMatch::Any => String::new(),
        RuleMatch::IpSrc(nets) => format!(
            " [{}]",
            nets.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        RuleMatch::Country(codes) => format!(
            " [{}]",
            codes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!(
        "{} {}{list}",
        rule.action.as_str(),
        rule.matcher.type_name()
    )
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
