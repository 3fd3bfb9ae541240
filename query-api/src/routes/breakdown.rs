//! `/v1/reports/breakdown` (docs/deliverability.md): a window's counts per mailbox provider,
//! recipient domain, sending domain, channel, template or bounce cause; exact [from, to) windows
//! like the other reports; rows by `sent` descending then `key` ascending, cursor-paginated.

use axum::response::Response;
use sendops_shared::control::scopes::Scope;
use sendops_shared::event::envelope::{address_of, domain_of};
use sendops_shared::read::breakdown::{Breakdown, Dimension};
use sendops_shared::read::reports::ReportFilter;
use sendops_shared::timefmt::{TimeRange, now_ms};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::cursor::{self, Position};
use crate::listing::{PageRequest, page, strict_cursor, with_link};
use crate::params::{Checks, Choice, Query};
use crate::problem::ApiError;
use crate::request::ApiRequest;
use crate::routes::Pagination;
use crate::routes::reports::ratio;

/// What a breakdown groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum BreakdownDimension {
    MailboxProvider,
    RecipientDomain,
    SendingDomain,
    Channel,
    Template,
    BounceCause,
}

impl BreakdownDimension {
    fn dimension(self) -> Dimension {
        match self {
            BreakdownDimension::MailboxProvider => Dimension::MailboxProvider,
            BreakdownDimension::RecipientDomain => Dimension::RecipientDomain,
            BreakdownDimension::SendingDomain => Dimension::SendingDomain,
            BreakdownDimension::Channel => Dimension::Channel,
            BreakdownDimension::Template => Dimension::Template,
            BreakdownDimension::BounceCause => Dimension::BounceCause,
        }
    }
}

impl Choice for BreakdownDimension {
    const ALL: &'static [BreakdownDimension] = &[
        BreakdownDimension::MailboxProvider,
        BreakdownDimension::RecipientDomain,
        BreakdownDimension::SendingDomain,
        BreakdownDimension::Channel,
        BreakdownDimension::Template,
        BreakdownDimension::BounceCause,
    ];
    fn as_str(self) -> &'static str {
        self.dimension().as_str()
    }
}

crate::query_params! {
    /// Query parameters of the breakdown report.
    pub struct BreakdownParams {
        /// What to group by (required).
        #[param(value_type = BreakdownDimension)]
        dimension,
        @window,
        @channel,
        @identity,
        /// Template name, case-insensitive exact match.
        template,
        @strict_page,
    }
}

/// One key of a breakdown.
#[derive(Debug, Serialize, ToSchema)]
pub struct BreakdownRow {
    /// The group: a provider key (`google`, `microsoft`, …, `other`, `none`), a lower-cased
    /// domain, a channel UUID, a template name (`""`: no template) or a bounce cause.
    pub key: String,
    /// Human-readable name of the key.
    pub label: String,
    pub sent: u64,
    pub delivered: u64,
    /// Bounces of any type (= permanent + transient + undetermined).
    pub bounced: u64,
    pub bounced_permanent: u64,
    pub bounced_transient: u64,
    pub bounced_undetermined: u64,
    pub complained: u64,
    /// SES Reject events.
    pub suppressed: u64,
    /// DeliveryDelay events.
    pub delayed: u64,
    pub opens: u64,
    /// Distinct recipients who opened, over the whole window.
    pub unique_opens: u64,
    pub clicks: u64,
    /// Distinct recipients who clicked, over the whole window.
    pub unique_clicks: u64,
    /// delivered / sent, in [0, 1]; 0.0 when sent is 0.
    pub delivery_rate: f64,
    /// bounced / sent, in [0, 1].
    pub bounce_rate: f64,
    /// complained / delivered, in [0, 1].
    pub complaint_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BreakdownReport {
    pub data: Vec<BreakdownRow>,
    pub pagination: Pagination,
}

impl From<Breakdown> for BreakdownRow {
    fn from(b: Breakdown) -> BreakdownRow {
        let c = b.counts;
        let bounced = c.bounced();
        BreakdownRow {
            key: b.key,
            label: b.label,
            sent: c.sent,
            delivered: c.delivered,
            bounced,
            bounced_permanent: c.bounced_permanent,
            bounced_transient: c.bounced_transient,
            bounced_undetermined: c.bounced_undetermined,
            complained: c.complained,
            suppressed: c.suppressed,
            delayed: c.delayed,
            opens: c.opens,
            unique_opens: c.unique_opens,
            clicks: c.clicks,
            unique_clicks: c.unique_clicks,
            delivery_rate: ratio(c.delivered, c.sent),
            bounce_rate: ratio(bounced, c.sent),
            complaint_rate: ratio(c.complained, c.delivered),
        }
    }
}

const KIND: &str = "breakdown";

/// A window's counts per key of one dimension, by sent descending then key ascending.
#[utoipa::path(get, path = "/v1/reports/breakdown", operation_id = "getBreakdownReport", tag = "Reports", params(BreakdownParams),
    responses((status = 200, description = "One row per key with a non-zero count, by sent descending then key ascending", body = BreakdownReport), (status = 304, description = "Not modified: the If-None-Match tag is still the answer")))]
