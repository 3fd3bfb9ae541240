//! Day seals: the counts of a whole past UTC day per report group, written the first time a
//! report needs the day (or by the background pass, `prepare_reports`) with the day's change
//! counter, and reused while the counter is unchanged.

use super::*;
use crate::read::report_filter::{WholeDays, date, day_in, latest_seals, new_seals};
use crate::store::Store;
use crate::timefmt::{EpochMs, TimeRange, UtcDay, day_of_ms, day_start_ms, now_ms};
use crate::{EventType, StoreError};
use clickhouse::Row;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Deserialize, Row)]
pub(super) struct OrgDayCount {
    #[serde(with = "clickhouse::serde::uuid")]
    pub(super) org_id: Uuid,
    pub(super) d: u16,
    pub(super) changes: u64,
}

/// What [`Store::prepare_reports`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportsPrepared {
    /// Orgs that had days to prepare.
    pub orgs: usize,
    /// Days sealed now (their seal was missing or stale).
    pub sealed_days: usize,
}

#[derive(Debug, Deserialize, Row)]
pub(super) struct SealHead {
    pub(super) d: u16,
    #[serde(with = "clickhouse::serde::uuid")]
    pub(super) seal_id: Uuid,
    pub(super) changes: u64,
}

#[derive(Debug, Serialize, Row)]
pub(super) struct SealRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub(super) org_id: Uuid,
    pub(super) day: u16,
    #[serde(with = "clickhouse::serde::uuid")]
    pub(super) seal_id: Uuid,
    pub(super) changes: u64,
    pub(super) sealed_ms: i64,
}

/// A report group's rows on one day, counted for a seal.
#[derive(Debug, Serialize, Deserialize, Row)]
pub(super) struct SealCount {
    #[serde(with = "clickhouse::serde::uuid")]
    pub(super) org_id: Uuid,
    pub(super) day: u16,
    #[serde(with = "clickhouse::serde::uuid")]
    pub(super) seal_id: Uuid,
    pub(super) event_type: EventType,
    #[serde(with = "clickhouse::serde::uuid")]
    pub(super) channel_id: Uuid,
    pub(super) sender_domain: String,
    pub(super) template: String,
    pub(super) n: u64,
}

impl Store {
    /// How the whole days [first, end) are read ([`WholeDays`]). Past days without a valid seal
    /// (none yet, or the day's change counter moved since) are sealed first.
    pub(super) async fn sealed_days(
        &self,
        org_id: Uuid,
        first: u16,
        end: u16,
    ) -> Result<WholeDays, StoreError> {
        let last = end - 1;
        let (changes, heads) = tokio::try_join!(
            self.day_changes(org_id, UtcDay(first), UtcDay(last)),
            self.seal_heads(org_id, first, last),
        )?;
        let (mut out, stale) = WholeDays::plan(first, end, changes, |day, want| {
            heads
                .get(&day)
                .filter(|&&(_, had)| had == want)
                .map(|&(seal, _)| seal)
        });
        // Report-cache figures (`sendops_api_cache_*{cache="report_seals"}`, background
        // preparation included): each past day with events is a lookup, a missing or stale seal
        // a miss.
        metrics::counter!("sendops_api_cache_lookups_total", "cache" => "report_seals")
            .increment((out.sealed.len() + stale.len()) as u64);
        metrics::counter!("sendops_api_cache_misses_total", "cache" => "report_seals")
            .increment(stale.len() as u64);
        if !stale.is_empty() {
            let sealing = self.seal(org_id, &stale, &out.changes).await;
            out.sealed_now(stale, sealing, "report");
        }
        Ok(out)
    }

    /// Prepares every org's past days within its plan's retention for reports: seals the days
    /// whose seal is missing or stale and caches their unfiltered distinct engaged recipients.
    /// Which days those are takes two queries over all orgs (the change counters and the latest
    /// seals), so a pass over an unchanged store costs next to nothing. `sendops-api` runs it in
    /// the background at start and then every minute, so the first report after a restart or a
    /// bulk load (a backlog drain, a replay) reads seals instead of counting `events`.
    /// On a cluster routed by org, each shard prepares its own orgs (`Store::on_each_shard`):
    /// a shard that is down delays only its orgs' seals.
    pub async fn prepare_reports(&self) -> Result<ReportsPrepared, StoreError> {
        let parts = self
            .on_each_shard("report preparation", |s| async move {
                s.prepare_shard_reports().await
            })
            .await?;
        Ok(parts
            .into_iter()
            .fold(ReportsPrepared::default(), |a, b| ReportsPrepared {
                orgs: a.orgs + b.orgs,
                sealed_days: a.sealed_days + b.sealed_days,
            }))
    }

