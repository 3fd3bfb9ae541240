//! `sendops-admin notices list` against a per-test database on the real ClickHouse: recorded
//! SNS SubscriptionConfirmations are shown with their check (confirmable with the SubscribeURL,
//! or refused with the reason: the SSRF guard of `sendops_shared::event::sns_confirm`).

mod common;

use common::{Admin, create_acme};
use sendops_shared::store::testing::TestDb;
use sendops_shared::store::{ConfirmationOutcome, ConfirmationRow, NoticeRow};
use sendops_testkit::process::assert_success;
use serde_json::{Value, json};
use uuid::Uuid;

async fn list(db: &TestDb, args: &[&str]) -> Value {
    let mut all = vec!["notices", "list"];
    all.extend_from_slice(args);
    let cmd = Admin { db }.command(&all);
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = cmd;
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn confirmation(n: u8, topic: &str, url: &str) -> NoticeRow {
    NoticeRow {
        id: Uuid::from_u128(u128::from(n)),
        received_ms: 1_780_000_000_000 + i64::from(n),
        kind: "sns_subscription_confirmation".into(),
        topic_arn: topic.into(),
        raw: json!({"Type": "SubscriptionConfirmation", "MessageId": format!("m{n}"),
            "Token": "tok", "TopicArn": topic, "SubscribeURL": url})
        .to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_list_shows_each_confirmation_with_its_check() {
    let db = TestDb::new("cli_notices").await;
    Admin { db: &db }.ok(&create_acme("111111111111", &[]));
    let acme = "arn:aws:sns:us-east-1:111111111111:sendops-events";
    let good =
        "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=tok";
    db.store
        .insert_notices(&[
            confirmation(1, acme, good),
            confirmation(2, acme, "http://sns.us-east-1.amazonaws.com/?Token=tok"),
            confirmation(3, acme, "https://sns.us-east-1.amazonaws.com.evil.example/"),
            confirmation(4, acme, "https://sns.eu-west-1.amazonaws.com/"),
            confirmation(
                5,
                "arn:aws:sns:us-east-1:222222222222:other",
                "https://sns.us-east-1.amazonaws.com/",
            ),
        ])
        .await
        .unwrap();

    // What ingest's automatic confirmation recorded (ingest/tests/sns_confirm.rs writes these
    // for real): the latest attempt of a notice is shown.
    let attempt =
        |n: u128, ms: i64, outcome: ConfirmationOutcome, detail: &str, arn: &str| ConfirmationRow {
            notice_id: Uuid::from_u128(n),
            attempted_ms: ms,
            topic_arn: acme.into(),
            outcome: outcome.code(),
            detail: detail.into(),
            subscription_arn: arn.into(),
        };
    db.store
        .insert_confirmations(&[
            attempt(
                1,
                1_780_000_100_000,
                ConfirmationOutcome::Failed,
                "timed out",
                "",
            ),
            attempt(
                1,
                1_780_000_200_000,
                ConfirmationOutcome::Confirmed,
                "",
                "arn:sub",
            ),
            attempt(
                2,
                1_780_000_100_000,
                ConfirmationOutcome::Refused,
                "SubscribeURL is not https",
                "",
            ),
        ])
        .await
        .unwrap();

    let v = list(&db, &[]).await;
    let notices = v["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 5);
    // Field `field` of notice `n`.
    let field_of = |n: u128, field: &str| {
        notices
            .iter()
            .find(|x| x["id"] == json!(Uuid::from_u128(n).to_string()))
            .unwrap()[field]
            .clone()
    };
    let auto = |n: u128| field_of(n, "auto_confirmation");
    assert_eq!(
        auto(1),
        json!({"outcome": "confirmed", "attempted_at": "2026-05-28T20:30:00Z", "subscription_arn": "arn:sub"})
    );
    assert_eq!(
        auto(2),
        json!({"outcome": "refused", "attempted_at": "2026-05-28T20:28:20Z", "reason": "SubscribeURL is not https"})
    );
    assert_eq!(auto(3), Value::Null);
    let by_id = |n: u128| field_of(n, "confirmation");
    assert_eq!(
        by_id(1),
        json!({"state": "confirmable", "subscribe_url": good})
    );
    for (n, reason) in [
        (2, "not https"),
        (3, "is not sns.us-east-1.amazonaws.com"),
        (4, "the topic's region"),
        (5, "account 222222222222 belongs to no known org"),
    ] {
        let c = by_id(n);
        assert_eq!(c["state"], json!("refused"), "{n}: {c}");
        assert!(c["reason"].as_str().unwrap().contains(reason), "{n}: {c}");
    }
    // Newest first; the org filter keeps its account's topics; --limit.
    assert_eq!(notices[0]["id"], json!(Uuid::from_u128(5).to_string()));
    assert_eq!(notices[1]["orgs"], json!(["acme"]));
    let v = list(&db, &["--org", "acme"]).await;
    assert_eq!(v["notices"].as_array().unwrap().len(), 4);
    let v = list(&db, &["--limit", "2"]).await;
    assert_eq!(v["notices"].as_array().unwrap().len(), 2);
    db.drop().await;
}
