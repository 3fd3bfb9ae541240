//! `/v1/reports/deliverability`, `/v1/reports/engagement`, `/v1/reports/template-performance`
//! (docs/semantics.md#time-windows, #counting): exact [from, to) windows, UTC day / Monday week / month buckets, oldest
//! first, no zero-filled buckets, rates clamped to [0, 1] with 0.0 on a zero denominator.

use std::collections::BTreeMap;

use axum::response::Response;
use chrono::Datelike;
use sendops_shared::EventType;
use sendops_shared::control::scopes::Scope;
use sendops_shared::event::envelope::{address_of, domain_of};
use sendops_shared::read::reports::{Counts, Measures, ReportFilter, TypeCounts};
use sendops_shared::timefmt::{DAY_MS, TimeRange, day_to_date, format_ms, now_ms};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::params::{Checks, Choice, Query};
use crate::problem::ApiError;
use crate::request::ApiRequest;

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliverabilityBucket {
    /// Bucket start (UTC midnight, Monday, or the 1st of the month).
    #[schema(format = DateTime)]
    pub period: String,
    pub sent: u64,
    pub delivered: u64,
    pub bounced: u64,
    pub complained: u64,
    /// SES Reject events.
    pub suppressed: u64,
    /// delivered / sent, in [0, 1]; 0.0 when sent is 0.
    pub delivery_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliverabilityReport {
    pub data: Vec<DeliverabilityBucket>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EngagementBucket {
    #[schema(format = DateTime)]
    pub period: String,
    pub sent: u64,
    pub delivered: u64,
    pub opens: u64,
    /// Distinct recipients who opened, per day (week and month buckets sum their days).
    pub unique_opens: u64,
    pub clicks: u64,
    pub unique_clicks: u64,
    /// unique_opens / delivered, in [0, 1].
    pub open_rate: f64,
    /// unique_clicks / delivered, in [0, 1].
    pub click_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EngagementReport {
    pub data: Vec<EngagementBucket>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplatePerformance {
    /// The SES template name.
    pub template: String,
    pub sent: u64,
    pub delivered: u64,
    pub opens: u64,
    /// Distinct recipients who opened over the whole window.
    pub unique_opens: u64,
    pub clicks: u64,
    pub unique_clicks: u64,
    pub bounced: u64,
    pub complained: u64,
    pub bounce_rate: f64,
    pub complaint_rate: f64,
    pub open_rate: f64,
    pub click_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplatePerformanceReport {
    pub data: Vec<TemplatePerformance>,
}

/// Bucket size of a time-series report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum GroupBy {
    Day,
    Week,
    Month,
}

impl Choice for GroupBy {
    const ALL: &'static [GroupBy] = &[GroupBy::Day, GroupBy::Week, GroupBy::Month];
    fn as_str(self) -> &'static str {
        match self {
            GroupBy::Day => "day",
            GroupBy::Week => "week",
            GroupBy::Month => "month",
        }
    }
}

crate::query_params! {
    /// Query parameters of the time-series reports.
    pub struct SeriesParams {
        @window,
        /// Bucket size (default day).
        #[param(value_type = Option<GroupBy>)]
        group_by,
        @channel,
        @identity,
    }
}

crate::query_params! {
    /// Query parameters of the template-performance report.
    pub struct TemplateParams {
        @window,
        @channel,
        @identity,
        /// Template name, case-insensitive exact match.
        template,
    }
}

/// What each report counts: its event types, and whether distinct recipients too.
const DELIVERABILITY: Measures<'static> = Measures {
    types: &[
        EventType::Send,
        EventType::Delivery,
        EventType::Bounce,
        EventType::Complaint,
        EventType::Reject,
    ],
    distinct_recipients: false,
};
const ENGAGEMENT: Measures<'static> = Measures {
    types: &[
        EventType::Send,
        EventType::Delivery,
        EventType::Open,
        EventType::Click,
    ],
    distinct_recipients: true,
};
const TEMPLATE_PERFORMANCE: Measures<'static> = Measures {
    types: &[
        EventType::Send,
        EventType::Delivery,
        EventType::Open,
        EventType::Click,
        EventType::Bounce,
        EventType::Complaint,
    ],
    distinct_recipients: true,
};

/// A ratio clamped to [0, 1], 0.0 on a zero denominator (the one reputation computes with).
pub use sendops_shared::read::reputation::rate as ratio;

fn rows(m: &BTreeMap<EventType, TypeCounts>, t: EventType) -> u64 {
    m.get(&t).map_or(0, |c| c.rows)
}

fn uniques(m: &BTreeMap<EventType, TypeCounts>, t: EventType) -> u64 {
    m.get(&t).map_or(0, |c| c.distinct_recipients)
}

