//! What the operator-tool tests over real traffic share (repair, retention): deterministic SES
//! traffic of an org over past days, ingestion through the pipeline, org creation.
// Each test crate uses part of it.
#![allow(dead_code)]

use std::process::{Command, Output};

use sendops_shared::read::messages::{MessageFilter, MessageRow};
use sendops_shared::read::reports::{Counts, Measures, ReportFilter};
use sendops_shared::store::testing::TestDb;
use sendops_shared::timefmt::{DAY_MS, EpochMs, TimeRange, format_ms_precise, now_ms};
use sendops_shared::undeliverable::{ListQuery, StatusFilter};
use sendops_shared::write::pipeline::{Pipeline, Record, Source};
use sendops_shared::{EventType, Store};
use serde_json::{Value, json};
use uuid::Uuid;

/// The keys of a JSON object, sorted (what a command's output shape is checked against).
#[allow(unused_imports)] // Not every test crate checks output shapes.
pub use sendops_testkit::json::keys_of;

/// The arguments that create the org `acme` ("Acme") for SES account `account`, then `extra`
/// (e.g. `--plan pro`): the org most CLI tests start from.
pub fn create_acme<'a>(account: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "org",
        "create",
        "--name",
        "Acme",
        "--slug",
        "acme",
        "--aws-account",
        account,
    ];
    args.extend_from_slice(extra);
    args
}

/// The `sendops-admin` binary on a per-test database, as operator `ci-bot`, without `RUST_LOG`.
pub struct Admin<'a> {
    pub db: &'a TestDb,
}

impl Admin<'_> {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sendops-admin"));
        cmd.args(args)
            .env("CLICKHOUSE_URL", &self.db.config.url)
            .env("CLICKHOUSE_DATABASE", &self.db.config.database)
            .env("SENDOPS_ACTOR", "ci-bot")
            .env_remove("RUST_LOG");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run sendops-admin")
    }

    /// Runs a command that must succeed; returns its JSON and its stderr.
    pub fn ok_logged(&self, args: &[&str]) -> (Value, String) {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "sendops-admin {args:?} failed: {stderr}"
        );
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "sendops-admin {args:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (json, stderr)
    }

    /// Runs a command that must succeed; returns its JSON.
    pub fn ok(&self, args: &[&str]) -> Value {
        self.ok_logged(args).0
    }

    /// Runs a command that must fail, printing nothing on stdout and no panic; returns its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "sendops-admin {args:?} should fail but printed {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(out.stdout.is_empty(), "nothing on stdout on failure");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    }
}

/// xorshift64*: deterministic traffic without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub const RECIPIENTS: [&str; 10] = [
    "ann@example.com",
    "Bob@Example.com",
    "carol@example.com",
    "dave@example.org",
    "erin@example.org",
    "frank@example.net",
    "grace@example.net",
    "heidi@example.com",
    "ivan@example.org",
    "judy@example.net",
];

