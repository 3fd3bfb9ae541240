//! The command line: every subcommand and its arguments (clap). [`crate::run`] executes them.

use clap::{Parser, Subcommand};

pub use crate::ses_commands::{
    AccountCommand, SyncCommand, TemplatesCommand, TrackingDomainCommand,
};

/// SendOps operator CLI. Talks to ClickHouse at CLICKHOUSE_URL / CLICKHOUSE_DATABASE
/// (CLICKHOUSE_USER, CLICKHOUSE_PASSWORD; CLICKHOUSE_CLUSTER on a cluster: docs/scale-out.md)
/// and prints JSON.
#[derive(Parser)]
#[command(name = "sendops-admin", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create the database if needed and apply missing migrations (idempotent).
    ///
    /// Safe from several deploys at once: a lease in `schema_migrations_lock` lets one process
    /// apply at a time; the others wait (up to --lock-wait, progress on stderr) and then apply
    /// only what is still pending. Each statement's completion is recorded, so a rerun after a
    /// failure resumes where it stopped; backfills (`INSERT INTO … SELECT`) go through a staging
    /// table and are never repeated once complete. The SHA-256 of every applied file is recorded:
    /// an applied migration whose file changed is refused (exit 1, naming both checksums);
    /// databases migrated before checksums get them recorded on their first run. Progress lines
    /// go to stderr ("applying 0009_message_timeline statement 3/5", "still running: …").
    #[command(verbatim_doc_comment)]
    Migrate(MigrateArgs),
    /// Organisations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Set-up notices ingest recorded (SNS subscription confirmations with their check).
    Notices {
        #[command(subcommand)]
        command: crate::notices::NoticesCommand,
    },
    /// Mailbox providers of recipient domains (MX lookups behind /v1/reports/breakdown).
    Providers {
        #[command(subcommand)]
        command: crate::providers::ProvidersCommand,
    },
    /// Records that could not be stored as events.
    Quarantine {
        #[command(subcommand)]
        command: QuarantineCommand,
    },
    /// API keys: create, list, edit scopes, rotate (24 h grace), revoke, sweep expired graces.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// The org audit log (API key lifecycle).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Account state behind /v1/account: AWS read role, production access, CloudFormation stack.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Sync entities from the org's SES account (SENDOPS_SES_ENDPOINT_URL for local runs).
    Sync {
        #[command(subcommand)]
        command: SyncCommand,
    },
    /// Email templates from a git repository's sendops.json manifest.
    Templates {
        #[command(subcommand)]
        command: TemplatesCommand,
    },
    /// Open/click tracking subdomains.
    TrackingDomain {
        #[command(subcommand)]
        command: TrackingDomainCommand,
    },
    /// Undeliverable list: operator exclusions (kept forever; the address becomes an
    /// `excluded` tombstone until it fails again).
    Exclusion {
        #[command(subcommand)]
        command: ExclusionCommand,
    },
    /// Undeliverable list: the org's classification rules (every change bumps the version and
    /// is audited).
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Repair what the old ingest path damaged: re-feed every table derived from `events`.
    ///
    /// For the org's UTC days [--from day, --to day] (default: its whole history), every table
    /// a materialized view feeds from `events` (messages, message_index, message_recipients,
    /// message_timeline, engaged, undeliverable_history, undeliverable_activity) gets the
    /// view's rows again from `events` (INSERT … SELECT; every table tolerates a second copy),
    /// then the events get their done markers and each day with events gets its change counter
    /// bumped once, so report seals, cached unique counts and indexes are recomputed. Doubled
    /// undeliverable rows without an event id are superseded by the new rows that carry one.
    /// Idempotent; safe while ingest runs. Works in chunks of days within one month
    /// (--chunk-rows rows of `events` at most); progress on stderr, a summary on stdout:
    /// {org, org_id, from, to, days, events, rows, chunks, statements, tables}.
    #[command(verbatim_doc_comment)]
    Repair(RepairArgs),
    /// Remove events and derived rows older than each org's plan retention plus a grace
    /// (default 7 days), and, without --org, resolved quarantine entries and set-up notices past
    /// their own retention; progress on stderr, a JSON summary on stdout. For a scheduled task.
    Prune(crate::retention::PruneArgs),
    /// Remove every row about one recipient address from an org's data (events, views,
    /// indexes, undeliverable history, quarantine and notices naming it); writes an audit entry
    /// with the address's SHA-256, never the address.
    Erase(crate::retention::EraseArgs),
}