/// The bucket (as a day number) a day falls in.
fn bucket_of(day: u16, group_by: GroupBy) -> u16 {
    match group_by {
        // Day 0 (1970-01-01) was a Thursday; Monday is 3 days earlier in the cycle.
        GroupBy::Week => day - ((u32::from(day) + 3) % 7) as u16,
        GroupBy::Month => {
            let date = day_to_date(day);
            day - (date.day0() as u16)
        }
        GroupBy::Day => day,
    }
}

struct Common {
    window: TimeRange,
    filter: ReportFilter,
    group_by: GroupBy,
}

/// The scope check, then the report's parameters (one 422 for every failing field).
fn common(
    p: &Principal,
    query: Option<&str>,
    with_group_by: bool,
    with_template: bool,
) -> Result<Common, ApiError> {
    p.require(Scope::ReportsView)?;
    let (from, to, group_by, channel, identity, template) = if with_template {
        let q = Query::<TemplateParams>::parse(query)?.params;
        (q.from, q.to, None, q.channel, q.identity, q.template)
    } else {
        let q = Query::<SeriesParams>::parse(query)?.params;
        (q.from, q.to, q.group_by, q.channel, q.identity, None)
    };
    let mut checks = Checks::default();
    let group_by = if with_group_by {
        checks
            .choice::<GroupBy>("group_by", group_by.as_deref())
            .unwrap_or(GroupBy::Day)
    } else {
        GroupBy::Day
    };
    let channel_id = checks.uuid("channel", channel.as_deref());
    let identity = checks.text("identity", identity.as_deref());
    let template = checks.text("template", template.as_deref());
    let window = checks.window(from.as_deref(), to.as_deref(), p.org.plan, now_ms())?;
    Ok(Common {
        window: window.range(),
        filter: ReportFilter {
            channel_id,
            sender_domain: identity.map(|i| domain_of(address_of(&i))),
            template,
        },
        group_by,
    })
}

/// Sums per-day counts into buckets (unique counts are per day and summed, docs/semantics.md#counting).
fn buckets(
    daily: Counts<u16>,
    group_by: GroupBy,
) -> BTreeMap<u16, BTreeMap<EventType, TypeCounts>> {
    let mut out: BTreeMap<u16, BTreeMap<EventType, TypeCounts>> = BTreeMap::new();
    for (day, types) in daily {
        let b = out.entry(bucket_of(day, group_by)).or_default();
        for (t, c) in types {
            let e = b.entry(t).or_default();
            e.rows += c.rows;
            e.distinct_recipients += c.distinct_recipients;
        }
    }
    out
}

/// A series report: the window's days summed into `group_by` buckets, oldest first, each made
/// into a row by `row` (`None` drops an all-zero bucket: no zero-filled buckets).
async fn series<B>(
    req: &ApiRequest,
    measures: Measures<'_>,
    row: impl Fn(String, &BTreeMap<EventType, TypeCounts>) -> Option<B>,
) -> Result<Vec<B>, ApiError> {
    let c = common(&req.p, req.query(), true, false)?;
    let daily = req
        .store()
        .await?
        .daily_counts(req.p.org.id, c.window, &c.filter, measures)
        .await?;
    Ok(buckets(daily, c.group_by)
        .into_iter()
        .filter_map(|(day, m)| row(period(day), &m))
        .collect())
}

fn period(day: u16) -> String {
    format_ms(i64::from(day) * DAY_MS)
}

/// Deliverability counts per bucket, oldest first.
#[utoipa::path(get, path = "/v1/reports/deliverability", operation_id = "getDeliverabilityReport", tag = "Reports", params(SeriesParams),
    responses((status = 200, description = "Deliverability buckets, oldest-first", body = DeliverabilityReport), (status = 304, description = "Not modified: the If-None-Match tag is still the answer")))]
pub async fn deliverability(req: ApiRequest) -> Result<Response, ApiError> {
    let data = series(&req, DELIVERABILITY, |period, m| {
        let sent = rows(m, EventType::Send);
        let delivered = rows(m, EventType::Delivery);
        let b = DeliverabilityBucket {
            period,
            sent,
            delivered,
            bounced: rows(m, EventType::Bounce),
            complained: rows(m, EventType::Complaint),
            suppressed: rows(m, EventType::Reject),
            delivery_rate: ratio(delivered, sent),
        };
        (b.sent + b.delivered + b.bounced + b.complained + b.suppressed > 0).then_some(b)
    })
    .await?;
    Ok(req.json(&DeliverabilityReport { data }))
}

/// Open and click activity per bucket, oldest first.
#[utoipa::path(get, path = "/v1/reports/engagement", operation_id = "getEngagementReport", tag = "Reports", params(SeriesParams),
    responses((status = 200, description = "Engagement buckets, oldest-first", body = EngagementReport), (status = 304, description = "Not modified: the If-None-Match tag is still the answer")))]