    /// [`Store::prepare_reports`] over this store's tables.
    async fn prepare_shard_reports(&self) -> Result<ReportsPrepared, StoreError> {
        let today = day_of_ms(now_ms());
        let first = today.saturating_sub(366);
        let orgs = self.list_orgs().await?;
        let (counters, seals) = tokio::try_join!(
            self.client()
                .query(
                    "SELECT org_id, toUInt16(day) AS d, sum(changes) AS changes FROM day_changes \
                     WHERE day >= toDate(?) AND day < toDate(?) GROUP BY org_id, day",
                )
                .bind(date(first))
                .bind(date(today))
                .fetch_all::<OrgDayCount>(),
            self.client()
                .query(
                    "SELECT org_id, d, tupleElement(latest, 2) AS changes FROM (\
                     SELECT org_id, toUInt16(day) AS d, argMax((seal_id, changes), sealed_ms) AS latest \
                     FROM report_day_seals WHERE day >= toDate(?) AND day < toDate(?) GROUP BY org_id, day)",
                )
                .bind(date(first))
                .bind(date(today))
                .fetch_all::<OrgDayCount>(),
        )?;
        let sealed: std::collections::HashMap<(Uuid, u16), u64> = seals
            .into_iter()
            .map(|r| ((r.org_id, r.d), r.changes))
            .collect();
        let mut stale: BTreeMap<Uuid, std::collections::BTreeSet<u16>> = BTreeMap::new();
        for r in counters {
            if sealed.get(&(r.org_id, r.d)) != Some(&r.changes) {
                stale.entry(r.org_id).or_default().insert(r.d);
            }
        }
        let mut done = ReportsPrepared::default();
        for org in orgs {
            let Some(days) = stale.remove(&org.id) else {
                continue;
            };
            let retention = u16::try_from(org.plan.retention_days()).unwrap_or(u16::MAX);
            let days: Vec<u16> = days
                .into_iter()
                .filter(|d| *d >= today.saturating_sub(retention))
                .collect();
            if days.is_empty() {
                continue;
            }
            done.orgs += 1;
            for run in days.chunks(31) {
                let (lo, hi) = (run[0], run[run.len() - 1]);
                done.sealed_days += self.sealed_days(org.id, lo, hi + 1).await?.newly_sealed;
                let engaged = [EventType::Open, EventType::Click];
                self.daily_counts(
                    org.id,
                    TimeRange::new(EpochMs(day_start_ms(lo)), EpochMs(day_start_ms(hi + 1))),
                    &ReportFilter::default(),
                    Measures {
                        types: &engaged,
                        distinct_recipients: true,
                    },
                )
                .await?;
            }
        }
        Ok(done)
    }

    /// The latest seal of each of `org_id`'s days in [first, last]: (seal id, change counter).
    pub(super) async fn seal_heads(
        &self,
        org_id: Uuid,
        first: u16,
        last: u16,
    ) -> Result<BTreeMap<u16, (Uuid, u64)>, StoreError> {
        Ok(self
            .sql(latest_seals(
                "report_day_seals",
                &["seal_id", "changes"],
                org_id,
                first,
                last,
            ))
            .fetch_all::<SealHead>()
            .await?
            .into_iter()
            .map(|h| (h.d, (h.seal_id, h.changes)))
            .collect())
    }

    /// Seals `days`: counts each report group's events by distinct id and writes the counts,
    /// then the seal heads with `changes` — the counters read before counting, so a batch that
    /// wrote to a day meanwhile moved its counter past the seal's and the seal is never used.
    pub(super) async fn seal(
        &self,
        org_id: Uuid,
        days: &[u16],
        changes: &BTreeMap<u16, u64>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let Some((lo, hi, ids)) = new_seals(days) else {
            return Ok(Vec::new());
        };
        let mut counts = self
            .client()
            .query(&format!(
                "SELECT org_id, day, toUUID('00000000-0000-0000-0000-000000000000') AS seal_id, \
                 event_type, channel_id, sender_domain, template, toUInt64(uniqExact(event_id)) AS n \
                 FROM events WHERE org_id = ? AND day >= toDate(?) AND day <= toDate(?) AND {} \
                 GROUP BY org_id, day, event_type, channel_id, sender_domain, template",
                day_in(days)
            ))
            .bind(org_id.to_string())
            .bind(date(lo))
            .bind(date(hi))
            .fetch_all::<SealCount>()
            .await?;
        for c in &mut counts {
            if let Some(id) = ids.get(&c.day) {
                c.seal_id = *id;
            }
        }
        self.insert_rows("report_day_counts", &counts).await?;
        self.write_seal_heads(
            "report_day_seals",
            ids,
            changes,
            |day, seal_id, changes, sealed_ms| SealRow {
                org_id,
                day,
                seal_id,
                changes,
                sealed_ms,
            },
        )
        .await
    }
}
