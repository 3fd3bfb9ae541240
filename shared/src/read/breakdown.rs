//! Breakdowns (`/v1/reports/breakdown`, docs/deliverability.md): the counts of a window per
//! mailbox provider, recipient domain, sending domain, channel, template or bounce cause.
//!
//! A row is attributed to its own recipient's domain (and that domain's provider), so a message
//! to two domains counts once under each. Row counts read whole past UTC days from breakdown
//! seals (per (org, day): rows per event type, bounce type, bounce cause, channel, sending domain,
//! template and recipient domain, counted from `events` by distinct event id; used while the
//! day's change counter and the bounce-cause rules are unchanged, like the report seals) and
//! every other day and the window's partial edge days from `events` by distinct event id, in one
//! query. Distinct openers and clickers per key are distinct over the whole window, counted from
//! `engaged_recipients`. Providers are applied when reading (`providers`): a domain's provider
//! is the sum of its domains (a recipient belongs to exactly one domain, so distinct counts add).

pub mod causes;
pub mod index;
pub mod providers;

pub use index::BreakdownIndex;

use std::collections::{BTreeMap, HashMap};

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::read::report_filter::{
    ReportFilter, WholeDays, date, day_in, latest_seals, new_seals, org_window,
};
use crate::read::reports::{Split, days_sql, filter_sql, split, type_list};
use crate::store::Store;
use crate::store::sql::Sql;
use crate::timefmt::{TimeRange, UtcDay, day_of_ms, now_ms};
use crate::{EventType, StoreError};

/// The recipient's lower-cased domain as ClickHouse computes it from `recipient`: the part after
/// the last `@`, up to a `>` or white space; `''` without `@`. Equals [`recipient_domain`].
pub const RECIPIENT_DOMAIN_SQL: &str = "lower(extract(recipient, '@([^@>\\\\s]*)[^@]*$'))";

/// The recipient's lower-cased domain: the part after the last `@`, up to a `>` or ASCII white
/// space (`"Name" <a@b.com>` → `b.com`); empty without `@`.
pub fn recipient_domain(recipient: &str) -> String {
    match recipient.rfind('@') {
        Some(at) => recipient[at + 1..]
            .split(|c: char| c == '>' || c.is_ascii_whitespace())
            .next()
            .unwrap_or("")
            .to_ascii_lowercase(),
        None => String::new(),
    }
}

/// What a breakdown groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    MailboxProvider,
    RecipientDomain,
    SendingDomain,
    Channel,
    Template,
    BounceCause,
}

impl Dimension {
    pub const ALL: &'static [Dimension] = &[
        Dimension::MailboxProvider,
        Dimension::RecipientDomain,
        Dimension::SendingDomain,
        Dimension::Channel,
        Dimension::Template,
        Dimension::BounceCause,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::MailboxProvider => "mailbox_provider",
            Dimension::RecipientDomain => "recipient_domain",
            Dimension::SendingDomain => "sending_domain",
            Dimension::Channel => "channel",
            Dimension::Template => "template",
            Dimension::BounceCause => "bounce_cause",
        }
    }

    /// The key (and label source) columns of the seal table and of `events`, and the key column
    /// of `engaged_recipients` (`None`: no distinct engaged counts per key).
    fn columns(self) -> (&'static str, String, &'static str, Option<&'static str>) {
        match self {
            Dimension::MailboxProvider | Dimension::RecipientDomain => (
                "recipient_domain",
                RECIPIENT_DOMAIN_SQL.to_owned(),
                "''",
                Some("recipient_domain"),
            ),
            Dimension::SendingDomain => (
                "sender_domain",
                "sender_domain".to_owned(),
                "''",
                Some("sender_domain"),
            ),
            Dimension::Channel => (
                "toString(channel_id)",
                "toString(channel_id)".to_owned(),
                "channel",
                Some("toString(channel_id)"),
            ),
            Dimension::Template => ("template", "template".to_owned(), "''", Some("template")),
            Dimension::BounceCause => ("bounce_cause", causes::sql(), "''", None),
        }
    }
}

/// The counts of one key over a window (docs/semantics.md#counting).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyCounts {
    pub sent: u64,
    pub delivered: u64,
    pub bounced_permanent: u64,
    pub bounced_transient: u64,
    pub bounced_undetermined: u64,
    pub complained: u64,
    pub suppressed: u64,
    pub delayed: u64,
    pub opens: u64,
    pub unique_opens: u64,
    pub clicks: u64,
    pub unique_clicks: u64,
}

