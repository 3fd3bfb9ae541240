//! `erase_address`: every row about one address removed from an org's data (the parent
//! module's docs describe what is deleted, edited and derived again).

use super::*;

/// What an erasure did.
#[derive(Debug, Clone, Serialize)]
pub struct EraseSummary {
    pub org_id: Uuid,
    /// SHA-256 (hex) of the lower-cased address; the address itself is never stored.
    pub email_sha256: String,
    /// Rows matching before the erasure, per table (deleted or edited).
    pub tables: BTreeMap<&'static str, u64>,
    /// Messages whose `messages` rows were derived again.
    pub messages_rederived: u64,
    pub days_bumped: u64,
}

#[derive(Debug, Deserialize, Row)]
struct MessageKey {
    message_id: String,
    d: u16,
}

/// SHA-256 hex of an address, lower-cased (what the audit entry records).
pub fn email_sha256(email: &str) -> String {
    HEXLOWER.encode(&Sha256::digest(email.trim().to_lowercase().as_bytes()))
}

/// A regular expression (re2) matching `text` literally, any case.
fn literal_regex(text: &str) -> String {
    let mut out = String::from("(?i)");
    for c in text.chars() {
        if !c.is_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Store {
    /// Removes every row about `email` from `org_id`'s data (module docs); `actor` is recorded
    /// in the audit entry.
    pub async fn erase_address(
        &self,
        org_id: Uuid,
        email: &str,
        actor: &str,
        progress: Progress,
    ) -> Result<EraseSummary, StoreError> {
        // On a cluster: on the org's shard (its local tables), where every row of the org is.
        if self.routes_by_org() && self.shard().is_none() {
            let routed = self.for_mutations(org_id, "erase").await?;
            return Box::pin(routed.erase_address(org_id, email, actor, progress)).await;
        }
        self.mutations_allowed("erase")?;
        let email = email.trim().to_lowercase();
        if email.is_empty() {
            return Err(StoreError::Invalid("the address is empty".into()));
        }
        let org = org_id.to_string();
        let okey = format!("{org}/{email}");
        let mut tables: BTreeMap<&'static str, u64> = BTreeMap::new();
        let in_destination = "has(arrayMap(x -> lower(x), destination), ?)";
        // Messages and days the address appears in.
        let affected = self
            .client()
            .query(&format!(
                "SELECT DISTINCT message_id, toUInt16(day) AS d FROM events \
                 WHERE org_id = ? AND (lower(recipient) = ? OR {in_destination})"
            ))
            .bind(org.as_str())
            .bind(email.as_str())
            .bind(email.as_str())
            .fetch_all::<MessageKey>()
            .await?;
        let messages: Vec<String> = affected
            .iter()
            .map(|k| k.message_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let days: HashSet<(Uuid, u16)> = affected.iter().map(|k| (org_id, k.d)).collect();
        progress(&format!(
            "org {org}: the address is in {} messages on {} days",
            messages.len(),
            days.len()
        ));
        // (table, condition, binds, mutation): deletes unless the mutation is given.
        type Step<'a> = (&'static str, String, Vec<&'a str>, Option<String>);
        let org_and_email = |table, cond: &str| -> Step<'_> {
            (
                table,
                format!("org_id = ? AND {cond}"),
                vec![&org, &email],
                None,
            )
        };
        let steps: Vec<Step<'_>> = vec![
            org_and_email("events", "lower(recipient) = ?"),
            (
                "events",
                format!("org_id = ? AND {in_destination}"),
                vec![&org, &email],
                Some("UPDATE destination = arrayFilter(x -> lower(x) != ?, destination)".into()),
            ),
            org_and_email("message_recipients", "lower(recipient) = ?"),
            org_and_email("message_timeline", "lower(recipient) = ?"),
            org_and_email("engaged", "recipient_hash = sipHash128(?)"),
            org_and_email("engaged_recipients", "recipient_hash = sipHash128(?)"),
            (
                "undeliverable_history",
                "okey = ?".into(),
                vec![&okey],
                None,
            ),
            org_and_email("undeliverable_activity", "email = ?"),
            (
                "undeliverable_activity_blocks",
                "org_id = ? AND has(fences, ?)".into(),
                vec![&org, &email],
                Some("UPDATE fences = arrayFilter(x -> x != ?, fences)".into()),
            ),
            org_and_email("undeliverable_exclusions", "lower(email) = ?"),
            (
                "quarantine",
                "position(lower(raw), ?) > 0 OR position(lower(detail), ?) > 0".into(),
                vec![&email, &email],
                None,
            ),
            (
                "notices",
                "position(lower(raw), ?) > 0".into(),
                vec![&email],
                None,
            ),
        ];
        for (table, cond, binds, update) in &steps {
            let n = self.count_where(table, cond, binds).await?;
            *tables.entry(table).or_default() += n;
            if n == 0 {
                continue;
            }
            progress(&format!("{table}: {n} rows"));
            match update {
                None => {
                    self.mutate(
                        table,
                        &format!("ALTER TABLE {table} DELETE WHERE {cond}"),
                        binds,
                    )
                    .await?
                }
                Some(set) => {
                    // The SET expression's bind comes first.
                    let mut all: Vec<&str> = vec![&email];
                    all.extend(binds.iter().copied());
                    self.mutate(
                        table,
                        &format!("ALTER TABLE {table} {set} WHERE {cond}"),
                        &all,
                    )
                    .await?
                }
            }
        }
        // Audit details naming the address are redacted (the entries stay).
        let pattern = literal_regex(&email);
        let cond = "org_id = ? AND position(lower(details), ?) > 0";
        let n = self.count_where("audit_log", cond, &[&org, &email]).await?;
        tables.insert("audit_log", n);
        if n > 0 {
            progress(&format!("audit_log: redact {n} entries"));
            self.mutate(
                "audit_log",
                &format!("ALTER TABLE audit_log UPDATE details = replaceRegexpAll(details, ?, '[erased]') WHERE {cond}"),
                &[&pattern, &org, &email],
            )
            .await?;
        }
        // `messages`: the destination is an aggregate state; its rows are derived again from
        // what is left in `events`.
        let messages_view = &DERIVED[0];
        debug_assert_eq!(messages_view.table, "messages");
        if !messages.is_empty() {
            progress(&format!(
                "messages: derive {} messages again",
                messages.len()
            ));
        }
        // In chunks, so a prolific address never makes one giant statement.
        for chunk in messages.chunks(MESSAGES_PER_STATEMENT) {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            let cond = format!("org_id = ? AND message_id IN ({placeholders})");
            let mut binds: Vec<&str> = vec![&org];
            binds.extend(chunk.iter().map(String::as_str));
            let n = self.count_where("messages", &cond, &binds).await?;
            *tables.entry("messages").or_default() += n;
            self.mutate(
                "messages",
                &format!("ALTER TABLE messages DELETE WHERE {cond}"),
                &binds,
            )
            .await?;
            let sql = messages_view.insert_sql(&cond);
            let mut q = self.client().query(&sql);
            for b in &binds {
                q = q.bind(*b);
            }
            q.execute().await?;
        }
        if !days.is_empty() {
            progress(&format!("day_changes: bump {} days", days.len()));
            self.bump_days(&days).await?;
        }
        let summary = EraseSummary {
            org_id,
            email_sha256: email_sha256(&email),
            tables,
            messages_rederived: messages.len() as u64,
            days_bumped: days.len() as u64,
        };
        let details = serde_json::json!({
            "email_sha256": summary.email_sha256,
            "tables": summary.tables,
            "messages_rederived": summary.messages_rederived,
        });
        self.write_audit(&[AuditRow::new(
            org_id,
            Uuid::nil(),
            now_ms(),
            "recipient.erased",
            actor,
            details,
        )])
        .await?;
        Ok(summary)
    }
}
