//! `sendops-fake-sqs`: the in-memory SQS stand-in of `sendops_testkit::sqs` as a process, with
//! every line of the given files put on its queue (one message per line) before it listens.
//! Prints one JSON line once ready — `{"endpoint","queue_url","messages"}` — and serves until
//! SIGTERM or SIGINT, then prints its statistics (also at `GET /_stats`) as one JSON line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use sendops_testkit::sqs::FakeSqs;

/// An in-memory Amazon SQS queue (AWS JSON 1.0 protocol) serving the lines of files as messages.
#[derive(Parser)]
#[command(name = "sendops-fake-sqs")]
struct Args {
    /// Address to listen on (port 0: a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The queue's name (the last segment of its URL).
    #[arg(long, default_value = "sendops-bench")]
    queue: String,
    /// Every call answers this many milliseconds later (real SQS: ~10–20 ms).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// The queue's default visibility timeout, seconds.
    #[arg(long, default_value_t = 30)]
    visibility_timeout: u64,
    /// Files whose non-empty lines become messages, in order.
    files: Vec<PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let sqs = match FakeSqs::start_on(
        args.listen,
        &args.queue,
        Duration::from_secs(args.visibility_timeout),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sendops-fake-sqs: cannot listen on {}: {e}", args.listen);
            return std::process::ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let mut messages = 0;
    for f in &args.files {
        match sqs.push_lines(f) {
            Ok(n) => messages += n,
            Err(e) => {
                eprintln!("sendops-fake-sqs: {}: {e}", f.display());
                return std::process::ExitCode::from(2);
            }
        }
    }
    eprintln!(
        "sendops-fake-sqs: {messages} messages loaded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    sqs.set_latency(Duration::from_millis(args.latency_ms));
    println!(
        "{}",
        serde_json::json!({
            "endpoint": sqs.url(),
            "queue_url": sqs.queue_url(),
            "messages": messages,
        })
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    println!(
        "{}",
        serde_json::to_string(&sqs.stats()).unwrap_or_default()
    );
    std::process::ExitCode::SUCCESS
}