pub async fn engagement(req: ApiRequest) -> Result<Response, ApiError> {
    let data = series(&req, ENGAGEMENT, |period, m| {
        let delivered = rows(m, EventType::Delivery);
        let unique_opens = uniques(m, EventType::Open);
        let unique_clicks = uniques(m, EventType::Click);
        let b = EngagementBucket {
            period,
            sent: rows(m, EventType::Send),
            delivered,
            opens: rows(m, EventType::Open),
            unique_opens,
            clicks: rows(m, EventType::Click),
            unique_clicks,
            open_rate: ratio(unique_opens, delivered),
            click_rate: ratio(unique_clicks, delivered),
        };
        (b.sent + b.delivered + b.opens + b.clicks > 0).then_some(b)
    })
    .await?;
    Ok(req.json(&EngagementReport { data }))
}

/// One row per template over the whole window, by sent descending then template ascending.
#[utoipa::path(get, path = "/v1/reports/template-performance", operation_id = "getTemplatePerformanceReport", tag = "Reports", params(TemplateParams),
    responses((status = 200, description = "Per-template rows, sorted by sends descending", body = TemplatePerformanceReport), (status = 304, description = "Not modified: the If-None-Match tag is still the answer")))]
pub async fn template_performance(req: ApiRequest) -> Result<Response, ApiError> {
    let c = common(&req.p, req.query(), false, true)?;
    let counts = req
        .store()
        .await?
        .template_counts(
            &req.state.engaged,
            req.p.org.id,
            c.window,
            &c.filter,
            TEMPLATE_PERFORMANCE,
        )
        .await?;
    let mut data: Vec<TemplatePerformance> = counts
        .into_iter()
        .map(|(template, m)| {
            let sent = rows(&m, EventType::Send);
            let delivered = rows(&m, EventType::Delivery);
            let bounced = rows(&m, EventType::Bounce);
            let complained = rows(&m, EventType::Complaint);
            let unique_opens = uniques(&m, EventType::Open);
            let unique_clicks = uniques(&m, EventType::Click);
            TemplatePerformance {
                template,
                sent,
                delivered,
                opens: rows(&m, EventType::Open),
                unique_opens,
                clicks: rows(&m, EventType::Click),
                unique_clicks,
                bounced,
                complained,
                bounce_rate: ratio(bounced, sent),
                complaint_rate: ratio(complained, sent),
                open_rate: ratio(unique_opens, delivered),
                click_rate: ratio(unique_clicks, delivered),
            }
        })
        .filter(|t| t.sent + t.delivered + t.opens + t.clicks + t.bounced + t.complained > 0)
        .collect();
    data.sort_by(|a, b| {
        b.sent
            .cmp(&a.sent)
            .then_with(|| a.template.cmp(&b.template))
    });
    Ok(req.json(&TemplatePerformanceReport { data }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sendops_shared::timefmt::{day_of_ms, parse_rfc3339_ms};

    fn day(s: &str) -> u16 {
        day_of_ms(parse_rfc3339_ms(s).unwrap())
    }

    #[test]
    fn weeks_start_monday_and_months_the_first() {
        // (a time, the bucket size, its bucket's first day); 2026-11-22 is a Sunday.
        let cases = [
            (
                "2026-11-22T12:00:00Z",
                GroupBy::Week,
                "2026-11-16T00:00:00Z",
            ),
            (
                "2026-11-16T00:00:00Z",
                GroupBy::Week,
                "2026-11-16T00:00:00Z",
            ),
            (
                "2026-11-23T00:00:00Z",
                GroupBy::Week,
                "2026-11-23T00:00:00Z",
            ),
            (
                "2026-02-28T23:00:00Z",
                GroupBy::Month,
                "2026-02-01T00:00:00Z",
            ),
            (
                "2026-03-01T00:00:00Z",
                GroupBy::Month,
                "2026-03-01T00:00:00Z",
            ),
            ("2026-03-01T23:59:59Z", GroupBy::Day, "2026-03-01T00:00:00Z"),
        ];
        for (at, group_by, first) in cases {
            assert_eq!(
                bucket_of(day(at), group_by),
                day(first),
                "{at} {group_by:?}"
            );
        }
        assert_eq!(period(day("2026-11-16T08:00:00Z")), "2026-11-16T00:00:00Z");
    }

    #[test]
    fn rates_are_clamped_and_zero_safe() {
        assert_eq!(ratio(0, 0), 0.0);
        assert_eq!(ratio(5, 0), 0.0);
        assert_eq!(ratio(1, 4), 0.25);
        assert_eq!(ratio(7, 3), 1.0);
    }
}
