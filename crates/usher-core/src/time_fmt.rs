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

pub fn now_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
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

#[cfg(test)]
mod tests {
    use super::*;

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
