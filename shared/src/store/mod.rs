//! ClickHouse plumbing: the [`Store`] client and its write path for ingest, configuration, error
//! codes, the schema migrations and their runner, the ingest ledger, repair, test databases.

mod client;
pub mod config;
pub mod error;
pub mod housekeeping;
pub mod ledger;
pub mod metered;
pub mod migrate;
pub mod migration_lock;
pub mod migrations;
mod notice_confirmations;
pub mod repair;
pub mod retention;
pub mod shards;
pub mod sql;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;

pub use client::{INSERT_TIMEOUT, NoticeRow, QuarantineRow, RawRecord, Store, Table};
pub use notice_confirmations::{ConfirmationOutcome, ConfirmationRow};