pub async fn breakdown(req: ApiRequest) -> Result<Response, ApiError> {
    let (dim, window, filter, limit, fingerprint, after, raw) = parse(&req.p, req.query())?;
    // On a cluster routed by org: the org's shard alone (docs/scale-out.md).
    let store = req.store().await?;
    let indexed = match &req.state.breakdowns {
        Some(index) => {
            index
                .breakdowns(&store, req.p.org.id, window, &filter, &[dim], true)
                .await?
        }
        None => None,
    };
    let mut rows = match indexed.and_then(|mut v| v.pop()) {
        Some(rows) => rows,
        None => store.breakdown(req.p.org.id, window, &filter, dim).await?,
    };
    rows.sort_by(|a, b| {
        b.counts
            .sent
            .cmp(&a.counts.sent)
            .then_with(|| a.key.cmp(&b.key))
    });
    if let Some(after) = after {
        let t = u64::try_from(after.t).unwrap_or(0);
        rows.retain(|r| r.counts.sent < t || (r.counts.sent == t && r.key > after.i));
    }
    rows.truncate(limit + 1);
    let page_req = PageRequest {
        state: &req.state,
        headers: &req.headers,
        path: "/v1/reports/breakdown",
        params: &raw,
        kind: KIND,
        fingerprint: &fingerprint,
        limit,
    };
    let (rows, pagination, link) = page(&page_req, rows, |r| Position {
        t: i64::try_from(r.counts.sent).unwrap_or(i64::MAX),
        i: r.key.clone(),
    });
    let data = rows.into_iter().map(BreakdownRow::from).collect();
    Ok(with_link(
        &req.headers,
        BreakdownReport { data, pagination },
        link,
    ))
}

type Parsed = (
    Dimension,
    TimeRange,
    ReportFilter,
    usize,
    String,
    Option<Position>,
    crate::params::Params,
);

/// The scope check, then every parameter (one 422 for every failing field).
fn parse(p: &Principal, query: Option<&str>) -> Result<Parsed, ApiError> {
    p.require(Scope::ReportsView)?;
    let Query { params: q, raw } = Query::<BreakdownParams>::parse(query)?;
    let mut checks = Checks::default();
    let dim = match q.dimension.as_deref() {
        None => {
            checks.fail(
                "dimension",
                format!(
                    "is required: one of {}",
                    BreakdownDimension::ALL
                        .iter()
                        .map(|d| d.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            None
        }
        v => checks.choice::<BreakdownDimension>("dimension", v),
    };
    let channel_id = checks.uuid("channel", q.channel.as_deref());
    let identity = checks.text("identity", q.identity.as_deref());
    let template = checks.text("template", q.template.as_deref());
    let limit = checks.limit(q.limit.as_deref()) as usize;
    let fingerprint = cursor::filter_fingerprint(&q.filters());
    let after = strict_cursor(&mut checks, q.cursor.as_deref(), KIND, &fingerprint);
    let window = checks.window(q.from.as_deref(), q.to.as_deref(), p.org.plan, now_ms())?;
    let dim = dim
        .map(BreakdownDimension::dimension)
        .ok_or_else(|| ApiError::field("dimension", "is required"))?;
    Ok((
        dim,
        window.range(),
        ReportFilter {
            channel_id,
            sender_domain: identity.map(|i| domain_of(address_of(&i))),
            template,
        },
        limit,
        fingerprint,
        after,
        raw,
    ))
}
