//! Automatic SNS subscription confirmation (issue 15) with the real `sendops-ingest poll` on moto
//! (SQS, and SNS behind a recording proxy: `SENDOPS_SNS_ENDPOINT_URL`). moto accepts any token,
//! so what is shown is that ConfirmSubscription was called, with which token, and that the
//! outcome was recorded: a confirmable notice is confirmed once (a redelivery is not confirmed
//! again), a refused notice's URL is never opened and its token never sent, a failing call is
//! recorded as failed, and every message is acknowledged and deleted either way.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sqs::config::{Credentials, Region};
use common::{ACCOUNT, acme_db, assert_refused_naming, moto, traffic};
use sendops_fixtures::Wrapper;
use sendops_shared::store::testing::TestDb;
use sendops_shared::store::{ConfirmationOutcome, ConfirmationRow, Table};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn sns() -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(&moto::sdk())
}

/// A unique name part per test run.
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

/// A TCP forwarder to `upstream` that keeps every byte clients sent.
struct Recorder {
    port: u16,
    sent: Arc<Mutex<Vec<u8>>>,
    connections: Arc<AtomicUsize>,
}

impl Recorder {
    async fn start(upstream: Option<String>) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (s, c) = (sent.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let s = s.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Some(addr) = upstream else { return };
                    let Ok(server) = TcpStream::connect(addr).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = async {
                        let mut buf = [0u8; 8192];
                        while let Ok(n) = cr.read(&mut buf).await {
                            if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            s.lock().unwrap().extend_from_slice(&buf[..n]);
                        }
                        let _ = sw.shutdown().await;
                    };
                    let down = tokio::io::copy(&mut sr, &mut cw);
                    let _ = tokio::join!(up, down);
                });
            }
        });
        Recorder {
            port,
            sent,
            connections,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many times `needle` appears in what clients sent.
    fn count(&self, needle: &str) -> usize {
        let sent = self.sent.lock().unwrap();
        let text = String::from_utf8_lossy(&sent);
        text.matches(needle).count()
    }
}

/// An SNS SubscriptionConfirmation as SNS delivers it to an SQS subscriber.
fn confirmation(topic: &str, token: &str, url: &str) -> String {
    json!({
        "Type": "SubscriptionConfirmation",
        "MessageId": format!("m-{token}"),
        "Token": token,
        "TopicArn": topic,
        "Message": "You have chosen to subscribe to the topic. To confirm the subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL": url,
        "Timestamp": "2026-11-20T00:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "c2ln",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem"
    })
    .to_string()
}

async fn queue(sqs: &aws_sdk_sqs::Client, bodies: &[String]) -> String {
    let url = moto::queue(sqs, &unique("sendops-sns-confirm")).await;
    moto::send_all(sqs, &url, bodies).await;
    url
}

/// Runs `sendops-ingest poll --until-empty` on the queue; returns its JSON summary.
async fn poll(db: &TestDb, queue_url: &str, env: &[(&str, String)]) -> serde_json::Value {
    let mut cmd = moto::poller(queue_url, &db.config.url, &db.config.database);
    cmd.args(["--max-messages", "100", "--max-wait-ms", "200"])
        .args(["--wait-time-seconds", "1", "--until-empty"])
        .env_remove("SENDOPS_SNS_CONFIRM")
        .env_remove("SENDOPS_SNS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_SNS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "poll failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"))
}

async fn attempts(db: &TestDb) -> Vec<ConfirmationRow> {
    db.store
        .client()
        .query("SELECT ?fields FROM notice_confirmations ORDER BY attempted_ms, topic_arn")
        .fetch_all::<ConfirmationRow>()
        .await
        .unwrap()
}

fn outcome_of<'a>(rows: &'a [ConfirmationRow], topic: &str) -> Vec<&'a ConfirmationRow> {
    rows.iter().filter(|r| r.topic_arn == topic).collect()
}

#[test]
fn bad_settings_stop_the_start_naming_the_variable() {
    for (var, value) in [
        ("SENDOPS_SNS_CONFIRM", "maybe"),
        ("SENDOPS_SNS_ENDPOINT_URL", "sns.example:443"),
    ] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sendops-ingest"));
        cmd.args(["replay", "-"])
            .env(var, value)
            .stdin(std::process::Stdio::null());
        assert_refused_naming(&mut cmd, var, var);
    }
}

