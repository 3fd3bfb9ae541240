//! SendOps domain library, one module per layer. No HTTP and no Lambda in here.
//!
//! - [`event`]: what SES sends and how it becomes rows: envelopes, the SES event model, the fast
//!   first reading, content-derived event ids, the stored row type.
//! - [`store`]: ClickHouse plumbing: the client, configuration, error codes, the migrations and
//!   their runner, the ingest ledger, repair, per-test databases.
//! - [`read`]: the read models behind the API: message pages and timelines, reports.
//! - [`control`]: the control plane: orgs and their settings, API keys and scopes, the audit
//!   log, synced entities (channels, identities), templates, tracking domains.
//! - [`undeliverable`]: rules, classification and the undeliverable list.
//! - [`address`]: [`address::EmailAddress`], the one reading of an address someone typed (API
//!   routes, admin CLI), with each entry point's [`address::AddressRule`].
//! - [`ops`]: the log format and metrics-listener settings every binary reads at start.
//! - [`write`]: the write path every ingest entry point shares (decode, attribute, deduplicate,
//!   insert).
//!
//! Clients of outside systems (SES v2, DNS, git) are in the `sendops-outbound` crate, so ingest
//! links none of them.
//!
//! Counting and classification rules are in `docs/semantics.md`; the module map and data flow in
//! `docs/architecture.md`.

/// `add_fields!(a += b: x, y, …)`: adds each named counter of `b` to `a`'s.
macro_rules! add_fields {
    ($to:ident += $from:ident: $($field:ident),+ $(,)?) => {
        $( $to.$field += $from.$field; )+
    };
}
pub(crate) use add_fields;

/// Declares a closed set of values, each with its wire name: the enum (its attributes and
/// discriminants as written), `ALL` and `NAMES` (in declaration order) and `as_str`.
macro_rules! named_values {
    ($(#[$meta:meta])* pub enum $name:ident {
        $($(#[$vmeta:meta])* $variant:ident $(= $disc:literal)? => $wire:literal),+ $(,)?
    }) => {
        $(#[$meta])*
        pub enum $name {
            $($(#[$vmeta])* $variant $(= $disc)?),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; [$($wire),+].len()] = [$($name::$variant),+];
            /// The wire names, in declaration order.
            pub const NAMES: [&'static str; [$($wire),+].len()] = [$($wire),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }
    };
}
pub(crate) use named_values;

pub mod address;
pub mod control;
pub mod event;
pub mod ops;
pub mod read;
pub mod store;
pub mod timefmt;
pub mod undeliverable;
pub mod write;

pub use event::row::{EventRow, EventType};
pub use store::Store;
pub use store::error::{ErrorCode, StoreError};

/// Writes one line of a binary's result to stdout. A closed stdout (`sendops-admin … | head`) is
/// not worth a panic: the command's work is done either way, so a failed write is ignored.
pub fn print_line(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
}
