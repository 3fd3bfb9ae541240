//! `/v1/suppressions` and `/v1/suppressions/{email}`: the org's SES account-level suppression
//! list, read live through the per-org cache of [`crate::ses_views`]. SES failures and throttling
//! are 503 with Retry-After, never 500.
//!
//! The list is newest first by `suppressed_at` (SES's LastUpdateTime), then address descending.
//! `email` switches to full-scan mode: every match in one response, `limit` and `cursor`
//! ignored. Cursors are keyset positions bound to the filters; a stale, malformed or foreign one
//! restarts at page 1 (the spec's promise for this list).

use axum::Json;
use axum::response::Response;
use sendops_outbound::ses::Suppression;
use sendops_shared::address::{AddressRule, EmailAddress};
use sendops_shared::control::scopes::Scope;
use sendops_shared::timefmt::{format_ms, now_ms};
use serde::Serialize;
use utoipa::ToSchema;

use crate::cursor::{self, Position};
use crate::listing::{PageRequest, lenient_cursor, page, path_value, with_link};
use crate::params::{Checks, Query};
use crate::problem::ApiError;
use crate::request::ApiRequest;
use crate::routes::Pagination;

/// Suppression reasons, as the API spells them.
const REASONS: [&str; 2] = ["bounce", "complaint"];

/// One suppressed recipient.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SuppressionView {
    /// The address as SES stores it.
    #[schema(example = "user@example.com")]
    pub email: String,
    /// `bounce` or `complaint` (lower-case).
    #[schema(example = "bounce")]
    pub reason: String,
    #[schema(format = DateTime)]
    pub suppressed_at: String,
    /// `ses_event` for bounce and complaint entries, `manual` for anything else (derived from
    /// `reason`; SES keeps no provenance).
    #[schema(example = "ses_event")]
    pub source: String,
}

impl From<&Suppression> for SuppressionView {
    fn from(s: &Suppression) -> Self {
        let reason = s.reason.to_lowercase();
        let source = if REASONS.contains(&reason.as_str()) {
            "ses_event"
        } else {
            "manual"
        };
        SuppressionView {
            email: s.email.clone(),
            source: source.into(),
            reason,
            suppressed_at: format_ms(s.last_update_ms),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionPage {
    pub data: Vec<SuppressionView>,
    pub pagination: Pagination,
}

/// Why SES suppressed an address (the `reason` filter matches it in any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum SuppressionReason {
    Bounce,
    Complaint,
}

impl SuppressionReason {
    fn as_str(self) -> &'static str {
        match self {
            SuppressionReason::Bounce => "bounce",
            SuppressionReason::Complaint => "complaint",
        }
    }

    /// Case-insensitive.
    fn parse(v: &str) -> Option<SuppressionReason> {
        [SuppressionReason::Bounce, SuppressionReason::Complaint]
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(v))
    }
}

crate::query_params! {
    /// Query parameters of `GET /v1/suppressions`.
    pub struct ListSuppressionsParams {
        /// Page size, 1–200 (default 50); ignored when `email` is set.
        #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
        limit,
        /// Opaque cursor from the previous page; a stale or malformed one restarts at page 1.
        cursor,
        /// Window start on `suppressed_at` (RFC 3339), default 30 days before `to`.
        #[param(value_type = Option<String>, format = DateTime)]
        from,
        /// Window end (RFC 3339, exclusive), default now.
        #[param(value_type = Option<String>, format = DateTime)]
        to,
        /// Suppression reason, case-insensitive.
        #[param(value_type = Option<SuppressionReason>)]
        reason,
        /// Case-insensitive substring of the address; switches to full-scan mode (every match,
        /// `limit`/`cursor` ignored).
        email,
    }
}

const KIND: &str = "suppressions";

/// The org's SES suppression list, newest first.
#[utoipa::path(get, path = "/v1/suppressions", operation_id = "listSuppressions", tag = "Suppressions", params(ListSuppressionsParams),
    responses((status = 200, description = "Cursor-paginated list of suppressions, newest-first", body = SuppressionPage), (status = 304, description = "Not modified: the If-None-Match tag is still the answer")))]
