//! Undeliverable recipients (spec: Undeliverable; DECISIONS §7): the six classification rules and
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
//! tombstone. For the row that is shown this is exactly DECISIONS §7's "listed unless an
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

use std::fmt;

use serde::Serialize;

use crate::timefmt::DAY_MS;

pub use store::RulesChange;

/// Audit actions written by the operator tools.
pub mod action {
    pub const EXCLUSION_ADDED: &str = "undeliverable.exclusion_added";
    pub const RULES_UPDATED: &str = "undeliverable.rules_updated";
}

/// A classification rule, in priority order (highest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    PermanentBounce,
    Complaint,
    Rejected,
    RepeatedTransient,
    Undetermined,
    SoftBounceAccumulation,
}

impl Rule {
    /// Every rule, highest priority first.
    pub const PRIORITY: [Rule; 6] = [
        Rule::PermanentBounce,
        Rule::Complaint,
        Rule::Rejected,
        Rule::RepeatedTransient,
        Rule::Undetermined,
        Rule::SoftBounceAccumulation,
    ];

    /// The wire names, in priority order.
    pub const NAMES: [&'static str; 6] = [
        "permanent_bounce",
        "complaint",
        "rejected",
        "repeated_transient",
        "undetermined",
        "soft_bounce_accumulation",
    ];

    pub fn as_str(self) -> &'static str {
        Rule::NAMES[self.index()]
    }

    pub fn parse(name: &str) -> Option<Rule> {
        Rule::PRIORITY.into_iter().find(|r| r.as_str() == name)
    }

    /// Locked rules are always on and have no threshold.
    pub fn is_locked(self) -> bool {
        matches!(
            self,
            Rule::PermanentBounce | Rule::Complaint | Rule::Rejected
        )
    }

    /// Position in [`Rule::PRIORITY`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The history kinds whose events qualify for this rule.
    pub fn kinds(self) -> &'static [Kind] {
        match self {
            Rule::PermanentBounce => &[Kind::Permanent],
            Rule::Complaint => &[Kind::Complaint],
            Rule::Rejected => &[Kind::Reject],
            Rule::RepeatedTransient => &[Kind::Transient],
            Rule::Undetermined => &[Kind::Undetermined],
            Rule::SoftBounceAccumulation => &[Kind::Delay, Kind::Transient],
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a row of `undeliverable_history` / `undeliverable_activity` records (the schema's
/// `Enum8` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    Permanent = 1,
    Transient = 2,
    Undetermined = 3,
    Complaint = 4,
    Reject = 5,
    Delay = 6,
    /// A rule change altered this address's row (activity and history).
    RuleChange = 7,
    /// An operator excluded this address (activity only).
    Exclusion = 8,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Permanent,
        Kind::Transient,
        Kind::Undetermined,
        Kind::Complaint,
        Kind::Reject,
        Kind::Delay,
        Kind::RuleChange,
        Kind::Exclusion,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Permanent => "permanent",
            Kind::Transient => "transient",
            Kind::Undetermined => "undetermined",
            Kind::Complaint => "complaint",
            Kind::Reject => "reject",
            Kind::Delay => "delay",
            Kind::RuleChange => "rule_change",
            Kind::Exclusion => "exclusion",
        }
    }
}

/// N events in the trailing M days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Threshold {
    pub enabled: bool,
    pub events: u32,
    pub window_days: u32,
}

/// Most events a threshold may ask for.
pub const MAX_EVENTS: u32 = 10_000;
/// Longest trailing window, in days (the longest retention).
pub const MAX_WINDOW_DAYS: u32 = 365;

impl Threshold {
    pub fn validate(&self, rule: Rule) -> Result<(), String> {
        if !(1..=MAX_EVENTS).contains(&self.events) {
            return Err(format!(
                "{rule}: events must be from 1 to {MAX_EVENTS} (got {})",
                self.events
            ));
        }
        if !(1..=MAX_WINDOW_DAYS).contains(&self.window_days) {
            return Err(format!(
                "{rule}: window_days must be from 1 to {MAX_WINDOW_DAYS} (got {})",
                self.window_days
            ));
        }
        Ok(())
    }
}

/// A named rule set (DECISIONS §7); `custom` once an org overrides single rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Standard,
    Strict,
    Custom,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Standard => "standard",
            Profile::Strict => "strict",
            Profile::Custom => "custom",
        }
    }

    /// `standard` or `strict` (the profiles an operator can choose).
    pub fn parse(name: &str) -> Option<Profile> {
        match name {
            "standard" => Some(Profile::Standard),
            "strict" => Some(Profile::Strict),
            _ => None,
        }
    }
}

