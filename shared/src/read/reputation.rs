//! Reputation (`/v1/reputation`, docs/deliverability.md#reputation): an org's bounce rate
//! (permanent bounces / sends) and complaint rate (complaints / deliveries) over a trailing
//! window, overall, per channel and per sending domain, each with a status against SES's published
//! thresholds, and the top contributors to bounces and complaints. Every figure is a breakdown
//! (crate::read::breakdown) of the window, so it equals a direct count over the stored events.
//!
//! Alerts (`/v1/reputation/alerts`): [`Store::evaluate_reputation`] computes the org's and each
//! channel's status and records a transition when it differs from the latest recorded one (the
//! first evaluation of a scope starts from `healthy`, and an `insufficient_volume` start is not
//! recorded), so every crossing is recorded once however often it is evaluated. An alert's id is
//! derived from the previous alert of its scope and the new status: two evaluators recording the
//! same crossing write the same id, which readers count once. Alerts are stamped under an
//! in-flight registration (crate::store::ledger) so `?since=` polls never miss one.

use std::collections::{BTreeMap, HashMap};

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::StoreError;
use crate::read::breakdown::{Breakdown, BreakdownIndex, Dimension, KeyCounts};
use crate::read::report_filter::ReportFilter;
use crate::store::Store;
use crate::timefmt::{EpochMs, TimeRange};

/// SES's thresholds (the account is reviewed at the warning rate and may be paused at the
/// at-risk rate) and the volume below which a rate says nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub bounce_warning: f64,
    pub bounce_at_risk: f64,
    pub complaint_warning: f64,
    pub complaint_at_risk: f64,
    pub min_sends: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            bounce_warning: 0.05,
            bounce_at_risk: 0.10,
            complaint_warning: 0.001,
            complaint_at_risk: 0.005,
            min_sends: 200,
        }
    }
}

/// A reputation status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Healthy,
    Warning,
    AtRisk,
    InsufficientVolume,
}

impl Status {
    pub const ALL: &'static [Status] = &[
        Status::Healthy,
        Status::Warning,
        Status::AtRisk,
        Status::InsufficientVolume,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Warning => "warning",
            Status::AtRisk => "at_risk",
            Status::InsufficientVolume => "insufficient_volume",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.iter().copied().find(|x| x.as_str() == s)
    }

    /// The status of one rate against its (warning, at risk) thresholds.
    fn of_rate(rate: f64, warning: f64, at_risk: f64) -> Status {
        if rate >= at_risk {
            Status::AtRisk
        } else if rate >= warning {
            Status::Warning
        } else {
            Status::Healthy
        }
    }
}

/// A ratio clamped to [0, 1], 0.0 on a zero denominator.
pub fn rate(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        (num as f64 / den as f64).min(1.0)
    }
}

/// The figures of one scope over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub sends: u64,
    pub deliveries: u64,
    pub permanent_bounces: u64,
    pub complaints: u64,
}

impl Figures {
    pub fn of(c: &KeyCounts) -> Figures {
        Figures {
            sends: c.sent,
            deliveries: c.delivered,
            permanent_bounces: c.bounced_permanent,
            complaints: c.complained,
        }
    }

    pub fn add(&mut self, o: &Figures) {
        self.sends += o.sends;
        self.deliveries += o.deliveries;
        self.permanent_bounces += o.permanent_bounces;
        self.complaints += o.complaints;
    }

    pub fn bounce_rate(&self) -> f64 {
        rate(self.permanent_bounces, self.sends)
    }

    pub fn complaint_rate(&self) -> f64 {
        rate(self.complaints, self.deliveries)
    }

    pub fn bounce_status(&self, t: &Thresholds) -> Status {
        if self.sends < t.min_sends {
            return Status::InsufficientVolume;
        }
        Status::of_rate(self.bounce_rate(), t.bounce_warning, t.bounce_at_risk)
    }

    pub fn complaint_status(&self, t: &Thresholds) -> Status {
        if self.sends < t.min_sends {
            return Status::InsufficientVolume;
        }
        Status::of_rate(
            self.complaint_rate(),
            t.complaint_warning,
            t.complaint_at_risk,
        )
    }

    /// The worse of the two rates' statuses; `insufficient_volume` below the minimum sends.
    pub fn status(&self, t: &Thresholds) -> Status {
        self.bounce_status(t).max(self.complaint_status(t))
    }
}

