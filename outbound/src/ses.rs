//! Reading an org's own SES account (feature `ses`): the account-level suppression list,
//! GetAccount, configuration sets and email identities, through the real `aws-sdk-sesv2` client.
//!
//! Credentials: in production SendOps assumes the read role the customer's stack created
//! (STS AssumeRole with the org's role ARN and external id, through aws-config's
//! `AssumeRoleProvider`, which caches and refreshes the temporary credentials), starting from
//! the platform's own credentials (environment, profile, container or instance role). For local
//! runs and tests, `SENDOPS_SES_ENDPOINT_URL` points every SES call at another endpoint (the fake
//! in `sendops-testkit`) with static credentials from the environment; no role is assumed then.
//!
//! Clients are built once per (org, region, role) and reused. Every failure of SES (throttling,
//! 5xx, timeouts, refused connections, access denied) comes back as a [`SesError`] the callers
//! map to "unavailable"; "not found" is an answer, not an error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sesv2 as sesv2;
use sesv2::config::retry::RetryConfig;
use sesv2::config::timeout::TimeoutConfig;
use sesv2::config::{BehaviorVersion, Credentials, Region};
use sesv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use thiserror::Error;
use uuid::Uuid;

use sendops_shared::control::org::Org;
use sendops_shared::control::org_settings::OrgSettings;

/// Largest page SES serves for the list operations.
const PAGE_SIZE: i32 = 1000;

/// Why SES could not answer.
#[derive(Debug, Clone, Error)]
pub enum SesError {
    /// The org has not connected its AWS account (no read role recorded).
    #[error("org {org} has no AWS account connected")]
    NotConnected { org: String },
    /// This process was started without SES access.
    #[error("SES access is not configured")]
    NotConfigured,
    /// SES throttled the call (after the SDK's retries).
    #[error("SES throttled {operation}")]
    Throttled { operation: &'static str },
    /// SES failed, was unreachable, or refused the call.
    #[error("SES {operation} failed: {detail}")]
    Failed {
        operation: &'static str,
        detail: String,
    },
}

impl SesError {
    /// Seconds a client should wait before asking again.
    pub fn retry_after(&self) -> u64 {
        match self {
            SesError::Throttled { .. } => 5,
            _ => 10,
        }
    }
}

/// Error codes SES uses for throttling.
const THROTTLING_CODES: &[&str] = &[
    "TooManyRequestsException",
    "Throttling",
    "ThrottlingException",
];

/// Classifies an SDK error; `Ok(())` when it is SES's NotFoundException (the caller's "absent").
fn classify<E, R>(operation: &'static str, err: SdkError<E, R>) -> Result<(), SesError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match err.code() {
        Some("NotFoundException") => Ok(()),
        Some(code) if THROTTLING_CODES.contains(&code) => Err(SesError::Throttled { operation }),
        _ => Err(SesError::Failed {
            operation,
            detail: DisplayErrorContext(&err).to_string(),
        }),
    }
}

fn failure<E, R>(operation: &'static str, err: SdkError<E, R>) -> SesError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match classify(operation, err) {
        Err(e) => e,
        Ok(()) => SesError::Failed {
            operation,
            detail: "not found".into(),
        },
    }
}

/// An org's SES account as SendOps reaches it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SesTarget {
    pub org_id: Uuid,
    pub org_slug: String,
    pub region: String,
    pub role_arn: String,
    pub external_id: String,
}

impl SesTarget {
    /// The target of a connected org (`NotConnected` until its read role is recorded).
    pub fn for_org(org: &Org, settings: &OrgSettings) -> Result<SesTarget, SesError> {
        let role = settings
            .aws_role
            .as_ref()
            .ok_or_else(|| SesError::NotConnected {
                org: org.slug.clone(),
            })?;
        Ok(SesTarget {
            org_id: org.id,
            org_slug: org.slug.clone(),
            region: org.region.clone(),
            role_arn: role.role_arn.clone(),
            external_id: role.external_id.clone(),
        })
    }
}