#[derive(clap::Args)]
pub struct RepairArgs {
    /// The org's slug.
    #[arg(long)]
    pub org: String,
    /// First day to repair: the UTC day of this RFC 3339 time [default: the org's first day
    /// with events].
    #[arg(long, value_name = "RFC3339", value_parser = sendops_shared::store::repair::parse_day)]
    pub from: Option<u16>,
    /// Last day to repair (inclusive): the UTC day of this RFC 3339 time [default: the org's
    /// last day with events].
    #[arg(long, value_name = "RFC3339", value_parser = sendops_shared::store::repair::parse_day)]
    pub to: Option<u16>,
    /// Most rows of `events` per chunk (a bigger single day is a chunk of its own).
    #[arg(long, value_name = "ROWS", default_value_t = sendops_shared::store::repair::DEFAULT_CHUNK_ROWS, value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk_rows: u64,
}

#[derive(clap::Args)]
pub struct MigrateArgs {
    /// Print {applied:[{version,name,checksum,applied_at}], pending:[…], mismatches:[{version,
    /// name,recorded,current}]} and change nothing. Exit 0, or 2 when there are mismatches.
    #[arg(long, conflicts_with = "dry_run")]
    pub status: bool,
    /// Print the pending migrations with their statements (JSON) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply (or with --dry-run, show) migrations up to this version only.
    #[arg(long, value_name = "VERSION", conflicts_with = "status")]
    pub target: Option<u32>,
    /// How long to wait for another process's migration lock, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    pub lock_wait: u64,
    /// The lease of the migration lock, in seconds: a crashed process's lock is taken over after
    /// this long. Renewed every quarter of it while migrations run.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(2..))]
    pub lock_lease: u64,
    /// Create the schema on this ClickHouse cluster (a `remote_servers` name): per-org tables
    /// replicated per shard behind Distributed tables sharded by org, control tables replicated
    /// on every node, every statement ON CLUSTER (docs/scale-out.md). Wins over the environment
    /// variable CLICKHOUSE_CLUSTER; without either, the single-server schema.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
}

#[derive(Subcommand)]
pub enum ExclusionCommand {
    /// Exclude an address from the undeliverable list (audited as undeliverable.exclusion_added).
    Add {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// Who decided (shown as excluded_by, and the audit actor).
        #[arg(long)]
        by: String,
        /// Why (shown as exclusion_reason).
        #[arg(long)]
        reason: String,
    },
    /// Every exclusion of an org, newest first.
    List {
        #[arg(long)]
        org: String,
    },
}

#[derive(Subcommand)]
pub enum RulesCommand {
    /// The active rules (as GET /v1/undeliverable/rules shows them).
    Show {
        #[arg(long)]
        org: String,
    },
    /// Apply a profile, or override one configurable rule (the profile becomes custom).
    #[command(group(clap::ArgGroup::new("target").required(true).args(["profile", "rule"])))]
    Set {
        #[arg(long)]
        org: String,
        #[arg(long, value_parser = ["standard", "strict"])]
        profile: Option<String>,
        /// repeated_transient, undetermined or soft_bounce_accumulation (the locked rules
        /// permanent_bounce, complaint and rejected refuse).
        #[arg(long, value_parser = sendops_shared::undeliverable::Rule::NAMES)]
        rule: Option<String>,
        #[arg(long, requires = "rule")]
        enabled: Option<bool>,
        /// N: qualifying events needed.
        #[arg(long, requires = "rule")]
        events: Option<u32>,
        /// M: the trailing window, in days.
        #[arg(long = "window-days", requires = "rule")]
        window_days: Option<u32>,
        #[command(flatten)]
        actor: ActorArg,
    },
}

