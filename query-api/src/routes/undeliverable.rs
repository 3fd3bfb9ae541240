//! `/v1/undeliverable` and `/v1/undeliverable/rules` (spec: Undeliverable; docs/semantics.md#undeliverable, docs/undeliverable.md). The
//! classification and its last_changed_at rule live in `sendops_shared::undeliverable`; this
//! module parses the request, picks the status default, and shapes rows and headers. Every
//! response after the scope check carries `X-SendOps-Rules-Version`.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sendops_shared::control::scopes::Scope;
use sendops_shared::timefmt::{format_ms, now_ms};
use sendops_shared::undeliverable::{
    Entry, ListQuery, Position, Rule, RuleView, Rules, State as RowState, StatusFilter,
    whole_second,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Principal;
use crate::cursor;
use crate::params::{Checks, Choice, Query};
use crate::problem::ApiError;
use crate::request::ApiRequest;
use crate::routes::{Pagination, next_link};

/// The header that carries the org's rules version on every /v1/undeliverable response.
pub const RULES_VERSION_HEADER: &str = "x-sendops-rules-version";

const CURSOR_KIND: &str = "undeliverable";

/// One row: a listed address (reason and its events) or an `excluded` tombstone (the operator
/// exclusion). Fields that do not apply, or that SES did not send, are omitted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UndeliverableRow {
    /// Lower-cased recipient address.
    pub email: String,
    /// `listed` or `excluded`.
    pub status: String,
    /// permanent_bounce, complaint, rejected, repeated_transient, undetermined or
    /// soft_bounce_accumulation (listed rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Bounce sub-type or complaint feedback type of the latest qualifying event that has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub first_seen_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub last_seen_at: Option<String>,
    /// When the row last changed in SendOps; poll with `since` = the largest one seen.
    #[schema(format = DateTime)]
    pub last_changed_at: String,
    /// Qualifying events of `reason` (listed rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_count: Option<u64>,
    /// Diagnostic code of the latest qualifying event that has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_diagnostic: Option<String>,
    /// Sending address (without display name) of the latest qualifying event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sender_identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub excluded_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclusion_reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UndeliverablePage {
    pub data: Vec<UndeliverableRow>,
    pub pagination: Pagination,
}

/// One rule: locked rules are always enabled and show events = window_days = 0.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct RuleStatus {
    pub enabled: bool,
    pub locked: bool,
    /// Qualifying events needed (N).
    pub events: u32,
    /// Trailing window in days (M), clamped to the plan's retention when applied.
    pub window_days: u32,
}

/// The six rules, in priority order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleStatuses {
    pub permanent_bounce: RuleStatus,
    pub complaint: RuleStatus,
    pub rejected: RuleStatus,
    pub repeated_transient: RuleStatus,
    pub undetermined: RuleStatus,
    pub soft_bounce_accumulation: RuleStatus,
}

/// The active rule set.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UndeliverableRules {
    /// `standard`, `strict` or `custom`.
    pub profile: String,
    pub rules: RuleStatuses,
    /// Changes on every rule change; also sent as `X-SendOps-Rules-Version`.
    pub version: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub updated_by: String,
}

crate::query_params! {
    /// Query parameters of `GET /v1/undeliverable`.
    pub struct ListUndeliverableParams {
        @limit,
        /// Opaque cursor from the previous page; a malformed or stale one restarts at page 1.
        cursor,
        /// RFC 3339: only rows whose last_changed_at ≥ since (inclusive on the second).
        #[param(value_type = Option<String>, format = DateTime)]
        since,
        /// listed, excluded or all. Default: all with `since`, listed without.
        #[param(value_type = Option<UndeliverableStatus>)]
        status,
        /// Listed rows with this reason (tombstones are not affected).
        #[param(value_type = Option<UndeliverableReason>)]
        reason,
        /// Case-insensitive substring of the address.
        email,
        /// Listed rows with event_count ≥ min_events (default 1); tombstones are dropped when > 1.
        #[param(value_type = Option<u64>, minimum = 1)]
        min_events,
    }
}

/// Which rows a list answers: `listed` addresses, `excluded` tombstones, or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum UndeliverableStatus {
    Listed,
    Excluded,
    All,
}

impl Choice for UndeliverableStatus {
    const ALL: &'static [UndeliverableStatus] = &[
        UndeliverableStatus::Listed,
        UndeliverableStatus::Excluded,
        UndeliverableStatus::All,
    ];
    fn as_str(self) -> &'static str {
        match self {
            UndeliverableStatus::Listed => "listed",
            UndeliverableStatus::Excluded => "excluded",
            UndeliverableStatus::All => "all",
        }
    }
}

