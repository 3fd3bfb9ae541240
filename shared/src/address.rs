//! [`EmailAddress`]: a recipient address someone typed (an API path segment, an admin CLI flag),
//! read once by [`EmailAddress::parse`], the one validation every entry point uses.
//!
//! The entry points do not all accept the same set, and each keeps the one it has always had
//! (their answers and error texts are part of the API and the CLI): the differences are the
//! [`AddressRule`] each passes.
//!
//! | Entry point | Rule |
//! |---|---|
//! | `GET /v1/recipients/{email}/messages` | [`AddressRule::AsTyped`] (exact, case-sensitive match) |
//! | `GET /v1/suppressions/{email}` | [`AddressRule::AsTypedNoWhitespace`] (matched case-insensitively by the view) |
//! | `sendops-admin exclusions add --email`, [`crate::Store::add_exclusion`] | [`AddressRule::Normalised`] (trimmed, ASCII-lower-cased) |
//! | `sendops-admin erase --email` | [`AddressRule::Loose`] (`Store::erase_address` trims and lower-cases it) |
//!
//! Not addresses, so not read as one: the `recipient` filter of `GET /v1/messages` (any
//! non-empty text, matched exactly), the `email` filters of `GET /v1/undeliverable` and
//! `GET /v1/suppressions` (case-insensitive substrings) and `GET /v1/identities/{identity}` (an
//! address or a domain).

use std::fmt;

/// Longest address accepted: 64 + 1 + 255 (RFC 3696 with its errata).
pub const MAX_ADDRESS_LEN: usize = 320;

/// How strictly [`EmailAddress::parse`] reads its input (module docs: which entry point uses
/// which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressRule {
    /// Kept as typed: 1–320 characters, an `@`, no control character.
    AsTyped,
    /// [`AddressRule::AsTyped`], and no whitespace either.
    AsTypedNoWhitespace,
    /// Trimmed and ASCII-lower-cased first; then `local@domain` with both parts non-empty (split
    /// at the first `@`), at most 320 bytes, no whitespace or control character.
    Normalised,
    /// Kept as typed: anything with an `@`.
    Loose,
}

/// An address read by [`EmailAddress::parse`] under some [`AddressRule`] (the text is the
/// input as typed, or its normalised form under [`AddressRule::Normalised`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

/// Why an input is not an [`EmailAddress`]. Its text is the one the entry point has always
/// answered: `must be an email address` (API field errors; the admin CLI prefixes the flag),
/// or under [`AddressRule::Normalised`] `"<input>" is not an email address (local@domain, at
/// most 320 characters)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAddress {
    input: String,
    rule: AddressRule,
}

