//! `sendops-admin`: the operator CLI (migrations, orgs, quarantine, API keys, audit log). Every
//! command prints JSON on stdout; errors go to stderr with a non-zero exit code.

mod ses_commands;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use sendops_shared::Store;
use sendops_shared::control::api_key::{ApiKey, KeyEnv};
use sendops_shared::control::org::NewOrg;
use sendops_shared::control::org::{Org, Plan};
use sendops_shared::control::scopes::parse_scope_list;
use sendops_shared::event::envelope::QuarantineReason;
use sendops_shared::store::QuarantineRow;
use sendops_shared::store::config::ClickHouseConfig;
use sendops_shared::store::migrate::MigrateOptions;
use sendops_shared::timefmt::{format_ms, now_ms};
use sendops_shared::write::pipeline::replay_quarantine;
use serde_json::json;
use uuid::Uuid;

/// SendOps operator CLI. Talks to ClickHouse at CLICKHOUSE_URL / CLICKHOUSE_DATABASE
/// (CLICKHOUSE_USER, CLICKHOUSE_PASSWORD) and prints JSON.
#[derive(Parser)]
#[command(name = "sendops-admin", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
        command: ses_commands::AccountCommand,
    },
    /// Sync entities from the org's SES account (SENDOPS_SES_ENDPOINT_URL for local runs).
    Sync {
        #[command(subcommand)]
        command: ses_commands::SyncCommand,
    },
    /// Email templates from a git repository's sendops.json manifest.
    Templates {
        #[command(subcommand)]
        command: ses_commands::TemplatesCommand,
    },
    /// Open/click tracking subdomains.
    TrackingDomain {
        #[command(subcommand)]
        command: ses_commands::TrackingDomainCommand,
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
}

#[derive(clap::Args)]
struct RepairArgs {
    /// The org's slug.
    #[arg(long)]
    org: String,
    /// First day to repair: the UTC day of this RFC 3339 time [default: the org's first day
    /// with events].
    #[arg(long, value_name = "RFC3339", value_parser = sendops_shared::store::repair::parse_day)]
    from: Option<u16>,
    /// Last day to repair (inclusive): the UTC day of this RFC 3339 time [default: the org's
    /// last day with events].
    #[arg(long, value_name = "RFC3339", value_parser = sendops_shared::store::repair::parse_day)]
    to: Option<u16>,
    /// Most rows of `events` per chunk (a bigger single day is a chunk of its own).
    #[arg(long, value_name = "ROWS", default_value_t = sendops_shared::store::repair::DEFAULT_CHUNK_ROWS, value_parser = clap::value_parser!(u64).range(1..))]
    chunk_rows: u64,
}

#[derive(clap::Args)]
struct MigrateArgs {
    /// Print {applied:[{version,name,checksum,applied_at}], pending:[…], mismatches:[{version,
    /// name,recorded,current}]} and change nothing. Exit 0, or 2 when there are mismatches.
    #[arg(long, conflicts_with = "dry_run")]
    status: bool,
    /// Print the pending migrations with their statements (JSON) and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Apply (or with --dry-run, show) migrations up to this version only.
    #[arg(long, value_name = "VERSION", conflicts_with = "status")]
    target: Option<u32>,
    /// How long to wait for another process's migration lock, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    lock_wait: u64,
    /// The lease of the migration lock, in seconds: a crashed process's lock is taken over after
    /// this long. Renewed every quarter of it while migrations run.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(2..))]
    lock_lease: u64,
}

