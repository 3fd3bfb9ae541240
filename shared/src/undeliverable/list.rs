//! What a list request asks for (status, position, cursor) and the list's order; email
//! normalization.

use super::*;

/// Which rows a list asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Listed,
    Excluded,
    All,
}

/// A keyset position: rows strictly after it in (last_changed_at desc, email asc) order, where
/// last_changed_at is compared at whole seconds, as it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// A whole second (epoch ms).
    pub last_changed_ms: i64,
    pub email: String,
}

/// `ms` truncated to its whole second: the order and the cursors use last_changed_at as shown.
pub fn whole_second(ms: i64) -> i64 {
    ms.div_euclid(1000) * 1000
}

impl Entry {
    /// The sort key: (last_changed_at at whole seconds, email); lists are descending on the
    /// first and ascending on the second.
    pub fn order(a: &Entry, b: &Entry) -> std::cmp::Ordering {
        whole_second(b.last_changed_ms)
            .cmp(&whole_second(a.last_changed_ms))
            .then_with(|| a.email.cmp(&b.email))
    }
}

/// One page request of the undeliverable list.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Classification time.
    pub now_ms: i64,
    pub retention_days: u32,
    /// Only rows with last_changed_at at or after this (epoch ms).
    pub since_ms: Option<i64>,
    /// Only rows with last_changed_at at or before this (epoch ms).
    pub until_ms: Option<i64>,
    pub status: StatusFilter,
    /// Listed rows with this reason (tombstones are not affected).
    pub reason: Option<Rule>,
    /// Lower-cased substring of the address.
    pub email: Option<String>,
    /// Listed rows with at least this many events; tombstones only when it is 1.
    pub min_events: u64,
    pub after: Option<Position>,
    pub limit: usize,
}

impl ListQuery {
    /// Whether `entry` passes the filters (not the time bounds or the cursor).
    pub fn accepts(&self, entry: &Entry) -> bool {
        if let Some(needle) = &self.email
            && !entry.email.contains(needle.as_str())
        {
            return false;
        }
        match &entry.state {
            State::Listed { reason, stats } => {
                self.status != StatusFilter::Excluded
                    && self.reason.is_none_or(|r| r == *reason)
                    && stats.events >= self.min_events
            }
            State::Excluded(_) => self.status != StatusFilter::Listed && self.min_events <= 1,
        }
    }

    /// Whether `entry` comes after the cursor position.
    pub fn after_cursor(&self, entry: &Entry) -> bool {
        match &self.after {
            None => true,
            Some(p) => {
                let t = whole_second(entry.last_changed_ms);
                t < p.last_changed_ms || (t == p.last_changed_ms && entry.email > p.email)
            }
        }
    }
}
