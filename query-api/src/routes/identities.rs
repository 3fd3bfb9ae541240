//! `/v1/identities` and `/v1/identities/{identity}`: the org's SES email identities as synced
//! by `sendops-admin sync ses`, newest first; lookups are case-insensitive.

use sendops_shared::control::entities::{Identity, identity_key};
use sendops_shared::timefmt::format_ms;
use serde::Serialize;
use utoipa::ToSchema;

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
scope IdentitiesView, key ("identity", 320), order |i| (i.created_ms, identity_key(&i.name)), store (identities, identity),
list ("/v1/identities", "listIdentities", "Identities", "Identities, newest first.", "Identities, newest-first"),
one ("/v1/identities/{identity}", "getIdentity", "One identity by its address or domain, case-insensitively.", "Email address or domain; percent-encode '@' as %40. Case-insensitive.", "Identity detail") }
