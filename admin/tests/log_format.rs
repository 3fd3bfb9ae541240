//! `SENDOPS_LOG_FORMAT` for `sendops-admin` (issue 16): `json` makes every log line a JSON object;
//! anything but `text` or `json` stops the start with exit 2 naming the variable.

use std::process::{Command, Output};

/// `sendops-admin org list` against an unreachable store, with these variables set.
fn org_list_with(env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sendops-admin"))
        .args(["org", "list"])
        .envs(env.iter().copied())
        .env("CLICKHOUSE_URL", "http://127.0.0.1:1")
        .output()
        .unwrap()
}

#[test]
fn a_bad_log_format_is_refused_with_its_name() {
    let out = org_list_with(&[("SENDOPS_LOG_FORMAT", "logfmt")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SENDOPS_LOG_FORMAT"), "{stderr}");
}

#[test]
fn json_log_lines_parse() {
    // An unreachable store makes the command log (warn) before it fails.
    let out = org_list_with(&[("SENDOPS_LOG_FORMAT", "json"), ("RUST_LOG", "debug")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logged: Vec<&str> = stderr.lines().filter(|l| l.starts_with('{')).collect();
    assert!(!logged.is_empty(), "no log line: {stderr}");
    for line in logged {
        let v: serde_json::Value = serde_json::from_str(line).expect(line);
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
}
