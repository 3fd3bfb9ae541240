//! `sendops-admin account connect-aws` as operators run it: the binary against a per-test
//! database on the real ClickHouse, STS on moto_server (`SENDOPS_MOTO_URL`, default
//! http://127.0.0.1:5055) and SES v2 on the testkit fake.
//!
//! moto's AssumeRole enforces neither the role's existence nor its trust policy's
//! `sts:ExternalId` condition (any id is accepted), so a wrong id cannot be shown to fail here;
//! what is asserted is that the generated id is printed, stored and reused, that the check
//! assumes the role through STS and calls SES with the assumed credentials, and that a failing
//! STS call records nothing.

use std::process::{Command, Output};

use sendops_shared::store::testing::TestDb;
use sendops_testkit::ses::{FakeConfigurationSet, FakeSes};
use serde_json::{Value, json};

fn moto_url() -> String {
    std::env::var("SENDOPS_MOTO_URL").unwrap_or_else(|_| "http://127.0.0.1:5055".into())
}

async fn admin(db: &TestDb, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sendops-admin"));
    cmd.args(args)
        .env("CLICKHOUSE_URL", &db.config.url)
        .env("CLICKHOUSE_DATABASE", &db.config.database)
        .env_remove("RUST_LOG")
        .env_remove("SENDOPS_SES_ENDPOINT_URL")
        .env_remove("SENDOPS_STS_ENDPOINT_URL")
        .env_remove("SENDOPS_PLATFORM_EVENT_BUS_ARN")
        .env_remove("SENDOPS_PLATFORM_QUEUE_ARN")
        .env_remove("SENDOPS_PLATFORM_ACCOUNT_ID")
        .env("AWS_ACCESS_KEY_ID", "AKIDPLATFORM")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("run sendops-admin"))
        .await
        .unwrap()
}

async fn ok(db: &TestDb, env: &[(&str, &str)], args: &[&str]) -> Value {
    let out = admin(db, env, args).await;
    assert!(
        out.status.success(),
        "sendops-admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_aws_generates_the_external_id_and_checks_the_role_through_sts() {
    let db = TestDb::new("cli_connect_aws").await;
    let fake = FakeSes::start().await;
    fake.put_configuration_set(FakeConfigurationSet {
        name: "sendops".into(),
        sending_enabled: true,
        tags: vec![("sendops:template-version".into(), "1".into())],
        ..Default::default()
    });
    for (slug, account) in [("acme", "111111111111"), ("beta", "222222222222")] {
        ok(
            &db,
            &[],
            &[
                "org",
                "create",
                "--name",
                slug,
                "--slug",
                slug,
                "--aws-account",
                account,
            ],
        )
        .await;
    }

    // 1. Parameters: the id is generated, stored, and the same on a second run.
    let bus = [(
        "SENDOPS_PLATFORM_EVENT_BUS_ARN",
        "arn:aws:events:us-east-1:999999999999:event-bus/sendops",
    )];
    let v = ok(&db, &bus, &["account", "connect-aws", "--org", "acme"]).await;
    let id = v["parameters"]["ExternalId"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 40);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(
        v["parameters"],
        json!({"PlatformAccountId": "999999999999", "ExternalId": id, "Transport": "EventBridge",
            "PlatformDestinationArn": "arn:aws:events:us-east-1:999999999999:event-bus/sendops"})
    );
    assert_eq!(v["aws_role"], Value::Null);
    let again = ok(&db, &bus, &["account", "connect-aws", "--org", "acme"]).await;
    assert_eq!(again["parameters"]["ExternalId"], json!(id));
    let sns = ok(
        &db,
        &[(
            "SENDOPS_PLATFORM_QUEUE_ARN",
            "arn:aws:sqs:us-east-1:999999999999:sendops-ingest",
        )],
        &[
            "account",
            "connect-aws",
            "--org",
            "beta",
            "--transport",
            "SNS",
        ],
    )
    .await;
    assert_eq!(sns["parameters"]["Transport"], json!("SNS"));
    assert_eq!(
        sns["parameters"]["PlatformAccountId"],
        json!("999999999999")
    );
    assert_ne!(sns["parameters"]["ExternalId"], json!(id), "one id per org");

    // 2. With the role: assumed through moto's STS, SES read with the assumed credentials, the
    //    tagged template version recorded.
    let moto = moto_url();
    let endpoints = [
        ("SENDOPS_STS_ENDPOINT_URL", moto.as_str()),
        ("SENDOPS_SES_ENDPOINT_URL", &fake.url()),
    ];
    let role = "arn:aws:iam::111111111111:role/sendops-read";
    let v = ok(
        &db,
        &endpoints,
        &[
            "account",
            "connect-aws",
            "--org",
            "acme",
            "--role-arn",
            role,
            "--stack-name",
            "sendops-acme",
        ],
    )
    .await;
    let assumed = v["check"]["assumed_role_arn"].as_str().unwrap();
    assert!(
        assumed.starts_with("arn:aws:sts::111111111111:assumed-role/sendops-read/sendops-check-"),
        "{assumed}"
    );
    assert_eq!(v["check"]["template_version"], json!(1));
    assert_eq!(v["check"]["configuration_set"], json!("sendops"));
    assert_eq!(v["aws_role"], json!({"role_arn": role, "external_id": id}));
    assert_eq!(v["cloudformation"]["stack_name"], json!("sendops-acme"));
    assert_eq!(v["cloudformation"]["template_version"], json!(1));
    let scopes = fake.credential_scopes();
    assert!(!scopes.is_empty());
    assert!(
        scopes.iter().all(|s| !s.starts_with("AKIDPLATFORM/")),
        "SES must be called with the assumed role's credentials: {scopes:?}"
    );
    let shown = ok(&db, &[], &["account", "show", "--org", "acme"]).await;
    assert_eq!(shown["aws_role"]["external_id"], json!(id));

    // 3. STS failing: nothing recorded.
    let out = admin(
        &db,
        &[
            ("SENDOPS_STS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("SENDOPS_SES_ENDPOINT_URL", &fake.url()),
        ],
        &[
            "account",
            "connect-aws",
            "--org",
            "beta",
            "--role-arn",
            "arn:aws:iam::222222222222:role/sendops-read",
        ],
    )
    .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("could not assume"), "{err}");
    let shown = ok(&db, &[], &["account", "show", "--org", "beta"]).await;
    assert_eq!(shown["aws_role"], Value::Null);
    db.drop().await;
}