/// The configuration of the three configurable rules (the locked ones have none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSet {
    pub repeated_transient: Threshold,
    pub undetermined: Threshold,
    pub soft_bounce_accumulation: Threshold,
}

impl RuleSet {
    /// `strict`: repeated_transient 3/7, undetermined 2/14, soft_bounce_accumulation 5/30.
    pub const STRICT: RuleSet = RuleSet {
        repeated_transient: Threshold {
            enabled: true,
            events: 3,
            window_days: 7,
        },
        undetermined: Threshold {
            enabled: true,
            events: 2,
            window_days: 14,
        },
        soft_bounce_accumulation: Threshold {
            enabled: true,
            events: 5,
            window_days: 30,
        },
    };

    /// `standard` (every org's default): the configurable rules are off. Their thresholds are
    /// strict's, so enabling one rule alone starts from a sensible value.
    pub const STANDARD: RuleSet = RuleSet {
        repeated_transient: Threshold {
            enabled: false,
            ..RuleSet::STRICT.repeated_transient
        },
        undetermined: Threshold {
            enabled: false,
            ..RuleSet::STRICT.undetermined
        },
        soft_bounce_accumulation: Threshold {
            enabled: false,
            ..RuleSet::STRICT.soft_bounce_accumulation
        },
    };

    pub fn of_profile(profile: Profile) -> Option<RuleSet> {
        match profile {
            Profile::Standard => Some(RuleSet::STANDARD),
            Profile::Strict => Some(RuleSet::STRICT),
            Profile::Custom => None,
        }
    }

    /// `standard` or `strict` when the set equals that profile, else `custom`.
    pub fn profile(&self) -> Profile {
        if *self == RuleSet::STANDARD {
            Profile::Standard
        } else if *self == RuleSet::STRICT {
            Profile::Strict
        } else {
            Profile::Custom
        }
    }

    /// The threshold of a configurable rule (`None` for a locked one).
    pub fn threshold(&self, rule: Rule) -> Option<&Threshold> {
        match rule {
            Rule::RepeatedTransient => Some(&self.repeated_transient),
            Rule::Undetermined => Some(&self.undetermined),
            Rule::SoftBounceAccumulation => Some(&self.soft_bounce_accumulation),
            _ => None,
        }
    }

    pub fn threshold_mut(&mut self, rule: Rule) -> Option<&mut Threshold> {
        match rule {
            Rule::RepeatedTransient => Some(&mut self.repeated_transient),
            Rule::Undetermined => Some(&mut self.undetermined),
            Rule::SoftBounceAccumulation => Some(&mut self.soft_bounce_accumulation),
            _ => None,
        }
    }

    /// This set with one configurable rule overridden (the profile becomes `custom` unless the
    /// result equals a profile). A locked rule refuses.
    pub fn with_rule(
        mut self,
        rule: Rule,
        enabled: Option<bool>,
        events: Option<u32>,
        window_days: Option<u32>,
    ) -> Result<RuleSet, String> {
        let Some(t) = self.threshold_mut(rule) else {
            return Err(format!(
                "rule {rule} is locked: it is always on and has no events or window to change"
            ));
        };
        if let Some(e) = enabled {
            t.enabled = e;
        }
        if let Some(n) = events {
            t.events = n;
        }
        if let Some(d) = window_days {
            t.window_days = d;
        }
        self.validate()?;
        Ok(self)
    }

    pub fn is_enabled(&self, rule: Rule) -> bool {
        self.threshold(rule).is_none_or(|t| t.enabled)
    }

    /// Qualifying events a rule needs to match: 1 for a locked rule.
    pub fn min_events(&self, rule: Rule) -> u64 {
        self.threshold(rule).map_or(1, |t| u64::from(t.events))
    }

    pub fn validate(&self) -> Result<(), String> {
        for rule in Rule::PRIORITY {
            if let Some(t) = self.threshold(rule) {
                t.validate(rule)?;
            }
        }
        Ok(())
    }

