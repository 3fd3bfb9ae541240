//! `sendops-admin sync ses`: reads the org's configuration sets and email identities from its
//! SES account and makes the stored channels and identities exactly what SES has (feature `ses`).
//! Running it again without changes in SES writes nothing; a configuration set or identity
//! removed from SES disappears from the API.

use serde::Serialize;
use thiserror::Error;

use crate::ses::{AccountInfo, ConfigurationSet, EmailIdentity, SesAccess, SesError, SesTarget};
use sendops_shared::StoreError;
use sendops_shared::control::entities::{Channel, Identity, ReplaceReport, identity_key};
use sendops_shared::control::org::{Org, channel_id};
use sendops_shared::store::Store;

/// The tag whose value names a configuration set for people (AWS's `Name` convention).
pub const NAME_TAG: &str = "Name";

/// A sync that could not complete; nothing is half-written per entity kind (each kind is
/// replaced in one insert).
#[derive(Debug, Error)]
pub enum SyncError {
    #[error(transparent)]
    Ses(#[from] SesError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a sync changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SesSyncReport {
    pub org: String,
    pub channels: ReplaceReport,
    pub identities: ReplaceReport,
}

/// The channels SES's configuration sets describe. A set without SuppressionOptions follows the
/// account-level suppression list, so its policy is the account's reasons.
pub fn channels_from_ses(
    org: &Org,
    sets: &[ConfigurationSet],
    identities: &[EmailIdentity],
    account: &AccountInfo,
    now_ms: i64,
) -> Vec<Channel> {
    sets.iter()
        .map(|s| {
            let mut policy = s
                .suppressed_reasons
                .clone()
                .unwrap_or_else(|| account.suppressed_reasons.clone());
            policy.sort();
            policy.dedup();
            let mut bound: Vec<String> = identities
                .iter()
                .filter(|i| i.configuration_set.as_deref() == Some(s.name.as_str()))
                .map(|i| i.name.clone())
                .collect();
            bound.sort();
            let name = s
                .tags
                .iter()
                .find(|(k, v)| k == NAME_TAG && !v.trim().is_empty())
                .map_or_else(|| s.name.clone(), |(_, v)| v.trim().to_owned());
            Channel {
                id: channel_id(org.id, &s.name),
                slug: s.name.clone(),
                name,
                sending_enabled: s.sending_enabled,
                tracking_domain: s.custom_redirect_domain.as_ref().map(|d| d.to_lowercase()),
                suppression_policy: policy,
                identities: bound,
                created_ms: now_ms,
            }
        })
        .collect()
}

/// The identities SES lists (names differing only in case count once: the first wins).
pub fn identities_from_ses(identities: &[EmailIdentity], now_ms: i64) -> Vec<Identity> {
    let mut seen = std::collections::HashSet::new();
    identities
        .iter()
        .filter(|i| seen.insert(identity_key(&i.name)))
        .map(|i| Identity {
            name: i.name.clone(),
            identity_type: i.identity_type.clone(),
            verification_status: i.verification_status.clone(),
            dkim_status: i.dkim_status.clone(),
            mail_from_domain: i.mail_from_domain.clone(),
            configuration_set: i.configuration_set.clone(),
            created_ms: now_ms,
        })
        .collect()
}

/// Reads the org's SES configuration and replaces its channels and identities with it. Every SES
/// read happens before anything is written.
pub async fn sync_ses(
    store: &Store,
    ses: &SesAccess,
    org: &Org,
    now_ms: i64,
) -> Result<SesSyncReport, SyncError> {
    let settings = store.org_settings(org.id).await?;
    let target = SesTarget::for_org(org, &settings)?;
    let account = ses.account(&target).await?;
    let sets = ses.configuration_sets(&target).await?;
    let identities = ses.email_identities(&target).await?;
    let channels = channels_from_ses(org, &sets, &identities, &account, now_ms);
    let identities = identities_from_ses(&identities, now_ms);
    let channels = store.replace_channels(org.id, &channels, now_ms).await?;
    let identities = store
        .replace_identities(org.id, &identities, now_ms)
        .await?;
    tracing::info!(
        org = %org.slug,
        channels_changed = channels.changed(),
        identities_changed = identities.changed(),
        "ses sync done"
    );
    Ok(SesSyncReport {
        org: org.slug.clone(),
        channels,
        identities,
    })
}
