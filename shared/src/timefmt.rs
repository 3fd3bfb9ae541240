//! Timestamps as SendOps stores them: milliseconds since the Unix epoch, UTC. Parsing accepts
//! RFC 3339 with any offset; output is always `YYYY-MM-DDTHH:MM:SSZ`.
//!
//! Read-layer signatures take [`EpochMs`], [`TimeRange`] and [`UtcDay`] where a bare integer
//! could be confused (a window's ends, a day number next to a number of days); row types that
//! map to ClickHouse columns keep raw integers (their RowBinary layout is the column's).

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};

/// Milliseconds per UTC day.
pub const DAY_MS: i64 = 86_400_000;

/// Parses an RFC 3339 timestamp (any offset) into epoch milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(ms) = utc_ms_fast(s.as_bytes()) {
        return Some(ms);
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The form SES writes, `YYYY-MM-DDTHH:MM:SS.mmmZ` (or without `.mmm`), read without chrono:
/// the same value chrono gives. `None` for anything else (years before 1000, a leap second,
/// other fractions or offsets, lower-case `t`/`z`, an invalid date), which chrono then reads.
fn utc_ms_fast(b: &[u8]) -> Option<i64> {
    let ms = match b.len() {
        20 => 0,
        24 if b[19] == b'.' => num(&b[20..23])?,
        _ => return None,
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[b.len() - 1] != b'Z'
    {
        return None;
    }
    let (year, month, day) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    let (hour, minute, second) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if year < 1000 || day == 0 || day > month_days || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * DAY_MS + hour * 3_600_000 + minute * 60_000 + second * 1000 + ms)
}

/// ASCII digits as a number (`None` if any byte is not a digit).
fn num(digits: &[u8]) -> Option<i64> {
    digits.iter().try_fold(0i64, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
    })
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

/// 2105-12-31T00:00:00Z. ClickHouse 18.16 parses dates up to 2105-12-31 only (`toDate('2106-01-01')`
/// is 0000-00-00 there), and reports bind the day after a window as a date string, so they read
/// no further: a window's part beyond this is treated as empty.
pub const STORABLE_END_MS: i64 = 49_672 * DAY_MS;

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

/// A point in time: milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpochMs(pub i64);

impl EpochMs {
    pub fn now() -> EpochMs {
        EpochMs(now_ms())
    }

    /// The UTC day that holds it.
    pub fn day(self) -> UtcDay {
        UtcDay(day_of_ms(self.0))
    }
}

/// A half-open window [from, to) of epoch milliseconds (empty when from ≥ to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from: EpochMs,
    pub to: EpochMs,
}

impl TimeRange {
    pub fn new(from: EpochMs, to: EpochMs) -> TimeRange {
        TimeRange { from, to }
    }

    /// The `days` whole days (of 24 hours) before `to`.
    pub fn days_before(to: EpochMs, days: u16) -> TimeRange {
        TimeRange::new(EpochMs(to.0 - i64::from(days) * DAY_MS), to)
    }

    /// (from, to) in milliseconds.
    pub fn ms(self) -> (i64, i64) {
        (self.from.0, self.to.0)
    }
}

/// A UTC day: days since 1970-01-01, the number ClickHouse's `Date` holds (`toUInt16(day)`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcDay(pub u16);

impl UtcDay {
    /// Its first millisecond.
    pub fn start(self) -> EpochMs {
        EpochMs(day_start_ms(self.0))
    }

    pub fn date(self) -> NaiveDate {
        day_to_date(self.0)
    }

    /// `days` days earlier (day 0 at the earliest).
    pub fn minus(self, days: u16) -> UtcDay {
        UtcDay(self.0.saturating_sub(days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_milliseconds_convert_like_the_functions() {
        let t = EpochMs(3 * DAY_MS + 5);
        assert_eq!(t.day(), UtcDay(3));
        assert_eq!(t.day().start(), EpochMs(3 * DAY_MS));
        assert_eq!(UtcDay(3).date().to_string(), "1970-01-04");
        assert_eq!(UtcDay(3).minus(5), UtcDay(0));
        assert_eq!(
            TimeRange::days_before(t, 2).ms(),
            (DAY_MS + 5, 3 * DAY_MS + 5)
        );
        assert_eq!(EpochMs(-1).day(), UtcDay(0));
    }

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

    /// The chrono-free reading of SES's form gives chrono's value or leaves it to chrono.
    #[test]
    fn fast_form_matches_chrono() {
        let chrono_ms = |s: &str| {
            DateTime::parse_from_rfc3339(s.trim())
                .ok()
                .map(|t| t.timestamp_millis())
        };
        let mut fast = 0;
        let mut check = |s: &str| {
            assert_eq!(parse_rfc3339_ms(s), chrono_ms(s), "{s:?}");
            if utc_ms_fast(s.trim().as_bytes()).is_some() {
                fast += 1;
            }
        };
        // Every day of four centuries around now, with and without milliseconds, and every
        // day number 00-39 of every month of a few years (invalid dates included).
        let start = NaiveDate::from_ymd_opt(1800, 1, 1).unwrap();
        for d in 0..(400 * 366) {
            let Some(date) = start.checked_add_days(chrono::Days::new(d)) else {
                break;
            };
            let s = date.format("%Y-%m-%d").to_string();
            check(&format!(
                "{s}T{:02}:{:02}:{:02}.{:03}Z",
                d % 24,
                d % 60,
                (d * 7) % 60,
                d % 1000
            ));
            if d % 7 == 0 {
                check(&format!("{s}T23:59:59Z"));
            }
        }
        for year in [
            999, 1000, 1600, 1700, 1900, 1969, 1970, 2000, 2024, 2026, 2100, 9999,
        ] {
            for month in 0..=13 {
                for day in 0..=39 {
                    check(&format!("{year:04}-{month:02}-{day:02}T00:00:00.000Z"));
                    check(&format!("{year:04}-{month:02}-{day:02}T12:34:56Z"));
                }
            }
        }
        // Every single-byte change of a few timestamps, and other forms chrono reads.
        for base in ["2026-11-17T00:00:11.815Z", "2016-02-29T23:59:59Z"] {
            for i in 0..base.len() {
                for c in b"0123456789-:.TtZz +x\x00".iter().copied() {
                    let mut b = base.as_bytes().to_vec();
                    b[i] = c;
                    check(&String::from_utf8(b).unwrap());
                }
            }
        }
        for s in [
            "2026-11-17T00:00:11.8Z",
            "2026-11-17T00:00:11.81Z",
            "2026-11-17T00:00:11.8155Z",
            "2026-11-17T00:00:11.815+02:00",
            "2026-11-17 00:00:11.815Z",
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.500Z",
            "2026-11-17T24:00:00Z",
            "2026-11-17T00:60:00Z",
            " 2026-11-17T00:00:11.815Z\n",
            "+2026-11-17T00:00:11Z",
            "-001-11-17T00:00:11Z",
            "0000-01-01T00:00:00Z",
            "0999-12-31T23:59:59.999Z",
        ] {
            check(s);
        }
        assert!(fast > 100_000, "{fast}");
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
