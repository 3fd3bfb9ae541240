//! Bounce causes: a bounce's SES type and sub-type and the recipient's diagnostic code
//! (`diagnosticCode`, the remote server's SMTP answer) classified into one of seven causes by an
//! ordered rule table — the first rule that matches wins (docs/deliverability.md#bounce-causes).
//!
//! The same table is evaluated in Rust ([`classify`]) and compiled into one ClickHouse
//! expression ([`sql`]) that the breakdown seals and window edges group by; a store test runs
//! every rule's examples through both. Patterns are matched against the lower-cased diagnostic
//! and use only syntax RE2 (ClickHouse) and the `regex` crate read the same way: no `\b`, `\s`
//! or Unicode classes. [`RULES_VERSION`] changes with the table, which re-seals past days.

use std::sync::OnceLock;

use regex::Regex;
use sha2::{Digest, Sha256};

/// A bounce cause, as `/v1/reports/breakdown?dimension=bounce_cause` keys it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    InvalidAddress,
    MailboxFull,
    PolicyOrReputation,
    Throttled,
    Content,
    DnsOrRouting,
    Other,
}

impl Cause {
    pub const ALL: &'static [Cause] = &[
        Cause::InvalidAddress,
        Cause::MailboxFull,
        Cause::PolicyOrReputation,
        Cause::Throttled,
        Cause::Content,
        Cause::DnsOrRouting,
        Cause::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::InvalidAddress => "invalid_address",
            Cause::MailboxFull => "mailbox_full",
            Cause::PolicyOrReputation => "policy_or_reputation",
            Cause::Throttled => "throttled",
            Cause::Content => "content",
            Cause::DnsOrRouting => "dns_or_routing",
            Cause::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Cause::InvalidAddress => "Invalid address (user unknown, 5.1.x)",
            Cause::MailboxFull => "Mailbox full (5.2.2 / 4.2.2)",
            Cause::PolicyOrReputation => "Policy or reputation (5.7.x, blocklists, spam)",
            Cause::Throttled => "Throttled (4.7.x, 421, rate limits)",
            Cause::Content => "Content (message or attachment rejected)",
            Cause::DnsOrRouting => "DNS or routing (5.4.x)",
            Cause::Other => "Other",
        }
    }

    pub fn parse(key: &str) -> Option<Cause> {
        Cause::ALL.iter().copied().find(|c| c.as_str() == key)
    }
}

/// What a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    /// The bounce sub-type equals one of these (SES's `bounceSubType`, exact).
    SubType(&'static [&'static str]),
    /// The lower-cased diagnostic code matches this pattern.
    Diagnostic(&'static str),
}

/// One rule: a cause, what it tests, and example diagnostics it must classify (its test).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub cause: Cause,
    pub test: Test,
    /// (bounce sub-type, diagnostic) pairs this rule is the first to match.
    pub examples: &'static [(&'static str, &'static str)],
}

/// Enhanced status code `x.y.z` not preceded by a digit or dot (so `15.1.1` is not `5.1.1`).
macro_rules! code {
    ($re:literal) => {
        concat!("(^|[^0-9.])", $re)
    };
}