#[derive(Subcommand)]
enum ExclusionCommand {
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
enum RulesCommand {
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
struct ActorArg {
    /// Recorded in the audit log [default: $SENDOPS_ACTOR, else $USER, else "operator"].
    #[arg(long)]
    actor: Option<String>,
}

impl ActorArg {
    fn resolve(self) -> String {
        let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        non_empty(self.actor)
            .or_else(|| non_empty(std::env::var("SENDOPS_ACTOR").ok()))
            .or_else(|| non_empty(std::env::var("USER").ok()))
            .unwrap_or_else(|| "operator".to_owned())
    }
}

#[derive(Subcommand)]
enum KeyCommand {
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
enum AuditCommand {
    /// An org's audit entries, newest first.
    List {
        #[arg(long)]
        org: String,
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
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
enum QuarantineCommand {
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

/// One quarantine entry as `quarantine list` prints it. `raw` is the record as text; a record
/// whose bytes are not UTF-8 (a replayed line kept as it was read) shows as lossy text (U+FFFD
/// for the bad bytes) with `raw_utf8: false` and its exact bytes in `raw_base64` (null when
/// `raw` is exact).
fn quarantine_json(q: &QuarantineRow<Vec<u8>>) -> serde_json::Value {
    let utf8 = q.raw_text().is_some();
    json!({
        "id": q.id,
        "received_at": format_ms(q.received_ms),
        "source": q.source,
        "reason": q.reason,
        "detail": q.detail,
        "account_id": q.account_id,
        "resolved_at": (q.resolved_ms > 0).then(|| format_ms(q.resolved_ms)),
        "raw": q.raw_lossy(),
        "raw_utf8": utf8,
        "raw_base64": (!utf8).then(|| q.raw_base64()),
    })
}

fn parse_reason(reason: &str) -> anyhow::Result<QuarantineReason> {
    QuarantineReason::parse(reason).with_context(|| {
        let all: Vec<&str> = QuarantineReason::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown reason {reason:?}; one of: {}", all.join(", "))
    })
}

async fn org_by_slug(store: &Store, slug: &str) -> anyhow::Result<Org> {
    store
        .org_by_slug(slug)
        .await?
        .with_context(|| format!("no org with slug {slug:?}"))
}

fn parse_key_id(id: &str) -> anyhow::Result<Uuid> {
    Uuid::parse_str(id.trim()).map_err(|e| anyhow::anyhow!("malformed key id {id:?}: {e}"))
}

async fn existing_key(store: &Store, id: Uuid) -> anyhow::Result<ApiKey> {
    store
        .key_by_id(id)
        .await?
        .with_context(|| format!("no API key with id {id}"))
}

/// The answer to `key create` and `key rotate`: the key and, this once, its secret.
fn new_key_json(key: &ApiKey, secret: &str) -> serde_json::Value {
    json!({
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "environment": key.environment,
        "scopes": key.scopes,
        "key": secret,
    })
}

async fn run_key(store: &Store, command: KeyCommand) -> anyhow::Result<serde_json::Value> {
    match command {
        KeyCommand::Create {
            org,
            env,
            name,
            scopes,
            actor,
        } => {
            let env = KeyEnv::parse(&env).context("--env must be live or test")?;
            let scopes = parse_scope_list(&scopes).map_err(anyhow::Error::msg)?;
            let org = org_by_slug(store, &org).await?;
            let (key, secret) = store
                .create_key(org.id, env, &name, &scopes, &actor.resolve())
                .await?;
            Ok(new_key_json(&key, &secret))
        }
        KeyCommand::List { org } => {
            let org = org_by_slug(store, &org).await?;
            Ok(serde_json::to_value(store.list_keys(org.id).await?)?)
        }
        KeyCommand::Scopes { id, set, actor } => {
            let id = parse_key_id(&id)?;
            let scopes = parse_scope_list(&set).map_err(anyhow::Error::msg)?;
            Ok(serde_json::to_value(
                store.set_key_scopes(id, &scopes, &actor.resolve()).await?,
            )?)
        }
        KeyCommand::Rotate { id, actor } => {
            let id = parse_key_id(&id)?;
            let (key, secret) = store.rotate_key(id, &actor.resolve()).await?;
            let old = existing_key(store, id).await?;
            let mut out = new_key_json(&key, &secret);
            out["old_key_expires_at"] = json!(format_ms(old.expires_ms));
            Ok(out)
        }
        KeyCommand::Revoke { id, actor } => {
            let id = parse_key_id(&id)?;
            Ok(serde_json::to_value(
                store.revoke_key(id, &actor.resolve()).await?,
            )?)
        }
        KeyCommand::Sweep => Ok(serde_json::to_value(
            store.expire_rotation_grace(now_ms()).await?,
        )?),
    }
}

async fn run_exclusion(
    store: &Store,
    command: ExclusionCommand,
) -> anyhow::Result<serde_json::Value> {
    match command {
        ExclusionCommand::Add {
            org,
            email,
            by,
            reason,
        } => {
            let org = org_by_slug(store, &org).await?;
            let x = store.add_exclusion(org.id, &email, &by, &reason).await?;
            Ok(x.to_json())
        }
        ExclusionCommand::List { org } => {
            let org = org_by_slug(store, &org).await?;
            let all = store.exclusions(org.id).await?;
            Ok(json!(all.iter().map(|x| x.to_json()).collect::<Vec<_>>()))
        }
    }
}

async fn run_rules(store: &Store, command: RulesCommand) -> anyhow::Result<serde_json::Value> {
    use sendops_shared::undeliverable::{Profile, Rule, RuleSet};
    match command {
        RulesCommand::Show { org } => {
            let org = org_by_slug(store, &org).await?;
            Ok(store.undeliverable_rules(&org).await?.view().to_json())
        }
        RulesCommand::Set {
            org,
            profile,
            rule,
            enabled,
            events,
            window_days,
            actor,
        } => {
            let org = org_by_slug(store, &org).await?;
            let current = store.undeliverable_rules(&org).await?;
            let set = match (profile, rule) {
                (Some(p), _) => Profile::parse(&p)
                    .and_then(RuleSet::of_profile)
                    .context("--profile must be standard or strict")?,
                (None, Some(r)) => {
                    let rule = Rule::parse(&r).context("unknown --rule")?;
                    if enabled.is_none() && events.is_none() && window_days.is_none() {
                        bail!("--rule needs at least one of --enabled, --events, --window-days");
                    }
                    current
                        .set
                        .with_rule(rule, enabled, events, window_days)
                        .map_err(anyhow::Error::msg)?
                }
                (None, None) => bail!("give --profile or --rule"),
            };
            let change = store
                .set_undeliverable_rules(&org, set, &actor.resolve())
                .await?;
            Ok(json!({
                "changed": change.changed,
                "rows_changed": change.marked,
                "rules": change.rules.view().to_json(),
            }))
        }
    }
}

/// `migrate`: its JSON and exit code (2 for `--status` with checksum mismatches).
async fn run_migrate(
    store: &Store,
    args: MigrateArgs,
) -> anyhow::Result<(serde_json::Value, ExitCode)> {
    let version = store
        .server_version()
        .await
        .context("cannot reach ClickHouse")?;
    if args.status {
        let status = store.migration_status().await?;
        let code = if status.mismatches.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        };
        return Ok((serde_json::to_value(status)?, code));
    }
    if args.dry_run {
        let plan = store.migration_plan(args.target).await?;
        return Ok((serde_json::to_value(plan)?, ExitCode::SUCCESS));
    }
    let mut opts = MigrateOptions::default();
    opts.target = args.target;
    opts.lease.ttl = Duration::from_secs(args.lock_lease);
    opts.lease.wait = Duration::from_secs(args.lock_wait);
    opts.progress = Arc::new(|line| eprintln!("sendops-admin migrate: {line}"));
    let applied = store.migrate_with(&opts).await?;
    Ok((
        json!({
            "database": store.database(),
            "server_version": version,
            "applied": applied,
            "migrations": store.applied_migrations().await?,
        }),
        ExitCode::SUCCESS,
    ))
}

/// Runs a command: its JSON and the exit code (success unless the command says otherwise).
async fn run(command: Command) -> anyhow::Result<(serde_json::Value, ExitCode)> {
    let cfg = ClickHouseConfig::from_env();
    let store = Store::new(&cfg);
    let value = match command {
        Command::Migrate(args) => return run_migrate(&store, args).await,
        other => run_other(&store, other).await?,
    };
    Ok((value, ExitCode::SUCCESS))
}

async fn run_other(store: &Store, command: Command) -> anyhow::Result<serde_json::Value> {
    let store = store.clone();
    match command {
        Command::Migrate(args) => Ok(run_migrate(&store, args).await?.0),
        Command::Org {
            command:
                OrgCommand::Create {
                    name,
                    slug,
                    aws_account,
                    region,
                    plan,
                },
        } => {
            let plan = Plan::parse(&plan).context("plan must be free, pro or enterprise")?;
            let org = store
                .create_org(NewOrg {
                    name,
                    slug,
                    aws_account_id: aws_account,
                    region,
                    plan,
                })
                .await?;
            Ok(serde_json::to_value(org)?)
        }
        Command::Org {
            command: OrgCommand::List,
        } => Ok(serde_json::to_value(store.list_orgs().await?)?),
        Command::Org {
            command:
                OrgCommand::SetRateLimit {
                    org,
                    per_minute,
                    clear: _,
                },
        } => Ok(serde_json::to_value(
            store.set_org_rate_limit(&org, per_minute).await?,
        )?),
        Command::Quarantine {
            command: QuarantineCommand::List { reason, all, limit },
        } => {
            if let Some(r) = &reason {
                parse_reason(r)?;
            }
            let rows = store.list_quarantine(reason.as_deref(), all, limit).await?;
            Ok(json!(rows.iter().map(quarantine_json).collect::<Vec<_>>()))
        }
        Command::Quarantine {
            command: QuarantineCommand::Replay { reason, limit },
        } => {
            parse_reason(&reason)?;
            if limit == 0 {
                bail!("--limit must be at least 1");
            }
            Ok(serde_json::to_value(
                replay_quarantine(&store, &reason, limit).await?,
            )?)
        }
        Command::Key { command } => run_key(&store, command).await,
        Command::Audit {
            command: AuditCommand::List { org, limit },
        } => {
            if limit == 0 {
                bail!("--limit must be at least 1");
            }
            let org = org_by_slug(&store, &org).await?;
            Ok(serde_json::to_value(store.audit_log(org.id, limit).await?)?)
        }
        Command::Account { command } => ses_commands::run_account(&store, command).await,
        Command::Sync { command } => ses_commands::run_sync(&store, command).await,
        Command::Templates { command } => ses_commands::run_templates(&store, command).await,
        Command::TrackingDomain { command } => {
            ses_commands::run_tracking_domain(&store, command).await
        }
        Command::Exclusion { command } => run_exclusion(&store, command).await,
        Command::Rules { command } => run_rules(&store, command).await,
        Command::Repair(args) => run_repair(&store, args).await,
    }
}

/// `repair`: re-feeds the org's derived tables (sendops_shared::store::repair).
async fn run_repair(store: &Store, args: RepairArgs) -> anyhow::Result<serde_json::Value> {
    use sendops_shared::store::repair::RepairOptions;
    let org = org_by_slug(store, &args.org).await?;
    let opts = RepairOptions {
        from_day: args.from,
        to_day: args.to,
        max_chunk_rows: args.chunk_rows,
        progress: Arc::new(|line| eprintln!("sendops-admin repair: {line}")),
    };
    let summary = store.repair_org(org.id, &opts).await?;
    let mut out = serde_json::to_value(summary)?;
    out["org"] = json!(org.slug);
    Ok(out)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    match run(cli.command).await {
        Ok((value, code)) => {
            sendops_shared::print_line(&serde_json::to_string_pretty(&value).unwrap_or_default());
            code
        }
        Err(e) => {
            eprintln!("sendops-admin: {e:#}");
            ExitCode::FAILURE
        }
    }
}
