//! Cue times. WebVTT writes `[hh:]mm:ss.ttt` (hours optional, any number of digits when
//! present); SRT writes `hh:mm:ss,mmm`. Both are read into whole milliseconds, which is
//! all either format can express.

/// A cue time in milliseconds from the start of the video.
pub type Millis = u64;

const MS_PER_SECOND: u64 = 1_000;
const MS_PER_MINUTE: u64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: u64 = 60 * MS_PER_MINUTE;

/// `(digits, rest)`: the ASCII digits `s` starts with, and what follows them.
fn split_digits(s: &str) -> (&str, &str) {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    s.split_at(n)
}

fn number(digits: &str) -> Result<u64, String> {
    digits
        .parse()
        .map_err(|_| "the time is too large".to_owned())
}

fn total(hours: u64, minutes: u64, seconds: u64, millis: u64) -> Result<Millis, String> {
    if minutes > 59 || seconds > 59 {
        return Err("minutes and seconds must be below 60".into());
    }
    hours
        .checked_mul(MS_PER_HOUR)
        .and_then(|h| h.checked_add(minutes * MS_PER_MINUTE + seconds * MS_PER_SECOND + millis))
        .ok_or_else(|| "the time is too large".to_owned())
}

/// Reads the WebVTT timestamp `s` starts with, as the WebVTT parser's "collect a WebVTT
/// timestamp" does; returns it and the rest of `s`.
pub(crate) fn parse_vtt(s: &str) -> Result<(Millis, &str), String> {
    let (first, rest) = split_digits(s);
    if first.is_empty() {
        return Err("a time starts with a digit (mm:ss.ttt or hh:mm:ss.ttt)".into());
    }
    let first_value = number(first)?;
    // Two digits up to 59 are minutes; anything else can only be hours.
    let has_hours = first.len() != 2 || first_value > 59;
    let rest = rest
        .strip_prefix(':')
        .ok_or("expected \":\" after the first number (mm:ss.ttt or hh:mm:ss.ttt)")?;
    let (second, rest) = split_digits(rest);
    if second.len() != 2 {
        return Err("minutes and seconds have exactly two digits".into());
    }
    let (hours, minutes, seconds, rest) = if has_hours || rest.starts_with(':') {
        let rest = rest
            .strip_prefix(':')
            .ok_or("expected \":\" before the seconds (hh:mm:ss.ttt)")?;
        let (third, rest) = split_digits(rest);
        if third.len() != 2 {
            return Err("minutes and seconds have exactly two digits".into());
        }
        (first_value, number(second)?, number(third)?, rest)
    } else {
        (0, first_value, number(second)?, rest)
    };
    let Some(rest) = rest.strip_prefix('.') else {
        return Err(if rest.starts_with(',') {
            "the milliseconds follow a \".\" in WebVTT, not a \",\" as in SRT".into()
        } else {
            "expected \".\" and three digits of milliseconds".into()
        });
    };
    let (millis, rest) = split_digits(rest);
    if millis.len() != 3 {
        return Err("milliseconds have exactly three digits".into());
    }
    Ok((total(hours, minutes, seconds, number(millis)?)?, rest))
}

/// Reads a whole SRT timestamp, `hh:mm:ss,mmm`. A `.` before the milliseconds is
/// accepted too: many tools write it, and it is unambiguous.
pub(crate) fn parse_srt(s: &str) -> Result<Millis, String> {
    let bad = || format!("{s:?} is not a time of the form hh:mm:ss,mmm");
    let mut parts = s.splitn(3, ':');
    let (Some(h), Some(m), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let Some((sec, ms)) = rest.split_once([',', '.']) else {
        return Err(bad());
    };
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(h) || m.len() != 2 || sec.len() != 2 || ms.len() != 3 {
        return Err(bad());
    }
    if ![m, sec, ms].into_iter().all(all_digits) {
        return Err(bad());
    }
    total(number(h)?, number(m)?, number(sec)?, number(ms)?).map_err(|e| format!("{s:?}: {e}"))
}

/// `hh:mm:ss.ttt`, with at least two digits of hours.
pub fn format_vtt_timestamp(t: Millis) -> String {
    let hours = t / MS_PER_HOUR;
    let minutes = (t % MS_PER_HOUR) / MS_PER_MINUTE;
    let seconds = (t % MS_PER_MINUTE) / MS_PER_SECOND;
    let millis = t % MS_PER_SECOND;
    format!("{hours:02}:{minutes:02}:{seconds:02}.{millis:03}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webvtt_times_with_and_without_hours() {
        assert_eq!(parse_vtt("00:01.500").unwrap(), (1_500, ""));
        assert_eq!(parse_vtt("59:59.999 x").unwrap(), (3_599_999, " x"));
        assert_eq!(parse_vtt("01:02:03.004").unwrap(), (3_723_004, ""));
        // One digit or three, or more than 59: hours.
        assert_eq!(parse_vtt("1:02:03.004").unwrap().0, 3_723_004);
        assert_eq!(parse_vtt("100:00:00.000").unwrap().0, 360_000_000);
        assert_eq!(parse_vtt("60:00:00.000").unwrap().0, 216_000_000);
    }

    #[test]
    fn webvtt_time_errors_say_what_is_wrong() {
        for (input, want) in [
            ("", "starts with a digit"),
            ("x", "starts with a digit"),
            ("00.000", "expected \":\""),
            ("00:1.000", "exactly two digits"),
            ("60:00.000", "expected \":\" before the seconds"),
            ("1:00.000", "expected \":\" before the seconds"),
            ("00:00:01,000", "not a \",\" as in SRT"),
            ("00:01", "expected \".\""),
            ("00:01.5", "three digits"),
            ("00:60:00.000", "below 60"),
            ("00:00:60.000", "below 60"),
            ("99999999999999999999:00:00.000", "too large"),
            ("9999999999999999:00:00.000", "too large"),
        ] {
            let e = parse_vtt(input).unwrap_err();
            assert!(e.contains(want), "{input:?}: {e}");
        }
    }

    #[test]
    fn srt_times() {
        assert_eq!(parse_srt("00:00:01,000").unwrap(), 1_000);
        assert_eq!(parse_srt("01:02:03.004").unwrap(), 3_723_004);
        assert_eq!(parse_srt("123:00:00,000").unwrap(), 442_800_000);
        for bad in [
            "",
            "00:01,000",
            "0:0:01,000",
            "00:00:01",
            "00:00:01,1",
            "00:00:61,000",
            "aa:00:01,000",
            "00:00:01,00a",
            "00:0a:01,000",
        ] {
            assert!(parse_srt(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn formatting_round_trips() {
        for t in [
            0,
            1,
            999,
            1_000,
            59_999,
            3_599_999,
            3_600_000,
            360_000_000_123,
        ] {
            let s = format_vtt_timestamp(t);
            assert_eq!(parse_vtt(&s).unwrap(), (t, ""), "{s}");
        }
        assert_eq!(format_vtt_timestamp(3_723_004), "01:02:03.004");
    }
}
