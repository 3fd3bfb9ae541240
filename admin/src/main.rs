//! `sendops-admin`: parses the command line, sets up logging on stderr, runs the command
//! (`sendops_admin::run`) and prints its JSON on stdout; errors go to stderr with exit code 1.

use std::process::ExitCode;

use clap::Parser;
use sendops_admin::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match sendops_shared::ops::LogFormat::from_env() {
        Ok(format) => sendops_shared::ops::init_logging(format, "warn"),
        Err(e) => {
            eprintln!("sendops-admin: {e}");
            return ExitCode::from(2);
        }
    }
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