/// A scope's figures with its key and label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scoped {
    pub key: String,
    pub label: String,
    pub figures: Figures,
}

/// One contributor to bounces or complaints.
#[derive(Debug, Clone, PartialEq)]
pub struct Contributor {
    pub key: String,
    pub label: String,
    pub count: u64,
    /// count / the org's total, in [0, 1].
    pub share: f64,
}

/// The top contributors by channel, template and recipient domain.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contributors {
    pub channels: Vec<Contributor>,
    pub templates: Vec<Contributor>,
    pub recipient_domains: Vec<Contributor>,
}

/// An org's reputation over [from_ms, to_ms).
#[derive(Debug, Clone, PartialEq)]
pub struct Reputation {
    pub from_ms: i64,
    pub to_ms: i64,
    pub overall: Figures,
    pub channels: Vec<Scoped>,
    pub sending_domains: Vec<Scoped>,
    pub bounce_contributors: Contributors,
    pub complaint_contributors: Contributors,
}

/// Contributors this many deep.
pub const TOP: usize = 5;

fn scoped(rows: &[Breakdown]) -> Vec<Scoped> {
    let mut out: Vec<Scoped> = rows
        .iter()
        .map(|b| Scoped {
            key: b.key.clone(),
            label: b.label.clone(),
            figures: Figures::of(&b.counts),
        })
        .filter(|s| s.figures != Figures::default())
        .collect();
    out.sort_by(|a, b| {
        b.figures
            .sends
            .cmp(&a.figures.sends)
            .then_with(|| a.key.cmp(&b.key))
    });
    out
}

fn top(rows: &[Breakdown], count: impl Fn(&KeyCounts) -> u64, total: u64) -> Vec<Contributor> {
    let mut out: Vec<Contributor> = rows
        .iter()
        .map(|b| Contributor {
            key: b.key.clone(),
            label: b.label.clone(),
            count: count(&b.counts),
            share: rate(count(&b.counts), total),
        })
        .filter(|c| c.count > 0)
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out.truncate(TOP);
    out
}

/// A recorded transition (a row of `reputation_alerts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Row)]
pub struct AlertRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub org_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub alert_id: Uuid,
    /// `org` or `channel`.
    pub scope: String,
    /// '' for the org, the channel id for a channel.
    pub scope_key: String,
    pub previous_status: String,
    pub status: String,
    pub window_days: u16,
    pub sends: u64,
    pub deliveries: u64,
    pub permanent_bounces: u64,
    pub complaints: u64,
    pub bounce_rate: f64,
    pub complaint_rate: f64,
    pub evaluated_ms: i64,
    pub recorded_ms: i64,
}

/// The latest alert of one scope.
#[derive(Debug, Deserialize, Row)]
struct Latest {
    scope: String,
    scope_key: String,
    #[serde(with = "clickhouse::serde::uuid")]
    alert_id: Uuid,
    status: String,
}

/// Alert evaluation: the window and thresholds.
pub const ALERT_WINDOW_DAYS: u16 = 7;

impl Store {
    /// `org_id`'s reputation over the `window_days` days before `now`, counted from `index`
    /// when given and the window fits in it (else in ClickHouse).
    pub async fn reputation(
        &self,
        org_id: Uuid,
        window_days: u16,
        now: EpochMs,
        index: Option<&BreakdownIndex>,
    ) -> Result<Reputation, StoreError> {
        let window = TimeRange::days_before(now, window_days);
        let (from_ms, to_ms) = window.ms();
        let f = ReportFilter::default();
        const DIMS: [Dimension; 4] = [
            Dimension::Channel,
            Dimension::SendingDomain,
            Dimension::Template,
            Dimension::RecipientDomain,
        ];
        let indexed = match index {
            Some(index) => {
                index
                    .breakdowns(self, org_id, window, &f, &DIMS, false)
                    .await?
            }
            None => None,
        };
        let (channels, domains, templates, recipients) = match indexed {
            Some(mut v) if v.len() == DIMS.len() => {
                let recipients = v.pop().unwrap_or_default();
                let templates = v.pop().unwrap_or_default();
                let domains = v.pop().unwrap_or_default();
                (v.pop().unwrap_or_default(), domains, templates, recipients)
            }
            _ => {
                // Seal the window's stale past days once, before the four breakdowns below read
                // them (each would otherwise seal the same days itself).
                self.seal_breakdown_window(org_id, window).await?;
                let [a, b, c, d] = DIMS;
                tokio::try_join!(
                    self.breakdown_with(org_id, window, &f, a, false),
                    self.breakdown_with(org_id, window, &f, b, false),
                    self.breakdown_with(org_id, window, &f, c, false),
                    self.breakdown_with(org_id, window, &f, d, false),
                )?
            }
        };
        let mut overall = Figures::default();
        for c in &channels {
            overall.add(&Figures::of(&c.counts));
        }
        let contributors = |count: fn(&KeyCounts) -> u64, total: u64| Contributors {
            channels: top(&channels, count, total),
            templates: top(&templates, count, total),
            recipient_domains: top(&recipients, count, total),
        };
        Ok(Reputation {
            from_ms,
            to_ms,
            bounce_contributors: contributors(|c| c.bounced_permanent, overall.permanent_bounces),
            complaint_contributors: contributors(|c| c.complained, overall.complaints),
            overall,
            channels: scoped(&channels),
            sending_domains: scoped(&domains),
        })
    }

