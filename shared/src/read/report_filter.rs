//! What every report query shares: the report filter, and how day numbers are written into
//! report SQL. Both the reports (`read::reports`) and the engaged-recipient index
//! (`read::engaged_index`) use them, so neither imports the other for them.

use uuid::Uuid;

use crate::timefmt::day_to_date;

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
