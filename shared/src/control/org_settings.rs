//! Per-org settings beyond the `orgs` row (kept in their own table so `orgs` stays as it is):
//! the cross-account read role SendOps assumes to read the org's SES account, and the onboarding
//! state operators record: the production-access request and the customer CloudFormation stack.
//! `/v1/account` composes these with the org and a live SES GetAccount.

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::control::org::valid_account_id;
use crate::store::Store;
use crate::store::error::StoreError;
use crate::store::sql::Sql;
use crate::timefmt::{format_ms, now_ms};

/// The version of the customer-side CloudFormation template this SendOps release ships. Raise it
/// with every change to that template; `/v1/account` reports `up_to_date` against it.
pub const CUSTOMER_STACK_LATEST_VERSION: u32 = 1;

/// Where the SendOps-side production-access request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProductionAccessStatus {
    Pending,
    Granted,
    Denied,
}

impl ProductionAccessStatus {
    pub const ALL: [ProductionAccessStatus; 3] = [
        ProductionAccessStatus::Pending,
        ProductionAccessStatus::Granted,
        ProductionAccessStatus::Denied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProductionAccessStatus::Pending => "pending",
            ProductionAccessStatus::Granted => "granted",
            ProductionAccessStatus::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<ProductionAccessStatus> {
        ProductionAccessStatus::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// The production-access request, once submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductionAccess {
    pub status: ProductionAccessStatus,
    /// When it was granted (`YYYY-MM-DDTHH:MM:SSZ`); null unless granted.
    pub granted_at: Option<String>,
}

/// The customer CloudFormation stack, once applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloudFormation {
    pub stack_name: String,
    pub template_version: u32,
    pub latest_version: u32,
    pub up_to_date: bool,
    /// As CloudFormation drift detection reports it (`IN_SYNC`, `DRIFTED`, `NOT_CHECKED`, …).
    pub drift_status: String,
}

/// The cross-account role SendOps assumes to read the org's SES account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AwsRole {
    pub role_arn: String,
    pub external_id: String,
}

/// Everything `org_settings` holds for one org (all `None` until an operator sets it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgSettings {
    pub org_id: Uuid,
    /// `None` until the customer stack's read role is recorded: the AWS account is not connected.
    pub aws_role: Option<AwsRole>,
    pub production_access: Option<ProductionAccess>,
    pub cloudformation: Option<CloudFormation>,
}

/// The `org_settings` table row (field order = column order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Row)]
struct OrgSettingsRow {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    role_arn: String,
    external_id: String,
    /// '' until submitted.
    production_access_status: String,
    production_access_granted_ms: i64,
    /// '' until the stack is applied.
    cf_stack_name: String,
    cf_template_version: u32,
    cf_drift_status: String,
    updated_ms: u64,
}

impl OrgSettingsRow {
    fn empty(org_id: Uuid) -> OrgSettingsRow {
        OrgSettingsRow {
            org_id,
            role_arn: String::new(),
            external_id: String::new(),
            production_access_status: String::new(),
            production_access_granted_ms: 0,
            cf_stack_name: String::new(),
            cf_template_version: 0,
            cf_drift_status: String::new(),
            updated_ms: 0,
        }
    }

    fn to_settings(&self) -> OrgSettings {
        let aws_role = (!self.role_arn.is_empty()).then(|| AwsRole {
            role_arn: self.role_arn.clone(),
            external_id: self.external_id.clone(),
        });
        let production_access =
            ProductionAccessStatus::parse(&self.production_access_status).map(|status| {
                ProductionAccess {
                    status,
                    granted_at: (status == ProductionAccessStatus::Granted
                        && self.production_access_granted_ms > 0)
                        .then(|| format_ms(self.production_access_granted_ms)),
                }
            });
        let cloudformation = (!self.cf_stack_name.is_empty()).then(|| CloudFormation {
            stack_name: self.cf_stack_name.clone(),
            template_version: self.cf_template_version,
            latest_version: CUSTOMER_STACK_LATEST_VERSION,
            up_to_date: self.cf_template_version >= CUSTOMER_STACK_LATEST_VERSION,
            drift_status: self.cf_drift_status.clone(),
        });
        OrgSettings {
            org_id: self.org_id,
            aws_role,
            production_access,
            cloudformation,
        }
    }
}

