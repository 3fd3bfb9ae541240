//! `sendops-ingest`: SES events from SQS (Lambda or a poller) or from files into ClickHouse.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use sendops_ingest::poll::{self, PollConfig};
use sendops_ingest::sns_confirm::Confirmer;
use sendops_ingest::{Pipeline, Source, lambda, replay};
use sendops_shared::Store;
use sendops_shared::store::config::ClickHouseConfig;

/// mimalloc instead of the system allocator: the poller allocates per SQS message and per call
/// (the SDK's response decoding), where glibc's malloc/free took 18 % of its CPU
/// (benches/README.md, "`poll` against the ceiling").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// SendOps ingest: stores SES events (every envelope: raw, SNS, EventBridge, SQS, Lambda) in
/// ClickHouse. Configuration comes from CLICKHOUSE_URL, CLICKHOUSE_DATABASE, CLICKHOUSE_USER,
/// CLICKHOUSE_PASSWORD and, on a ClickHouse cluster, CLICKHOUSE_CLUSTER (docs/scale-out.md). With no subcommand it runs as a Lambda function when
/// AWS_LAMBDA_RUNTIME_API is set. Lambda and poll confirm SNS subscriptions of known orgs' topics
/// (SENDOPS_SNS_CONFIRM=off disables it; SENDOPS_SNS_ENDPOINT_URL overrides the SNS endpoint).
#[derive(Parser)]
#[command(name = "sendops-ingest", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run as an AWS Lambda function with an SQS event source (ReportBatchItemFailures).
    Lambda,
    /// Long-poll an SQS queue; delete messages only after their rows are committed. On SIGTERM or
    /// SIGINT: stop receiving, finish the batch in hand, exit 0 (messages received since stay on
    /// the queue).
    Poll {
        /// The queue to read.
        #[arg(long)]
        queue_url: String,
        /// SQS endpoint override (e.g. a local moto_server).
        #[arg(long, env = "SQS_ENDPOINT_URL")]
        endpoint_url: Option<String>,
        /// Flush when this many messages are buffered. Larger batches cost ClickHouse less per
        /// event (every INSERT fires each materialized view once); the poller holds up to two
        /// batches (about 240 MiB peak at 20,000 SNS-wrapped SES events).
        #[arg(long, default_value_t = 20_000)]
        max_messages: usize,
        /// Flush when the oldest buffered message has waited this many milliseconds.
        #[arg(long, default_value_t = 5_000)]
        max_wait_ms: u64,
        /// Long-poll wait per receive, 0–20 seconds.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i32).range(0..=20))]
        wait_time_seconds: i32,
        /// Visibility timeout to ask for on receive (seconds); the queue's default otherwise.
        #[arg(long)]
        visibility_timeout: Option<i32>,
        /// Exit once the queue is empty and everything received is stored.
        #[arg(long)]
        until_empty: bool,
        /// ReceiveMessage calls kept in flight while a batch is filled (1–100; each returns at
        /// most 10 messages, so one at a time caps a poller near 10 messages per SQS round trip).
        /// A receive is started only while the messages buffered plus 10 per receive in flight
        /// stay below --max-messages.
        #[arg(long, env = "SQS_RECEIVERS", default_value_t = poll::RECEIVERS_DEFAULT as u16,
              value_parser = clap::value_parser!(u16).range(1..=poll::RECEIVERS_MAX as i64))]
        receivers: u16,
        /// DeleteMessageBatch calls (10 messages each) in flight at once while a stored batch's
        /// messages are deleted (1–100).
        #[arg(long, env = "SQS_DELETERS", default_value_t = poll::DELETERS_DEFAULT as u16,
              value_parser = clap::value_parser!(u16).range(1..=poll::DELETERS_MAX as i64))]
        deleters: u16,
    },
    /// Replay files: each holds one JSON document, a JSON array, or NDJSON ('-' reads stdin).
    /// Prints {"records":N,"events":N,"rows":N,"quarantined":N,"acknowledged":N,"duplicates":N}.
    Replay {
        /// Files to replay; '-' is standard input.
        #[arg(required = true)]
        files: Vec<String>,
        /// Records per batch (one INSERT each, split evenly above 100,000 rows). Bigger batches
        /// mean fewer, cheaper INSERTs (each has a fixed cost) but more memory: the batch's
        /// records and rows are held at once (~300 MB at 50,000 SNS-wrapped events).
        #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        chunk: u64,
    },
}