    /// Start (epoch ms, inclusive) of each rule's window at `now`, in priority order: the
    /// retention window for locked rules, the trailing window clamped to it for the others.
    pub fn window_starts(&self, retention_days: u32, now_ms: i64) -> [i64; 6] {
        let retention_start = now_ms - i64::from(retention_days) * DAY_MS;
        Rule::PRIORITY.map(|rule| match self.threshold(rule) {
            None => retention_start,
            Some(t) => retention_start.max(now_ms - i64::from(t.window_days) * DAY_MS),
        })
    }
}

impl Default for RuleSet {
    fn default() -> Self {
        RuleSet::STANDARD
    }
}

/// An org's active rules and their version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub set: RuleSet,
    /// 0 until the org's rules are first changed; +1 on every change.
    pub version: u64,
    /// When they were last changed (the org's creation time while never changed).
    pub updated_ms: i64,
    /// Who changed them last (`system` while never changed).
    pub updated_by: String,
}

impl Rules {
    /// The value of `version` and of the `X-SendOps-Rules-Version` header.
    pub fn version_tag(&self) -> String {
        self.version.to_string()
    }

    /// The JSON operators and the API show.
    pub fn view(&self) -> RulesView {
        let rules = Rule::PRIORITY
            .map(|rule| {
                let (enabled, events, window_days) = match self.set.threshold(rule) {
                    None => (true, 0, 0),
                    Some(t) => (t.enabled, t.events, t.window_days),
                };
                (
                    rule.as_str(),
                    RuleView {
                        enabled,
                        locked: rule.is_locked(),
                        events,
                        window_days,
                    },
                )
            })
            .into_iter()
            .collect();
        RulesView {
            profile: self.set.profile(),
            rules,
            version: self.version_tag(),
            updated_at: crate::timefmt::format_ms(self.updated_ms),
            updated_by: self.updated_by.clone(),
        }
    }
}

/// One rule as shown: locked rules are enabled with events = window_days = 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleView {
    pub enabled: bool,
    pub locked: bool,
    pub events: u32,
    pub window_days: u32,
}

/// The rule set as `GET /v1/undeliverable/rules` and `sendops-admin rules show` print it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesView {
    pub profile: Profile,
    /// Keyed by rule name, in priority order.
    pub rules: Vec<(&'static str, RuleView)>,
    pub version: String,
    pub updated_at: String,
    pub updated_by: String,
}

impl RulesView {
    /// As JSON, with `rules` as an object keyed by rule name.
    pub fn to_json(&self) -> serde_json::Value {
        let mut rules = serde_json::Map::new();
        for (name, view) in &self.rules {
            rules.insert(
                (*name).to_owned(),
                serde_json::to_value(view).unwrap_or_default(),
            );
        }
        serde_json::json!({
            "profile": self.profile,
            "rules": rules,
            "version": self.version,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        })
    }
}

/// What a rule's qualifying events say about an address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stats {
    pub events: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    /// Latest ingest time among the events.
    pub ingested_ms: i64,
    /// Sub-type (bounce sub-type or complaint feedback type) of the latest event that has one.
    pub subtype: String,
    /// Diagnostic code of the latest event that has one.
    pub diagnostic: String,
    /// Sending address of the latest event.
    pub sender: String,
}

/// One address's failure history inside the rule windows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct History {
    /// Lower-cased address.
    pub email: String,
    /// Per rule, in priority order: its qualifying events (None when it has none).
    pub rules: [Option<Stats>; 6],
    /// Latest rule change that altered this address's row (0 when none).
    pub marked_ms: i64,
}

/// One row of an address's stored history: a qualifying-type event or a rule-change mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub occurred_ms: i64,
    pub ingested_ms: i64,
    pub subtype: String,
    pub diagnostic: String,
    pub sender: String,
    /// The SES event's id (`events.event_id`); empty in rows written before migration 0010.
    pub event_id: String,
}

impl Event {
    /// Reads the `payload` column: occurred_ms, ingested_ms, kind code, sub-type, diagnostic,
    /// sender and (since migration 0010) the event id, tab-separated.
    pub fn from_payload(payload: &str) -> Option<Event> {
        let mut f = payload.splitn(7, '\t');
        let occurred_ms = f.next()?.parse().ok()?;
        let ingested_ms = f.next()?.parse().ok()?;
        let code: u8 = f.next()?.parse().ok()?;
        let kind = Kind::ALL.into_iter().find(|k| *k as u8 == code)?;
        Some(Event {
            kind,
            occurred_ms,
            ingested_ms,
            subtype: f.next()?.to_owned(),
            diagnostic: f.next()?.to_owned(),
            sender: f.next()?.to_owned(),
            event_id: f.next().unwrap_or("").to_owned(),
        })
    }

