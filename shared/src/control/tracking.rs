//! Tracking domains: CNAME-based open/click tracking subdomains an operator registers for an org
//! (`sendops-admin tracking-domain add|verify`).
//!
//! A domain's DNS records are its CNAME to the SendOps redirect host first, then the DKIM CNAMEs
//! of the SES domain identity that covers it (the domain itself or its nearest parent SES
//! has). `verify` re-reads that identity from SES and resolves every record; the coalesced
//! `status` (spec) is `verified` when every record resolves as expected AND SES reports the
//! identity verified, `failed` when a DNS check failed, and `pending` otherwise (not checked yet,
//! or DNS fine while SES is not verified yet). `verified_at` is the last verification that
//! succeeded and stays once set; `ssl_status` is `active` from the first successful
//! verification on (the redirect host provisions its certificate then), `pending` before.

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::control::entities::{EntityRow, Table, entity_row_columns, entity_store};
use crate::store::Store;
use crate::store::error::StoreError;
use crate::store::sql::Sql;
use crate::timefmt::format_ms;

/// Where tracking CNAMEs point unless `SENDOPS_TRACKING_CNAME_TARGET` says otherwise.
pub const DEFAULT_CNAME_TARGET: &str = "track.sendops.dev";

/// The redirect host tracking domains must point at (`SENDOPS_TRACKING_CNAME_TARGET`).
pub fn cname_target_from_env() -> String {
    std::env::var("SENDOPS_TRACKING_CNAME_TARGET")
        .ok()
        .map(|v| v.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_CNAME_TARGET.to_owned())
}

/// The outcome of the last DNS check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsCheck {
    Unchecked,
    Passed,
    Failed,
}

impl DnsCheck {
    fn as_str(self) -> &'static str {
        match self {
            DnsCheck::Unchecked => "unchecked",
            DnsCheck::Passed => "passed",
            DnsCheck::Failed => "failed",
        }
    }

    fn parse(s: &str) -> DnsCheck {
        match s {
            "passed" => DnsCheck::Passed,
            "failed" => DnsCheck::Failed,
            _ => DnsCheck::Unchecked,
        }
    }
}

/// The spec's status coalescing: `verified` needs both the DNS check and SES verification
/// (`SUCCESS`); `failed` covers DNS failures; anything else is `pending`.
pub fn coalesce(dns: DnsCheck, ses_status: Option<&str>) -> &'static str {
    match (dns, ses_status) {
        (DnsCheck::Failed, _) => "failed",
        (DnsCheck::Passed, Some("SUCCESS")) => "verified",
        _ => "pending",
    }
}

/// One DNS record the customer must publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsRecord {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub value: String,
}

/// A registered tracking domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingDomain {
    /// Lower-case.
    pub domain: String,
    /// The host its CNAME must point at.
    pub cname_target: String,
    /// The SES domain identity whose DKIM records apply (`None` when SES has none).
    pub ses_identity: Option<String>,
    /// That identity's SES VerificationStatus.
    pub ses_status: Option<String>,
    pub dkim_tokens: Vec<String>,
    pub dns: DnsCheck,
    /// What the last DNS check found wrong ('' when nothing).
    pub dns_detail: String,
    pub created_ms: i64,
    pub checked_ms: Option<i64>,
    pub verified_ms: Option<i64>,
}

impl TrackingDomain {
    pub fn status(&self) -> &'static str {
        coalesce(self.dns, self.ses_status.as_deref())
    }

    pub fn ssl_status(&self) -> &'static str {
        if self.verified_ms.is_some() {
            "active"
        } else {
            "pending"
        }
    }

    /// The tracking CNAME first, then the SES DKIM CNAMEs.
    pub fn dns_records(&self) -> Vec<DnsRecord> {
        let mut out = vec![DnsRecord {
            kind: "CNAME".into(),
            name: self.domain.clone(),
            value: self.cname_target.clone(),
        }];
        if let Some(identity) = &self.ses_identity {
            out.extend(self.dkim_tokens.iter().map(|t| DnsRecord {
                kind: "CNAME".into(),
                name: format!("{t}._domainkey.{identity}"),
                value: format!("{t}.dkim.amazonses.com"),
            }));
        }
        out
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "domain": self.domain,
            "status": self.status(),
            "ssl_status": self.ssl_status(),
            "dns_records": self.dns_records(),
            "created_at": format_ms(self.created_ms),
            "verified_at": self.verified_ms.map(format_ms),
            "checked_at": self.checked_ms.map(format_ms),
            "dns_check": self.dns,
            "dns_detail": self.dns_detail,
            "ses_identity": self.ses_identity,
            "ses_status": self.ses_status,
        })
    }
}

/// A host name: 2+ labels of `a-z 0-9 -` (not at a label's ends), at most 253 characters.
/// Returns it lower-cased without a trailing dot.
pub fn normalize_domain(domain: &str) -> Option<String> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    let ok = d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()));
    ok.then_some(d)
}

/// The `tracking_domains` table row (field order = column order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Row)]
pub(crate) struct TrackingDomainRow {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    domain: String,
    cname_target: String,
    ses_identity: String,
    ses_status: String,
    dkim_tokens: Vec<String>,
    dns_status: String,
    dns_detail: String,
    created_ms: i64,
    checked_ms: i64,
    verified_ms: i64,
    deleted: u8,
    row_version: u64,
}