    /// Evaluates `org_id`'s reputation now (the org and each channel over the last
    /// [`ALERT_WINDOW_DAYS`]) and records every scope whose status differs from its latest
    /// recorded one. Returns what was recorded.
    pub async fn evaluate_reputation(
        &self,
        org_id: Uuid,
        t: &Thresholds,
    ) -> Result<Vec<AlertRow>, StoreError> {
        let evaluated = EpochMs::now();
        let evaluated_ms = evaluated.0;
        let window = TimeRange::days_before(evaluated, ALERT_WINDOW_DAYS);
        let f = ReportFilter::default();
        let (channels, latest) = tokio::try_join!(
            self.breakdown_with(org_id, window, &f, Dimension::Channel, false),
            self.latest_alerts(org_id),
        )?;
        let mut scopes: BTreeMap<(String, String), Figures> = BTreeMap::new();
        let mut overall = Figures::default();
        for c in &channels {
            let figs = Figures::of(&c.counts);
            overall.add(&figs);
            scopes.insert(("channel".into(), c.key.clone()), figs);
        }
        scopes.insert(("org".into(), String::new()), overall);
        // Channels with a recorded status but no traffic now are evaluated too (→ insufficient).
        for k in latest.keys() {
            scopes.entry(k.clone()).or_default();
        }
        let mut due = Vec::new();
        for ((scope, key), figs) in scopes {
            let status = figs.status(t);
            let (previous_id, previous) = match latest.get(&(scope.clone(), key.clone())) {
                Some((id, s)) => (*id, s.clone()),
                None if status == Status::InsufficientVolume => continue,
                None => (Uuid::nil(), Status::Healthy.as_str().to_owned()),
            };
            if previous == status.as_str() {
                continue;
            }
            let name = format!("{scope}/{key}/{previous_id}/{}", status.as_str());
            due.push(AlertRow {
                org_id,
                alert_id: crate::event::event_id::uuid_v5(&org_id, name.as_bytes()),
                scope,
                scope_key: key,
                previous_status: previous,
                status: status.as_str().to_owned(),
                window_days: ALERT_WINDOW_DAYS,
                sends: figs.sends,
                deliveries: figs.deliveries,
                permanent_bounces: figs.permanent_bounces,
                complaints: figs.complaints,
                bounce_rate: figs.bounce_rate(),
                complaint_rate: figs.complaint_rate(),
                evaluated_ms,
                recorded_ms: 0,
            });
        }
        if due.is_empty() {
            return Ok(due);
        }
        // Stamped under a registration (crate::store::ledger): a `?since=` poll does not read
        // past this time until the rows are written.
        let batch = self.register_batch().await?;
        for a in &mut due {
            a.recorded_ms = batch.stamp_ms;
        }
        let written = self.insert_rows("reputation_alerts", &due).await;
        self.close_batch(&batch).await?;
        written?;
        Ok(due)
    }