    /// What two copies of one event share besides the id (the ingest time differs).
    fn content(&self) -> (u8, i64, &str, &str, &str) {
        (
            self.kind as u8,
            self.occurred_ms,
            &self.subtype,
            &self.diagnostic,
            &self.sender,
        )
    }

    /// The `payload` column of a rule-change mark at `at_ms`.
    pub fn mark_payload(at_ms: i64) -> String {
        format!("{at_ms}\t{at_ms}\t{}\t\t\t", Kind::RuleChange as u8)
    }
}

/// Each SES event once. A retried or racing INSERT stores a second copy of an event's row (same
/// id, later ingest time); a row without an id (written before migration 0010, or by the view it
/// replaced while both ran) is a copy of a row with an id and the same content when there is one.
/// Rows with the same content and no ids at all are distinct events (the old ingest path stored
/// each event once). A kept event carries the latest ingest time of its copies with an id (an
/// id-less copy was written by the same INSERT, or by the old path before).
fn distinct_events(events: &[Event]) -> Vec<Event> {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by(|a, b| {
        (a.content(), &a.event_id, a.ingested_ms).cmp(&(b.content(), &b.event_id, b.ingested_ms))
    });
    let mut out: Vec<Event> = Vec::with_capacity(sorted.len());
    for same in sorted.chunk_by(|a, b| a.content() == b.content()) {
        if same[0].kind == Kind::RuleChange || same.iter().all(|e| e.event_id.is_empty()) {
            out.extend(same.iter().map(|e| (*e).clone()));
            continue;
        }
        for copies in same
            .iter()
            .filter(|e| !e.event_id.is_empty())
            .collect::<Vec<_>>()
            .chunk_by(|a, b| a.event_id == b.event_id)
        {
            // Sorted by ingest time within an id: the last copy carries the latest.
            out.push((*copies[copies.len() - 1]).clone());
        }
    }
    out
}

/// The value of the latest event (by event time; equal times take the greatest value, so the
/// answer never depends on storage order) among those where `value` is not empty.
fn latest<'a>(events: &[&'a Event], value: fn(&Event) -> &str) -> &'a str {
    events
        .iter()
        .filter(|e| !value(e).is_empty())
        .max_by(|a, b| (a.occurred_ms, value(a)).cmp(&(b.occurred_ms, value(b))))
        .map_or("", |e| value(e))
}

impl History {
    /// Each rule's qualifying events among `events` (those of its kinds at or after its window
    /// start, see [`RuleSet::window_starts`]) and the latest rule-change mark.
    pub fn from_events(email: String, events: &[Event], starts: &[i64; 6]) -> History {
        let events = distinct_events(events);
        let events = events.as_slice();
        let mut h = History {
            email,
            ..History::default()
        };
        h.marked_ms = events
            .iter()
            .filter(|e| e.kind == Kind::RuleChange)
            .map(|e| e.ingested_ms)
            .max()
            .unwrap_or(0);
        for rule in Rule::PRIORITY {
            let q: Vec<&Event> = events
                .iter()
                .filter(|e| rule.kinds().contains(&e.kind) && e.occurred_ms >= starts[rule.index()])
                .collect();
            if q.is_empty() {
                continue;
            }
            h.rules[rule.index()] = Some(Stats {
                events: q.len() as u64,
                first_ms: q.iter().map(|e| e.occurred_ms).min().unwrap_or_default(),
                last_ms: q.iter().map(|e| e.occurred_ms).max().unwrap_or_default(),
                ingested_ms: q.iter().map(|e| e.ingested_ms).max().unwrap_or_default(),
                subtype: latest(&q, |e| &e.subtype).to_owned(),
                diagnostic: latest(&q, |e| &e.diagnostic).to_owned(),
                sender: latest(&q, |e| &e.sender).to_owned(),
            });
        }
        h
    }
}

/// An operator exclusion: kept forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exclusion {
    pub id: uuid::Uuid,
    /// Lower-cased address.
    pub email: String,
    #[serde(skip)]
    pub excluded_ms: i64,
    pub excluded_by: String,
    pub reason: String,
}

impl Exclusion {
    /// The JSON operators see.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "email": self.email,
            "excluded_at": crate::timefmt::format_ms(self.excluded_ms),
            "excluded_by": self.excluded_by,
            "reason": self.reason,
        })
    }
}

