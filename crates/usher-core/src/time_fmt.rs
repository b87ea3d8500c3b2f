//! Time as the API speaks it: RFC 3339 UTC with microseconds
//! (`2026-11-23T19:17:36.123456Z`). Stored as integer microseconds since the epoch,
//! which sorts and compares the same way on SQLite and PostgreSQL.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// Microseconds since the Unix epoch.
pub type Micros = i64;

pub fn now_micros() -> Micros {
    to_micros(OffsetDateTime::now_utc())
}

/// Unix seconds now. Read on every edge request (the access decision, the analytics'
/// day), so straight from the system clock: `OffsetDateTime::now_utc` also works out
/// the calendar date, 50 ns against 36 ns (`cargo bench -p usher-edge -- clock`).
pub fn now_secs() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

pub fn to_micros(t: OffsetDateTime) -> Micros {
    let nanos = t.unix_timestamp_nanos() / 1_000;
    i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
}

pub fn from_micros(us: Micros) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, always UTC, always six fractional digits.
pub fn format_micros(us: Micros) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    from_micros(us)
        .to_offset(UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000000Z".to_owned())
}

/// Accepts any RFC 3339 timestamp (any offset, any precision).
pub fn parse_rfc3339(s: &str) -> Option<Micros> {
    OffsetDateTime::parse(s, &Rfc3339).ok().map(to_micros)
}

/// Seconds in a UTC day (no leap seconds in Unix time).
pub const DAY_SECS: i64 = 86_400;

/// The UTC day (days since 1970-01-01) that unix second `secs` falls in.
pub fn day_of(secs: i64) -> i64 {
    secs.div_euclid(DAY_SECS)
}

/// `YYYY-MM-DD` of a day number from [`day_of`].
pub fn format_day(day: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day]");
    OffsetDateTime::from_unix_timestamp(day.saturating_mul(DAY_SECS))
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "1970-01-01".to_owned())
}

/// The day number of a `YYYY-MM-DD` date, or of the UTC day an RFC 3339 timestamp
/// falls in.
pub fn parse_day(s: &str) -> Option<i64> {
    let fmt = format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(s, &fmt) {
        return Some(day_of(d.midnight().assume_utc().unix_timestamp()));
    }
    parse_rfc3339(s).map(|us| day_of(us.div_euclid(1_000_000)))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_text_parses_as_a_day_or_not_without_panicking(s in "\\PC{0,40}") {
            let _ = parse_day(&s);
        }

        #[test]
        fn formatted_days_parse_back(day in -700_000i64..2_900_000) {
            proptest::prop_assert_eq!(parse_day(&format_day(day)), Some(day));
        }
    }

    #[test]
    fn now_is_the_same_second_either_way() {
        let a = OffsetDateTime::now_utc().unix_timestamp();
        let b = now_secs();
        assert!((b - a).abs() <= 1, "{a} vs {b}");
    }

    #[test]
    fn days_format_and_parse() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(-1), -1);
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(format_day(day_of(1_700_000_000)), "2023-11-14");
        assert_eq!(parse_day("2023-11-14"), Some(day_of(1_700_000_000)));
        assert_eq!(
            parse_day("2023-11-14T23:59:59Z"),
            Some(day_of(1_700_000_000))
        );
        // Another offset: the UTC day it falls in.
        assert_eq!(
            parse_day("2023-11-15T00:30:00+01:00"),
            Some(day_of(1_700_000_000))
        );
        for bad in ["", "2023-13-01", "2023-11-14 ", "yesterday", "20231114"] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_with_micros_in_utc() {
        assert_eq!(format_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            format_micros(1_700_000_000_123_456),
            "2023-11-14T22:13:20.123456Z"
        );
    }

    #[test]
    fn parses_offsets_and_round_trips() {
        let us = parse_rfc3339("2023-11-14T23:13:20.123456+01:00").unwrap();
        assert_eq!(us, 1_700_000_000_123_456);
        assert_eq!(parse_rfc3339(&format_micros(us)), Some(us));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
