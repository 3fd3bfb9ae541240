//! What every report query shares: the report filter, and how day numbers are written into
//! report SQL. Both the reports (`read::reports`) and the engaged-recipient index
//! (`read::engaged_index`) use them, so neither imports the other for them.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::StoreError;
use crate::store::Store;
use crate::store::sql::Sql;
use crate::timefmt::{day_of_ms, day_to_date};

/// Filters every report takes (AND-ed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    pub channel_id: Option<Uuid>,
    /// Lower-cased sending domain.
    pub sender_domain: Option<String>,
    /// Template name, compared case-insensitively (template performance only).
    pub template: Option<String>,
}

/// A day number as the date string report queries bind.
pub fn date(day: u16) -> String {
    day_to_date(day).to_string()
}

/// `has([…], toUInt16(day))`: the row's day is one of `days`. Day numbers are integers computed
/// by SendOps, so they are inlined (one literal, not a bind per day).
pub fn day_in(days: &[u16]) -> String {
    let list: Vec<String> = days.iter().map(u16::to_string).collect();
    format!("has([{}], toUInt16(day))", list.join(", "))
}

/// `org_id = ? AND day … AND occurred_ms …`: the org's rows in [from_ms, to_ms), bounded by day
/// as well (the sorting key's prefix). `from_ms < to_ms`.
pub fn org_window(org_id: Uuid, from_ms: i64, to_ms: i64) -> Sql {
    Sql::new(
        "org_id = ? AND day >= toDate(?) AND day <= toDate(?) \
         AND occurred_ms >= ? AND occurred_ms < ?",
        [
            org_id.into(),
            date(day_of_ms(from_ms)).into(),
            date(day_of_ms(to_ms - 1)).into(),
            from_ms.into(),
            to_ms.into(),
        ],
    )
}

/// The latest seal head of each day in [first, last] of a seal table (`day`, `sealed_ms` and
/// `fields`): `d` (the day number), then `fields`, taken from the row sealed last.
pub fn latest_seals(table: &str, fields: &[&str], org_id: Uuid, first: u16, last: u16) -> Sql {
    let named: Vec<String> = (1..)
        .zip(fields)
        .map(|(i, f)| format!("tupleElement(latest, {i}) AS {f}"))
        .collect();
    Sql::new(
        &format!(
            "SELECT d, {} FROM (SELECT toUInt16(day) AS d, argMax(({}), sealed_ms) AS latest \
             FROM {table} WHERE org_id = ? AND day >= toDate(?) AND day <= toDate(?) GROUP BY d)",
            named.join(", "),
            fields.join(", ")
        ),
        [org_id.into(), date(first).into(), date(last).into()],
    )
}

/// A new seal id for each of `days`, and the days' first and last; `None` without days.
pub fn new_seals(days: &[u16]) -> Option<(u16, u16, BTreeMap<u16, Uuid>)> {
    let (&lo, &hi) = (days.iter().min()?, days.iter().max()?);
    Some((lo, hi, days.iter().map(|&d| (d, Uuid::new_v4())).collect()))
}

impl Store {
    /// Writes the seal head of each of `seals` (day → seal id) into `table`, once the day's
    /// counts are written: `head(day, seal id, changes, sealed_ms)`, `changes` being the day's
    /// change counter as read before counting (0 when it had none). Returns the seal ids.
    pub(crate) async fn write_seal_heads<R>(
        &self,
        table: &str,
        seals: BTreeMap<u16, Uuid>,
        changes: &BTreeMap<u16, u64>,
        head: impl Fn(u16, Uuid, u64, i64) -> R,
    ) -> Result<Vec<Uuid>, StoreError>
    where
        R: clickhouse::RowOwned + clickhouse::RowWrite,
    {
        let sealed_ms = crate::timefmt::now_ms();
        let heads: Vec<R> = seals
            .iter()
            .map(|(&day, &seal_id)| {
                head(
                    day,
                    seal_id,
                    changes.get(&day).copied().unwrap_or(0),
                    sealed_ms,
                )
            })
            .collect();
        self.insert_rows(table, &heads).await?;
        Ok(seals.into_values().collect())
    }
}

/// How a window's whole days are read: from these seals, or counted from `events`.
#[derive(Debug, Default)]
pub(crate) struct WholeDays {
    /// Seal ids of the days read from seals.
    pub(crate) sealed: Vec<Uuid>,
    /// Days counted from `events` (today and later, and days whose sealing failed).
    pub(crate) raw: Vec<u16>,
    /// Days sealed by this read.
    pub(crate) newly_sealed: usize,
    /// The days' change counters, read before any of them was counted.
    pub(crate) changes: BTreeMap<u16, u64>,
}

impl WholeDays {
    /// Plans the whole days [first, end) from their change counters: a day is read from the
    /// seal `valid(day, its counter)` names; a day nothing was ever written to is skipped; a
    /// past day without a valid seal is returned as stale (to be sealed now, then
    /// [`WholeDays::sealed_now`]); today and later are counted from `events`.
    pub(crate) fn plan(
        first: u16,
        end: u16,
        changes: BTreeMap<u16, u64>,
        valid: impl Fn(u16, u64) -> Option<Uuid>,
    ) -> (WholeDays, Vec<u16>) {
        let today = day_of_ms(crate::timefmt::now_ms());
        let mut out = WholeDays::default();
        let mut stale = Vec::new();
        for day in first..end {
            let want = changes.get(&day).copied().unwrap_or(0);
            match valid(day, want) {
                Some(seal) => out.sealed.push(seal),
                None if want == 0 => {} // nothing was ever written to this day
                None if day < today => stale.push(day),
                None => out.raw.push(day),
            }
        }
        out.changes = changes;
        (out, stale)
    }

    /// Takes the outcome of sealing the `stale` days: their seals, or, when sealing failed
    /// (logged, naming `what` was sealed), the days counted from `events` instead.
    pub(crate) fn sealed_now(
        &mut self,
        stale: Vec<u16>,
        sealing: Result<Vec<Uuid>, StoreError>,
        what: &str,
    ) {
        match sealing {
            Ok(seals) => {
                self.newly_sealed = seals.len();
                self.sealed.extend(seals);
            }
            Err(e) => {
                tracing::warn!(error = %e, days = stale.len(), "could not seal {what} days; counting them from events");
                self.raw.extend(stale);
            }
        }
    }
}
