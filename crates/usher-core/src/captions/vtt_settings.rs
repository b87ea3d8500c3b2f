//! The cue settings after a WebVTT timing line (`align:start line:10% …`). Players skip
//! a setting they cannot read, so a misspelt one silently puts the cue somewhere else:
//! each is checked against the WebVTT syntax. Keywords of the earlier drafts that files
//! still carry (`align:middle`, `position:…,start`) are accepted, as players do.

/// Checks the whitespace-separated settings in `s`.
pub(crate) fn check(s: &str) -> Result<(), String> {
    for setting in s.split_ascii_whitespace() {
        let Some((name, value)) = setting.split_once(':') else {
            return Err(format!(
                "the cue setting {setting:?} has no value (settings are name:value, \
                 for example align:start)"
            ));
        };
        if value.is_empty() {
            return Err(format!("the cue setting {name:?} has no value"));
        }
        let ok = match name {
            "vertical" => matches!(value, "rl" | "lr"),
            "line" => line(value),
            "position" => position(value),
            "size" => percentage(value),
            "align" => matches!(
                value,
                "start" | "center" | "end" | "left" | "right" | "middle"
            ),
            // A region identifier is any text without whitespace or "-->".
            "region" => !value.contains("-->"),
            _ => {
                return Err(format!(
                    "unknown cue setting {name:?} (one of vertical, line, position, size, \
                     align, region)"
                ));
            }
        };
        if !ok {
            return Err(format!("the cue setting {setting:?} has an invalid value"));
        }
    }
    Ok(())
}

/// `NN%` with 0 ≤ NN ≤ 100, digits with at most one decimal point.
fn percentage(v: &str) -> bool {
    v.strip_suffix('%')
        .filter(|n| decimal(n))
        .and_then(|n| n.parse::<f64>().ok())
        .is_some_and(|p| (0.0..=100.0).contains(&p))
}

/// Digits with at most one `.`, with digits on both sides of it.
fn decimal(n: &str) -> bool {
    let mut parts = n.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

/// `line:` a percentage or a (possibly negative) line number, then `,start|center|end`.
fn line(v: &str) -> bool {
    let (pos, align) = match v.split_once(',') {
        Some((p, a)) => (p, Some(a)),
        None => (v, None),
    };
    let number = |p: &str| {
        let digits = p.strip_prefix('-').unwrap_or(p);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    (percentage(pos) || number(pos))
        && align.is_none_or(|a| matches!(a, "start" | "center" | "end" | "middle"))
}

/// `position:` a percentage, then `,line-left|center|line-right`.
fn position(v: &str) -> bool {
    let (pos, align) = match v.split_once(',') {
        Some((p, a)) => (p, Some(a)),
        None => (v, None),
    };
    percentage(pos)
        && align.is_none_or(|a| {
            matches!(
                a,
                "line-left" | "center" | "line-right" | "start" | "middle" | "end"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn valid_settings() {
        for s in [
            "",
            "   ",
            "align:start",
            "align:middle line:0",
            "vertical:rl line:-1,end position:10.5%,line-left size:50% align:right",
            "line:100%,center region:fred",
            "position:0%\tsize:100%",
        ] {
            assert_eq!(check(s), Ok(()), "{s:?}");
        }
    }

    #[test]
    fn invalid_settings_are_named() {
        for (s, want) in [
            ("align", "has no value"),
            ("align:", "has no value"),
            ("align:centre", "\"align:centre\" has an invalid value"),
            ("colour:red", "unknown cue setting \"colour\""),
            ("size:101%", "invalid value"),
            ("size:50", "invalid value"),
            ("position:1.%", "invalid value"),
            ("line:abc", "invalid value"),
            ("line:-", "invalid value"),
            ("line:5,top", "invalid value"),
            ("vertical:up", "invalid value"),
            ("region:a-->b", "invalid value"),
        ] {
            let e = check(s).unwrap_err();
            assert!(e.contains(want), "{s:?}: {e}");
        }
    }
}
