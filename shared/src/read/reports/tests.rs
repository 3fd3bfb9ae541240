use super::*;
use crate::timefmt::parse_rfc3339_ms;

fn ms(s: &str) -> i64 {
    parse_rfc3339_ms(s).unwrap()
}

#[test]
fn windows_beyond_the_storable_days_are_cut_there() {
    // Both ends past the last `Date` day: nothing (this once looped forever).
    let far = split(ms("2940-10-04T08:16:41Z"), ms("2940-11-03T08:16:41Z"));
    assert_eq!(far.whole, None);
    assert!(far.edges.is_empty());
    // From now to the far future: whole days up to the last storable one, no edge past it.
    let s = split(ms("2026-11-22T10:00:00Z"), ms("2940-11-03T08:16:41Z"));
    assert_eq!(s.whole.map(|w| w.1), Some(day_of_ms(STORABLE_END_MS)));
    assert!(s.edges.iter().all(|e| e.2 <= STORABLE_END_MS));
}

#[test]
fn windows_split_into_whole_days_and_edges() {
    let d = |s: &str| day_of_ms(ms(s));
    // Whole days only.
    let s = split(ms("2026-11-01T00:00:00Z"), ms("2026-11-04T00:00:00Z"));
    assert_eq!(
        s.whole,
        Some((d("2026-11-01T00:00:00Z"), d("2026-11-04T00:00:00Z")))
    );
    assert!(s.edges.is_empty());
    // Edges on both sides.
    let s = split(ms("2026-11-01T10:00:00.5Z"), ms("2026-11-04T03:00:00Z"));
    assert_eq!(
        s.whole,
        Some((d("2026-11-02T00:00:00Z"), d("2026-11-04T00:00:00Z")))
    );
    assert_eq!(
        s.edges,
        vec![
            (
                d("2026-11-01T00:00:00Z"),
                ms("2026-11-01T10:00:00.5Z"),
                ms("2026-11-02T00:00:00Z")
            ),
            (
                d("2026-11-04T00:00:00Z"),
                ms("2026-11-04T00:00:00Z"),
                ms("2026-11-04T03:00:00Z")
            ),
        ]
    );
    // Inside one day, and across one midnight without a whole day.
    let s = split(ms("2026-11-01T10:00:00Z"), ms("2026-11-01T11:00:00Z"));
    assert_eq!((s.whole, s.edges.len()), (None, 1));
    let s = split(ms("2026-11-01T10:00:00Z"), ms("2026-11-02T11:00:00Z"));
    assert_eq!((s.whole, s.edges.len()), (None, 2));
    assert!(split(5, 5).edges.is_empty() && split(5, 5).whole.is_none());
}
