//! SendOps domain library: the SES event model and parser, the stored row types, the ClickHouse
//! schema and its migrations, and store access. No HTTP and no Lambda in here.

pub mod api_key;
pub mod config;
pub mod dns;
pub mod engaged_index;
pub mod entities;
pub mod envelope;
pub mod error;
pub mod event_id;
mod fast_scan;
pub mod ledger;
pub mod messages;
pub mod migrate;
pub mod migration_lock;
pub mod migrations;
pub mod org;
pub mod org_settings;
pub mod repair;
pub mod reports;
pub mod row;
pub mod scopes;
#[cfg(feature = "ses")]
pub mod ses;
pub mod ses_event;
#[cfg(feature = "ses")]
pub mod ses_sync;
pub mod store;
pub mod templates;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timefmt;
pub mod tracking;
pub mod undeliverable;

pub use error::{ErrorCode, StoreError};
pub use row::{EventRow, EventType};
pub use store::Store;

/// Writes one line of a binary's result to stdout. A closed stdout (`sendops-admin … | head`) is
/// not worth a panic: the command's work is done either way, so a failed write is ignored.
pub fn print_line(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
}