impl Choice for Rule {
    const ALL: &'static [Rule] = &Rule::PRIORITY;
    fn as_str(self) -> &'static str {
        Rule::as_str(self)
    }
}

/// The OpenAPI schema of a row's `reason`: the rule names of [`Rule::PRIORITY`], in that order.
pub struct UndeliverableReason;

impl utoipa::PartialSchema for UndeliverableReason {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .description(Some(
                "Why an address is listed (the rule names, in priority order).",
            ))
            .enum_values(Some(Rule::PRIORITY.iter().map(|r| r.as_str())))
            .into()
    }
}

impl ToSchema for UndeliverableReason {}

fn row(entry: Entry) -> UndeliverableRow {
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    let last_changed_at = format_ms(entry.last_changed_ms);
    match entry.state {
        RowState::Listed { reason, stats } => UndeliverableRow {
            email: entry.email,
            status: "listed".into(),
            reason: Some(reason.as_str().into()),
            subtype: non_empty(stats.subtype),
            first_seen_at: Some(format_ms(stats.first_ms)),
            last_seen_at: Some(format_ms(stats.last_ms)),
            last_changed_at,
            event_count: Some(stats.events),
            last_diagnostic: non_empty(stats.diagnostic),
            last_sender_identity: non_empty(stats.sender),
            excluded_at: None,
            excluded_by: None,
            exclusion_reason: None,
        },
        RowState::Excluded(x) => UndeliverableRow {
            email: entry.email,
            status: "excluded".into(),
            reason: None,
            subtype: None,
            first_seen_at: None,
            last_seen_at: None,
            last_changed_at,
            event_count: None,
            last_diagnostic: None,
            last_sender_identity: None,
            excluded_at: Some(format_ms(x.excluded_ms)),
            excluded_by: Some(x.excluded_by),
            exclusion_reason: Some(x.reason),
        },
    }
}

fn with_version(mut resp: Response, rules: &Rules) -> Response {
    if let Ok(v) = HeaderValue::from_str(&rules.version_tag()) {
        resp.headers_mut().insert(RULES_VERSION_HEADER, v);
    }
    resp
}

/// `min_events`: a positive integer, default 1.
fn min_events(checks: &mut Checks, value: Option<&str>) -> u64 {
    match value {
        None => 1,
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n >= 1 => n,
            _ => {
                checks.fail("min_events", "must be a positive integer");
                1
            }
        },
    }
}

/// Undeliverable recipients: listed addresses and exclusion tombstones, newest change first.
#[utoipa::path(get, path = "/v1/undeliverable", operation_id = "listUndeliverable", tag = "Undeliverable", params(ListUndeliverableParams),
    responses((status = 200, description = "Paginated list of undeliverable rows", body = UndeliverablePage,
        headers(("X-SendOps-Rules-Version" = String, description = "Version of the org's classification rules"))),
        (status = 304, description = "Not modified: the If-None-Match tag is still the answer",
        headers(("X-SendOps-Rules-Version" = String, description = "Version of the org's classification rules")))))]