/// Checks an IAM role ARN (`arn:<partition>:iam::<12 digits>:role/<path/name>`) and returns its
/// account id.
pub fn role_arn_account(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    if !partition.starts_with("aws") {
        return None;
    }
    let rest = rest.strip_prefix("iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("role/")?;
    let name_ok = !name.is_empty()
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b));
    (valid_account_id(account) && name_ok).then_some(account)
}

/// Checks an STS external id: 2–1224 characters of `[\w+=,.@:/-]`.
pub fn valid_external_id(id: &str) -> bool {
    (2..=1224).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@:/-".contains(&b))
}

/// A new external id: 20 random bytes as 40 lowercase hex digits (matches the customer stack's
/// `^[A-Za-z0-9+=,.@:/_-]{16,1224}$`).
pub fn generate_external_id() -> String {
    rand::random::<[u8; 20]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Store {
    /// The org's settings (all unset when none were recorded).
    pub async fn org_settings(&self, org_id: Uuid) -> Result<OrgSettings, StoreError> {
        Ok(self.org_settings_row(org_id).await?.to_settings())
    }

    async fn org_settings_row(&self, org_id: Uuid) -> Result<OrgSettingsRow, StoreError> {
        let sql = "SELECT ?fields FROM org_settings FINAL WHERE org_id = ? LIMIT 1";
        Ok(self
            .sql(Sql::new(sql, [org_id.into()]))
            .fetch_optional()
            .await?
            .unwrap_or_else(|| OrgSettingsRow::empty(org_id)))
    }

    async fn update_org_settings(
        &self,
        org_id: Uuid,
        change: impl FnOnce(&mut OrgSettingsRow),
    ) -> Result<OrgSettings, StoreError> {
        if self.org_by_id(org_id).await?.is_none() {
            return Err(StoreError::NotFound {
                what: format!("org {org_id}"),
            });
        }
        let mut row = self.org_settings_row(org_id).await?;
        change(&mut row);
        row.updated_ms = (row.updated_ms + 1).max(u64::try_from(now_ms()).unwrap_or(0));
        self.insert_rows("org_settings", std::slice::from_ref(&row))
            .await?;
        Ok(row.to_settings())
    }

    /// Records the read role the customer stack created (connects the org's AWS account). The
    /// role must live in the org's AWS account.
    pub async fn connect_aws(
        &self,
        org_id: Uuid,
        role_arn: &str,
        external_id: &str,
    ) -> Result<OrgSettings, StoreError> {
        let org = self
            .org_by_id(org_id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("org {org_id}"),
            })?;
        let account = role_arn_account(role_arn).ok_or_else(|| {
            StoreError::Invalid(format!(
                "role ARN {role_arn:?} must look like arn:aws:iam::123456789012:role/NAME"
            ))
        })?;
        if account != org.aws_account_id {
            return Err(StoreError::Invalid(format!(
                "role {role_arn} is in AWS account {account}, but org {} uses account {}",
                org.slug, org.aws_account_id
            )));
        }
        if !valid_external_id(external_id) {
            return Err(StoreError::Invalid(
                "external id must be 2-1224 characters of letters, digits and _+=,.@:/-".into(),
            ));
        }
        self.update_org_settings(org_id, |row| {
            row.role_arn = role_arn.to_owned();
            row.external_id = external_id.to_owned();
        })
        .await
    }

    /// The org's external id, generated (20 random bytes, hex) and stored on first use so the
    /// customer stack and the role check use the same one. An id already stored (generated
    /// earlier or recorded with [`Store::connect_aws`]) is kept.
    pub async fn ensure_external_id(&self, org_id: Uuid) -> Result<String, StoreError> {
        let row = self.org_settings_row(org_id).await?;
        if !row.external_id.is_empty() {
            return Ok(row.external_id);
        }
        let id = generate_external_id();
        self.update_org_settings(org_id, |row| row.external_id = id.clone())
            .await?;
        Ok(id)
    }

    /// Records the production-access request state. Granting keeps the first grant time.
    pub async fn set_production_access(
        &self,
        org_id: Uuid,
        status: ProductionAccessStatus,
        at_ms: i64,
    ) -> Result<OrgSettings, StoreError> {
        self.update_org_settings(org_id, |row| {
            let was_granted = row.production_access_status == "granted";
            row.production_access_status = status.as_str().to_owned();
            row.production_access_granted_ms = match status {
                ProductionAccessStatus::Granted if was_granted => row.production_access_granted_ms,
                ProductionAccessStatus::Granted => at_ms,
                _ => 0,
            };
        })
        .await
    }

    /// Records the customer stack: its name, the template version it runs, and its drift status.
    pub async fn set_cloudformation(
        &self,
        org_id: Uuid,
        stack_name: &str,
        template_version: u32,
        drift_status: &str,
    ) -> Result<OrgSettings, StoreError> {
        let stack_name = stack_name.trim();
        let stack_ok = !stack_name.is_empty()
            && stack_name.len() <= 128
            && stack_name.starts_with(|c: char| c.is_ascii_alphabetic())
            && stack_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !stack_ok {
            return Err(StoreError::Invalid(format!(
                "stack name {stack_name:?} must be 1-128 letters, digits and '-', starting with a letter"
            )));
        }
        if template_version == 0 {
            return Err(StoreError::Invalid(
                "template version must be at least 1".into(),
            ));
        }
        let drift = drift_status.trim().to_ascii_uppercase();
        if drift.is_empty() || !drift.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
            return Err(StoreError::Invalid(format!(
                "drift status {drift_status:?} must be a CloudFormation drift status such as IN_SYNC, DRIFTED or NOT_CHECKED"
            )));
        }
        self.update_org_settings(org_id, |row| {
            row.cf_stack_name = stack_name.to_owned();
            row.cf_template_version = template_version;
            row.cf_drift_status = drift;
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_are_checked() {
        assert_eq!(
            role_arn_account("arn:aws:iam::123456789012:role/SendOpsRead"),
            Some("123456789012")
        );
        assert_eq!(
            role_arn_account("arn:aws-us-gov:iam::123456789012:role/path/SendOps-Read"),
            Some("123456789012")
        );
        for bad in [
            "",
            "arn:aws:iam::12345678901:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:sts::123456789012:role/x",
            "arn:gcp:iam::123456789012:role/x",
            "arn:aws:iam::123456789012:role/a b",
        ] {
            assert_eq!(role_arn_account(bad), None, "{bad}");
        }
        assert!(valid_external_id("sendops-7f3a"));
        assert!(!valid_external_id("x"));
        assert!(!valid_external_id("has space"));
        let id = generate_external_id();
        assert_eq!(id.len(), 40);
        assert!(valid_external_id(&id) && id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(id, generate_external_id());
    }

    #[test]
    fn settings_view_follows_stored_state() {
        let mut row = OrgSettingsRow::empty(Uuid::nil());
        let s = row.to_settings();
        assert!(
            s.aws_role.is_none() && s.production_access.is_none() && s.cloudformation.is_none()
        );
        row.production_access_status = "granted".into();
        row.production_access_granted_ms = 1_453_906_778_237;
        row.cf_stack_name = "sendops".into();
        row.cf_template_version = CUSTOMER_STACK_LATEST_VERSION;
        row.cf_drift_status = "IN_SYNC".into();
        let s = row.to_settings();
        assert_eq!(
            s.production_access,
            Some(ProductionAccess {
                status: ProductionAccessStatus::Granted,
                granted_at: Some("2016-01-27T14:59:38Z".into())
            })
        );
        assert!(s.cloudformation.unwrap().up_to_date);
        row.production_access_status = "pending".into();
        assert_eq!(
            row.to_settings().production_access.unwrap().granted_at,
            None
        );
    }
}
