//! API key scopes (docs/semantics.md#scopes): the ten canonical `api.*` names and the short aliases the
//! endpoint pages use. Aliases are accepted wherever scopes are given; scopes are always stored
//! and shown under their canonical name.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One permission an API key can hold. The declaration order is the canonical order used for
/// lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    MessagesView,
    MessagesUnmaskRecipients,
    ReportsView,
    SuppressionsView,
    UndeliverableView,
    ChannelsView,
    TemplatesView,
    TrackingView,
    IdentitiesView,
    AccountView,
}

impl Scope {
    /// Every scope, in canonical order.
    pub const ALL: [Scope; 10] = [
        Scope::MessagesView,
        Scope::MessagesUnmaskRecipients,
        Scope::ReportsView,
        Scope::SuppressionsView,
        Scope::UndeliverableView,
        Scope::ChannelsView,
        Scope::TemplatesView,
        Scope::TrackingView,
        Scope::IdentitiesView,
        Scope::AccountView,
    ];

    /// The canonical `api.*` name (what is stored, serialized and listed by `/v1/_scopes`).
    pub fn canonical(self) -> &'static str {
        match self {
            Scope::MessagesView => "api.messages.view",
            Scope::MessagesUnmaskRecipients => "api.messages.unmask_recipients",
            Scope::ReportsView => "api.reports.view",
            Scope::SuppressionsView => "api.suppressions.view",
            Scope::UndeliverableView => "api.undeliverable.view",
            Scope::ChannelsView => "api.channels.view",
            Scope::TemplatesView => "api.templates.view",
            Scope::TrackingView => "api.tracking.view",
            Scope::IdentitiesView => "api.identities.view",
            Scope::AccountView => "api.account.view",
        }
    }

    /// The short names the endpoint pages use for this scope.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Scope::MessagesView => &["messages.view"],
            Scope::MessagesUnmaskRecipients => &["analytics.search.recipients"],
            Scope::ReportsView => &["reports.view"],
            Scope::SuppressionsView => &["suppressions.view"],
            Scope::UndeliverableView => &["undeliverable.view"],
            Scope::ChannelsView => &["channels.view"],
            Scope::TemplatesView => &["templates.view"],
            Scope::TrackingView => &["tracking.view"],
            Scope::IdentitiesView => &["identities.view"],
            Scope::AccountView => &["org.view"],
        }
    }

    /// A canonical name or an alias (exact, case-sensitive, no surrounding whitespace).
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL
            .into_iter()
            .find(|s| s.canonical() == name || s.aliases().contains(&name))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.canonical())
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.canonical())
    }
}

impl<'de> Deserialize<'de> for Scope {
    /// Accepts canonical names and aliases, like [`Scope::parse`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Scope::parse(&name).ok_or_else(|| serde::de::Error::custom(unknown_scope_message(&name)))
    }
}

/// The canonical names of `scopes`, in the given order.
pub fn canonical_names(scopes: &[Scope]) -> Vec<&'static str> {
    scopes.iter().map(|s| s.canonical()).collect()
}

/// `scopes` deduplicated, in canonical order.
pub fn normalize(scopes: &[Scope]) -> Vec<Scope> {
    let mut out = scopes.to_vec();
    out.sort_unstable();
    out.dedup();
    out
}

fn unknown_scope_message(name: &str) -> String {
    let valid: Vec<String> = Scope::ALL
        .iter()
        .map(|s| format!("{} (alias {})", s.canonical(), s.aliases().join(", ")))
        .collect();
    format!("unknown scope {name:?}; valid scopes: {}", valid.join(", "))
}

/// Parses a comma-separated scope list (`api.reports.view, messages.view`): items are trimmed,
/// empty items are skipped, aliases map to their canonical scope, duplicates collapse, and the
/// result is in canonical order. An unknown name or a list with no scope at all is an error whose
/// message says what is wrong.
pub fn parse_scope_list(csv: &str) -> Result<Vec<Scope>, String> {
    let mut scopes = Vec::new();
    for item in csv.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        scopes.push(Scope::parse(item).ok_or_else(|| unknown_scope_message(item))?);
    }
    if scopes.is_empty() {
        let valid: Vec<&str> = Scope::ALL.iter().map(|s| s.canonical()).collect();
        return Err(format!(
            "at least one scope is required; valid scopes: {}",
            valid.join(", ")
        ));
    }
    Ok(normalize(&scopes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_round_trip_and_are_api_namespaced() {
        for s in Scope::ALL {
            assert!(s.canonical().starts_with("api."), "{s}");
            assert_eq!(Scope::parse(s.canonical()), Some(s));
            for a in s.aliases() {
                assert_eq!(Scope::parse(a), Some(s), "{a}");
            }
        }
        let mut names: Vec<&str> = Scope::ALL
            .iter()
            .flat_map(|s| std::iter::once(s.canonical()).chain(s.aliases().iter().copied()))
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "names and aliases are unique");
        assert_eq!(n, 20);
    }

    #[test]
    fn aliases_map_to_canonical_scopes() {
        assert_eq!(
            Scope::parse("analytics.search.recipients"),
            Some(Scope::MessagesUnmaskRecipients)
        );
        assert_eq!(Scope::parse("org.view"), Some(Scope::AccountView));
        assert_eq!(Scope::parse("messages.view"), Some(Scope::MessagesView));
        assert_eq!(Scope::parse("API.MESSAGES.VIEW"), None);
        assert_eq!(Scope::parse(" api.messages.view"), None);
        assert_eq!(Scope::parse("api.org.view"), None);
        assert_eq!(Scope::parse(""), None);
    }

    #[test]
    fn parses_lists_trimmed_deduplicated_in_canonical_order() {
        assert_eq!(
            parse_scope_list(" org.view , api.messages.view,messages.view,reports.view,").unwrap(),
            vec![Scope::MessagesView, Scope::ReportsView, Scope::AccountView]
        );
    }

    #[test]
    fn list_errors_name_the_problem() {
        let e = parse_scope_list("api.messages.view,api.nope").unwrap_err();
        assert!(e.contains("\"api.nope\""), "{e}");
        assert!(e.contains("api.account.view"), "{e}");
        assert!(e.contains("org.view"), "{e}");
        let e = parse_scope_list(" , ").unwrap_err();
        assert!(e.contains("at least one scope"), "{e}");
        assert!(parse_scope_list("").is_err());
    }

    #[test]
    fn serializes_canonically_and_deserializes_aliases() {
        let json = serde_json::to_string(&[Scope::AccountView, Scope::MessagesView]).unwrap();
        assert_eq!(json, r#"["api.account.view","api.messages.view"]"#);
        let back: Vec<Scope> = serde_json::from_str(r#"["org.view","api.reports.view"]"#).unwrap();
        assert_eq!(back, vec![Scope::AccountView, Scope::ReportsView]);
        assert!(serde_json::from_str::<Scope>(r#""nope""#).is_err());
    }
}
