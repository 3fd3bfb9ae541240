//! `/v1/identities` and `/v1/identities/{identity}`: the org's SES email identities as synced
//! by `sendops-admin sync ses`, newest first; lookups are case-insensitive.

use axum::Json;
use axum::response::Response;
use sendops_shared::control::entities::{Identity, identity_key};
use sendops_shared::timefmt::format_ms;
use serde::Serialize;
use utoipa::ToSchema;

use crate::listing::EntityListParams;
use crate::problem::ApiError;
use crate::request::ApiRequest;
use crate::routes::Pagination;

/// An SES identity (an email address or a domain).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IdentityView {
    /// The address or domain, as SES spells it.
    pub identity: String,
    /// `email` or `domain`.
    #[serde(rename = "type")]
    #[schema(example = "email")]
    pub kind: String,
    /// `verified`, `pending`, `failed`, `temporary_failure` or `not_started`.
    #[schema(example = "pending")]
    pub verification_status: String,
    /// Holds the same value as `verification_status` today.
    #[schema(example = "pending")]
    pub dkim_status: String,
    /// The custom MAIL FROM domain, when one is set.
    pub mail_from_domain: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<Identity> for IdentityView {
    fn from(i: Identity) -> Self {
        IdentityView {
            kind: i.kind().to_owned(),
            verification_status: i.status(),
            dkim_status: i.status(),
            identity: i.name,
            mail_from_domain: i.mail_from_domain,
            created_at: format_ms(i.created_ms),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityPage {
    pub data: Vec<IdentityView>,
    pub pagination: Pagination,
}

crate::catalog! { Identity => view IdentityView, page IdentityPage, kind "identities", resource "identity",
scope IdentitiesView, key ("identity", 320), order |i| (i.created_ms, identity_key(&i.name)), store (identities, identity) }

/// Identities, newest first.
#[utoipa::path(get, path = "/v1/identities", operation_id = "listIdentities", tag = "Identities", params(EntityListParams),
    responses((status = 200, description = "Identities, newest-first", body = IdentityPage), (status = 304, description = "Not modified: the If-None-Match tag is still the answer")))]
pub async fn list(req: ApiRequest) -> Result<Response, ApiError> {
    req.catalog_page::<Identity>().await
}

/// One identity by its address or domain, case-insensitively.
#[utoipa::path(get, path = "/v1/identities/{identity}", operation_id = "getIdentity", tag = "Identities",
    params(("identity" = String, Path, description = "Email address or domain; percent-encode '@' as %40. Case-insensitive.", min_length = 1, max_length = 320, pattern = r"^[^\u0000-\u001f\u007f-\u009f]+$")),
    responses((status = 200, description = "Identity detail", body = IdentityView)))]
pub async fn get_one(req: ApiRequest) -> Result<Json<IdentityView>, ApiError> {
    req.catalog_item::<Identity>().await
}
