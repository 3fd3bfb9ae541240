//! What `sendops-ingest` did with each recorded SNS `SubscriptionConfirmation`
//! (`notice_confirmations`, migration 0013): confirmed, refused by the check of
//! [`crate::event::sns_confirm`], or failed. Written by ingest's `sns_confirm`, read by
//! `sendops-admin notices list`, pruned with the notices.

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::Store;
use crate::store::error::StoreError;

/// What became of one recorded SNS `SubscriptionConfirmation` (`notice_confirmations`, one row
/// per attempt): confirmed through the SNS API, refused by the check
/// ([`crate::event::sns_confirm`]), or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfirmationOutcome {
    Confirmed,
    Refused,
    Failed,
}

impl ConfirmationOutcome {
    /// The `Enum8` code of the column.
    pub fn code(self) -> i8 {
        match self {
            ConfirmationOutcome::Confirmed => 1,
            ConfirmationOutcome::Refused => 2,
            ConfirmationOutcome::Failed => 3,
        }
    }

    pub fn from_code(code: i8) -> Option<ConfirmationOutcome> {
        match code {
            1 => Some(ConfirmationOutcome::Confirmed),
            2 => Some(ConfirmationOutcome::Refused),
            3 => Some(ConfirmationOutcome::Failed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ConfirmationOutcome::Confirmed => "confirmed",
            ConfirmationOutcome::Refused => "refused",
            ConfirmationOutcome::Failed => "failed",
        }
    }
}

/// The `notice_confirmations` table row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Row)]
pub struct ConfirmationRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub notice_id: Uuid,
    pub attempted_ms: i64,
    pub topic_arn: String,
    /// [`ConfirmationOutcome::code`].
    pub outcome: i8,
    /// The refusal reason or the error; empty when confirmed.
    pub detail: String,
    /// What ConfirmSubscription returned; empty otherwise.
    pub subscription_arn: String,
}

impl ConfirmationRow {
    pub fn outcome(&self) -> Option<ConfirmationOutcome> {
        ConfirmationOutcome::from_code(self.outcome)
    }
}

impl Store {
    pub async fn insert_confirmations(&self, rows: &[ConfirmationRow]) -> Result<(), StoreError> {
        self.insert_rows("notice_confirmations", rows).await
    }

    /// The latest confirmation attempt of each of these notices (those never attempted have
    /// none).
    pub async fn latest_confirmations(
        &self,
        notice_ids: &[Uuid],
    ) -> Result<Vec<ConfirmationRow>, StoreError> {
        if notice_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Aliases differ from the column names: 18.16 would read `attempted_ms` in argMax as
        // the alias of max(attempted_ms) ("aggregate function inside another").
        let sql = "SELECT notice_id, t AS attempted_ms, a AS topic_arn, o AS outcome, d AS detail, \
             s AS subscription_arn FROM (SELECT notice_id, max(attempted_ms) AS t, \
             argMax(topic_arn, attempted_ms) AS a, argMax(outcome, attempted_ms) AS o, \
             argMax(detail, attempted_ms) AS d, argMax(subscription_arn, attempted_ms) AS s \
             FROM notice_confirmations WHERE notice_id IN (SELECT toUUID(arrayJoin(?))) \
             GROUP BY notice_id)";
        Ok(self
            .client()
            .query(sql)
            .bind(notice_ids)
            .fetch_all::<ConfirmationRow>()
            .await?)
    }
}