/// The rules, first match wins. SES's own sub-types come first (they are SES's reading of the
/// same answer), then enhanced status codes (RFC 3463: the most precise part of a diagnostic),
/// then wording, most specific first.
pub const RULES: &[Rule] = &[
    Rule {
        cause: Cause::MailboxFull,
        test: Test::SubType(&["MailboxFull"]),
        examples: &[("MailboxFull", "")],
    },
    Rule {
        cause: Cause::Content,
        test: Test::SubType(&["MessageTooLarge", "ContentRejected", "AttachmentRejected"]),
        examples: &[("ContentRejected", "550 message rejected")],
    },
    Rule {
        cause: Cause::InvalidAddress,
        test: Test::SubType(&["NoEmail", "Suppressed", "OnAccountSuppressionList"]),
        examples: &[
            ("NoEmail", ""),
            (
                "OnAccountSuppressionList",
                "Amazon SES did not send the message",
            ),
        ],
    },
    Rule {
        cause: Cause::MailboxFull,
        test: Test::Diagnostic(code!("[45]\\.2\\.2")),
        examples: &[
            (
                "General",
                "smtp; 552 5.2.2 the email account that you tried to reach is over quota",
            ),
            ("General", "smtp; 452 4.2.2 mailbox temporarily over quota"),
        ],
    },
    Rule {
        cause: Cause::InvalidAddress,
        test: Test::Diagnostic(code!("[45]\\.1\\.[0-9]+")),
        examples: &[
            (
                "General",
                "smtp; 550 5.1.1 <a@b.example>: Recipient address rejected: User unknown",
            ),
            (
                "General",
                "smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found",
            ),
        ],
    },
    Rule {
        cause: Cause::DnsOrRouting,
        test: Test::Diagnostic(code!("[45]\\.4\\.[0-9]+")),
        examples: &[(
            "General",
            "smtp; 554 5.4.4 Unable to route: no MX record for domain",
        )],
    },
    Rule {
        cause: Cause::Content,
        test: Test::Diagnostic(code!("([45]\\.6\\.[0-9]+|[45]\\.3\\.4)")),
        examples: &[
            ("General", "smtp; 554 5.6.0 Message content rejected"),
            (
                "General",
                "smtp; 552 5.3.4 Message size exceeds fixed maximum message size",
            ),
        ],
    },
    Rule {
        cause: Cause::Content,
        test: Test::Diagnostic(
            "content (rejected|filter)|rejected (due to|because of) (its )?content|attachment|virus|malware|message (is )?too (big|large)|size (limit|exceeds)",
        ),
        examples: &[
            (
                "General",
                "smtp; 550 5.7.1 Message rejected due to content restrictions",
            ),
            (
                "General",
                "smtp; 554 Message rejected: virus found in attachment",
            ),
        ],
    },
    Rule {
        cause: Cause::Throttled,
        test: Test::Diagnostic(code!("(4\\.7\\.[0-9]+|421)")),
        examples: &[
            (
                "General",
                "smtp; 421 4.7.0 [TSS04] Messages temporarily deferred due to unexpected volume",
            ),
            (
                "General",
                "smtp; 421 Service not available, closing transmission channel",
            ),
            ("General", "smtp; 450 4.7.28 rate limited"),
        ],
    },
    Rule {
        cause: Cause::Throttled,
        test: Test::Diagnostic(
            "rate limit|too many (messages|connections|recipients)|throttl|try again later|temporarily deferred|unusual rate",
        ),
        examples: &[(
            "General",
            "smtp; 450 Too many messages from your IP, try again later",
        )],
    },
    Rule {
        cause: Cause::PolicyOrReputation,
        test: Test::Diagnostic(code!("5\\.7\\.[0-9]+")),
        examples: &[
            (
                "General",
                "smtp; 550 5.7.1 Service unavailable; client host blocked using Spamhaus",
            ),
            (
                "General",
                "smtp; 550 5.7.26 Unauthenticated email is not accepted (DMARC)",
            ),
        ],
    },
    Rule {
        cause: Cause::PolicyOrReputation,
        test: Test::Diagnostic(
            "block ?list|black ?list|spamhaus|spamcop|barracuda|reputation|spam|policy|blocked|denied|dmarc|spf|dkim|not accepted",
        ),
        examples: &[
            ("General", "smtp; 554 Your message was classified as spam"),
            ("General", "smtp; 550 Rejected by local policy"),
        ],
    },
    Rule {
        cause: Cause::InvalidAddress,
        test: Test::Diagnostic(
            "user unknown|unknown user|no such (user|mailbox|recipient)|does ?n[o']t exist|unknown recipient|recipient not found|mailbox not found|invalid (recipient|mailbox|address)|address rejected|mailbox unavailable|account (is )?disabled|inactive",
        ),
        examples: &[
            (
                "General",
                "smtp; 550 Requested action not taken: mailbox unavailable",
            ),
            ("General", "smtp; 550 no such user here"),
        ],
    },
    Rule {
        cause: Cause::MailboxFull,
        test: Test::Diagnostic(
            "mailbox (is )?full|over ?quota|quota exceeded|exceeded (the )?(storage|quota)|insufficient (storage|space)",
        ),
        examples: &[("General", "smtp; 452 Mailbox full")],
    },
    Rule {
        cause: Cause::DnsOrRouting,
        test: Test::Diagnostic(
            "no mx|mx record|host not found|domain not found|unroutable|unrouteable|routing loop|name or service not known|nxdomain|dns|connection (refused|timed out)",
        ),
        examples: &[("General", "Host not found: mail.b.example")],
    },
];

