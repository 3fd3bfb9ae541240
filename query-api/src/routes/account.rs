//! `/v1/account`: the org snapshot of the spec, composed from the stored org, its settings
//! (production access, CloudFormation stack, read role) and a live SES GetAccount; cached per
//! org for `SENDOPS_SES_CACHE_SECONDS` (60 s) and advertised with `Cache-Control: max-age`.
//! When GetAccount fails, `aws` and `send_quota` are null and the answer is still 200.

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sendops_outbound::ses::SesTarget;
use sendops_shared::control::org::Org;
use sendops_shared::control::org_settings::ProductionAccessStatus;
use sendops_shared::control::scopes::Scope;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::problem::ApiError;
use crate::request::ApiRequest;
use crate::ses_views::{SesOutcome, ViewError};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountOrg {
    pub id: uuid::Uuid,
    pub name: String,
    pub slug: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountAws {
    pub account_id: String,
    pub region: String,
    /// Live SES flag: true while SES keeps the account in the sandbox.
    pub sandbox: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SendQuotaView {
    pub max_24_hour: f64,
    pub max_send_rate: f64,
    pub sent_last_24_hours: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductionAccessView {
    /// `pending`, `granted` or `denied` (the SendOps-side request workflow).
    #[schema(example = "pending")]
    pub status: String,
    #[schema(format = DateTime)]
    pub granted_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CloudFormationView {
    pub stack_name: String,
    pub template_version: u32,
    pub latest_version: u32,
    pub up_to_date: bool,
    pub drift_status: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanView {
    /// `free`, `pro` or `enterprise`.
    #[schema(example = "free")]
    pub tier: String,
    pub retention_days: u32,
    /// Live keys' limit; test keys get 10 % of it.
    pub api_rate_limit_per_minute: u32,
}

/// The composed account snapshot. Every top-level field is present; sub-objects are null until
/// their milestone is reached (and `aws`/`send_quota` also when SES GetAccount fails).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Account {
    pub org: AccountOrg,
    pub aws: Option<AccountAws>,
    pub send_quota: Option<SendQuotaView>,
    pub production_access: Option<ProductionAccessView>,
    pub cloudformation: Option<CloudFormationView>,
    pub plan: PlanView,
    /// Whether GetAccount answered (or was not needed): failed snapshots are cached briefly.
    #[serde(skip)]
    ses_ok: bool,
    /// SES's enforcement status from GetAccount (`/v1/reputation` shows it); None when SES
    /// could not be asked.
    #[serde(skip)]
    pub enforcement_status: Option<String>,
}

impl SesOutcome for Account {
    fn ses_ok(&self) -> bool {
        self.ses_ok
    }
}

pub(crate) async fn compose(state: &AppState, org: &Org) -> Result<Account, ViewError> {
    let settings = state.store.org_settings(org.id).await?;
    let target = SesTarget::for_org(org, &settings)
        .ok()
        .filter(|_| state.ses.access.is_configured());
    let (aws, send_quota, ses_ok, enforcement_status) = match target {
        None => (None, None, true, None),
        Some(t) => match state.ses.access.account(&t).await {
            Ok(info) => (
                Some(AccountAws {
                    account_id: org.aws_account_id.clone(),
                    region: org.region.clone(),
                    sandbox: !info.production_access_enabled,
                }),
                info.send_quota.map(|q| SendQuotaView {
                    max_24_hour: q.max_24_hour_send,
                    max_send_rate: q.max_send_rate,
                    sent_last_24_hours: q.sent_last_24_hours,
                }),
                true,
                info.enforcement_status,
            ),
            Err(e) => {
                tracing::warn!(org = %org.slug, error = %e, "ses GetAccount failed; account snapshot without aws");
                (None, None, false, None)
            }
        },
    };
    Ok(Account {
        org: AccountOrg {
            id: org.id,
            name: org.name.clone(),
            slug: org.slug.clone(),
        },
        aws,
        send_quota,
        production_access: settings.production_access.map(|p| ProductionAccessView {
            status: ProductionAccessStatus::as_str(p.status).to_owned(),
            granted_at: p.granted_at,
        }),
        cloudformation: settings.cloudformation.map(|c| CloudFormationView {
            stack_name: c.stack_name,
            template_version: c.template_version,
            latest_version: c.latest_version,
            up_to_date: c.up_to_date,
            drift_status: c.drift_status,
        }),
        plan: PlanView {
            tier: org.plan.as_str().to_owned(),
            retention_days: org.plan.retention_days(),
            api_rate_limit_per_minute: org.rate_limit_override.unwrap_or(600).max(1),
        },
        ses_ok,
        enforcement_status,
    })
}

/// The calling org's onboarding snapshot (cached per org).
#[utoipa::path(get, path = "/v1/account", operation_id = "getAccount", tag = "Account",
    responses((status = 200, description = "Composed account snapshot", body = Account,
        headers(("Cache-Control" = String, description = "max-age=60: the snapshot is cached per org")))))]
pub async fn get(req: ApiRequest) -> Result<Response, ApiError> {
    req.p.require(Scope::AccountView)?;
    let snapshot = req
        .state
        .ses
        .account(req.p.org.id, compose(&req.state, &req.p.org))
        .await?;
    let mut resp = Json(snapshot.as_ref().clone()).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("max-age={}", req.state.ses.ttl.as_secs())) {
        resp.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    Ok(resp)
}
