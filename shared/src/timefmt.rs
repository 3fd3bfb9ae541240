//! Timestamps as SendOps stores them: milliseconds since the Unix epoch, UTC. Parsing accepts
//! RFC 3339 with any offset; output is always `YYYY-MM-DDTHH:MM:SSZ`.

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};

/// Milliseconds per UTC day.
pub const DAY_MS: i64 = 86_400_000;

/// Parses an RFC 3339 timestamp (any offset) into epoch milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds).
pub fn format_ms(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms.div_euclid(1000) * 1000) {
        chrono::LocalResult::Single(t) => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        _ => String::from("1970-01-01T00:00:00Z"),
    }
}

/// Formats epoch milliseconds with millisecond precision (`…:SS.mmmZ`).
pub fn format_ms_precise(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms) {
        chrono::LocalResult::Single(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        _ => String::from("1970-01-01T00:00:00.000Z"),
    }
}

/// The UTC day (days since 1970-01-01) that holds `ms`; ClickHouse's `Date` uses the same number.
pub fn day_of_ms(ms: i64) -> u16 {
    ms.div_euclid(DAY_MS).clamp(0, i64::from(u16::MAX)) as u16
}

/// Start of a UTC day, in epoch milliseconds.
pub fn day_start_ms(day: u16) -> i64 {
    i64::from(day) * DAY_MS
}

/// A `Date` value as a calendar date.
pub fn day_to_date(day: u16) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Days::new(u64::from(day))
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_to_utc() {
        assert_eq!(
            parse_rfc3339_ms("2026-05-17T19:00:00Z"),
            Some(1_779_044_400_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-05-17T21:00:00+02:00"),
            Some(1_779_044_400_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2016-01-27T14:59:38.237Z"),
            Some(1_453_906_778_237)
        );
        assert_eq!(parse_rfc3339_ms("timestamp"), None);
        assert_eq!(parse_rfc3339_ms("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn formats_whole_seconds() {
        assert_eq!(format_ms(1_453_906_778_237), "2016-01-27T14:59:38Z");
        assert_eq!(
            format_ms_precise(1_453_906_778_237),
            "2016-01-27T14:59:38.237Z"
        );
    }

    #[test]
    fn days_are_utc() {
        let ms = parse_rfc3339_ms("2026-11-22T23:59:59.999Z").unwrap();
        assert_eq!(day_to_date(day_of_ms(ms)).to_string(), "2026-11-22");
        assert_eq!(day_to_date(day_of_ms(ms + 1)).to_string(), "2026-11-23");
        assert_eq!(day_start_ms(day_of_ms(ms + 1)), ms + 1);
    }
}