/// A new SNS topic on moto, its name starting with `prefix`; its ARN.
async fn create_topic(prefix: &str) -> String {
    sns()
        .create_topic()
        .name(unique(prefix))
        .send()
        .await
        .unwrap_or_else(moto::down)
        .topic_arn
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_topics_are_confirmed_through_the_sns_api_and_refused_urls_are_never_called() {
    let db = acme_db("sns_confirm").await;
    let topic = create_topic("sendops-events").await;
    assert!(topic.starts_with(&format!("arn:aws:sns:us-east-1:{ACCOUNT}:")));
    // In a known account, with a valid SubscribeURL, but never created: SNS answers NotFound.
    let missing = format!("arn:aws:sns:us-east-1:{ACCOUNT}:{}", unique("missing"));
    let stranger = "arn:aws:sns:us-east-1:999999999999:sendops-events";
    let sns_url = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription";
    // What a refused SubscribeURL points at: must never see a connection.
    let bait = Recorder::start(None).await;
    let proxy = Recorder::start(Some(moto::url().trim_start_matches("http://").to_owned())).await;

    let good = confirmation(&topic, "tokGood01", sns_url);
    let mut bodies = vec![
        good.clone(),
        confirmation(
            &topic,
            "tokRefusedHttp",
            &format!(
                "http://127.0.0.1:{}/confirm?Token=tokRefusedHttp",
                bait.port
            ),
        ),
        confirmation(
            &topic,
            "tokRefusedPort",
            &format!("https://sns.us-east-1.amazonaws.com:{}/", bait.port),
        ),
        confirmation(stranger, "tokStranger", sns_url),
        confirmation(&missing, "tokMissing", sns_url),
    ];
    let events = traffic(41, 3, ACCOUNT);
    let mut w = Wrapper::new(41);
    bodies.extend(events.iter().map(|e| w.sns_body(e)));
    let sqs = moto::sqs();
    let queue_url = queue(&sqs, &bodies).await;

    let env = [("SENDOPS_SNS_ENDPOINT_URL", proxy.url())];
    let summary = poll(&db, &queue_url, &env).await;
    // Every message acknowledged and deleted, the failed and refused ones included.
    assert_eq!(summary["deleted"], json!(bodies.len()), "{summary}");
    assert_eq!(summary["acknowledged"], json!(5), "{summary}");
    assert_eq!(summary["failed_flushes"], json!(0), "{summary}");
    assert!(db.store.count(Table::Events).await.unwrap() > 0);

    // One ConfirmSubscription per confirmable notice, with its own token; nothing for refusals.
    assert_eq!(proxy.count("Action=ConfirmSubscription"), 2);
    assert_eq!(proxy.count("tokGood01"), 1);
    assert_eq!(proxy.count("tokMissing"), 1);
    for token in ["tokRefusedHttp", "tokRefusedPort", "tokStranger"] {
        assert_eq!(proxy.count(token), 0, "{token} was sent to SNS");
    }
    assert_eq!(bait.connections.load(Ordering::SeqCst), 0);

    let rows = attempts(&db).await;
    assert_eq!(rows.len(), 5, "{rows:#?}");
    let confirmed = outcome_of(&rows, &topic);
    let good_row = confirmed
        .iter()
        .find(|r| r.outcome() == Some(ConfirmationOutcome::Confirmed))
        .expect("the good notice is confirmed");
    // moto's answer: the topic's ARN and a subscription id.
    assert!(
        good_row.subscription_arn.starts_with(&format!("{topic}:")),
        "{good_row:?}"
    );
    let refused: Vec<&str> = confirmed
        .iter()
        .filter(|r| r.outcome() == Some(ConfirmationOutcome::Refused))
        .map(|r| r.detail.as_str())
        .collect();
    assert_eq!(refused.len(), 2, "{rows:#?}");
    assert!(
        refused.iter().any(|d| d.contains("not https")),
        "{refused:?}"
    );
    assert!(refused.iter().any(|d| d.contains("port")), "{refused:?}");
    let stranger_rows = outcome_of(&rows, stranger);
    assert_eq!(stranger_rows.len(), 1);
    assert_eq!(
        stranger_rows[0].outcome(),
        Some(ConfirmationOutcome::Refused)
    );
    assert!(stranger_rows[0].detail.contains("no known org"));
    let missing_rows = outcome_of(&rows, &missing);
    assert_eq!(missing_rows.len(), 1);
    assert_eq!(missing_rows[0].outcome(), Some(ConfirmationOutcome::Failed));
    assert!(
        missing_rows[0].detail.contains("ConfirmSubscription"),
        "{:?}",
        missing_rows[0]
    );

    // Delivered again (at-least-once): acknowledged, not confirmed a second time.
    moto::send_all(&sqs, &queue_url, std::slice::from_ref(&good)).await;
    let summary = poll(&db, &queue_url, &env).await;
    assert_eq!(summary["deleted"], json!(1), "{summary}");
    assert_eq!(proxy.count("tokGood01"), 1);
    assert_eq!(attempts(&db).await.len(), 5);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_sns_or_the_switch_off_never_holds_back_a_batch() {
    let db = acme_db("sns_confirm_down").await;
    let topic = format!("arn:aws:sns:us-east-1:{ACCOUNT}:{}", unique("down"));
    let sns_url = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription";
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sqs = moto::sqs();
    let queue_url = queue(&sqs, &[confirmation(&topic, "tokDown", sns_url)]).await;
    let started = std::time::Instant::now();
    let summary = poll(
        &db,
        &queue_url,
        &[(
            "SENDOPS_SNS_ENDPOINT_URL",
            format!("http://127.0.0.1:{closed}"),
        )],
    )
    .await;
    assert_eq!(summary["deleted"], json!(1), "{summary}");
    assert_eq!(summary["acknowledged"], json!(1), "{summary}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let rows = attempts(&db).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].outcome(), Some(ConfirmationOutcome::Failed));
    assert!(rows[0].detail.contains("ConfirmSubscription"), "{rows:?}");
    assert_eq!(db.store.count(Table::Notices).await.unwrap(), 1);

    // Switched off: acknowledged and recorded as a notice, never attempted.
    let proxy = Recorder::start(Some(moto::url().trim_start_matches("http://").to_owned())).await;
    let off_topic = format!("arn:aws:sns:us-east-1:{ACCOUNT}:{}", unique("off"));
    moto::send_all(
        &sqs,
        &queue_url,
        &[confirmation(&off_topic, "tokOff", sns_url)],
    )
    .await;
    let summary = poll(
        &db,
        &queue_url,
        &[
            ("SENDOPS_SNS_CONFIRM", "off".into()),
            ("SENDOPS_SNS_ENDPOINT_URL", proxy.url()),
        ],
    )
    .await;
    assert_eq!(summary["deleted"], json!(1), "{summary}");
    assert_eq!(proxy.connections.load(Ordering::SeqCst), 0);
    assert_eq!(attempts(&db).await.len(), 1);
    assert_eq!(db.store.count(Table::Notices).await.unwrap(), 2);
    db.drop().await;
}

/// The Lambda handler confirms after the batch is stored, answers with no failures either way,
/// and does not start a call its invocation's deadline could cut off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_handler_confirms_after_storing_and_respects_its_deadline() {
    use aws_lambda_events::event::sqs::SqsEvent;
    use lambda_runtime::{Context, LambdaEvent};
    use sendops_ingest::sns_confirm::Confirmer;
    use sendops_ingest::{Pipeline, Source, lambda};

    let db = acme_db("sns_confirm_lambda").await;
    let topic = create_topic("sendops-lambda").await;
    let sns_url = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription";
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await;
    let proxy = Recorder::start(Some(moto::url().trim_start_matches("http://").to_owned())).await;
    let confirmer = Confirmer::new(aws, Some(proxy.url()));
    let pipeline = Pipeline::new(db.store.clone(), Source::Lambda);
    let event = |bodies: &[String]| -> SqsEvent {
        let records: Vec<serde_json::Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| json!({"messageId": format!("msg-{i}"), "body": b, "eventSource": "aws:sqs"}))
            .collect();
        serde_json::from_value(json!({ "Records": records })).unwrap()
    };

    // 3 s left: a 5 s call is not started; recorded as failed, the batch still succeeds.
    let late = confirmation(&topic, "tokLate", sns_url);
    let mut ctx = Context::default();
    ctx.deadline = u64::try_from(sendops_shared::timefmt::now_ms()).unwrap() + 3_000;
    let resp = lambda::handle_confirming(
        &pipeline,
        Some(&confirmer),
        LambdaEvent::new(event(std::slice::from_ref(&late)), ctx),
    )
    .await
    .unwrap();
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(proxy.count("tokLate"), 0);
    let rows = attempts(&db).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].outcome(), Some(ConfirmationOutcome::Failed));
    assert!(rows[0].detail.contains("deadline"), "{rows:?}");

    // No deadline pressure: confirmed once the batch is stored.
    let good = confirmation(&topic, "tokLambda", sns_url);
    let resp = lambda::handle_confirming(
        &pipeline,
        Some(&confirmer),
        LambdaEvent::new(event(std::slice::from_ref(&good)), Context::default()),
    )
    .await
    .unwrap();
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(proxy.count("tokLambda"), 1);
    let rows = attempts(&db).await;
    let confirmed: Vec<_> = rows
        .iter()
        .filter(|r| r.outcome() == Some(ConfirmationOutcome::Confirmed))
        .collect();
    assert_eq!(confirmed.len(), 1, "{rows:#?}");
    assert!(
        confirmed[0]
            .subscription_arn
            .starts_with(&format!("{topic}:"))
    );
    db.drop().await;
}
