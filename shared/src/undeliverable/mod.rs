//! Undeliverable recipients (spec: Undeliverable; docs/semantics.md#undeliverable): the six classification rules and
//! an org's configuration of them, the classification of one address, operator exclusions, and
//! the store access behind `GET /v1/undeliverable` and the operator CLI. docs/undeliverable.md
//! is the long form of this note.
//!
//! # Classification (at a time `now`)
//! Addresses are compared lower-cased (ASCII). For each rule, its *qualifying events* are:
//! locked rules (permanent_bounce, complaint, rejected): their events that occurred in the plan's
//! retention window `[now - retention_days, …)`; configurable rules: their events in the trailing
//! `window_days` (clamped to the retention window). A rule matches when it is enabled and has at
//! least 1 (locked) or `events` (configurable) qualifying events. The row's `reason` is the
//! highest-priority *live* matching rule, and event_count, first/last_seen_at, subtype,
//! last_diagnostic and last_sender_identity describe that rule's qualifying events.
//!
//! # Exclusions
//! An exclusion clears the history it postdates: a matching rule is *cleared* when the address's
//! latest exclusion has `excluded_at > last_seen_at` of that rule, otherwise it is *live*. An
//! address with a live rule is `listed`; otherwise, if it has an exclusion, it is an `excluded`
//! tombstone. For the row that is shown this is exactly docs/semantics.md#undeliverable's "listed unless an
//! exclusion with excluded_at > last_seen_at exists". Clearing per rule (rather than judging the
//! row by its top-priority rule only) means a late-arriving event from before the exclusion can
//! never flip a re-listed address back to a tombstone (a change no poller could be told about),
//! and an address that fails again under another rule after being cleared is re-listed.
//!
//! # last_changed_at
//! - listed: the latest ingest time among the shown rule's qualifying events (each of them is a
//!   new event, so its arrival changed event_count — whether or not it moved last_seen_at; a
//!   duplicate is never stored, so it changes nothing), or the time of a rule change that altered
//!   the row, whichever is later. Events of other rules never change the shown fields: a
//!   higher-priority rule that starts to match becomes the reason (and then its events count).
//! - excluded: `excluded_at` of the latest exclusion, or a later rule change that turned the
//!   listed row into the tombstone.
//! - A rule change compares, for every address with configurable-rule events, the row under the
//!   old and the new rules; each address whose visible row differs gets a `rule_change` mark at
//!   the change time (so "the rule change that first listed it" is exact, and rows the change did
//!   not alter keep their time).
//!
//! What is not a change: time passing. Events leave the retention window or a trailing window
//! without anything being ingested, so a row's counts can shrink, its reason can fall back to a
//! lower rule, or it can disappear, without a new last_changed_at; rule changes can also unlist
//! addresses. v1 has no status for "no longer listed", so pollers refresh with a snapshot when
//! `X-SendOps-Rules-Version` changes and periodically (the spec's retention caveat).

mod store;

pub use store::RulesChange;

mod rules;
pub use rules::*;
mod history;
pub use history::*;
mod classify;
pub use classify::*;
mod list;
pub use list::*;

#[cfg(test)]
mod tests;