impl KeyCounts {
    pub fn bounced(&self) -> u64 {
        self.bounced_permanent + self.bounced_transient + self.bounced_undetermined
    }

    /// Adds `n` rows of `event_type` (with `bounce_type` for bounces).
    pub fn add_rows(&mut self, event_type: EventType, bounce_type: &str, n: u64) {
        match event_type {
            EventType::Send => self.sent += n,
            EventType::Delivery => self.delivered += n,
            EventType::Bounce => match bounce_type {
                "Permanent" => self.bounced_permanent += n,
                "Transient" => self.bounced_transient += n,
                _ => self.bounced_undetermined += n,
            },
            EventType::Complaint => self.complained += n,
            EventType::Reject => self.suppressed += n,
            EventType::DeliveryDelay => self.delayed += n,
            EventType::Open => self.opens += n,
            EventType::Click => self.clicks += n,
            EventType::RenderingFailure | EventType::Subscription => {}
        }
    }

    pub fn add(&mut self, o: &KeyCounts) {
        crate::add_fields!(self += o: sent, delivered, bounced_permanent, bounced_transient,
            bounced_undetermined, complained, suppressed, delayed, opens, unique_opens, clicks,
            unique_clicks);
    }

    pub fn is_zero(&self) -> bool {
        *self == KeyCounts::default()
    }
}

/// One key of a breakdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breakdown {
    pub key: String,
    pub label: String,
    pub counts: KeyCounts,
}

/// The event types a breakdown counts.
const COUNTED: &[EventType] = &[
    EventType::Send,
    EventType::Delivery,
    EventType::Bounce,
    EventType::Complaint,
    EventType::Reject,
    EventType::DeliveryDelay,
    EventType::Open,
    EventType::Click,
];

#[derive(Debug, Deserialize, Row)]
struct KeyRow {
    k: String,
    lbl: String,
    event_type: EventType,
    bounce_type: String,
    n: u64,
}

#[derive(Debug, Deserialize, Row)]
struct UniqueRow {
    k: String,
    event_type: EventType,
    n: u64,
}

#[derive(Debug, Serialize, Row)]
struct SealRow {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    day: u16,
    #[serde(with = "clickhouse::serde::uuid")]
    seal_id: Uuid,
    changes: u64,
    rules: String,
    sealed_ms: i64,
}

#[derive(Debug, Deserialize, Row)]
struct SealHead {
    d: u16,
    #[serde(with = "clickhouse::serde::uuid")]
    seal_id: Uuid,
    changes: u64,
    rules: String,
}

#[derive(Debug, Deserialize, Row)]
struct OrgDay {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    d: u16,
    changes: u64,
    rules: String,
}

impl Store {
    /// The breakdown of `org_id`'s events in `window` by `dim`, keys with a non-zero count
    /// only, in no particular order.
    pub async fn breakdown(
        &self,
        org_id: Uuid,
        window: TimeRange,
        filter: &ReportFilter,
        dim: Dimension,
    ) -> Result<Vec<Breakdown>, StoreError> {
        self.breakdown_with(org_id, window, filter, dim, true).await
    }

    /// [`Store::breakdown`]; without `uniques`, `unique_opens` and `unique_clicks` stay 0 (and
    /// are not counted).
    pub async fn breakdown_with(
        &self,
        org_id: Uuid,
        window: TimeRange,
        filter: &ReportFilter,
        dim: Dimension,
        uniques: bool,
    ) -> Result<Vec<Breakdown>, StoreError> {
        let s = split(window.from.0, window.to.0);
        let no_uniques = async { Ok(Vec::new()) };
        let (rows, uniques) = if uniques {
            tokio::try_join!(
                self.breakdown_rows(org_id, &s, filter, dim),
                self.breakdown_uniques(org_id, &s, filter, dim),
            )?
        } else {
            tokio::try_join!(self.breakdown_rows(org_id, &s, filter, dim), no_uniques)?
        };
        let mut keys: BTreeMap<String, (String, KeyCounts)> = BTreeMap::new();
        for r in rows {
            let e = keys.entry(r.k).or_default();
            if e.0.is_empty() {
                e.0 = r.lbl;
            }
            e.1.add_rows(r.event_type, &r.bounce_type, r.n);
        }
        for u in uniques {
            let e = keys.entry(u.k).or_default();
            match u.event_type {
                EventType::Open => e.1.unique_opens += u.n,
                EventType::Click => e.1.unique_clicks += u.n,
                _ => {}
            }
        }
        let keys = if dim == Dimension::MailboxProvider {
            let domains: Vec<String> = keys.keys().cloned().collect();
            let providers = self.mailbox_providers(&domains).await?;
            let mut by: BTreeMap<String, (String, KeyCounts)> = BTreeMap::new();
            for (domain, (_, c)) in keys {
                let p = providers
                    .get(&domain)
                    .cloned()
                    .unwrap_or_else(|| providers::OTHER.to_owned());
                by.entry(p).or_default().1.add(&c);
            }
            by
        } else {
            keys
        };
        Ok(keys
            .into_iter()
            .filter(|(_, (_, c))| !c.is_zero())
            .map(|(key, (lbl, counts))| Breakdown {
                label: label(dim, &key, &lbl),
                key,
                counts,
            })
            .collect())
    }

