//! The player's query parameters, taken as Cloudflare's Stream Player takes them:
//! `autoplay`, `muted`, `loop`, `controls`, `preload`, `startTime` and `poster`. Unknown
//! parameters (Cloudflare has more: `primaryColor`, `defaultTextTrack`, `ad-url`, …) are
//! ignored; a known one with a value that means nothing is refused with a clear message
//! rather than silently played some other way.

use usher_core::origin::RequestOrigin;

/// Longest `startTime` or `poster` value looked at; anything longer is not a time or a
/// thumbnail URL a page would write.
const MAX_VALUE_LEN: usize = 2048;
/// Latest `startTime` accepted: longer than any video Usher packages.
const MAX_START_SECS: f64 = 7.0 * 24.0 * 3600.0;

#[derive(Debug, Clone, PartialEq)]
pub struct PlayerParams {
    pub autoplay: bool,
    pub muted: bool,
    pub looped: bool,
    /// Cloudflare's default is to show them.
    pub controls: bool,
    pub preload: Preload,
    /// Seconds from the start.
    pub start_time: Option<f64>,
    /// An image shown instead of the video's own thumbnail.
    pub poster: Option<Poster>,
}

impl Default for PlayerParams {
    fn default() -> Self {
        Self {
            autoplay: false,
            muted: false,
            looped: false,
            controls: true,
            preload: Preload::None,
            start_time: None,
            poster: None,
        }
    }
}

/// How much to fetch before the viewer presses play. Like Cloudflare's player, even
/// `none` reads the manifests (that is the "metadata"); `auto` also buffers media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preload {
    None,
    Metadata,
    Auto,
}

impl Preload {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Metadata => "metadata",
            Self::Auto => "auto",
        }
    }
}

/// A `poster=` URL: absolute http(s), with a host made only of characters a host name
/// or IP literal can hold, so it can be written into the page and its
/// `Content-Security-Policy` as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poster {
    pub url: String,
    /// `scheme://host:port`, what `img-src` must allow.
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("{0} must be true or false")]
    Flag(&'static str),
    #[error("startTime must be a number of seconds (90) or a time such as 1m30s or 1h2m3s")]
    StartTime,
    #[error("poster must be an http or https URL")]
    Poster,
    #[error("preload must be none, metadata or auto")]
    Preload,
}

impl PlayerParams {
    /// Parses a page's query string. The first occurrence of a parameter counts.
    pub fn parse(query: Option<&str>) -> Result<Self, ParamError> {
        let mut p = Self::default();
        let mut seen: Vec<String> = Vec::new();
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if seen.iter().any(|s| *s == k) {
                continue;
            }
            seen.push(k.clone().into_owned());
            match &*k {
                "autoplay" => p.autoplay = flag("autoplay", &v)?,
                "muted" => p.muted = flag("muted", &v)?,
                "loop" => p.looped = flag("loop", &v)?,
                "controls" => p.controls = flag("controls", &v)?,
                "preload" => p.preload = preload(&v)?,
                "startTime" if !v.is_empty() => p.start_time = Some(start_time(&v)?),
                "poster" if !v.is_empty() => p.poster = Some(poster(&v)?),
                _ => {}
            }
        }
        Ok(p)
    }
}

/// A flag is on when present bare (`?muted`) or set to true; `false` turns it off
/// (Cloudflare's own player would autoplay on `autoplay=false`, which surprises).
fn flag(name: &'static str, v: &str) -> Result<bool, ParamError> {
    match v.to_ascii_lowercase().as_str() {
        "" | "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ParamError::Flag(name)),
    }
}

fn preload(v: &str) -> Result<Preload, ParamError> {
    match v.to_ascii_lowercase().as_str() {
        "none" | "false" => Ok(Preload::None),
        "" | "metadata" => Ok(Preload::Metadata),
        "auto" | "true" => Ok(Preload::Auto),
        _ => Err(ParamError::Preload),
    }
}

/// `123`, `12.5`, or hours, minutes and seconds in that order: `1h12m27s`, `2m`, `8s`.
pub fn start_time(v: &str) -> Result<f64, ParamError> {
    let number = |s: &str| -> Option<f64> {
        let ok = !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && s.bytes().filter(|&b| b == b'.').count() <= 1
            && !s.starts_with('.')
            && !s.ends_with('.');
        ok.then(|| s.parse().ok()).flatten()
    };
    if v.is_empty() || v.len() > MAX_VALUE_LEN {
        return Err(ParamError::StartTime);
    }
    let secs = match number(v) {
        Some(n) => n,
        None => {
            let mut total = 0.0;
            let mut rest = v;
            let mut units = ['h', 'm', 's'].iter();
            while !rest.is_empty() {
                let end = rest
                    .find(|c: char| !c.is_ascii_digit() && c != '.')
                    .ok_or(ParamError::StartTime)?;
                let n = number(&rest[..end]).ok_or(ParamError::StartTime)?;
                let unit = rest[end..].chars().next().ok_or(ParamError::StartTime)?;
                // Each unit once, largest first: `units` only moves forward.
                let scale = loop {
                    match units.next() {
                        Some('h') if unit == 'h' => break 3600.0,
                        Some('m') if unit == 'm' => break 60.0,
                        Some('s') if unit == 's' => break 1.0,
                        Some(_) => continue,
                        None => return Err(ParamError::StartTime),
                    }
                };
                total += n * scale;
                rest = &rest[end + unit.len_utf8()..];
            }
            total
        }
    };
    if secs.is_finite() && (0.0..=MAX_START_SECS).contains(&secs) {
        Ok(secs)
    } else {
        Err(ParamError::StartTime)
    }
}