impl EntityRow for TrackingDomainRow {
    const TABLE: Table = Table {
        name: "tracking_domains",
        key: "domain",
        columns: &[
            "cname_target",
            "ses_identity",
            "ses_status",
            "dkim_tokens",
            "dns_status",
            "dns_detail",
            "created_ms",
            "checked_ms",
            "verified_ms",
            "deleted",
        ],
        time: "created_ms",
    };
    entity_row_columns!(key domain);
}

impl TrackingDomainRow {
    fn new(org_id: Uuid, t: &TrackingDomain) -> TrackingDomainRow {
        TrackingDomainRow {
            org_id,
            domain: t.domain.clone(),
            cname_target: t.cname_target.clone(),
            ses_identity: t.ses_identity.clone().unwrap_or_default(),
            ses_status: t.ses_status.clone().unwrap_or_default(),
            dkim_tokens: t.dkim_tokens.clone(),
            dns_status: t.dns.as_str().to_owned(),
            dns_detail: t.dns_detail.clone(),
            created_ms: t.created_ms,
            checked_ms: t.checked_ms.unwrap_or(0),
            verified_ms: t.verified_ms.unwrap_or(0),
            deleted: 0,
            row_version: 0,
        }
    }

    fn into_domain(self) -> TrackingDomain {
        let opt = |s: String| (!s.is_empty()).then_some(s);
        let ms = |v: i64| (v > 0).then_some(v);
        TrackingDomain {
            domain: self.domain,
            cname_target: self.cname_target,
            ses_identity: opt(self.ses_identity),
            ses_status: opt(self.ses_status),
            dkim_tokens: self.dkim_tokens,
            dns: DnsCheck::parse(&self.dns_status),
            dns_detail: self.dns_detail,
            created_ms: self.created_ms,
            checked_ms: ms(self.checked_ms),
            verified_ms: ms(self.verified_ms),
        }
    }
}

#[derive(Row, Deserialize)]
struct OwnerRow {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    #[expect(dead_code, reason = "grouping key, read positionally")]
    domain: String,
    #[expect(dead_code, reason = "read positionally")]
    a_deleted: u8,
}

entity_store!(TrackingDomainRow => TrackingDomain, into TrackingDomainRow::into_domain {
    /// A page of the org's tracking domains, newest first, after `after`.
    page tracking_domains;
    /// One tracking domain, case-insensitively (a trailing dot and surrounding blanks ignored).
    one tracking_domain, key |domain| domain.trim().trim_end_matches('.').to_ascii_lowercase();
});

impl Store {
    /// The orgs that have registered `domain` (lower-case).
    pub async fn tracking_domain_owners(&self, domain: &str) -> Result<Vec<Uuid>, StoreError> {
        let sql = "SELECT org_id, domain, argMax(deleted, row_version) AS a_deleted \
                   FROM tracking_domains WHERE domain = ? GROUP BY org_id, domain HAVING a_deleted = 0";
        let rows = self
            .sql(Sql::new(sql, [domain.into()]))
            .fetch_all::<OwnerRow>()
            .await?;
        Ok(rows.into_iter().map(|r| r.org_id).collect())
    }

    /// Writes a new version of a tracking domain (above every stored version).
    pub async fn put_tracking_domain(
        &self,
        org_id: Uuid,
        domain: &TrackingDomain,
        now_ms: i64,
    ) -> Result<TrackingDomain, StoreError> {
        let row = self
            .put_entity(TrackingDomainRow::new(org_id, domain), now_ms)
            .await?;
        Ok(row.into_domain())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_coalescing() {
        assert_eq!(coalesce(DnsCheck::Passed, Some("SUCCESS")), "verified");
        assert_eq!(coalesce(DnsCheck::Passed, Some("PENDING")), "pending");
        assert_eq!(coalesce(DnsCheck::Passed, Some("FAILED")), "pending");
        assert_eq!(coalesce(DnsCheck::Passed, None), "pending");
        assert_eq!(coalesce(DnsCheck::Unchecked, Some("SUCCESS")), "pending");
        assert_eq!(coalesce(DnsCheck::Failed, Some("SUCCESS")), "failed");
        assert_eq!(coalesce(DnsCheck::Failed, None), "failed");
    }

    #[test]
    fn records_start_with_the_tracking_cname() {
        let t = TrackingDomain {
            domain: "track.acme.com".into(),
            cname_target: "track.sendops.dev".into(),
            ses_identity: Some("acme.com".into()),
            ses_status: Some("SUCCESS".into()),
            dkim_tokens: vec!["tok1".into(), "tok2".into()],
            dns: DnsCheck::Unchecked,
            dns_detail: String::new(),
            created_ms: 0,
            checked_ms: None,
            verified_ms: None,
        };
        let r = t.dns_records();
        assert_eq!(r.len(), 3);
        assert_eq!(
            (r[0].name.as_str(), r[0].value.as_str()),
            ("track.acme.com", "track.sendops.dev")
        );
        assert_eq!(r[1].name, "tok1._domainkey.acme.com");
        assert_eq!(r[2].value, "tok2.dkim.amazonses.com");
        assert_eq!(t.ssl_status(), "pending");
    }

    #[test]
    fn domains_are_normalized() {
        assert_eq!(
            normalize_domain(" Track.ACME.com. ").as_deref(),
            Some("track.acme.com")
        );
        for bad in [
            "acme",
            "-a.com",
            "a-.com",
            "a..com",
            "a b.com",
            "1.2.3.4",
            "ünï.com",
        ] {
            assert_eq!(normalize_domain(bad), None, "{bad}");
        }
    }
}