/// One entry of the account-level suppression list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// As SES stores it.
    pub email: String,
    /// SES reason: `BOUNCE` or `COMPLAINT`.
    pub reason: String,
    /// LastUpdateTime, epoch milliseconds.
    pub last_update_ms: i64,
}

/// GetAccount, the parts SendOps shows.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountInfo {
    pub production_access_enabled: bool,
    pub sending_enabled: bool,
    pub send_quota: Option<SendQuota>,
    /// Account-level suppression reasons.
    pub suppressed_reasons: Vec<String>,
    /// SES's enforcement status of the account (HEALTHY, PROBATION, SHUTDOWN), when given.
    pub enforcement_status: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendQuota {
    pub max_24_hour_send: f64,
    pub max_send_rate: f64,
    pub sent_last_24_hours: f64,
}

/// GetConfigurationSet, the parts channels need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigurationSet {
    pub name: String,
    pub sending_enabled: bool,
    pub custom_redirect_domain: Option<String>,
    /// `None` when the set has no SuppressionOptions (the account-level list applies).
    pub suppressed_reasons: Option<Vec<String>>,
    pub tags: Vec<(String, String)>,
}

/// GetEmailIdentity, the parts identities and tracking domains need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailIdentity {
    pub name: String,
    pub identity_type: String,
    pub verification_status: String,
    pub dkim_status: String,
    pub dkim_tokens: Vec<String>,
    pub mail_from_domain: Option<String>,
    pub configuration_set: Option<String>,
}

/// Every item of one SES list operation, page after page in SES's order:
/// `all_pages!(client, list_operation, "OperationName", |page| items of page)` asks
/// `client.list_operation()` for pages of [`PAGE_SIZE`] until SES gives no NextToken; a page
/// that fails returns (with `?`) the [`SesError`] of `"OperationName"`.
macro_rules! all_pages {
    ($client:expr, $operation:ident, $name:expr, |$page:ident| $items:expr) => {{
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let $page = $client
                .$operation()
                .page_size(PAGE_SIZE)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| failure($name, e))?;
            out.extend($items);
            match $page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        out
    }};
}

fn datetime_ms(t: &aws_sdk_sesv2::primitives::DateTime) -> i64 {
    t.secs() * 1000 + i64::from(t.subsec_nanos() / 1_000_000)
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

enum Creds {
    Disabled,
    Static(Credentials),
    AssumeRole(Box<aws_config::SdkConfig>),
}

struct Inner {
    creds: Creds,
    endpoint_url: Option<String>,
    clients: Mutex<HashMap<SesTarget, sesv2::Client>>,
}

/// Access to the SES accounts of orgs; cheap to clone.
#[derive(Clone)]
pub struct SesAccess(Arc<Inner>);

impl std::fmt::Debug for SesAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.0.creds {
            Creds::Disabled => "disabled",
            Creds::Static(_) => "static credentials",
            Creds::AssumeRole(_) => "assume role",
        };
        f.debug_struct("SesAccess")
            .field("mode", &mode)
            .field("endpoint_url", &self.0.endpoint_url)
            .finish()
    }
}

impl SesAccess {
    fn new(creds: Creds, endpoint_url: Option<String>) -> SesAccess {
        SesAccess(Arc::new(Inner {
            creds,
            endpoint_url,
            clients: Mutex::new(HashMap::new()),
        }))
    }

    /// No SES access: every call fails with [`SesError::NotConfigured`].
    pub fn disabled() -> SesAccess {
        SesAccess::new(Creds::Disabled, None)
    }

    /// Every org's SES at `endpoint_url`, signed with static credentials (local runs, tests).
    pub fn with_endpoint(endpoint_url: &str, access_key_id: &str, secret: &str) -> SesAccess {
        let creds = Credentials::new(access_key_id, secret, None, None, "sendops-static");
        SesAccess::new(Creds::Static(creds), Some(endpoint_url.to_owned()))
    }

    /// Production: assume each org's read role starting from `base` (the platform's own
    /// credentials; its endpoint settings apply to STS). `ses_endpoint_url` overrides the SES
    /// endpoint only.
    pub fn assume_role(base: aws_config::SdkConfig, ses_endpoint_url: Option<String>) -> SesAccess {
        SesAccess::new(Creds::AssumeRole(Box::new(base)), ses_endpoint_url)
    }