pub async fn list(req: ApiRequest) -> Response {
    if let Err(e) = req.p.require(Scope::UndeliverableView) {
        return e.into_response();
    }
    let rules = match req.state.store.undeliverable_rules(&req.p.org).await {
        Ok(r) => r,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let resp = match page(
        &req.state,
        &req.p,
        &rules,
        req.query(),
        &req.headers,
        req.uri.path(),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    with_version(resp, &rules)
}

async fn page(
    state: &AppState,
    p: &Principal,
    rules: &Rules,
    query: Option<&str>,
    headers: &HeaderMap,
    path: &str,
) -> Result<Response, ApiError> {
    let Query { params: q, raw } = Query::<ListUndeliverableParams>::parse(query)?;
    let mut checks = Checks::default();
    let limit = checks.limit(q.limit.as_deref()) as usize;
    let since = checks.timestamp("since", q.since.as_deref());
    let status = checks.choice::<UndeliverableStatus>("status", q.status.as_deref());
    let reason = checks.choice::<Rule>("reason", q.reason.as_deref());
    let email = checks
        .text("email", q.email.as_deref())
        .map(|e| e.to_ascii_lowercase());
    let min_events = min_events(&mut checks, q.min_events.as_deref());
    checks.finish()?;

    let status = match status {
        Some(UndeliverableStatus::Listed) => StatusFilter::Listed,
        Some(UndeliverableStatus::Excluded) => StatusFilter::Excluded,
        Some(UndeliverableStatus::All) => StatusFilter::All,
        // Snapshot without since, sync with it.
        None if since.is_some() => StatusFilter::All,
        None => StatusFilter::Listed,
    };
    let fingerprint = cursor::filter_fingerprint(&q.filters());
    // A malformed, foreign or stale cursor restarts at page 1 (spec; docs/semantics.md#pagination).
    let after = q
        .cursor
        .as_deref()
        .and_then(|c| cursor::decode(CURSOR_KIND, &fingerprint, c).ok())
        .map(|pos| Position {
            last_changed_ms: whole_second(pos.t),
            email: pos.i,
        });
    // The org's own shard on a cluster routed by org (the same store for the bound and the
    // rows: the registry there holds every batch that can write this org's rows).
    let store = state.store.route(p.org.id).await?;
    let now = now_ms();
    let settle = i64::try_from(state.config.undeliverable_settle.as_millis()).unwrap_or(0);
    // A poll reads only what the store proves committed: up to the oldest in-flight ingest
    // batch's start (crate::ledger in shared), whatever its INSERT's latency; the optional
    // settle time only holds it back further.
    let bound = match since {
        Some(_) => Some(store.committed_bound_ms(now).await? - settle),
        None => None,
    };
    let q = ListQuery {
        now_ms: now,
        retention_days: p.org.plan.retention_days(),
        // Inclusive on the second.
        since_ms: since.map(|s| s.div_euclid(1000) * 1000),
        until_ms: bound,
        status,
        reason,
        email,
        min_events,
        after,
        limit: limit + 1,
    };
    let mut rows = store.list_undeliverable(p.org.id, &rules.set, &q).await?;
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let next = if has_more {
        rows.last().map(|r| {
            cursor::encode(
                CURSOR_KIND,
                &fingerprint,
                &cursor::Position {
                    t: whole_second(r.last_changed_ms),
                    i: r.email.clone(),
                },
            )
        })
    } else {
        None
    };
    let body = UndeliverablePage {
        data: rows.into_iter().map(row).collect(),
        pagination: Pagination {
            has_more,
            next_cursor: next.clone(),
        },
    };
    // The rules version travels in a header: a change of it is a change of the answer.
    let mut resp = crate::conditional::json(headers, &body, &[&rules.version_tag()]);
    if let Some(c) = next
        && let Ok(v) = HeaderValue::from_str(&next_link(state, headers, path, &raw, &c))
    {
        resp.headers_mut().insert(header::LINK, v);
    }
    Ok(resp)
}

fn status_of(view: &RuleView) -> RuleStatus {
    RuleStatus {
        enabled: view.enabled,
        locked: view.locked,
        events: view.events,
        window_days: view.window_days,
    }
}

/// The response body of `GET /v1/undeliverable/rules`.
pub fn rules_body(rules: &Rules) -> UndeliverableRules {
    let view = rules.view();
    let by_name = |name: &str| {
        view.rules
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| status_of(v))
            .expect("every rule is in the view")
    };
    UndeliverableRules {
        profile: view.profile.as_str().into(),
        rules: RuleStatuses {
            permanent_bounce: by_name("permanent_bounce"),
            complaint: by_name("complaint"),
            rejected: by_name("rejected"),
            repeated_transient: by_name("repeated_transient"),
            undetermined: by_name("undetermined"),
            soft_bounce_accumulation: by_name("soft_bounce_accumulation"),
        },
        version: view.version,
        updated_at: view.updated_at,
        updated_by: view.updated_by,
    }
}

/// The classification rules the list applies for the calling org.
#[utoipa::path(get, path = "/v1/undeliverable/rules", operation_id = "getUndeliverableRules", tag = "Undeliverable",
    responses((status = 200, description = "Active rule set", body = UndeliverableRules,
        headers(("X-SendOps-Rules-Version" = String, description = "Version of the org's classification rules")))))]
pub async fn rules(req: ApiRequest) -> Result<Response, ApiError> {
    req.p.require(Scope::UndeliverableView)?;
    let rules = req.state.store.undeliverable_rules(&req.p.org).await?;
    Ok(with_version(
        Json(rules_body(&rules)).into_response(),
        &rules,
    ))
}