/// SES events of `messages` messages sent over the `days` whole UTC days before today (the
/// first message of each day just before midnight, its events on the next day), every event
/// type, with repeated failures per address.
pub fn traffic(account: &str, prefix: &str, messages: u64, days: u64, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    let today = now_ms().div_euclid(DAY_MS);
    let mut out = Vec::new();
    for i in 0..messages {
        let day = today - 1 - (i % days) as i64;
        let sent = if i < days {
            day * DAY_MS + DAY_MS - 60_000
        } else {
            day * DAY_MS + rng.below(DAY_MS as u64 - 7_200_000) as i64
        };
        let n_to = 1 + rng.below(2) as usize;
        let first = rng.below(RECIPIENTS.len() as u64) as usize;
        let to: Vec<&str> = (0..n_to)
            .map(|k| RECIPIENTS[(first + k * 3) % RECIPIENTS.len()])
            .collect();
        let template = ["welcome", "receipt", ""][rng.below(3) as usize];
        let config_set = ["transactional", "marketing"][rng.below(2) as usize];
        let source = ["ops@acme.example", "news@mail.acme.example"][rng.below(2) as usize];
        let mut tags = json!({"ses:configuration-set": [config_set]});
        if !template.is_empty() {
            tags["template"] = json!([template]);
        }
        let mail = json!({
            "timestamp": format_ms_precise(sent),
            "source": source,
            "sendingAccountId": account,
            "messageId": format!("{prefix}-{i:04}"),
            "destination": to,
            "tags": tags,
            "commonHeaders": {"subject": format!("Subject {}", i % 7), "to": to},
        });
        let event = |kind: &str, key: &str, payload: Value| {
            let mut e = json!({"eventType": kind, "mail": mail.clone()});
            if !key.is_empty() {
                e[key] = payload;
            }
            e.to_string()
        };
        out.push(event("Send", "send", json!({})));
        if rng.below(25) == 0 {
            out.push(event("Reject", "reject", json!({"reason": "Bad content"})));
            continue;
        }
        for (k, rcpt) in to.iter().enumerate() {
            let mut t = sent + 1000 + k as i64 * 17;
            let at = |t: i64| format_ms_precise(t);
            // A Bounce of this recipient (`recipient`: its bouncedRecipients entry) at `t`.
            let bounce = |kind: &str, sub_type: &str, recipient: Value| {
                event(
                    "Bounce",
                    "bounce",
                    json!({"bounceType": kind, "bounceSubType": sub_type,
                        "bouncedRecipients": [recipient],
                        "timestamp": at(t), "feedbackId": format!("fb-{i}-{k}")}),
                )
            };
            match rng.below(20) {
                0..=1 => out.push(bounce(
                    "Permanent",
                    "General",
                    json!({"emailAddress": rcpt, "diagnosticCode": "smtp; 550 5.1.1 user unknown"}),
                )),
                2..=4 => out.push(bounce(
                    "Transient",
                    "MailboxFull",
                    json!({"emailAddress": rcpt, "diagnosticCode": "smtp; 452 4.2.2 mailbox full"}),
                )),
                5 => out.push(bounce(
                    "Undetermined",
                    "Undetermined",
                    json!({"emailAddress": rcpt}),
                )),
                6 => out.push(event(
                    "DeliveryDelay",
                    "deliveryDelay",
                    json!({"timestamp": at(t), "delayType": "TransientCommunicationFailure",
                        "expirationTime": at(t + DAY_MS),
                        "delayedRecipients": [{"emailAddress": rcpt, "status": "4.4.1",
                            "diagnosticCode": "smtp; 421 4.4.1 Unable to connect"}]}),
                )),
                r => {
                    out.push(event(
                        "Delivery",
                        "delivery",
                        json!({"timestamp": at(t), "processingTimeMillis": 900 + r,
                            "recipients": [rcpt], "smtpResponse": "250 2.6.0 Message received",
                            "reportingMTA": "mta.example.com"}),
                    ));
                    if r == 7 {
                        t += 60_000;
                        out.push(event(
                            "Complaint",
                            "complaint",
                            json!({"complainedRecipients": [{"emailAddress": rcpt}],
                                "timestamp": at(t), "feedbackId": format!("c-{i}-{k}"),
                                "complaintFeedbackType": "abuse"}),
                        ));
                    }
                    // The late first messages of a day are opened after midnight.
                    let opens = if i < days { 1 } else { rng.below(3) };
                    for o in 0..opens {
                        t += 120_000 + o as i64 * 1000;
                        out.push(event(
                            "Open",
                            "open",
                            json!({"ipAddress": "192.0.2.1", "timestamp": at(t), "userAgent": "UA"}),
                        ));
                        if rng.below(2) == 0 {
                            t += 5000;
                            out.push(event(
                                "Click",
                                "click",
                                json!({"ipAddress": "192.0.2.1", "timestamp": at(t), "userAgent": "UA",
                                    "link": format!("https://acme.example/l/{}", rng.below(3))}),
                            ));
                        }
                    }
                }
            }
        }
    }
    out
}

/// Ingests records (some may be quarantined); returns the rows stored.
pub async fn ingest(store: &Store, bodies: &[String]) -> u64 {
    let records: Vec<Record<'_>> = bodies.iter().map(|b| Record { body: b }).collect();
    Pipeline::new(store.clone(), Source::Replay)
        .process(&records)
        .await
        .expect("ingest")
        .rows
}

/// Ingests records that must all be valid (none quarantined); returns the rows stored.
pub async fn ingest_valid(store: &Store, bodies: &[String]) -> u64 {
    let records: Vec<Record<'_>> = bodies.iter().map(|b| Record { body: b }).collect();
    let report = Pipeline::new(store.clone(), Source::Replay)
        .process(&records)
        .await
        .expect("ingest");
    assert_eq!(report.quarantined, 0, "every generated event is valid");
    report.rows
}

/// [from, to) in epoch milliseconds, as the read layer takes it.
pub fn range(from: i64, to: i64) -> TimeRange {
    TimeRange::new(EpochMs(from), EpochMs(to))
}

/// Every event type, with distinct recipients: the report measures the tests compare.
pub fn all_measures() -> Measures<'static> {
    Measures {
        types: &EventType::ALL,
        distinct_recipients: true,
    }
}

/// The org's daily report of [`all_measures`] over [from, to), unfiltered.
pub async fn daily_counts(store: &Store, org: Uuid, from: i64, to: i64) -> Counts<u16> {
    store
        .daily_counts(
            org,
            range(from, to),
            &ReportFilter::default(),
            all_measures(),
        )
        .await
        .unwrap()
}

/// The org's messages sent in [from, to), unfiltered, at most `limit`.
pub async fn list_messages(
    store: &Store,
    org: Uuid,
    from: i64,
    to: i64,
    limit: usize,
) -> Vec<MessageRow> {
    store
        .list_messages(org, range(from, to), None, &MessageFilter::default(), limit)
        .await
        .unwrap()
}

/// Every undeliverable address of any status with at least one event (up to 1000), as of
/// `now_ms` under `retention_days`.
pub fn all_undeliverable(now_ms: i64, retention_days: u32) -> ListQuery {
    ListQuery {
        now_ms,
        retention_days,
        since_ms: None,
        until_ms: None,
        status: StatusFilter::All,
        reason: None,
        email: None,
        min_events: 1,
        after: None,
        limit: 1000,
    }
}

/// The one number `sql` answers with `binds` bound in order.
pub async fn query_u64(store: &Store, sql: &str, binds: &[&str]) -> u64 {
    let mut q = store.client().query(sql);
    for b in binds {
        q = q.bind(*b);
    }
    q.fetch_one::<u64>()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[allow(unused_imports)] // Not every test crate creates orgs this way.
pub use sendops_shared::store::testing::create_test_org as create_org;