/// Who is acting: `--actor`, else SENDOPS_ACTOR, else USER, else `operator`.
#[derive(clap::Args)]
pub struct ActorArg {
    /// Recorded in the audit log [default: $SENDOPS_ACTOR, else $USER, else "operator"].
    #[arg(long)]
    pub actor: Option<String>,
}

impl ActorArg {
    pub fn resolve(self) -> String {
        let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        non_empty(self.actor)
            .or_else(|| non_empty(std::env::var("SENDOPS_ACTOR").ok()))
            .or_else(|| non_empty(std::env::var("USER").ok()))
            .unwrap_or_else(|| "operator".to_owned())
    }
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create a key; prints its secret (`key`) once, never again.
    Create {
        /// The org's slug.
        #[arg(long)]
        org: String,
        #[arg(long, value_parser = ["live", "test"])]
        env: String,
        #[arg(long)]
        name: String,
        /// Comma-separated scopes: canonical `api.*` names or their aliases.
        #[arg(long)]
        scopes: String,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Every key of an org (revoked ones included), newest first.
    List {
        #[arg(long)]
        org: String,
    },
    /// Replace a key's scopes (applies at once; audited with the added/removed diff).
    Scopes {
        /// The key id.
        id: String,
        /// Comma-separated scopes: canonical `api.*` names or their aliases.
        #[arg(long)]
        set: String,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Issue a new secret with the same name and scopes; the old key works for 24 more hours.
    Rotate {
        /// The key id.
        id: String,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Revoke a key now.
    Revoke {
        /// The key id.
        id: String,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Revoke every rotated key whose 24 h grace has ended (the background job; idempotent).
    Sweep,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// An org's audit entries, newest first.
    List {
        #[arg(long)]
        org: String,
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
}

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Create an org and attribute an SES account to it.
    Create {
        #[arg(long)]
        name: String,
        /// URL-safe identifier: a-z, 0-9 and '-'.
        #[arg(long)]
        slug: String,
        /// The 12-digit AWS account that sends through SES (mail.sendingAccountId).
        #[arg(long = "aws-account")]
        aws_account: String,
        #[arg(long, default_value = "us-east-1")]
        region: String,
        #[arg(long, default_value = "free", value_parser = ["free", "pro", "enterprise"])]
        plan: String,
    },
    /// List every org.
    List,
    /// Override the org's live-key rate limit (requests per minute; test keys get 10 %), e.g. for
    /// load tests. Not for customers yet, so hidden from --help.
    #[command(hide = true)]
    SetRateLimit {
        #[arg(long)]
        org: String,
        /// Requests per minute.
        #[arg(long, required_unless_present = "clear", conflicts_with = "clear")]
        per_minute: Option<u32>,
        /// Remove the override (back to the plan default).
        #[arg(long)]
        clear: bool,
    },
}

#[derive(Subcommand)]
pub enum QuarantineCommand {
    /// List open entries, newest first. An entry whose record is not UTF-8 shows `raw` as lossy
    /// text, `raw_utf8: false` and its exact bytes in `raw_base64`.
    List {
        /// Only this reason (e.g. unknown_account, invalid_json, invalid_event).
        #[arg(long)]
        reason: Option<String>,
        /// Include entries already re-ingested.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Re-ingest open entries (by default those with reason unknown_account); entries that now
    /// store cleanly are marked resolved. Entries whose record is not UTF-8 can never decode:
    /// they are skipped and stay open (counted in still_quarantined).
    Replay {
        #[arg(long, default_value = "unknown_account")]
        reason: String,
        #[arg(long, default_value_t = 100_000)]
        limit: u64,
    },
}
