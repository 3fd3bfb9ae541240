//! `/v1/reputation` and `/v1/reputation/alerts` (docs/deliverability.md#reputation): bounce and
//! complaint rates over a trailing window against SES's thresholds, the top contributors, SES's
//! own enforcement status, and the recorded status transitions, polled with `?since=` like
//! `/v1/undeliverable`.

use axum::response::Response;
use sendops_shared::control::scopes::Scope;
use sendops_shared::read::reputation::{
    AlertRow, Contributor, Contributors, Figures, Scoped, Status, Thresholds,
};
use sendops_shared::timefmt::{EpochMs, format_ms, format_ms_precise, now_ms};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::cursor::{self, Position};
use crate::listing::{PageRequest, page, strict_cursor, with_link};
use crate::params::{Checks, Query};
use crate::problem::ApiError;
use crate::request::ApiRequest;
use crate::routes::Pagination;

/// A reputation status against SES's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReputationStatus {
    Healthy,
    Warning,
    AtRisk,
    InsufficientVolume,
}

impl From<Status> for ReputationStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Healthy => ReputationStatus::Healthy,
            Status::Warning => ReputationStatus::Warning,
            Status::AtRisk => ReputationStatus::AtRisk,
            Status::InsufficientVolume => ReputationStatus::InsufficientVolume,
        }
    }
}

fn status_of(s: &str) -> ReputationStatus {
    Status::parse(s).map_or(ReputationStatus::Healthy, ReputationStatus::from)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateThresholds {
    /// At or above: SES reviews the account.
    pub warning: f64,
    /// At or above: SES may pause sending.
    pub at_risk: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReputationThresholds {
    /// Permanent bounces / sends.
    pub bounce_rate: RateThresholds,
    /// Complaints / deliveries.
    pub complaint_rate: RateThresholds,
    /// Below this many sends a scope is `insufficient_volume`.
    pub minimum_sends: u64,
}

/// Figures of one scope over the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReputationFigures {
    pub sends: u64,
    pub deliveries: u64,
    pub permanent_bounces: u64,
    pub complaints: u64,
    /// permanent_bounces / sends, in [0, 1]; 0.0 without sends.
    pub bounce_rate: f64,
    /// complaints / deliveries, in [0, 1]; 0.0 without deliveries.
    pub complaint_rate: f64,
    pub bounce_status: ReputationStatus,
    pub complaint_status: ReputationStatus,
    /// The worse of the two.
    pub status: ReputationStatus,
}

impl ReputationFigures {
    fn of(f: &Figures, t: &Thresholds) -> Self {
        ReputationFigures {
            sends: f.sends,
            deliveries: f.deliveries,
            permanent_bounces: f.permanent_bounces,
            complaints: f.complaints,
            bounce_rate: f.bounce_rate(),
            complaint_rate: f.complaint_rate(),
            bounce_status: f.bounce_status(t).into(),
            complaint_status: f.complaint_status(t).into(),
            status: f.status(t).into(),
        }
    }
}

/// A channel's or a sending domain's figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScopedReputation {
    /// Channel UUID, or the sending domain.
    pub key: String,
    /// Channel name (configuration set), or the sending domain.
    pub label: String,
    pub sends: u64,
    pub deliveries: u64,
    pub permanent_bounces: u64,
    pub complaints: u64,
    pub bounce_rate: f64,
    pub complaint_rate: f64,
    pub bounce_status: ReputationStatus,
    pub complaint_status: ReputationStatus,
    pub status: ReputationStatus,
}

