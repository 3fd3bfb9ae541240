//! `CLICKHOUSE_SECRET_ARN`: the binary reads its ClickHouse credentials from Secrets Manager
//! (moto_server, through the real SDK) before it connects, and refuses to start with the reason
//! when the secret cannot be used — never printing the password.

mod common;

use std::io::Write as _;

use common::{ACCOUNT, acme_db, expected_rows, moto, traffic};
use sendops_fixtures::Wrapper;
use sendops_shared::store::Table;
use sendops_shared::store::testing::TestDb;

async fn secret(name: &str, value: &str) -> String {
    aws_sdk_secretsmanager::Client::new(&moto::sdk())
        .create_secret()
        .name(format!("{name}-{}", std::process::id()))
        .secret_string(value)
        .send()
        .await
        .unwrap_or_else(moto::down)
        .arn
        .unwrap()
}

/// Runs `sendops-ingest replay FILE` with the secret; returns (success, stderr).
fn replay(db: &TestDb, arn: &str, file: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sendops-ingest"))
        .args(["replay", file.to_str().unwrap()])
        .env("CLICKHOUSE_URL", &db.config.url)
        .env("CLICKHOUSE_DATABASE", &db.config.database)
        .env_remove("CLICKHOUSE_USER")
        .env_remove("CLICKHOUSE_PASSWORD")
        .env("CLICKHOUSE_SECRET_ARN", arn)
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto::url())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn credentials_come_from_the_secret_and_a_bad_secret_stops_the_start() {
    let db = acme_db("ingest_secret").await;
    let events = traffic(25, 10, ACCOUNT);
    let mut w = Wrapper::new(25);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for e in &events {
        // One record per line (an SNS body is pretty-printed JSON).
        let body: serde_json::Value = serde_json::from_str(&w.sns_body(e)).unwrap();
        writeln!(file, "{body}").unwrap();
    }

    // The local server's `default` user has no password: the secret's credentials work.
    let good = secret("sendops-ch-good", r#"{"username":"default","password":""}"#).await;
    let (ok, err) = replay(&db, &good, file.path());
    assert!(ok, "{err}");
    assert_eq!(
        db.store.count(Table::Events).await.unwrap() as usize,
        expected_rows(&events).len(),
        "{err}"
    );
    assert_eq!(
        db.store.count(Table::Events).await.unwrap() as usize,
        expected_rows(&events).len()
    );

    // A wrong password is used (the server refuses it) and never printed.
    let wrong = secret(
        "sendops-ch-wrong",
        r#"{"username":"default","password":"s3cret-not-this-one"}"#,
    )
    .await;
    let (ok, err) = replay(&db, &wrong, file.path());
    assert!(!ok, "a wrong password must fail");
    assert!(
        !err.contains("s3cret-not-this-one"),
        "the password leaked: {err}"
    );

    // A secret that does not exist, or is not the JSON object: refused at start, naming it.
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf";
    let (ok, err) = replay(&db, missing, file.path());
    assert!(!ok);
    assert!(
        err.contains("CLICKHOUSE_SECRET_ARN") && err.contains("cannot read the secret"),
        "{err}"
    );
    let text = secret("sendops-ch-text", "just-a-password").await;
    let (ok, err) = replay(&db, &text, file.path());
    assert!(!ok);
    assert!(err.contains("not a JSON object"), "{err}");
    assert!(!err.contains("just-a-password"), "the secret leaked: {err}");
    db.drop().await;
}
