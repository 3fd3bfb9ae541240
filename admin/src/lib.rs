//! `sendops-admin`, the operator CLI, as a library: [`cli`] declares the commands, [`run`]
//! executes one against the store and returns its JSON and exit code (orgs, API keys and the
//! audit log, quarantine, migrations, exclusions and rules, repair here; SES account, syncs and
//! tracking domains in `ses_commands`). The binary (`main.rs`) only parses the command line,
//! sets up logging and prints. Every command prints JSON on stdout; errors go to stderr with a
//! non-zero exit code.

pub mod cli;
pub mod connect_aws;
pub mod notices;
pub mod providers;
pub mod retention;
pub mod ses_commands;

use cli::*;
pub use cli::{Cli, Command};

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
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
    // --cluster wins over CLICKHOUSE_CLUSTER.
    let store = &match &args.cluster {
        Some(c) if store.cluster() != Some(c.as_str()) => store.clone().with_cluster(c),
        _ => store.clone(),
    };
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
            "cluster": store.cluster(),
            "server_version": version,
            "applied": applied,
            "migrations": store.applied_migrations().await?,
        }),
        ExitCode::SUCCESS,
    ))
}

/// Runs a command against the store `CLICKHOUSE_*` names: its JSON and the exit code (success
/// unless the command says otherwise).
pub async fn run(command: Command) -> anyhow::Result<(serde_json::Value, ExitCode)> {
    let cfg = ClickHouseConfig::from_env();
    execute(&Store::new(&cfg), command).await
}

/// Runs a command against `store` (what [`run`] does once it has a store; tests call it with
/// their own database).
pub async fn execute(
    store: &Store,
    command: Command,
) -> anyhow::Result<(serde_json::Value, ExitCode)> {
    let value = match command {
        Command::Migrate(args) => return run_migrate(store, args).await,
        other => run_other(store, other).await?,
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
        Command::Notices { command } => notices::run_notices(&store, command).await,
        Command::Providers { command } => providers::run_providers(&store, command).await,
        Command::Sync { command } => ses_commands::run_sync(&store, command).await,
        Command::Templates { command } => ses_commands::run_templates(&store, command).await,
        Command::TrackingDomain { command } => {
            ses_commands::run_tracking_domain(&store, command).await
        }
        Command::Exclusion { command } => run_exclusion(&store, command).await,
        Command::Rules { command } => run_rules(&store, command).await,
        Command::Repair(args) => run_repair(&store, args).await,
        Command::Prune(args) => retention::run_prune(&store, args).await,
        Command::Erase(args) => retention::run_erase(&store, args).await,
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