/// What an address's row shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Listed { reason: Rule, stats: Stats },
    Excluded(Exclusion),
}

/// One row of the undeliverable list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub email: String,
    pub last_changed_ms: i64,
    pub state: State,
}

impl Entry {
    pub fn is_listed(&self) -> bool {
        matches!(self.state, State::Listed { .. })
    }

    pub fn reason(&self) -> Option<Rule> {
        match &self.state {
            State::Listed { reason, .. } => Some(*reason),
            State::Excluded(_) => None,
        }
    }

    pub fn event_count(&self) -> u64 {
        match &self.state {
            State::Listed { stats, .. } => stats.events,
            State::Excluded(_) => 0,
        }
    }
}

/// The row an address shows under `rules` (None when it is neither listed nor excluded).
/// `history` must hold each rule's events inside that rule's window (see
/// [`RuleSet::window_starts`]); `exclusion` is the address's latest exclusion.
pub fn classify(
    history: &History,
    exclusion: Option<&Exclusion>,
    rules: &RuleSet,
) -> Option<Entry> {
    for rule in Rule::PRIORITY {
        let Some(stats) = &history.rules[rule.index()] else {
            continue;
        };
        if !rules.is_enabled(rule) || stats.events < rules.min_events(rule) {
            continue;
        }
        if exclusion.is_some_and(|x| x.excluded_ms > stats.last_ms) {
            continue; // cleared by the exclusion
        }
        return Some(Entry {
            email: history.email.clone(),
            last_changed_ms: stats.ingested_ms.max(history.marked_ms),
            state: State::Listed {
                reason: rule,
                stats: stats.clone(),
            },
        });
    }
    exclusion.map(|x| Entry {
        email: history.email.clone(),
        last_changed_ms: x.excluded_ms.max(history.marked_ms),
        state: State::Excluded(x.clone()),
    })
}

/// Which rows a list asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Listed,
    Excluded,
    All,
}

/// A keyset position: rows strictly after it in (last_changed_at desc, email asc) order, where
/// last_changed_at is compared at whole seconds, as it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// A whole second (epoch ms).
    pub last_changed_ms: i64,
    pub email: String,
}

/// `ms` truncated to its whole second: the order and the cursors use last_changed_at as shown.
pub fn whole_second(ms: i64) -> i64 {
    ms.div_euclid(1000) * 1000
}

impl Entry {
    /// The sort key: (last_changed_at at whole seconds, email); lists are descending on the
    /// first and ascending on the second.
    pub fn order(a: &Entry, b: &Entry) -> std::cmp::Ordering {
        whole_second(b.last_changed_ms)
            .cmp(&whole_second(a.last_changed_ms))
            .then_with(|| a.email.cmp(&b.email))
    }
}

/// One page request of the undeliverable list.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Classification time.
    pub now_ms: i64,
    pub retention_days: u32,
    /// Only rows with last_changed_at at or after this (epoch ms).
    pub since_ms: Option<i64>,
    /// Only rows with last_changed_at at or before this (epoch ms).
    pub until_ms: Option<i64>,
    pub status: StatusFilter,
    /// Listed rows with this reason (tombstones are not affected).
    pub reason: Option<Rule>,
    /// Lower-cased substring of the address.
    pub email: Option<String>,
    /// Listed rows with at least this many events; tombstones only when it is 1.
    pub min_events: u64,
    pub after: Option<Position>,
    pub limit: usize,
}

impl ListQuery {
    /// Whether `entry` passes the filters (not the time bounds or the cursor).
    pub fn accepts(&self, entry: &Entry) -> bool {
        if let Some(needle) = &self.email
            && !entry.email.contains(needle.as_str())
        {
            return false;
        }
        match &entry.state {
            State::Listed { reason, stats } => {
                self.status != StatusFilter::Excluded
                    && self.reason.is_none_or(|r| r == *reason)
                    && stats.events >= self.min_events
            }
            State::Excluded(_) => self.status != StatusFilter::Listed && self.min_events <= 1,
        }
    }

    /// Whether `entry` comes after the cursor position.
    pub fn after_cursor(&self, entry: &Entry) -> bool {
        match &self.after {
            None => true,
            Some(p) => {
                let t = whole_second(entry.last_changed_ms);
                t < p.last_changed_ms || (t == p.last_changed_ms && entry.email > p.email)
            }
        }
    }
}