/// A version of [`RULES`]: a seal classified with other rules is not reused.
pub fn rules_version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut h = Sha256::new();
        for r in RULES {
            h.update(r.cause.as_str());
            match r.test {
                Test::SubType(s) => h.update(format!("sub:{s:?}")),
                Test::Diagnostic(p) => h.update(format!("diag:{p}")),
            }
            h.update("\n");
        }
        data_encoding::HEXLOWER.encode(&h.finalize()[..8])
    })
}

fn compiled() -> &'static [Option<Regex>] {
    static C: OnceLock<Vec<Option<Regex>>> = OnceLock::new();
    C.get_or_init(|| {
        RULES
            .iter()
            .map(|r| match r.test {
                Test::Diagnostic(p) => Some(Regex::new(p).expect("bounce-cause pattern")),
                Test::SubType(_) => None,
            })
            .collect()
    })
}

/// The cause of a bounce with this SES sub-type and diagnostic code.
pub fn classify(sub_type: &str, diagnostic: &str) -> Cause {
    rule_of(sub_type, diagnostic).map_or(Cause::Other, |i| RULES[i].cause)
}

/// Index of the first rule that matches.
pub fn rule_of(sub_type: &str, diagnostic: &str) -> Option<usize> {
    let lower = diagnostic.to_ascii_lowercase();
    RULES
        .iter()
        .zip(compiled())
        .position(|(r, re)| match (r.test, re) {
            (Test::SubType(subs), _) => subs.contains(&sub_type),
            (Test::Diagnostic(_), Some(re)) => re.is_match(&lower),
            (Test::Diagnostic(_), None) => false,
        })
}

/// A ClickHouse string literal inside a `clickhouse` crate query template (where `?` is a bind
/// placeholder, so a literal `?` is written `??`).
fn literal(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('\'', "\\'")
        .replace('?', "??");
    format!("'{escaped}'")
}

/// The ClickHouse expression giving a `Bounce` row's cause (from its `bounce_sub_type` and
/// `diagnostic` columns); `''` for every other event type. Written for the `clickhouse` crate's
/// query templates (a literal `?` is doubled).
pub fn sql() -> String {
    let mut arms = Vec::new();
    for r in RULES {
        let cond = match r.test {
            Test::SubType(subs) => {
                let list: Vec<String> = subs.iter().map(|s| literal(s)).collect();
                format!("bounce_sub_type IN ({})", list.join(", "))
            }
            Test::Diagnostic(p) => format!("match(lower(diagnostic), {})", literal(p)),
        };
        arms.push(format!("{cond}, {}", literal(r.cause.as_str())));
    }
    format!(
        "if(event_type = 'Bounce', multiIf({}, 'other'), '')",
        arms.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_the_first_to_match_its_examples() {
        for (i, r) in RULES.iter().enumerate() {
            assert!(!r.examples.is_empty(), "rule {i} has no example");
            for (sub, diag) in r.examples {
                assert_eq!(rule_of(sub, diag), Some(i), "rule {i} ({sub:?}, {diag:?})");
                assert_eq!(classify(sub, diag), r.cause);
            }
        }
    }

    #[test]
    fn what_no_rule_matches_is_other() {
        assert_eq!(classify("General", ""), Cause::Other);
        assert_eq!(classify("Undetermined", "smtp; 550 go away"), Cause::Other);
        // A status code inside a longer number is not that code.
        assert_eq!(classify("General", "id 15.1.1 queued"), Cause::Other);
    }

    #[test]
    fn codes_win_over_wording_and_case_does_not_matter() {
        // 5.1.1 with "policy" wording: the code decides.
        assert_eq!(
            classify("General", "550 5.1.1 USER UNKNOWN per policy"),
            Cause::InvalidAddress
        );
        assert_eq!(classify("General", "552 MAILBOX FULL"), Cause::MailboxFull);
    }

    #[test]
    fn causes_parse_back_and_the_version_is_stable() {
        for c in Cause::ALL {
            assert_eq!(Cause::parse(c.as_str()), Some(*c));
        }
        assert_eq!(rules_version(), rules_version());
        assert_eq!(rules_version().len(), 16);
        assert!(sql().starts_with("if(event_type = 'Bounce', multiIf("));
    }
}