    /// Evaluates every org ([`Store::evaluate_reputation`]), each on its own shard when routed
    /// by org (its alerts and their registration land there, where its `?since=` polls read);
    /// an org whose shard is down is skipped until the next evaluation. Returns the transitions
    /// recorded.
    pub async fn evaluate_reputations(&self, t: &Thresholds) -> Result<usize, StoreError> {
        let mut recorded = 0;
        for org in self.list_orgs().await? {
            let evaluated = async {
                self.route(org.id)
                    .await?
                    .evaluate_reputation(org.id, t)
                    .await
            };
            match evaluated.await {
                Ok(rows) => recorded += rows.len(),
                Err(e) => {
                    tracing::warn!(org = %org.slug, error = %e, "could not evaluate reputation")
                }
            }
        }
        Ok(recorded)
    }

    /// The latest alert of each of `org_id`'s scopes: (id, status).
    async fn latest_alerts(
        &self,
        org_id: Uuid,
    ) -> Result<HashMap<(String, String), (Uuid, String)>, StoreError> {
        Ok(self
            .client()
            .query(
                "SELECT scope, scope_key, tupleElement(latest, 2) AS alert_id, tupleElement(latest, 3) AS status FROM (\
                 SELECT scope, scope_key, argMax((recorded_ms, alert_id, status), (recorded_ms, alert_id)) AS latest \
                 FROM reputation_alerts WHERE org_id = ? GROUP BY scope, scope_key)",
            )
            .bind(org_id.to_string())
            .fetch_all::<Latest>()
            .await?
            .into_iter()
            .map(|l| ((l.scope, l.scope_key), (l.alert_id, l.status)))
            .collect())
    }

    /// `org_id`'s alerts recorded at or after `since` (none: all) and at or before `until`,
    /// each once (a copy recorded by a second evaluator is read as the first), oldest first
    /// (then by id), after the keyset `after` (recorded time, alert id), at most `limit`.
    pub async fn reputation_alerts(
        &self,
        org_id: Uuid,
        since: Option<EpochMs>,
        until: EpochMs,
        after: Option<(EpochMs, Uuid)>,
        limit: usize,
    ) -> Result<Vec<AlertRow>, StoreError> {
        let (EpochMs(after_ms), after_id) = after.unwrap_or((EpochMs(i64::MIN), Uuid::nil()));
        let since_ms = since.map_or(i64::MIN, |s| s.0);
        let until_ms = until.0;
        Ok(self
            .client()
            .query(
                "SELECT org_id, alert_id, any(scope), any(scope_key), any(previous_status), any(status), \
                 any(window_days), any(sends), any(deliveries), any(permanent_bounces), any(complaints), \
                 any(bounce_rate), any(complaint_rate), min(evaluated_ms), min(recorded_ms) AS first_ms \
                 FROM reputation_alerts WHERE org_id = ? GROUP BY org_id, alert_id \
                 HAVING first_ms >= ? AND first_ms <= ? \
                 AND (first_ms > ? OR (first_ms = ? AND alert_id > toUUID(?))) \
                 ORDER BY first_ms, alert_id LIMIT ?",
            )
            .bind(org_id.to_string())
            .bind(since_ms)
            .bind(until_ms)
            .bind(after_ms)
            .bind(after_ms)
            .bind(after_id.to_string())
            .bind(limit as u64)
            .fetch_all::<AlertRow>()
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figs(sends: u64, deliveries: u64, permanent_bounces: u64, complaints: u64) -> Figures {
        Figures {
            sends,
            deliveries,
            permanent_bounces,
            complaints,
        }
    }

    #[test]
    fn statuses_follow_ses_thresholds() {
        let t = Thresholds::default();
        assert_eq!(figs(1000, 990, 49, 0).status(&t), Status::Healthy);
        assert_eq!(figs(1000, 990, 50, 0).status(&t), Status::Warning);
        assert_eq!(figs(1000, 990, 100, 0).status(&t), Status::AtRisk);
        // 0.1 % of deliveries complained: warning; 0.5 %: at risk.
        assert_eq!(figs(1000, 1000, 0, 1).status(&t), Status::Warning);
        assert_eq!(figs(1000, 1000, 0, 5).status(&t), Status::AtRisk);
        // The worse of the two decides.
        assert_eq!(figs(1000, 1000, 60, 5).status(&t), Status::AtRisk);
        assert_eq!(
            figs(199, 199, 199, 199).status(&t),
            Status::InsufficientVolume
        );
        assert_eq!(figs(0, 0, 0, 0).bounce_rate(), 0.0);
    }
}