pub async fn list(req: ApiRequest) -> Result<Response, ApiError> {
    req.p.require(Scope::SuppressionsView)?;
    let Query { params: q, raw } = Query::<ListSuppressionsParams>::parse(req.query())?;
    let mut checks = Checks::default();
    let reason = match q.reason.as_deref() {
        None => None,
        Some(r) => match SuppressionReason::parse(r) {
            Some(r) => Some(r.as_str()),
            None => {
                checks.fail(
                    "reason",
                    format!("must be one of {} (any case)", REASONS.join(", ")),
                );
                None
            }
        },
    };
    let email = checks
        .text("email", q.email.as_deref())
        .map(|e| e.to_lowercase());
    let limit = if email.is_none() {
        checks.limit(q.limit.as_deref()) as usize
    } else {
        usize::MAX
    };
    let window = checks.window(q.from.as_deref(), q.to.as_deref(), req.p.org.plan, now_ms())?;
    // Bound to the window as given and the reason as understood (any case is the same filter).
    let mut parts: Vec<(&str, String)> = q
        .filters()
        .into_iter()
        .filter(|(k, _)| matches!(*k, "from" | "to"))
        .collect();
    if let Some(r) = reason {
        parts.push(("reason", r.to_owned()));
    }
    let fingerprint = cursor::filter_fingerprint(&parts);
    let after = if email.is_none() {
        lenient_cursor(q.cursor.as_deref(), KIND, &fingerprint)
    } else {
        None
    };

    let all = req
        .state
        .ses
        .suppressions(&req.state.store, &req.p.org)
        .await?;
    let matching = all.iter().filter(|s| {
        s.last_update_ms >= window.from_ms
            && s.last_update_ms < window.to_ms
            && reason.is_none_or(|r| s.reason.eq_ignore_ascii_case(r))
            && email
                .as_deref()
                .is_none_or(|e| s.email.to_lowercase().contains(e))
            && after.as_ref().is_none_or(|a| {
                s.last_update_ms < a.t
                    || (s.last_update_ms == a.t && s.email.as_str() < a.i.as_str())
            })
    });
    if email.is_some() {
        let data: Vec<SuppressionView> = matching.map(SuppressionView::from).collect();
        return Ok(with_link(
            &req.headers,
            SuppressionPage {
                data,
                pagination: Pagination {
                    has_more: false,
                    next_cursor: None,
                },
            },
            None,
        ));
    }
    let rows: Vec<&Suppression> = matching.take(limit + 1).collect();
    let page_req = PageRequest {
        state: &req.state,
        headers: &req.headers,
        path: req.uri.path(),
        params: &raw,
        kind: KIND,
        fingerprint: &fingerprint,
        limit,
    };
    let (rows, pagination, link) = page(&page_req, rows, |s| Position {
        t: s.last_update_ms,
        i: s.email.clone(),
    });
    let body = SuppressionPage {
        data: rows.into_iter().map(SuppressionView::from).collect(),
        pagination,
    };
    Ok(with_link(&req.headers, body, link))
}

/// One address on the suppression list, matched case-insensitively (the answer keeps SES's
/// casing); 404 when it is not on the list.
#[utoipa::path(get, path = "/v1/suppressions/{email}", operation_id = "getSuppression", tag = "Suppressions",
    params(("email" = String, Path, description = "Recipient address; percent-encode '@' as %40. Case-insensitive.", min_length = 1, max_length = 320, pattern = r"^[^\s\u0000-\u001f\u007f-\u009f]*@[^\s\u0000-\u001f\u007f-\u009f]*$")),
    responses((status = 200, description = "The suppression record", body = SuppressionView)))]
pub async fn get_one(req: ApiRequest) -> Result<Json<SuppressionView>, ApiError> {
    req.p.require(Scope::SuppressionsView)?;
    let email = EmailAddress::parse(&path_value(&req.uri, 3)?, AddressRule::AsTypedNoWhitespace)
        .map_err(|e| ApiError::field("email", e.to_string()))?;
    let found = req
        .state
        .ses
        .suppression(&req.state.store, &req.p.org, &email)
        .await?
        .ok_or(ApiError::NotFound {
            resource: "suppression",
        })?;
    Ok(Json(SuppressionView::from(&found)))
}
