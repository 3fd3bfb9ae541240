//! `sendops-admin`: the operator CLI. Every command prints JSON on stdout; errors go to stderr
//! with a non-zero exit code.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use sendops_ingest::pipeline::replay_quarantine;
use sendops_shared::Store;
use sendops_shared::config::ClickHouseConfig;
use sendops_shared::envelope::QuarantineReason;
use sendops_shared::org::Plan;
use sendops_shared::store::{NewOrg, QuarantineRow};
use sendops_shared::timefmt::format_ms;
use serde_json::json;

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
    Migrate,
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
}

#[derive(Subcommand)]
enum QuarantineCommand {
    /// List open entries, newest first.
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
    /// store cleanly are marked resolved.
    Replay {
        #[arg(long, default_value = "unknown_account")]
        reason: String,
        #[arg(long, default_value_t = 100_000)]
        limit: u64,
    },
}

fn quarantine_json(q: &QuarantineRow) -> serde_json::Value {
    json!({
        "id": q.id,
        "received_at": format_ms(q.received_ms),
        "source": q.source,
        "reason": q.reason,
        "detail": q.detail,
        "account_id": q.account_id,
        "resolved_at": (q.resolved_ms > 0).then(|| format_ms(q.resolved_ms)),
        "raw": q.raw,
    })
}

fn parse_reason(reason: &str) -> anyhow::Result<QuarantineReason> {
    QuarantineReason::parse(reason).with_context(|| {
        let all: Vec<&str> = QuarantineReason::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown reason {reason:?}; one of: {}", all.join(", "))
    })
}

async fn run(cli: Cli) -> anyhow::Result<serde_json::Value> {
    let cfg = ClickHouseConfig::from_env();
    let store = Store::new(&cfg);
    match cli.command {
        Command::Migrate => {
            let version = store
                .server_version()
                .await
                .context("cannot reach ClickHouse")?;
            let applied = store.migrate().await?;
            Ok(json!({
                "database": store.database(),
                "server_version": version,
                "applied": applied,
                "migrations": store.applied_migrations().await?,
            }))
        }
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
    }
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
    match run(cli).await {
        Ok(value) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sendops-admin: {e:#}");
            ExitCode::FAILURE
        }
    }
}
