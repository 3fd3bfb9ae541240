//! The six classification rules, their thresholds and profiles, an org's rule set and its
//! versioned view (`/v1/undeliverable/rules`).

use crate::timefmt::DAY_MS;
use serde::Serialize;
use std::fmt;

/// Audit actions written by the operator tools.
pub mod action {
    pub const EXCLUSION_ADDED: &str = "undeliverable.exclusion_added";
    pub const RULES_UPDATED: &str = "undeliverable.rules_updated";
}

crate::named_values! {
    /// A classification rule, in priority order (highest first).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Rule {
        PermanentBounce => "permanent_bounce",
        Complaint => "complaint",
        Rejected => "rejected",
        RepeatedTransient => "repeated_transient",
        Undetermined => "undetermined",
        SoftBounceAccumulation => "soft_bounce_accumulation",
    }
}

impl Rule {
    /// Every rule, highest priority first.
    pub const PRIORITY: [Rule; 6] = Rule::ALL;

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

crate::named_values! {
    /// What a row of `undeliverable_history` / `undeliverable_activity` records (the schema's
    /// `Enum8` values).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[repr(u8)]
    pub enum Kind {
        Permanent = 1 => "permanent",
        Transient = 2 => "transient",
        Undetermined = 3 => "undetermined",
        Complaint = 4 => "complaint",
        Reject = 5 => "reject",
        Delay = 6 => "delay",
        /// A rule change altered this address's row (activity and history).
        RuleChange = 7 => "rule_change",
        /// An operator excluded this address (activity only).
        Exclusion = 8 => "exclusion",
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

crate::named_values! {
    /// A named rule set (docs/semantics.md#undeliverable); `custom` once an org overrides single
    /// rules.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Profile {
        Standard => "standard",
        Strict => "strict",
        Custom => "custom",
    }
}

impl Profile {
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