/// The log subscriber in `SENDOPS_LOG_FORMAT` (checked at start, so it cannot fail here).
fn init_tracing(default: &str) {
    let format =
        sendops_shared::ops::LogFormat::from_env().unwrap_or(sendops_shared::ops::LogFormat::Text);
    sendops_shared::ops::init_logging(format, default);
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Some(c) => c,
        None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => Command::Lambda,
        None => {
            eprintln!(
                "sendops-ingest: no subcommand given and AWS_LAMBDA_RUNTIME_API is not set; see --help"
            );
            return ExitCode::from(2);
        }
    };
    if let Err(e) = sendops_shared::ops::LogFormat::from_env() {
        eprintln!("sendops-ingest: {e}");
        return ExitCode::from(2);
    }
    let metrics_addr = match sendops_shared::ops::metrics_addr_from_env() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sendops-ingest: {e}");
            return ExitCode::from(2);
        }
    };
    let sns_settings = match sendops_ingest::sns_confirm::Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sendops-ingest: {e}");
            return ExitCode::from(2);
        }
    };
    let mut cfg = ClickHouseConfig::from_env();
    if let Err(e) = sendops_ingest::secret::apply(&mut cfg).await {
        eprintln!("sendops-ingest: {e}");
        return ExitCode::from(2);
    }
    let store = match Store::connect(&cfg) {
        Ok(store) => store.adapted_to_server().await,
        Err(e) => {
            eprintln!("sendops-ingest: {e}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Lambda => {
            init_tracing("info");
            let confirmer = Confirmer::from_settings(&sns_settings).await;
            match lambda::run_confirming(Pipeline::new(store, Source::Lambda), confirmer).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("sendops-ingest: lambda runtime: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Poll {
            queue_url,
            endpoint_url,
            max_messages,
            max_wait_ms,
            wait_time_seconds,
            visibility_timeout,
            until_empty,
            receivers,
            deleters,
        } => {
            init_tracing("info");
            if let Some(addr) = metrics_addr {
                let served = match sendops_ingest::ops::install_recorder() {
                    Ok(handle) => sendops_ingest::ops::serve(addr, handle, store.clone())
                        .await
                        .map_err(|e| format!("cannot listen on {addr}: {e}")),
                    Err(e) => Err(e),
                };
                if let Err(e) = served {
                    eprintln!("sendops-ingest: SENDOPS_METRICS_ADDR: {e}");
                    return ExitCode::from(2);
                }
                tracing::info!(%addr, "metrics and readiness listener (/metrics, /ready)");
            }
            let sqs = poll::sqs_client(endpoint_url.as_deref()).await;
            let cfg = PollConfig {
                queue_url,
                max_messages: max_messages.max(1),
                max_wait: Duration::from_millis(max_wait_ms),
                wait_time_seconds,
                visibility_timeout,
                until_empty,
                receivers: usize::from(receivers),
                deleters: usize::from(deleters),
            };
            let pipeline = Pipeline::new(store, Source::Poll);
            // SIGTERM (ECS, Kubernetes) or SIGINT: stop receiving, finish the batch in hand.
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                sendops_ops::termination().await;
                tracing::info!("termination signal: finishing the batch in hand");
                let _ = stop.send(true);
            });
            let confirmer = Confirmer::from_settings(&sns_settings).await;
            let result =
                poll::run_confirming(&pipeline, &sqs, &cfg, stopped, confirmer.as_ref()).await;
            match result {
                Ok(summary) => {
                    sendops_shared::print_line(
                        &serde_json::to_string(&summary).unwrap_or_default(),
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("sendops-ingest: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Replay { files, chunk } => {
            init_tracing("warn");
            let pipeline = Pipeline::new(store, Source::Replay);
            match replay::replay_paths(&pipeline, &files, chunk as usize).await {
                Ok(report) => {
                    sendops_shared::print_line(&serde_json::to_string(&report).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("sendops-ingest: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
