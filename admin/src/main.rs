//! `sendops-admin`: parses the command line, sets up logging on stderr, runs the command
//! (`sendops_admin::run`) and prints its JSON on stdout; errors go to stderr with exit code 1.

use std::process::ExitCode;

use clap::Parser;
use sendops_admin::Cli;

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
    match sendops_admin::run(cli.command).await {
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
