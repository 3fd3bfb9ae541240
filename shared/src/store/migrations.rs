//! Append-only schema migrations. A change to a table or view is a new numbered file in
//! `shared/migrations/`, never an edit of an applied one. `sendops-admin migrate` applies what is
//! missing and records it in `schema_migrations`.

/// A numbered migration: one or more statements separated by `;` at the end of a line.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_core",
        sql: include_str!("../../migrations/0001_core.sql"),
    },
    Migration {
        version: 2,
        name: "0002_api_keys",
        sql: include_str!("../../migrations/0002_api_keys.sql"),
    },
    Migration {
        version: 3,
        name: "0003_messages",
        sql: include_str!("../../migrations/0003_messages.sql"),
    },
    Migration {
        version: 4,
        name: "0004_reports",
        sql: include_str!("../../migrations/0004_reports.sql"),
    },
    Migration {
        version: 5,
        name: "0005_undeliverable",
        sql: include_str!("../../migrations/0005_undeliverable.sql"),
    },
    Migration {
        version: 6,
        name: "0006_ses_views",
        sql: include_str!("../../migrations/0006_ses_views.sql"),
    },
    Migration {
        version: 7,
        name: "0007_message_events",
        sql: include_str!("../../migrations/0007_message_events.sql"),
    },
    Migration {
        version: 8,
        name: "0008_report_uniques",
        sql: include_str!("../../migrations/0008_report_uniques.sql"),
    },
    Migration {
        version: 9,
        name: "0009_message_timeline",
        sql: include_str!("../../migrations/0009_message_timeline.sql"),
    },
    Migration {
        version: 10,
        name: "0010_exact_ingest",
        sql: include_str!("../../migrations/0010_exact_ingest.sql"),
    },
    Migration {
        version: 11,
        name: "0011_undeliverable_blocks",
        sql: include_str!("../../migrations/0011_undeliverable_blocks.sql"),
    },
    Migration {
        version: 12,
        name: "0012_deliverability",
        sql: include_str!("../../migrations/0012_deliverability.sql"),
    },
    Migration {
        version: 13,
        name: "0013_notice_confirmations",
        sql: include_str!("../../migrations/0013_notice_confirmations.sql"),
    },
];

impl Migration {
    /// The statements of the file, without comment lines.
    pub fn statements(&self) -> Vec<String> {
        split_statements(self.sql)
    }
}

/// Splits SQL text at lines ending in `;`, dropping `--` comment lines and empty statements.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            push_statement(&mut out, &mut current);
        }
    }
    push_statement(&mut out, &mut current);
    out
}

fn push_statement(out: &mut Vec<String>, current: &mut String) {
    let stmt = current.trim().trim_end_matches(';').trim().to_owned();
    if !stmt.is_empty() {
        out.push(stmt);
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_increasing_and_named_after_files() {
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version);
        }
        for m in MIGRATIONS {
            assert!(
                m.name.starts_with(&format!("{:04}_", m.version)),
                "{}",
                m.name
            );
            assert!(!m.statements().is_empty());
        }
    }

    #[test]
    fn splits_on_line_final_semicolons_only() {
        let s =
            split_statements("-- c\nCREATE TABLE a (x String DEFAULT ';');\n\nSELECT 1;\n-- end\n");
        assert_eq!(s, vec!["CREATE TABLE a (x String DEFAULT ';')", "SELECT 1"]);
    }
}
