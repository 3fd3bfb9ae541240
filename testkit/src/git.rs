//! `git` as the template-sync tests run it: a fixed author, no user or system config.

use std::path::Path;
use std::process::Command;

use crate::process::run_ok;

/// Runs `git args` in `dir` as "Test <test@example.com>" without the user's or the system's
/// config, dated `date` (RFC 3339) when given; panics unless it succeeds; returns its stdout,
/// trimmed.
pub fn git(dir: &Path, args: &[&str], date: Option<&str>) -> String {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    if let Some(date) = date {
        cmd.env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date);
    }
    String::from_utf8_lossy(&run_ok(&mut cmd).stdout)
        .trim()
        .to_owned()
}
