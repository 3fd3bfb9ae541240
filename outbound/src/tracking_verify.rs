//! Tracking-domain registration and verification (`sendops-admin tracking-domain add|verify`):
//! the SES domain identity that covers a domain gives its DKIM records, and DNS is asked
//! whether every record resolves as published. What is stored is in
//! `sendops_shared::control::tracking`.

use serde::Serialize;
use thiserror::Error;

use crate::dns::{CnameLookup, DnsError, Resolver};
use crate::ses::{EmailIdentity, SesAccess, SesError, SesTarget};
use sendops_shared::StoreError;
use sendops_shared::control::org::Org;
use sendops_shared::control::tracking::{DnsCheck, TrackingDomain, normalize_domain};
use sendops_shared::store::Store;

#[derive(Debug, Error)]
pub enum TrackingError {
    #[error("{0}")]
    Invalid(String),
    #[error("tracking domain {0} is not registered for this org")]
    NotFound(String),
    #[error(transparent)]
    Ses(#[from] SesError),
    #[error(transparent)]
    Dns(#[from] DnsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `verify` found for one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordCheck {
    pub name: String,
    pub expected: String,
    /// What DNS holds (the CNAME target), when anything.
    pub found: Option<String>,
    pub ok: bool,
    /// Why it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The SES domain identity covering `domain`: the domain itself, else its nearest parent
/// with at least two labels that SES has.
pub async fn covering_identity(
    ses: &SesAccess,
    target: &SesTarget,
    domain: &str,
) -> Result<Option<EmailIdentity>, SesError> {
    let labels: Vec<&str> = domain.split('.').collect();
    for start in 0..labels.len().saturating_sub(1) {
        let candidate = labels[start..].join(".");
        if let Some(identity) = ses.email_identity(target, &candidate).await?
            && identity.identity_type != "EMAIL_ADDRESS"
        {
            return Ok(Some(identity));
        }
    }
    Ok(None)
}

fn apply_identity(t: &mut TrackingDomain, identity: Option<EmailIdentity>) {
    match identity {
        Some(i) => {
            t.ses_status = Some(i.verification_status).filter(|s| !s.is_empty());
            t.dkim_tokens = i.dkim_tokens;
            t.ses_identity = Some(i.name.to_ascii_lowercase());
        }
        None => {
            t.ses_identity = None;
            t.ses_status = None;
            t.dkim_tokens = Vec::new();
        }
    }
}

/// Registers `domain` for `org` (pending until verified) with the DKIM records of the SES
/// identity that covers it. A domain belongs to one org.
pub async fn add_tracking_domain(
    store: &Store,
    ses: &SesAccess,
    org: &Org,
    domain: &str,
    cname_target: &str,
    now_ms: i64,
) -> Result<TrackingDomain, TrackingError> {
    let domain = normalize_domain(domain)
        .ok_or_else(|| TrackingError::Invalid(format!("{domain:?} is not a valid host name")))?;
    let cname_target = normalize_domain(cname_target).ok_or_else(|| {
        TrackingError::Invalid(format!(
            "CNAME target {cname_target:?} is not a valid host name"
        ))
    })?;
    if let Some(&owner) = store.tracking_domain_owners(&domain).await?.first() {
        return Err(TrackingError::Invalid(if owner == org.id {
            format!(
                "{domain} is already registered for {}; use verify",
                org.slug
            )
        } else {
            format!("{domain} is registered by another org")
        }));
    }
    let settings = store.org_settings(org.id).await?;
    let target = SesTarget::for_org(org, &settings)?;
    let identity = covering_identity(ses, &target, &domain).await?;
    let mut t = TrackingDomain {
        domain,
        cname_target,
        ses_identity: None,
        ses_status: None,
        dkim_tokens: Vec::new(),
        dns: DnsCheck::Unchecked,
        dns_detail: String::new(),
        created_ms: now_ms,
        checked_ms: None,
        verified_ms: None,
    };
    apply_identity(&mut t, identity);
    Ok(store.put_tracking_domain(org.id, &t, now_ms).await?)
}

/// Re-reads the covering SES identity, resolves every record, and stores the outcome.
pub async fn verify_tracking_domain(
    store: &Store,
    ses: &SesAccess,
    resolver: &Resolver,
    org: &Org,
    domain: &str,
    now_ms: i64,
) -> Result<(TrackingDomain, Vec<RecordCheck>), TrackingError> {
    let mut t = store
        .tracking_domain(org.id, domain)
        .await?
        .ok_or_else(|| TrackingError::NotFound(domain.to_owned()))?;
    let settings = store.org_settings(org.id).await?;
    let target = SesTarget::for_org(org, &settings)?;
    let identity = covering_identity(ses, &target, &t.domain).await?;
    apply_identity(&mut t, identity);
    let mut checks = Vec::new();
    for record in t.dns_records() {
        let found = resolver.cname(&record.name).await?;
        let expected = record.value.to_ascii_lowercase();
        let (found, problem) = match found {
            CnameLookup::Found(v) if v == expected => (Some(v), None),
            CnameLookup::Found(v) => {
                let p = format!("points at {v}, expected {expected}");
                (Some(v), Some(p))
            }
            CnameLookup::NoRecord => (None, Some("has no CNAME record".to_owned())),
            CnameLookup::NxDomain => (None, Some("does not exist".to_owned())),
            CnameLookup::ServFail => (None, Some("DNS lookup failed (SERVFAIL)".to_owned())),
        };
        checks.push(RecordCheck {
            name: record.name,
            expected,
            ok: problem.is_none(),
            found,
            problem,
        });
    }
    let problems: Vec<String> = checks
        .iter()
        .filter_map(|c| c.problem.as_ref().map(|p| format!("{} {p}", c.name)))
        .collect();
    t.dns = if problems.is_empty() {
        DnsCheck::Passed
    } else {
        DnsCheck::Failed
    };
    t.dns_detail = problems.join("; ");
    t.checked_ms = Some(now_ms);
    if t.status() == "verified" {
        t.verified_ms = Some(now_ms);
    }
    let t = store.put_tracking_domain(org.id, &t, now_ms).await?;
    Ok((t, checks))
}