    /// From the environment: with `SENDOPS_SES_ENDPOINT_URL`, static credentials from
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (default `sendops-local`) against that
    /// endpoint; otherwise AssumeRole from the default credential chain.
    pub async fn from_env() -> SesAccess {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        match var("SENDOPS_SES_ENDPOINT_URL") {
            Some(url) => {
                let key = var("AWS_ACCESS_KEY_ID").unwrap_or_else(|| "sendops-local".into());
                let secret = var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|| "sendops-local".into());
                SesAccess::with_endpoint(&url, &key, &secret)
            }
            None => {
                // The region only matters for STS, and every org names its own; fixing it here
                // keeps start-up from probing instance metadata for one.
                let region = var("AWS_REGION").unwrap_or_else(|| "us-east-1".into());
                let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(Region::new(region))
                    .load()
                    .await;
                SesAccess::assume_role(base, None)
            }
        }
    }

    /// Whether SES calls can be made at all.
    pub fn is_configured(&self) -> bool {
        !matches!(self.0.creds, Creds::Disabled)
    }

    fn cached(&self, target: &SesTarget) -> Option<sesv2::Client> {
        self.0
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(target)
            .cloned()
    }

    /// The SES client for `target`, built on first use.
    async fn client(&self, target: &SesTarget) -> Result<sesv2::Client, SesError> {
        if let Some(c) = self.cached(target) {
            return Ok(c);
        }
        let region = Region::new(target.region.clone());
        let mut builder = match &self.0.creds {
            Creds::Disabled => return Err(SesError::NotConfigured),
            Creds::Static(creds) => sesv2::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .credentials_provider(creds.clone()),
            Creds::AssumeRole(base) => {
                let session = format!("sendops-{}", target.org_id.simple());
                let provider = aws_config::sts::AssumeRoleProvider::builder(&target.role_arn)
                    .external_id(&target.external_id)
                    .session_name(session)
                    .region(region.clone())
                    .configure(base)
                    .build()
                    .await;
                sesv2::config::Builder::from(base.as_ref()).credentials_provider(provider)
            }
        };
        builder = builder
            .region(region)
            // One retry, short: these calls answer API requests.
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(Duration::from_millis(200)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(5))
                    .operation_timeout(Duration::from_secs(12))
                    .build(),
            );
        if let Some(url) = &self.0.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        let client = sesv2::Client::from_conf(builder.build());
        self.0
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(target.clone(), client.clone());
        Ok(client)
    }

    /// The whole account-level suppression list (every page, in SES's order).
    pub async fn suppressions(&self, target: &SesTarget) -> Result<Vec<Suppression>, SesError> {
        const OP: &str = "ListSuppressedDestinations";
        let client = self.client(target).await?;
        let out = all_pages!(client, list_suppressed_destinations, OP, |page| {
            page.suppressed_destination_summaries()
                .iter()
                .map(|s| Suppression {
                    email: s.email_address().to_owned(),
                    reason: s.reason().as_str().to_owned(),
                    last_update_ms: datetime_ms(s.last_update_time()),
                })
        });
        Ok(out)
    }

    /// One address on the suppression list, as SES looks it up (`None` when SES says it is not
    /// there).
    pub async fn suppression(
        &self,
        target: &SesTarget,
        email: &str,
    ) -> Result<Option<Suppression>, SesError> {
        const OP: &str = "GetSuppressedDestination";
        let client = self.client(target).await?;
        match client
            .get_suppressed_destination()
            .email_address(email)
            .send()
            .await
        {
            Ok(out) => Ok(out.suppressed_destination().map(|s| Suppression {
                email: s.email_address().to_owned(),
                reason: s.reason().as_str().to_owned(),
                last_update_ms: datetime_ms(s.last_update_time()),
            })),
            Err(e) => classify(OP, e).map(|()| None),
        }
    }

    pub async fn account(&self, target: &SesTarget) -> Result<AccountInfo, SesError> {
        const OP: &str = "GetAccount";
        let client = self.client(target).await?;
        let out = client
            .get_account()
            .send()
            .await
            .map_err(|e| failure(OP, e))?;
        Ok(AccountInfo {
            enforcement_status: out.enforcement_status().map(str::to_owned),
            production_access_enabled: out.production_access_enabled(),
            sending_enabled: out.sending_enabled(),
            send_quota: out.send_quota().map(|q| SendQuota {
                max_24_hour_send: q.max24_hour_send(),
                max_send_rate: q.max_send_rate(),
                sent_last_24_hours: q.sent_last24_hours(),
            }),
            suppressed_reasons: out
                .suppression_attributes()
                .map(|a| {
                    a.suppressed_reasons()
                        .iter()
                        .map(|r| r.as_str().to_owned())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Every configuration set, with its details (one GetConfigurationSet each), by name. A set
    /// deleted between the list and the get is left out.
    pub async fn configuration_sets(
        &self,
        target: &SesTarget,
    ) -> Result<Vec<ConfigurationSet>, SesError> {
        const OP: &str = "ListConfigurationSets";
        let client = self.client(target).await?;
        let mut names = all_pages!(client, list_configuration_sets, OP, |page| {
            page.configuration_sets().iter().cloned()
        });
        names.sort();
        names.dedup();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let got = client
                .get_configuration_set()
                .configuration_set_name(&name)
                .send()
                .await;
            let set = match got {
                Ok(set) => set,
                Err(e) => {
                    classify("GetConfigurationSet", e)?;
                    continue;
                }
            };
            out.push(ConfigurationSet {
                sending_enabled: set.sending_options().is_none_or(|o| o.sending_enabled()),
                custom_redirect_domain: set
                    .tracking_options()
                    .and_then(|t| non_empty(t.custom_redirect_domain())),
                suppressed_reasons: set.suppression_options().map(|s| {
                    s.suppressed_reasons()
                        .iter()
                        .map(|r| r.as_str().to_owned())
                        .collect()
                }),
                tags: set
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect(),
                name,
            });
        }
        Ok(out)
    }

    /// Every email identity, with its details (one GetEmailIdentity each), in SES's order. An
    /// identity deleted between the list and the get is left out.
    pub async fn email_identities(
        &self,
        target: &SesTarget,
    ) -> Result<Vec<EmailIdentity>, SesError> {
        const OP: &str = "ListEmailIdentities";
        let client = self.client(target).await?;
        let names = all_pages!(client, list_email_identities, OP, |page| {
            page.email_identities()
                .iter()
                .filter_map(|i| i.identity_name().map(str::to_owned))
        });
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            if let Some(identity) = self.email_identity_with(&client, &name).await? {
                out.push(identity);
            }
        }
        Ok(out)
    }

    /// One email identity (`None` when SES does not have it).
    pub async fn email_identity(
        &self,
        target: &SesTarget,
        name: &str,
    ) -> Result<Option<EmailIdentity>, SesError> {
        let client = self.client(target).await?;
        self.email_identity_with(&client, name).await
    }

    async fn email_identity_with(
        &self,
        client: &sesv2::Client,
        name: &str,
    ) -> Result<Option<EmailIdentity>, SesError> {
        let got = client
            .get_email_identity()
            .email_identity(name)
            .send()
            .await;
        let out = match got {
            Ok(out) => out,
            Err(e) => return classify("GetEmailIdentity", e).map(|()| None),
        };
        let dkim = out.dkim_attributes();
        Ok(Some(EmailIdentity {
            name: name.to_owned(),
            identity_type: out
                .identity_type()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            verification_status: out
                .verification_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            dkim_status: dkim
                .and_then(|d| d.status())
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            dkim_tokens: dkim.map(|d| d.tokens().to_vec()).unwrap_or_default(),
            mail_from_domain: out
                .mail_from_attributes()
                .and_then(|m| non_empty(m.mail_from_domain())),
            configuration_set: out.configuration_set_name().and_then(non_empty),
        }))
    }
}
