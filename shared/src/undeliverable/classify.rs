//! Operator exclusions and the classification of one address into a listed row or an excluded
//! tombstone (the module's top comment has the rules).

use super::*;
use serde::Serialize;

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