impl ScopedReputation {
    fn of(s: &Scoped, t: &Thresholds) -> Self {
        let f = ReputationFigures::of(&s.figures, t);
        ScopedReputation {
            key: s.key.clone(),
            label: s.label.clone(),
            sends: f.sends,
            deliveries: f.deliveries,
            permanent_bounces: f.permanent_bounces,
            complaints: f.complaints,
            bounce_rate: f.bounce_rate,
            complaint_rate: f.complaint_rate,
            bounce_status: f.bounce_status,
            complaint_status: f.complaint_status,
            status: f.status,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReputationContributor {
    pub key: String,
    pub label: String,
    /// Permanent bounces (or complaints) of this key in the window.
    pub count: u64,
    /// count / the org's total, in [0, 1].
    pub share: f64,
}

/// The top 5 contributors, by count descending then key ascending.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReputationContributors {
    pub channels: Vec<ReputationContributor>,
    pub templates: Vec<ReputationContributor>,
    pub recipient_domains: Vec<ReputationContributor>,
}

impl From<Contributors> for ReputationContributors {
    fn from(c: Contributors) -> Self {
        let list = |v: Vec<Contributor>| {
            v.into_iter()
                .map(|c| ReputationContributor {
                    key: c.key,
                    label: c.label,
                    count: c.count,
                    share: c.share,
                })
                .collect()
        };
        ReputationContributors {
            channels: list(c.channels),
            templates: list(c.templates),
            recipient_domains: list(c.recipient_domains),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReputationReport {
    pub window_days: u16,
    #[schema(format = DateTime)]
    pub from: String,
    #[schema(format = DateTime)]
    pub to: String,
    pub thresholds: ReputationThresholds,
    pub overall: ReputationFigures,
    /// By sends descending, then key.
    pub channels: Vec<ScopedReputation>,
    pub sending_domains: Vec<ScopedReputation>,
    pub top_bounce_contributors: ReputationContributors,
    pub top_complaint_contributors: ReputationContributors,
    /// SES's own status of the account from GetAccount (HEALTHY, PROBATION, SHUTDOWN); null
    /// when SES cannot be reached or no read role is connected.
    pub enforcement_status: Option<String>,
}

crate::query_params! {
    /// Query parameters of the reputation report.
    pub struct ReputationParams {
        /// Trailing window in days, 1–30 (default 7).
        #[param(value_type = Option<u32>, minimum = 1, maximum = 30)]
        window_days,
        /// Minimum sends for a rate to be judged, 1–1000000 (default 200).
        #[param(value_type = Option<u32>, minimum = 1, maximum = 1000000)]
        min_sends,
    }
}

/// The org's bounce and complaint rates over a trailing window against SES's thresholds.
#[utoipa::path(get, path = "/v1/reputation", operation_id = "getReputation", tag = "Reports", params(ReputationParams),
    responses((status = 200, description = "Rates, statuses and top contributors over the window", body = ReputationReport), (status = 304, description = "Not modified: the If-None-Match tag is still the answer")))]
pub async fn get(req: ApiRequest) -> Result<Response, ApiError> {
    req.p.require(Scope::ReportsView)?;
    let q = Query::<ReputationParams>::parse(req.query())?.params;
    let mut checks = Checks::default();
    let window_days = checks.integer("window_days", q.window_days.as_deref(), 1, 30, 7);
    let min_sends = checks.integer("min_sends", q.min_sends.as_deref(), 1, 1_000_000, 200);
    checks.finish()?;
    let t = Thresholds {
        min_sends: u64::from(min_sends),
        ..Thresholds::default()
    };
    let window_days = u16::try_from(window_days).unwrap_or(7);
    let store = req.store().await?;
    let (rep, account) = tokio::join!(
        store.reputation(
            req.p.org.id,
            window_days,
            EpochMs::now(),
            req.state.breakdowns.as_ref()
        ),
        req.state.ses.account(
            req.p.org.id,
            crate::routes::account::compose(&req.state, &req.p.org)
        ),
    );
    let rep = rep?;
    let enforcement_status = account.ok().and_then(|a| a.enforcement_status.clone());
    let body = ReputationReport {
        window_days,
        from: format_ms(rep.from_ms),
        to: format_ms(rep.to_ms),
        thresholds: ReputationThresholds {
            bounce_rate: RateThresholds {
                warning: t.bounce_warning,
                at_risk: t.bounce_at_risk,
            },
            complaint_rate: RateThresholds {
                warning: t.complaint_warning,
                at_risk: t.complaint_at_risk,
            },
            minimum_sends: t.min_sends,
        },
        overall: ReputationFigures::of(&rep.overall, &t),
        channels: rep
            .channels
            .iter()
            .map(|s| ScopedReputation::of(s, &t))
            .collect(),
        sending_domains: rep
            .sending_domains
            .iter()
            .map(|s| ScopedReputation::of(s, &t))
            .collect(),
        top_bounce_contributors: rep.bounce_contributors.into(),
        top_complaint_contributors: rep.complaint_contributors.into(),
        enforcement_status,
    };
    Ok(req.json(&body))
}

/// A recorded status transition.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReputationAlert {
    pub id: Uuid,
    /// `org` (the whole org) or `channel`.
    #[schema(example = "channel")]
    pub scope: String,
    /// The channel UUID for a channel; `""` for the org.
    pub key: String,
    pub previous_status: ReputationStatus,
    pub status: ReputationStatus,
    /// The trailing window the figures cover.
    pub window_days: u16,
    pub sends: u64,
    pub deliveries: u64,
    pub permanent_bounces: u64,
    pub complaints: u64,
    pub bounce_rate: f64,
    pub complaint_rate: f64,
    /// When the evaluation that saw the crossing ran.
    #[schema(format = DateTime)]
    pub evaluated_at: String,
    /// When it was recorded; poll with `since` = the largest one seen.
    #[schema(format = DateTime)]
    pub recorded_at: String,
}

impl From<AlertRow> for ReputationAlert {
    fn from(a: AlertRow) -> Self {
        ReputationAlert {
            id: a.alert_id,
            scope: a.scope,
            key: a.scope_key,
            previous_status: status_of(&a.previous_status),
            status: status_of(&a.status),
            window_days: a.window_days,
            sends: a.sends,
            deliveries: a.deliveries,
            permanent_bounces: a.permanent_bounces,
            complaints: a.complaints,
            bounce_rate: a.bounce_rate,
            complaint_rate: a.complaint_rate,
            evaluated_at: format_ms_precise(a.evaluated_ms),
            recorded_at: format_ms_precise(a.recorded_ms),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReputationAlertList {
    /// Oldest first.
    pub data: Vec<ReputationAlert>,
    pub pagination: Pagination,
}

crate::query_params! {
    /// Query parameters of the reputation alerts.
    pub struct AlertParams {
        /// RFC 3339: only alerts recorded at or after this second (inclusive on the second).
        #[param(value_type = Option<String>, format = DateTime)]
        since,
        @strict_page,
    }
}

const ALERTS: &str = "reputation_alerts";

/// Recorded reputation status transitions, oldest first; poll with `since`.
#[utoipa::path(get, path = "/v1/reputation/alerts", operation_id = "listReputationAlerts", tag = "Reports", params(AlertParams),
    responses((status = 200, description = "Transitions recorded up to a committed bound, oldest first", body = ReputationAlertList), (status = 304, description = "Not modified: the If-None-Match tag is still the answer")))]
pub async fn alerts(req: ApiRequest) -> Result<Response, ApiError> {
    req.p.require(Scope::ReportsView)?;
    let Query { params: q, raw } = Query::<AlertParams>::parse(req.query())?;
    let mut checks = Checks::default();
    let since = checks.timestamp("since", q.since.as_deref());
    let limit = checks.limit(q.limit.as_deref()) as usize;
    let fingerprint = cursor::filter_fingerprint(&q.filters());
    let after = strict_cursor(&mut checks, q.cursor.as_deref(), ALERTS, &fingerprint);
    let after = match after {
        Some(pos) => match Uuid::try_parse(&pos.i) {
            Ok(id) => Some((EpochMs(pos.t), id)),
            Err(_) => {
                checks.fail("cursor", "is not a cursor of this list");
                None
            }
        },
        None => None,
    };
    checks.finish()?;
    let now = now_ms();
    let settle = i64::try_from(req.state.config.undeliverable_settle.as_millis()).unwrap_or(0);
    // The org's shard: its alerts and the registrations of the evaluations writing them.
    let store = req.store().await?;
    let bound = store.committed_bound_ms(now).await? - settle;
    let rows = store
        .reputation_alerts(
            req.p.org.id,
            since.map(|s| EpochMs(s.div_euclid(1000) * 1000)),
            EpochMs(bound),
            after,
            limit + 1,
        )
        .await?;
    let page_req = PageRequest {
        state: &req.state,
        headers: &req.headers,
        path: "/v1/reputation/alerts",
        params: &raw,
        kind: ALERTS,
        fingerprint: &fingerprint,
        limit,
    };
    let (rows, pagination, link) = page(&page_req, rows, |a| Position {
        t: a.recorded_ms,
        i: a.alert_id.to_string(),
    });
    let data = rows.into_iter().map(ReputationAlert::from).collect();
    Ok(with_link(
        &req.headers,
        ReputationAlertList { data, pagination },
        link,
    ))
}