fn poster(v: &str) -> Result<Poster, ParamError> {
    let printable = v.bytes().all(|b| b.is_ascii_graphic()) && v.len() <= MAX_VALUE_LEN;
    let (scheme, rest) = v.split_once("://").ok_or(ParamError::Poster)?;
    if !printable || !(scheme == "http" || scheme == "https") || rest.starts_with('/') {
        return Err(ParamError::Poster);
    }
    let o = RequestOrigin::parse(v).ok_or(ParamError::Poster)?;
    let host_ok = match o.host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ip6) => !ip6.is_empty() && ip6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'),
        None => o
            .host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
    };
    if !host_ok {
        return Err(ParamError::Poster);
    }
    Ok(Poster {
        url: v.to_owned(),
        origin: format!("{}://{}:{}", o.scheme, o.host, o.port),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<PlayerParams, ParamError> {
        PlayerParams::parse(Some(q))
    }

    #[test]
    fn defaults_match_cloudflare() {
        let p = PlayerParams::parse(None).unwrap();
        assert_eq!(p, PlayerParams::default());
        assert!(p.controls && !p.autoplay && !p.muted && !p.looped);
        assert_eq!(p.preload, Preload::None);
        assert_eq!(parse("").unwrap(), p);
    }

    #[test]
    fn flags_take_bare_true_false() {
        let p = parse("autoplay=true&muted&loop=1&controls=false").unwrap();
        assert!(p.autoplay && p.muted && p.looped && !p.controls);
        let p = parse("autoplay=false&muted=FALSE&loop=0&controls").unwrap();
        assert!(!p.autoplay && !p.muted && !p.looped && p.controls);
        assert_eq!(parse("muted=yes"), Err(ParamError::Flag("muted")));
        assert_eq!(parse("controls=no"), Err(ParamError::Flag("controls")));
        // The first occurrence counts; unknown parameters are ignored.
        let p = parse("autoplay=true&autoplay=nonsense&primaryColor=%23f00&ad-url=x").unwrap();
        assert!(p.autoplay);
    }

    #[test]
    fn start_time_in_seconds_or_units() {
        for (v, want) in [
            ("0", 0.0),
            ("123", 123.0),
            ("12.5", 12.5),
            ("8s", 8.0),
            ("2m", 120.0),
            ("1m2s", 62.0),
            ("1h12m27s", 4347.0),
            ("1h", 3600.0),
            ("1h30s", 3630.0),
            ("1.5m", 90.0),
        ] {
            assert_eq!(start_time(v), Ok(want), "{v}");
        }
        for bad in [
            "", "-5", "abc", "1x", "s", "1m2", "2s1m", "1m1m", "1.2.3", ".5", "5.", "1 m", "NaN",
            "inf", "1e3", "99999999",
        ] {
            assert_eq!(start_time(bad), Err(ParamError::StartTime), "{bad:?}");
        }
        assert_eq!(parse("startTime=1m2s").unwrap().start_time, Some(62.0));
        // An empty value is the same as none, as templates often write.
        assert_eq!(parse("startTime=").unwrap().start_time, None);
        assert_eq!(parse("startTime=soon"), Err(ParamError::StartTime));
    }

    #[test]
    fn poster_is_an_absolute_http_url() {
        let p =
            parse("poster=https%3A%2F%2Fimg.example.com%2Fa%2Fb.jpg%3Ftime%3D68s%26height%3D270")
                .unwrap()
                .poster
                .unwrap();
        assert_eq!(p.url, "https://img.example.com/a/b.jpg?time=68s&height=270");
        assert_eq!(p.origin, "https://img.example.com:443");
        let p = poster("http://[::1]:8080/x.jpg").unwrap();
        assert_eq!(p.origin, "http://[::1]:8080");
        for bad in [
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "/relative.jpg",
            "//host/x.jpg",
            "ftp://host/x.jpg",
            "https:///x.jpg",
            "https://a;script-src%20*/x.jpg",
            "https://a b/x.jpg",
            "https://user@host/x.jpg",
            "https://ho\"st/x.jpg",
        ] {
            let q = format!("poster={bad}");
            assert_eq!(parse(&q), Err(ParamError::Poster), "{bad}");
        }
    }

    #[test]
    fn preload_values() {
        assert_eq!(parse("preload=auto").unwrap().preload, Preload::Auto);
        assert_eq!(parse("preload=true").unwrap().preload, Preload::Auto);
        assert_eq!(
            parse("preload=metadata").unwrap().preload,
            Preload::Metadata
        );
        assert_eq!(parse("preload").unwrap().preload, Preload::Metadata);
        assert_eq!(parse("preload=none").unwrap().preload, Preload::None);
        assert_eq!(parse("preload=all"), Err(ParamError::Preload));
    }
}
