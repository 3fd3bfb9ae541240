//! `SENDOPS_LOG_FORMAT` for `sendops-admin` (issue 16): `json` makes every log line a JSON object;
//! anything but `text` or `json` stops the start with exit 2 naming the variable.

#[test]
fn a_bad_log_format_is_refused_with_its_name() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sendops-admin"))
        .args(["org", "list"])
        .env("SENDOPS_LOG_FORMAT", "logfmt")
        .env("CLICKHOUSE_URL", "http://127.0.0.1:1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SENDOPS_LOG_FORMAT"), "{stderr}");
}

#[test]
fn json_log_lines_parse() {
    // An unreachable store makes the command log (warn) before it fails.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sendops-admin"))
        .args(["org", "list"])
        .env("SENDOPS_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .env("CLICKHOUSE_URL", "http://127.0.0.1:1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logged: Vec<&str> = stderr.lines().filter(|l| l.starts_with('{')).collect();
    assert!(!logged.is_empty(), "no log line: {stderr}");
    for line in logged {
        let v: serde_json::Value = serde_json::from_str(line).expect(line);
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
}
