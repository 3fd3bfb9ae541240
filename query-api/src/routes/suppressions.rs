//! `/v1/suppressions` and `/v1/suppressions/{email}`: the org's SES account-level suppression
//! list, read live through the per-org cache of [`crate::ses_views`]. SES failures and throttling
//! are 503 with Retry-After, never 500.
//!
//! The list is newest first by `suppressed_at` (SES's LastUpdateTime), then address descending.
//! `email` switches to full-scan mode: every match in one response, `limit` and `cursor`
//! ignored. Cursors are keyset positions bound to the filters; a stale, malformed or foreign one
//! restarts at page 1 (the spec's promise for this list).

use axum::Json;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use sendops_outbound::ses::Suppression;
use sendops_shared::control::scopes::Scope;
use sendops_shared::timefmt::{format_ms, now_ms};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Auth;
use crate::cursor::{self, Position};
use crate::listing::{PageRequest, lenient_cursor, page, path_value, with_link};
use crate::params::Params;
use crate::problem::ApiError;
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

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ReasonParam {
    Bounce,
    Complaint,
}

/// Query parameters of `GET /v1/suppressions`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "documents the query string; values are parsed strictly by Params"
)]
pub struct ListSuppressionsParams {
    /// Page size, 1–200 (default 50); ignored when `email` is set.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// Opaque cursor from the previous page; a stale or malformed one restarts at page 1.
    cursor: Option<String>,
    /// Window start on `suppressed_at` (RFC 3339), default 30 days before `to`.
    #[param(format = DateTime)]
    from: Option<String>,
    /// Window end (RFC 3339, exclusive), default now.
    #[param(format = DateTime)]
    to: Option<String>,
    /// Suppression reason, case-insensitive.
    #[param(inline, value_type = Option<ReasonParam>)]
    reason: Option<String>,
    /// Case-insensitive substring of the address; switches to full-scan mode (every match,
    /// `limit`/`cursor` ignored).
    email: Option<String>,
}

const KIND: &str = "suppressions";

/// The org's SES suppression list, newest first.
#[utoipa::path(get, path = "/v1/suppressions", tag = "Suppressions", params(ListSuppressionsParams),
    responses((status = 200, description = "Cursor-paginated list of suppressions, newest-first", body = SuppressionPage)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(Auth(p)): Extension<Auth>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    p.require(Scope::SuppressionsView)?;
    let mut params = Params::parse(query.as_deref())?;
    let reason = match params.get("reason").map(str::to_ascii_lowercase) {
        None => None,
        Some(r) if REASONS.contains(&r.as_str()) => Some(r),
        Some(_) => {
            params.fail(
                "reason",
                format!("must be one of {} (any case)", REASONS.join(", ")),
            );
            None
        }
    };
    let email = params.text("email").map(|e| e.to_lowercase());
    let limit = if email.is_none() {
        params.limit() as usize
    } else {
        usize::MAX
    };
    let window = params.window(p.org.plan, now_ms())?;
    let mut parts: Vec<(&str, String)> = Vec::new();
    for name in ["from", "to"] {
        if let Some(v) = params.get(name) {
            parts.push((name, v.to_owned()));
        }
    }
    if let Some(r) = &reason {
        parts.push(("reason", r.clone()));
    }
    let fingerprint = cursor::filter_fingerprint(&parts);
    let after = if email.is_none() {
        lenient_cursor(&params, KIND, &fingerprint)
    } else {
        None
    };

    let all = state.ses.suppressions(&state.store, &p.org).await?;
    let matching = all.iter().filter(|s| {
        s.last_update_ms >= window.from_ms
            && s.last_update_ms < window.to_ms
            && reason
                .as_deref()
                .is_none_or(|r| s.reason.eq_ignore_ascii_case(r))
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
    let req = PageRequest {
        state: &state,
        headers: &headers,
        path: "/v1/suppressions",
        params: &params,
        kind: KIND,
        fingerprint: &fingerprint,
        limit,
    };
    let (rows, pagination, link) = page(&req, rows, |s| Position {
        t: s.last_update_ms,
        i: s.email.clone(),
    });
    let body = SuppressionPage {
        data: rows.into_iter().map(SuppressionView::from).collect(),
        pagination,
    };
    Ok(with_link(body, link))
}

/// One address on the suppression list, matched case-insensitively (the answer keeps SES's
/// casing); 404 when it is not on the list.
#[utoipa::path(get, path = "/v1/suppressions/{email}", tag = "Suppressions",
    params(("email" = String, Path, description = "Recipient address; percent-encode '@' as %40. Case-insensitive.", min_length = 1, max_length = 320, pattern = r"^[^\s\u0000-\u001f\u007f-\u009f]*@[^\s\u0000-\u001f\u007f-\u009f]*$")),
    responses((status = 200, description = "The suppression record", body = SuppressionView)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(Auth(p)): Extension<Auth>,
    uri: Uri,
) -> Result<Json<SuppressionView>, ApiError> {
    p.require(Scope::SuppressionsView)?;
    let email = path_value(&uri, 3)?;
    if email.is_empty()
        || email.chars().count() > 320
        || !email.contains('@')
        || email.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ApiError::field("email", "must be an email address"));
    }
    let found = state
        .ses
        .suppression(&state.store, &p.org, &email)
        .await?
        .ok_or(ApiError::NotFound {
            resource: "suppression",
        })?;
    Ok(Json(SuppressionView::from(&found)))
}