    /// Seals the stale whole past days of `window` (what a breakdown of that window would seal
    /// on its first read), so several breakdowns of one window can then run at once without
    /// each sealing the same days.
    pub async fn seal_breakdown_window(
        &self,
        org_id: Uuid,
        window: TimeRange,
    ) -> Result<(), StoreError> {
        if let Some((first, end)) = split(window.from.0, window.to.0).whole {
            self.breakdown_sealed_days(org_id, first, end).await?;
        }
        Ok(())
    }

    /// Rows per key, event type and bounce type: sealed whole days and raw days/edges.
    async fn breakdown_rows(
        &self,
        org_id: Uuid,
        s: &Split,
        filter: &ReportFilter,
        dim: Dimension,
    ) -> Result<Vec<KeyRow>, StoreError> {
        if s.whole.is_none() && s.edges.is_empty() {
            return Ok(Vec::new());
        }
        let whole = match s.whole {
            Some((first, end)) => self.breakdown_sealed_days(org_id, first, end).await?,
            None => WholeDays::default(),
        };
        let (seal_key, raw_key, lbl, _) = dim.columns();
        let types: &[EventType] = if dim == Dimension::BounceCause {
            &[EventType::Bounce]
        } else {
            COUNTED
        };
        let types = format!(" AND event_type IN ({})", type_list(types));
        let mut parts = Vec::new();
        if !whole.sealed.is_empty() {
            let mut p = Sql::new(
                &format!(
                    "SELECT {seal_key} AS k, {lbl} AS lbl, event_type, bounce_type AS bt, n \
                     FROM breakdown_day_counts \
                     WHERE org_id = ? AND seal_id IN (SELECT toUUID(arrayJoin(?))){types}"
                ),
                [org_id.into(), whole.sealed.as_slice().into()],
            );
            p.append(filter_sql(filter));
            parts.push(p);
        }
        if !whole.raw.is_empty() || !s.edges.is_empty() {
            let mut p = Sql::new(
                &format!(
                    "SELECT {raw_key} AS k, any({lbl}) AS lbl, event_type, \
                     if(event_type = 'Bounce', bounce_type, '') AS bt, \
                     toUInt64(uniqExact(event_id)) AS n FROM events WHERE org_id = ? AND "
                ),
                [org_id.into()],
            );
            p.append(days_sql(&whole.raw, &s.edges))
                .push(&types, [])
                .append(filter_sql(filter))
                .push(" GROUP BY k, event_type, bt", []);
            parts.push(p);
        }
        let mut sql = Sql::new(
            "SELECT k, any(lbl) AS lbl, event_type, bt, sum(n) AS n FROM (",
            [],
        );
        sql.append(Sql::join(parts, " UNION ALL "))
            .push(") GROUP BY k, event_type, bt", []);
        Ok(self.sql(sql).fetch_all::<KeyRow>().await?)
    }