impl EmailAddress {
    /// The one validation of a typed address (see [`AddressRule`] for what each rule accepts).
    pub fn parse(input: &str, rule: AddressRule) -> Result<EmailAddress, InvalidAddress> {
        let text = match rule {
            AddressRule::Normalised => input.trim().to_ascii_lowercase(),
            _ => input.to_owned(),
        };
        let control = |c: char| c.is_control();
        let control_or_space = |c: char| c.is_control() || c.is_whitespace();
        let ok = match rule {
            AddressRule::AsTyped => {
                !text.is_empty()
                    && text.chars().count() <= MAX_ADDRESS_LEN
                    && text.contains('@')
                    && !text.chars().any(control)
            }
            AddressRule::AsTypedNoWhitespace => {
                !text.is_empty()
                    && text.chars().count() <= MAX_ADDRESS_LEN
                    && text.contains('@')
                    && !text.chars().any(control_or_space)
            }
            AddressRule::Normalised => {
                text.len() <= MAX_ADDRESS_LEN
                    && text
                        .split_once('@')
                        .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
                    && !text.chars().any(control_or_space)
            }
            AddressRule::Loose => text.contains('@'),
        };
        if ok {
            Ok(EmailAddress(text))
        } else {
            Err(InvalidAddress {
                input: input.to_owned(),
                rule,
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InvalidAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rule {
            AddressRule::Normalised => write!(
                f,
                "{:?} is not an email address (local@domain, at most {MAX_ADDRESS_LEN} characters)",
                self.input
            ),
            _ => f.write_str("must be an email address"),
        }
    }
}

impl std::error::Error for InvalidAddress {}

#[cfg(test)]
mod tests {
    use super::AddressRule::*;
    use super::*;

    fn ok(input: &str, rule: AddressRule) -> Option<String> {
        EmailAddress::parse(input, rule)
            .ok()
            .map(EmailAddress::into_string)
    }

    #[test]
    fn each_rule_accepts_what_its_entry_point_always_did() {
        let long_local = "a".repeat(316);
        let at_limit = format!("{long_local}@x.y"); // 320 characters
        let over = format!("a{at_limit}");
        // 161 two-byte characters: 322 bytes but 165 characters.
        let wide = format!("{}@x.y", "é".repeat(161));
        let cases: &[(&str, [Option<&str>; 4])] = &[
            // input: AsTyped, AsTypedNoWhitespace, Normalised, Loose
            (
                "Bob@X.Example",
                [
                    Some("Bob@X.Example"),
                    Some("Bob@X.Example"),
                    Some("bob@x.example"),
                    Some("Bob@X.Example"),
                ],
            ),
            (
                " Bob@X.Example ",
                [
                    Some(" Bob@X.Example "),
                    None,
                    Some("bob@x.example"),
                    Some(" Bob@X.Example "),
                ],
            ),
            ("a b@x", [Some("a b@x"), None, None, Some("a b@x")]),
            ("@x", [Some("@x"), Some("@x"), None, Some("@x")]),
            ("a@", [Some("a@"), Some("a@"), None, Some("a@")]),
            ("@", [Some("@"), Some("@"), None, Some("@")]),
            ("nobody", [None, None, None, None]),
            ("", [None, None, None, None]),
            ("a\u{7}@x", [None, None, None, Some("a\u{7}@x")]),
            ("a\u{85}@x", [None, None, None, Some("a\u{85}@x")]),
            (
                "a@x\u{a0}",
                [Some("a@x\u{a0}"), None, Some("a@x"), Some("a@x\u{a0}")],
            ),
            (
                "ÄB@X",
                [Some("ÄB@X"), Some("ÄB@X"), Some("Äb@x"), Some("ÄB@X")],
            ),
        ];
        for (input, want) in cases {
            for (rule, want) in [AsTyped, AsTypedNoWhitespace, Normalised, Loose]
                .iter()
                .zip(want)
            {
                assert_eq!(
                    ok(input, *rule).as_deref(),
                    *want,
                    "{input:?} under {rule:?}"
                );
            }
        }
        for rule in [AsTyped, AsTypedNoWhitespace, Normalised, Loose] {
            assert!(ok(&at_limit, rule).is_some(), "{rule:?}");
        }
        for rule in [AsTyped, AsTypedNoWhitespace, Normalised] {
            assert!(ok(&over, rule).is_none(), "{rule:?}");
        }
        assert!(ok(&over, Loose).is_some());
        // Characters for the API rules, bytes for the normalised one.
        assert!(ok(&wide, AsTyped).is_some());
        assert!(ok(&wide, Normalised).is_none());
    }

    #[test]
    fn errors_keep_their_texts() {
        let e = |input: &str, rule| EmailAddress::parse(input, rule).unwrap_err().to_string();
        assert_eq!(e("nobody", AsTyped), "must be an email address");
        assert_eq!(e("a b@x", AsTypedNoWhitespace), "must be an email address");
        assert_eq!(e("x", Loose), "must be an email address");
        assert_eq!(
            e(" Nobody ", Normalised),
            "\" Nobody \" is not an email address (local@domain, at most 320 characters)"
        );
    }
}