/// Normalises an address an operator typed: trimmed, ASCII-lower-cased, `local@domain`.
pub fn normalize_email(email: &str) -> Result<String, String> {
    let e = email.trim().to_ascii_lowercase();
    let ok = e.len() <= 320
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(e)
    } else {
        Err(format!(
            "{email:?} is not an email address (local@domain, at most 320 characters)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(events: u64, last_ms: i64, ingested_ms: i64) -> Stats {
        Stats {
            events,
            first_ms: last_ms - 10,
            last_ms,
            ingested_ms,
            ..Stats::default()
        }
    }

    fn history(rules: [Option<Stats>; 6]) -> History {
        History {
            email: "a@x.example".into(),
            rules,
            marked_ms: 0,
        }
    }

    fn exclusion(at: i64) -> Exclusion {
        Exclusion {
            id: uuid::Uuid::nil(),
            email: "a@x.example".into(),
            excluded_ms: at,
            excluded_by: "ops".into(),
            reason: "ok".into(),
        }
    }

    #[test]
    fn highest_priority_enabled_matching_rule_wins() {
        let h = history([
            None,
            Some(stats(1, 100, 500)),
            Some(stats(1, 200, 600)),
            Some(stats(3, 300, 700)),
            None,
            Some(stats(9, 300, 800)),
        ]);
        let e = classify(&h, None, &RuleSet::STRICT).unwrap();
        assert_eq!(e.reason(), Some(Rule::Complaint));
        assert_eq!(e.last_changed_ms, 500, "the shown rule's latest ingest");
        // Configurable rules below their threshold or disabled never match.
        let only_soft = history([
            None,
            None,
            None,
            Some(stats(2, 1, 2)),
            None,
            Some(stats(5, 1, 3)),
        ]);
        assert_eq!(
            classify(&only_soft, None, &RuleSet::STRICT)
                .unwrap()
                .reason(),
            Some(Rule::SoftBounceAccumulation)
        );
        assert_eq!(classify(&only_soft, None, &RuleSet::STANDARD), None);
    }

    #[test]
    fn exclusions_clear_rules_they_postdate() {
        let h = history([
            Some(stats(1, 100, 150)),
            None,
            None,
            Some(stats(3, 400, 450)),
            None,
            None,
        ]);
        // Excluded after everything: tombstone at excluded_at.
        let e = classify(&h, Some(&exclusion(500)), &RuleSet::STRICT).unwrap();
        assert!(matches!(e.state, State::Excluded(_)));
        assert_eq!(e.last_changed_ms, 500);
        // Excluded between: the permanent bounce is cleared, the transient rule is live again.
        let e = classify(&h, Some(&exclusion(300)), &RuleSet::STRICT).unwrap();
        assert_eq!(e.reason(), Some(Rule::RepeatedTransient));
        assert_eq!(e.last_changed_ms, 450);
        // Under standard rules nothing is live: tombstone.
        let e = classify(&h, Some(&exclusion(300)), &RuleSet::STANDARD).unwrap();
        assert!(!e.is_listed());
        // An exclusion at last_seen_at exactly does not clear (excluded_at must be greater).
        let e = classify(&h, Some(&exclusion(100)), &RuleSet::STANDARD).unwrap();
        assert_eq!(e.reason(), Some(Rule::PermanentBounce));
        // Exclusion of an address without history: tombstone.
        let e = classify(
            &history(Default::default()),
            Some(&exclusion(7)),
            &RuleSet::STANDARD,
        );
        assert_eq!(e.unwrap().last_changed_ms, 7);
        assert_eq!(
            classify(&history(Default::default()), None, &RuleSet::STRICT),
            None
        );
    }

    #[test]
    fn rule_change_marks_raise_last_changed_at() {
        let mut h = history([Some(stats(1, 100, 150)), None, None, None, None, None]);
        h.marked_ms = 900;
        assert_eq!(
            classify(&h, None, &RuleSet::STANDARD)
                .unwrap()
                .last_changed_ms,
            900
        );
        assert_eq!(
            classify(&h, Some(&exclusion(800)), &RuleSet::STANDARD)
                .unwrap()
                .last_changed_ms,
            900
        );
        h.marked_ms = 10;
        assert_eq!(
            classify(&h, None, &RuleSet::STANDARD)
                .unwrap()
                .last_changed_ms,
            150
        );
    }

    #[test]
    fn profiles_and_windows() {
        assert_eq!(RuleSet::STANDARD.profile(), Profile::Standard);
        assert_eq!(RuleSet::STRICT.profile(), Profile::Strict);
        let mut custom = RuleSet::STANDARD;
        custom.undetermined.enabled = true;
        assert_eq!(custom.profile(), Profile::Custom);
        let now = 1_000 * DAY_MS;
        let starts = RuleSet::STRICT.window_starts(30, now);
        assert_eq!(starts[Rule::PermanentBounce.index()], now - 30 * DAY_MS);
        assert_eq!(starts[Rule::RepeatedTransient.index()], now - 7 * DAY_MS);
        assert_eq!(starts[Rule::Undetermined.index()], now - 14 * DAY_MS);
        assert_eq!(
            starts[Rule::SoftBounceAccumulation.index()],
            now - 30 * DAY_MS
        );
        let mut wide = RuleSet::STRICT;
        wide.undetermined.window_days = 200;
        assert_eq!(
            wide.window_starts(90, now)[Rule::Undetermined.index()],
            now - 90 * DAY_MS,
            "clamped to retention"
        );
        let custom = RuleSet::STANDARD
            .with_rule(Rule::Undetermined, Some(true), Some(4), None)
            .unwrap();
        assert_eq!(
            custom.undetermined,
            Threshold {
                enabled: true,
                events: 4,
                window_days: 14
            }
        );
        assert_eq!(custom.profile(), Profile::Custom);
        for locked in [Rule::PermanentBounce, Rule::Complaint, Rule::Rejected] {
            let err = RuleSet::STRICT
                .with_rule(locked, Some(false), None, None)
                .unwrap_err();
            assert!(err.contains("locked"), "{err}");
        }
        assert!(
            RuleSet::STRICT
                .with_rule(Rule::Undetermined, None, Some(0), None)
                .is_err()
        );
        let mut bad = RuleSet::STRICT;
        bad.repeated_transient.events = 0;
        assert!(bad.validate().is_err());
        bad.repeated_transient.events = 1;
        bad.repeated_transient.window_days = 366;
        assert!(bad.validate().is_err());
    }

    #[test]
    fn filters_and_cursor() {
        let listed = Entry {
            email: "bob@x.example".into(),
            last_changed_ms: 10,
            state: State::Listed {
                reason: Rule::Complaint,
                stats: stats(2, 1, 1),
            },
        };
        let tomb = Entry {
            email: "eve@x.example".into(),
            last_changed_ms: 10,
            state: State::Excluded(exclusion(10)),
        };
        let mut q = ListQuery {
            now_ms: 0,
            retention_days: 30,
            since_ms: None,
            until_ms: None,
            status: StatusFilter::All,
            reason: Some(Rule::PermanentBounce),
            email: None,
            min_events: 1,
            after: None,
            limit: 10,
        };
        assert!(!q.accepts(&listed));
        assert!(q.accepts(&tomb), "reason does not filter tombstones");
        q.reason = None;
        q.min_events = 2;
        assert!(q.accepts(&listed));
        assert!(!q.accepts(&tomb), "min_events > 1 drops tombstones");
        q.min_events = 3;
        assert!(!q.accepts(&listed));
        q.min_events = 1;
        q.email = Some("eve".into());
        assert!(!q.accepts(&listed) && q.accepts(&tomb));
        q.after = Some(Position {
            last_changed_ms: 0,
            email: "bob@x.example".into(),
        });
        assert!(!q.after_cursor(&listed) && q.after_cursor(&tomb));
        // Within a second, email decides, whatever the milliseconds.
        let later_ms = Entry {
            last_changed_ms: 999,
            ..tomb.clone()
        };
        assert!(q.after_cursor(&later_ms));
        assert_eq!(Entry::order(&listed, &later_ms), std::cmp::Ordering::Less);
        q.after = Some(Position {
            last_changed_ms: 1000,
            email: "zed@x.example".into(),
        });
        assert!(q.after_cursor(&listed), "an earlier second comes after");
    }

    fn ev(kind: Kind, occurred_ms: i64, ingested_ms: i64, sub: &str, sender: &str) -> Event {
        Event {
            kind,
            occurred_ms,
            ingested_ms,
            subtype: sub.into(),
            diagnostic: String::new(),
            sender: sender.into(),
            event_id: String::new(),
        }
    }

    fn with_id(mut e: Event, id: &str) -> Event {
        e.event_id = id.into();
        e
    }

    #[test]
    fn copies_of_one_event_count_once_with_their_latest_ingest_time() {
        let b = |ingested| ev(Kind::Transient, 1_000, ingested, "General", "a@x.example");
        let starts = [0; 6];
        let count = |events: &[Event]| {
            let h = History::from_events("r@y.example".into(), events, &starts);
            let s = h.rules[Rule::RepeatedTransient.index()].clone().unwrap();
            (s.events, s.ingested_ms)
        };
        // Two copies of one event (a retried INSERT): once, with the later ingest time.
        assert_eq!(count(&[with_id(b(5), "e1"), with_id(b(9), "e1")]), (1, 9));
        // Two events with the same content but different ids: twice.
        assert_eq!(count(&[with_id(b(5), "e1"), with_id(b(9), "e2")]), (2, 9));
        // A row without an id beside a row with one and the same content (old and new view
        // during migration 0010): once.
        assert_eq!(count(&[b(5), with_id(b(5), "e1")]), (1, 5));
        // Rows without ids (the old path stored each event once): each counts.
        assert_eq!(count(&[b(5), b(5)]), (2, 5));
    }

    #[test]
    fn histories_follow_windows_kinds_and_marks() {
        let events = vec![
            ev(Kind::Transient, 100, 900, "General", "a@s"),
            ev(Kind::Transient, 300, 200, "", "c@s"),
            ev(Kind::Transient, 300, 250, "MailboxFull", "b@s"),
            ev(Kind::Delay, 50, 60, "", "d@s"),
            ev(Kind::Permanent, 10, 20, "NoEmail", "e@s"),
            ev(Kind::RuleChange, 400, 400, "", ""),
            ev(Kind::RuleChange, 350, 350, "", ""),
        ];
        let starts = [0, 0, 0, 100, 0, 60];
        let h = History::from_events("x@y".into(), &events, &starts);
        assert_eq!(h.marked_ms, 400);
        let rt = h.rules[Rule::RepeatedTransient.index()].as_ref().unwrap();
        assert_eq!(
            (rt.events, rt.first_ms, rt.last_ms, rt.ingested_ms),
            (3, 100, 300, 900)
        );
        assert_eq!(
            rt.subtype, "MailboxFull",
            "latest with a value, ties by value"
        );
        assert_eq!(rt.sender, "c@s", "latest, ties by value");
        let soft = h.rules[Rule::SoftBounceAccumulation.index()]
            .as_ref()
            .unwrap();
        assert_eq!(
            soft.events, 3,
            "the delay at 50 is before the window start 60"
        );
        assert!(h.rules[Rule::Undetermined.index()].is_none());
        assert_eq!(
            h.rules[Rule::PermanentBounce.index()]
                .as_ref()
                .unwrap()
                .subtype,
            "NoEmail"
        );
        let late = History::from_events("x@y".into(), &events, &[11, 0, 0, 0, 0, 0]);
        assert!(late.rules[0].is_none(), "outside the retention window");
    }

    #[test]
    fn payloads_round_trip() {
        let e = Event::from_payload("1700000000123\t1700000000456\t4\tabuse\t\tops@acme.example")
            .unwrap();
        assert_eq!(
            e,
            Event {
                kind: Kind::Complaint,
                occurred_ms: 1_700_000_000_123,
                ingested_ms: 1_700_000_000_456,
                subtype: "abuse".into(),
                diagnostic: String::new(),
                sender: "ops@acme.example".into(),
                event_id: String::new(),
            }
        );
        let with = Event::from_payload("1\t2\t4\tabuse\t\tops@acme.example\t6a1c-id").unwrap();
        assert_eq!(
            (with.sender.as_str(), with.event_id.as_str()),
            ("ops@acme.example", "6a1c-id")
        );
        let m = Event::from_payload(&Event::mark_payload(42)).unwrap();
        assert_eq!(
            (m.kind, m.occurred_ms, m.ingested_ms),
            (Kind::RuleChange, 42, 42)
        );
        assert!(Event::from_payload("1\t2\t9\t\t\t").is_none());
        assert!(Event::from_payload("x").is_none());
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(normalize_email(" Bob@X.Example ").unwrap(), "bob@x.example");
        assert!(normalize_email("nobody").is_err());
        assert!(normalize_email("@x").is_err());
        assert!(normalize_email("a b@x").is_err());
    }
}