    /// Distinct openers and clickers per key over the whole window.
    async fn breakdown_uniques(
        &self,
        org_id: Uuid,
        s: &Split,
        filter: &ReportFilter,
        dim: Dimension,
    ) -> Result<Vec<UniqueRow>, StoreError> {
        let (_, _, _, Some(key)) = dim.columns() else {
            return Ok(Vec::new());
        };
        let (from_ms, to_ms) = s.window;
        if from_ms >= to_ms {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(
            &format!(
                "SELECT {key} AS k, event_type, toUInt64(uniqExact(recipient_hash)) AS n \
                 FROM engaged_recipients WHERE event_type IN ('Open', 'Click') AND "
            ),
            [],
        );
        sql.append(org_window(org_id, from_ms, to_ms));
        sql.append(filter_sql(filter))
            .push(" GROUP BY k, event_type", []);
        Ok(self.sql(sql).fetch_all::<UniqueRow>().await?)
    }

    /// How the whole days [first, end) are read: from valid seals, sealing stale past days first.
    async fn breakdown_sealed_days(
        &self,
        org_id: Uuid,
        first: u16,
        end: u16,
    ) -> Result<WholeDays, StoreError> {
        let last = end - 1;
        let rules = causes::rules_version();
        let (changes, heads) = tokio::try_join!(
            self.day_changes(org_id, UtcDay(first), UtcDay(last)),
            self.breakdown_seal_heads(org_id, first, last),
        )?;
        let (mut out, stale) = WholeDays::plan(first, end, changes, |day, want| {
            heads
                .get(&day)
                .filter(|h| h.changes == want && h.rules == rules)
                .map(|h| h.seal_id)
        });
        if !stale.is_empty() {
            let sealing = self.breakdown_seal(org_id, &stale, &out.changes).await;
            out.sealed_now(stale, sealing, "breakdown");
        }
        Ok(out)
    }

    async fn breakdown_seal_heads(
        &self,
        org_id: Uuid,
        first: u16,
        last: u16,
    ) -> Result<HashMap<u16, SealHead>, StoreError> {
        Ok(self
            .sql(latest_seals(
                "breakdown_day_seals",
                &["seal_id", "changes", "rules"],
                org_id,
                first,
                last,
            ))
            .fetch_all::<SealHead>()
            .await?
            .into_iter()
            .map(|h| (h.d, h))
            .collect())
    }

    /// Seals `days`: counts every group of each day by distinct event id and writes the counts,
    /// then the seal heads with `changes` (the counters read before counting: a batch that wrote
    /// to a day meanwhile moved its counter past the seal's, so the seal is never used).
    async fn breakdown_seal(
        &self,
        org_id: Uuid,
        days: &[u16],
        changes: &BTreeMap<u16, u64>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let Some((lo, hi, ids)) = new_seals(days) else {
            return Ok(Vec::new());
        };
        // Counted and written inside ClickHouse (INSERT … SELECT): a day of a sender with many
        // recipient domains holds about as many groups as events, which must not travel through
        // this process. Each day's rows get that day's seal id.
        let (dates, seal_ids): (Vec<String>, Vec<String>) =
            ids.iter().map(|(&d, id)| (date(d), id.to_string())).unzip();
        self.client()
            .query(&format!(
                "INSERT INTO breakdown_day_counts (org_id, day, seal_id, event_type, bounce_type, \
                 bounce_cause, channel_id, channel, sender_domain, template, recipient_domain, n) \
                 SELECT org_id, day, toUUID(arrayElement(?, indexOf(?, toString(day)))), event_type, bt, \
                 cause, channel_id, channel, sender_domain, template, rd, n FROM (\
                 SELECT org_id, day, event_type, if(event_type = 'Bounce', bounce_type, '') AS bt, \
                 {cause} AS cause, channel_id, channel, sender_domain, template, {domain} AS rd, \
                 toUInt64(uniqExact(event_id)) AS n \
                 FROM events WHERE org_id = ? AND day >= toDate(?) AND day <= toDate(?) AND {days} \
                 AND event_type IN ({types}) \
                 GROUP BY org_id, day, event_type, bt, cause, channel_id, channel, sender_domain, template, rd)",
                cause = causes::sql(),
                domain = RECIPIENT_DOMAIN_SQL,
                days = day_in(days),
                types = type_list(COUNTED),
            ))
            .bind(seal_ids)
            .bind(dates)
            .bind(org_id.to_string())
            .bind(date(lo))
            .bind(date(hi))
            .execute()
            .await?;
        self.write_seal_heads(
            "breakdown_day_seals",
            ids,
            changes,
            |day, seal_id, changes, sealed_ms| SealRow {
                org_id,
                day,
                seal_id,
                changes,
                rules: causes::rules_version().to_owned(),
                sealed_ms,
            },
        )
        .await
    }

    /// Seals every org's past days within its plan's retention and the last `days` days whose
    /// breakdown seal is missing or stale, like [`Store::prepare_reports`]; returns the number
    /// of days sealed.
    /// On a cluster routed by org, each shard prepares its own orgs.
    pub async fn prepare_breakdowns(&self, days: u16) -> Result<usize, StoreError> {
        Ok(self
            .on_each_shard("breakdown preparation", |s| async move {
                s.prepare_shard_breakdowns(days).await
            })
            .await?
            .into_iter()
            .sum())
    }

    /// [`Store::prepare_breakdowns`] over this store's tables.
    async fn prepare_shard_breakdowns(&self, days: u16) -> Result<usize, StoreError> {
        let today = day_of_ms(now_ms());
        let first = today.saturating_sub(days.min(366));
        let rules = causes::rules_version();
        let (counters, seals) = tokio::try_join!(
            self.client()
                .query(
                    "SELECT org_id, toUInt16(day) AS d, sum(changes) AS changes, '' AS rules \
                     FROM day_changes WHERE day >= toDate(?) AND day < toDate(?) GROUP BY org_id, day",
                )
                .bind(date(first))
                .bind(date(today))
                .fetch_all::<OrgDay>(),
            self.client()
                .query(
                    "SELECT org_id, d, tupleElement(latest, 1) AS changes, tupleElement(latest, 2) AS rules FROM (\
                     SELECT org_id, toUInt16(day) AS d, argMax((changes, rules), sealed_ms) AS latest \
                     FROM breakdown_day_seals WHERE day >= toDate(?) AND day < toDate(?) GROUP BY org_id, day)",
                )
                .bind(date(first))
                .bind(date(today))
                .fetch_all::<OrgDay>(),
        )?;
        let sealed: HashMap<(Uuid, u16), (u64, String)> = seals
            .into_iter()
            .map(|r| ((r.org_id, r.d), (r.changes, r.rules)))
            .collect();
        let mut stale: BTreeMap<Uuid, Vec<u16>> = BTreeMap::new();
        for r in counters {
            match sealed.get(&(r.org_id, r.d)) {
                Some((c, v)) if *c == r.changes && v == rules => {}
                _ => stale.entry(r.org_id).or_default().push(r.d),
            }
        }
        let mut done = 0;
        for org in self.list_orgs().await? {
            let Some(mut days) = stale.remove(&org.id) else {
                continue;
            };
            let retention = u16::try_from(org.plan.retention_days()).unwrap_or(u16::MAX);
            days.retain(|d| *d >= today.saturating_sub(retention));
            days.sort_unstable();
            for run in days.chunks(31) {
                let (lo, hi) = (run[0], run[run.len() - 1]);
                done += self
                    .breakdown_sealed_days(org.id, lo, hi + 1)
                    .await?
                    .newly_sealed;
            }
        }
        Ok(done)
    }
}

/// A key's label.
fn label(dim: Dimension, key: &str, lbl: &str) -> String {
    match dim {
        Dimension::MailboxProvider => providers::label(key).to_owned(),
        Dimension::BounceCause => causes::Cause::parse(key)
            .map_or(key, |c| c.label())
            .to_owned(),
        Dimension::Channel if lbl.is_empty() => "(no configuration set)".to_owned(),
        Dimension::Channel => lbl.to_owned(),
        Dimension::Template if key.is_empty() => "(no template)".to_owned(),
        Dimension::RecipientDomain | Dimension::SendingDomain if key.is_empty() => {
            "(no domain)".to_owned()
        }
        _ => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_domains() {
        assert_eq!(recipient_domain("a@B.Example"), "b.example");
        assert_eq!(recipient_domain("\"N\" <x@Y.org>"), "y.org");
        assert_eq!(recipient_domain("a@b@c.d  "), "c.d");
        assert_eq!(recipient_domain("nobody"), "");
        assert_eq!(recipient_domain("x@"), "");
    }

    #[test]
    fn bounce_types_split_and_other_types_are_ignored() {
        let mut c = KeyCounts::default();
        c.add_rows(EventType::Bounce, "Permanent", 2);
        c.add_rows(EventType::Bounce, "Transient", 3);
        c.add_rows(EventType::Bounce, "Undetermined", 1);
        c.add_rows(EventType::Bounce, "", 1);
        c.add_rows(EventType::RenderingFailure, "", 9);
        assert_eq!(
            (
                c.bounced_permanent,
                c.bounced_transient,
                c.bounced_undetermined
            ),
            (2, 3, 2)
        );
        assert_eq!(c.bounced(), 7);
    }
}
