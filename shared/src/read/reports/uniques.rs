//! Distinct engaged recipients (Open, Click): per day from `engaged` with the cached counts of
//! whole past days (`report_uniques_days`), and per template over a whole window (from the
//! in-process index, or counted in ClickHouse).

use super::*;
use crate::read::engaged_index::{EngagedIndex, TemplateUniques};
use crate::read::report_filter::{date, org_window};
use crate::store::Store;
use crate::timefmt::EpochMs;
use crate::{EventType, StoreError};
use clickhouse::Row;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The engaged types among `types` (Open and Click carry distinct recipients).
pub(super) fn engaged_types(m: Measures<'_>) -> Vec<EventType> {
    if !m.distinct_recipients {
        return Vec::new();
    }
    m.types
        .iter()
        .copied()
        .filter(|t| matches!(t, EventType::Open | EventType::Click))
        .collect()
}

/// The `report_uniques_daily.scope` of a filter: its values as a JSON array (null = any).
pub(super) fn scope(filter: &ReportFilter) -> String {
    serde_json::json!([
        filter.channel_id.map(|c| c.to_string()),
        filter.sender_domain,
        filter.template.as_ref().map(|t| t.to_lowercase()),
    ])
    .to_string()
}

#[derive(Debug, Deserialize, Row)]
pub(super) struct CachedRow {
    pub(super) day: u16,
    pub(super) event_type: EventType,
    pub(super) changes: u64,
    pub(super) uniques: u64,
}

#[derive(Debug, Serialize, Row)]
pub(super) struct CacheRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub(super) org_id: Uuid,
    pub(super) scope: String,
    pub(super) day: u16,
    pub(super) event_type: EventType,
    pub(super) changes: u64,
    pub(super) uniques: u64,
    pub(super) computed_ms: u64,
}

#[derive(Debug, Deserialize, Row)]
pub(super) struct EngagedDayRow {
    pub(super) day: u16,
    pub(super) event_type: EventType,
    pub(super) uniques: u64,
}

impl Store {
    /// Cached distinct counts of whole days [first, end) under `scope`, latest per day and type.
    pub(super) async fn cached_uniques(
        &self,
        org_id: Uuid,
        scope: &str,
        days: Option<(u16, u16)>,
    ) -> Result<BTreeMap<(u16, EventType), (u64, u64)>, StoreError> {
        let Some((first, end)) = days else {
            return Ok(BTreeMap::new());
        };
        let rows = self
            .client()
            .query(
                "SELECT day, event_type, tupleElement(latest, 1) AS changes, \
                 tupleElement(latest, 2) AS uniques FROM (\
                 SELECT day, event_type, argMax((changes, uniques), computed_ms) AS latest \
                 FROM report_uniques_days WHERE org_id = ? AND scope = ? \
                 AND day >= toDate(?) AND day < toDate(?) GROUP BY day, event_type)",
            )
            .bind(org_id.to_string())
            .bind(scope)
            .bind(date(first))
            .bind(date(end))
            .fetch_all::<CachedRow>()
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| ((r.day, r.event_type), (r.changes, r.uniques)))
            .collect())
    }

    /// Rows and distinct recipients per day and engaged type from `engaged`, for the whole
    /// `days` and the raw `edges`.
    pub(super) async fn engaged_per_day(
        &self,
        org_id: Uuid,
        filter: &ReportFilter,
        types: &[EventType],
        days: &[u16],
        edges: &[(u16, i64, i64)],
    ) -> Result<Vec<EngagedDayRow>, StoreError> {
        let (Some(lo), Some(hi)) = (
            days.iter().chain(edges.iter().map(|e| &e.0)).min(),
            days.iter().chain(edges.iter().map(|e| &e.0)).max(),
        ) else {
            return Ok(Vec::new());
        };
        let mut sql = Sql::new(
            &format!(
                "SELECT day, event_type, toUInt64(uniqExact(recipient_hash)) AS uniques \
                 FROM engaged WHERE org_id = ? AND event_type IN ({}) \
                 AND day >= toDate(?) AND day <= toDate(?) AND ",
                type_list(types)
            ),
            [org_id.into(), date(*lo).into(), date(*hi).into()],
        );
        sql.append(days_sql(days, edges))
            .append(filter_sql(filter))
            .push(" GROUP BY day, event_type", []);
        Ok(self.sql(sql).fetch_all::<EngagedDayRow>().await?)
    }

    /// Distinct recipients per template and engaged type over exactly [from_ms, to_ms): from the
    /// in-process index, or counted in ClickHouse when the window is too large for its budget.
    pub(super) async fn engaged_per_template(
        &self,
        index: &EngagedIndex,
        org_id: Uuid,
        from_ms: i64,
        to_ms: i64,
        filter: &ReportFilter,
        types: &[EventType],
    ) -> Result<Vec<TemplateUniques>, StoreError> {
        if let Some(counted) = index
            .template_uniques(
                self,
                org_id,
                TimeRange::new(EpochMs(from_ms), EpochMs(to_ms)),
                filter,
                types,
            )
            .await?
        {
            return Ok(counted);
        }
        let mut sql = Sql::new(
            &format!(
                "SELECT template, event_type, uniqExact(recipient_hash) AS uniques FROM engaged \
                 WHERE event_type IN ({}) AND ",
                type_list(types)
            ),
            [],
        );
        sql.append(org_window(org_id, from_ms, to_ms));
        sql.append(filter_sql(filter))
            .push(" AND template != '' GROUP BY template, event_type", []);
        Ok(self.sql(sql).fetch_all::<TemplateUniques>().await?)
    }
}
