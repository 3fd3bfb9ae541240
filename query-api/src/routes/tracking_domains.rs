//! `/v1/tracking-domains` and `/v1/tracking-domains/{domain}`: the org's open/click tracking
//! subdomains registered with `sendops-admin tracking-domain add`, newest first, with the DNS
//! records to publish and the coalesced status of the last `verify`.

use sendops_shared::control::tracking::TrackingDomain;
use sendops_shared::timefmt::format_ms;
use serde::Serialize;
use utoipa::ToSchema;

use crate::routes::Pagination;

/// A DNS record to publish.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DnsRecordView {
    /// Always `CNAME`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub value: String,
}

/// A tracking domain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrackingDomainView {
    pub domain: String,
    /// `verified` (DNS and SES identity both verified), `failed` (a DNS check failed) or `pending`.
    #[schema(example = "pending")]
    pub status: String,
    /// `active` once the domain was verified, else `pending`.
    #[schema(example = "pending")]
    pub ssl_status: String,
    /// The tracking CNAME first, then the SES DKIM CNAMEs.
    pub dns_records: Vec<DnsRecordView>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Last successful verification; null until then.
    #[schema(format = DateTime)]
    pub verified_at: Option<String>,
}

impl From<TrackingDomain> for TrackingDomainView {
    fn from(t: TrackingDomain) -> Self {
        TrackingDomainView {
            status: t.status().to_owned(),
            ssl_status: t.ssl_status().to_owned(),
            dns_records: t
                .dns_records()
                .into_iter()
                .map(|r| DnsRecordView {
                    kind: r.kind,
                    name: r.name,
                    value: r.value,
                })
                .collect(),
            created_at: format_ms(t.created_ms),
            verified_at: t.verified_ms.map(format_ms),
            domain: t.domain,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrackingDomainPage {
    pub data: Vec<TrackingDomainView>,
    pub pagination: Pagination,
}

crate::catalog! { TrackingDomain => view TrackingDomainView, page TrackingDomainPage, kind "tracking_domains", resource "tracking_domain",
scope TrackingView, key ("domain", 253), order |t| (t.created_ms, t.domain.clone()), store (tracking_domains, tracking_domain),
list ("/v1/tracking-domains", "listTrackingDomains", "Tracking Domains", "Tracking domains, newest first.", "Tracking domains, newest-first"),
one ("/v1/tracking-domains/{domain}", "getTrackingDomain", "One tracking domain, case-insensitively.", "Tracking subdomain (case-insensitive)", "Tracking domain detail") }
