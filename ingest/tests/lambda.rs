//! The Lambda handler's failure semantics, and the real `sendops-ingest` binary under a fake
//! Lambda Runtime API.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use common::{acme_db, acme_pipeline, expected_rows, sns_traffic};
use lambda_runtime::{Context, LambdaEvent};
use sendops_ingest::{Pipeline, Source, lambda};
use sendops_shared::Store;
use sendops_shared::store::Table;
use sendops_shared::store::config::ClickHouseConfig;
use serde_json::{Value, json};
use tokio::net::TcpListener;

fn sqs_event(bodies: &[String]) -> SqsEvent {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| json!({"messageId": format!("msg-{i}"), "body": b, "eventSource": "aws:sqs"}))
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn failures(resp: &SqsBatchResponse) -> Vec<String> {
    resp.batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

fn sns_bodies(seed: u64, messages: u64) -> (Vec<String>, usize) {
    let (events, bodies) = sns_traffic(seed, messages);
    (bodies, expected_rows(&events).len())
}

/// The handler's answer to one SQS batch of `bodies`, invoked with `context`.
async fn handle(pipeline: &Pipeline, bodies: &[String], context: Context) -> SqsBatchResponse {
    lambda::handle(pipeline, LambdaEvent::new(sqs_event(bodies), context))
        .await
        .unwrap()
}

#[tokio::test]
async fn poison_records_are_quarantined_and_not_reported_as_failures() {
    let (db, pipeline) = acme_pipeline("lambda_poison", Source::Lambda).await;
    let (mut bodies, rows) = sns_bodies(3, 20);
    bodies.insert(3, "{not json".into());
    bodies.push("{\"eventType\":\"Bounce\",\"mail\":{}}".into());
    let resp = handle(&pipeline, &bodies, Context::default()).await;
    assert!(failures(&resp).is_empty());
    assert_eq!(db.store.count(Table::Events).await.unwrap() as usize, rows);
    let q = db.store.list_quarantine(None, false, 100).await.unwrap();
    let mut reasons: Vec<&str> = q.iter().map(|q| q.reason.as_str()).collect();
    reasons.sort();
    assert_eq!(reasons, ["invalid_event", "invalid_json"]);
    assert!(q.iter().all(|q| q.source == "lambda"));
    db.drop().await;
}

#[tokio::test]
async fn unreachable_store_reports_every_record_for_redelivery() {
    // Nothing listens on port 1.
    let store = Store::new(&ClickHouseConfig {
        url: "http://127.0.0.1:1".into(),
        ..ClickHouseConfig::default()
    });
    let pipeline = Pipeline::new(store, Source::Lambda);
    let (mut bodies, _) = sns_bodies(4, 5);
    bodies.push("poison".into());
    let resp = handle(&pipeline, &bodies, Context::default()).await;
    let want: Vec<String> = (0..bodies.len()).map(|i| format!("msg-{i}")).collect();
    assert_eq!(failures(&resp), want);
}

/// A store that answers like an overloaded ClickHouse.
async fn failing_store(status: StatusCode, body: &'static str) -> Store {
    let app = Router::new().fallback(move || async move { (status, body) });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Store::new(&ClickHouseConfig {
        url: format!("http://{addr}"),
        ..ClickHouseConfig::default()
    })
}

#[tokio::test]
async fn retryable_store_errors_report_every_record() {
    for (status, body) in [
        (StatusCode::SERVICE_UNAVAILABLE, "upstream unavailable"),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Code: 252, e.displayText() = DB::Exception: Too many parts (300)",
        ),
    ] {
        let pipeline = Pipeline::new(failing_store(status, body).await, Source::Lambda);
        let (bodies, _) = sns_bodies(5, 3);
        let resp = handle(&pipeline, &bodies, Context::default()).await;
        assert_eq!(failures(&resp).len(), bodies.len(), "{status} {body}");
    }
}

#[tokio::test]
async fn redelivered_batch_after_an_outage_counts_once() {
    let db = acme_db("lambda_redeliver").await;
    let (bodies, rows) = sns_bodies(6, 40);
    let down = Pipeline::new(
        failing_store(StatusCode::SERVICE_UNAVAILABLE, "down").await,
        Source::Lambda,
    );
    let resp = handle(&down, &bodies, Context::default()).await;
    assert_eq!(failures(&resp).len(), bodies.len());
    let up = Pipeline::new(db.store.clone(), Source::Lambda);
    // SQS redelivers, regrouped into other batches, some of them twice.
    for part in [&bodies[..25], &bodies[10..], &bodies[..]] {
        let resp = handle(&up, part, Context::default()).await;
        assert!(failures(&resp).is_empty());
    }
    assert_eq!(db.store.count(Table::Events).await.unwrap() as usize, rows);
    db.drop().await;
}

/// A context whose invocation ends `ms_left` milliseconds from now.
fn context_ending_in(ms_left: u64) -> Context {
    let mut ctx = Context::default();
    ctx.deadline = u64::try_from(sendops_shared::timefmt::now_ms()).unwrap() + ms_left;
    ctx
}

#[tokio::test]
async fn a_batch_that_cannot_insert_before_the_deadline_is_reported_not_cut_off() {
    let db = acme_db("lambda_deadline").await;
    let (bodies, rows) = sns_bodies(7, 30);
    let pipeline = Pipeline::new(db.store.clone(), Source::Lambda);
    // Less time left than the margin plus the shortest INSERT: nothing is started, every record
    // goes back to the queue.
    let resp = handle(&pipeline, &bodies, context_ending_in(4_000)).await;
    assert_eq!(failures(&resp).len(), bodies.len());
    assert_eq!(db.store.count(Table::Events).await.unwrap(), 0);
    // With time enough the redelivered batch is stored.
    let resp = handle(&pipeline, &bodies, context_ending_in(60_000)).await;
    assert!(failures(&resp).is_empty());
    assert_eq!(db.store.count(Table::Events).await.unwrap() as usize, rows);
    db.drop().await;
}

// ---- the real binary under a fake Lambda Runtime API ---------------------------------------

#[derive(Default)]
struct Runtime {
    queue: Vec<Value>,
    responses: Vec<(String, Value)>,
}

type Shared = Arc<Mutex<Runtime>>;

async fn next(State(rt): State<Shared>) -> (StatusCode, HeaderMap, String) {
    loop {
        let item = {
            let mut rt = rt.lock().unwrap();
            if rt.queue.is_empty() {
                None
            } else {
                Some((rt.responses.len() + rt.queue.len(), rt.queue.remove(0)))
            }
        };
        match item {
            Some((n, event)) => {
                let mut h = HeaderMap::new();
                h.insert(
                    "lambda-runtime-aws-request-id",
                    HeaderValue::from_str(&format!("req-{n}")).unwrap(),
                );
                h.insert(
                    "lambda-runtime-deadline-ms",
                    HeaderValue::from_static("4102444800000"),
                );
                h.insert(
                    "lambda-runtime-invoked-function-arn",
                    HeaderValue::from_static(
                        "arn:aws:lambda:us-east-1:123456789012:function:sendops-ingest",
                    ),
                );
                h.insert(
                    "lambda-runtime-trace-id",
                    HeaderValue::from_static("Root=1-5759e988-bd862e3fe1be46a994272793"),
                );
                return (StatusCode::OK, h, event.to_string());
            }
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

async fn respond(State(rt): State<Shared>, Path(id): Path<String>, body: String) -> StatusCode {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    rt.lock().unwrap().responses.push((id, v));
    StatusCode::ACCEPTED
}

async fn invocation_error(
    State(rt): State<Shared>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    rt.lock()
        .unwrap()
        .responses
        .push((id, json!({ "invocation_error": body })));
    StatusCode::ACCEPTED
}

/// Runs `sendops-ingest` (no subcommand: Lambda mode from AWS_LAMBDA_RUNTIME_API) against a fake
/// runtime serving `events`; returns the responses it posted.
async fn run_binary(clickhouse: &ClickHouseConfig, events: Vec<Value>) -> Vec<(String, Value)> {
    let count = events.len();
    let rt: Shared = Arc::new(Mutex::new(Runtime {
        queue: events,
        responses: Vec::new(),
    }));
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(respond),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(invocation_error),
        )
        .with_state(rt.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sendops-ingest"))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "sendops-ingest")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("CLICKHOUSE_URL", &clickhouse.url)
        .env("CLICKHOUSE_DATABASE", &clickhouse.database)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sendops-ingest");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if rt.lock().unwrap().responses.len() >= count {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("sendops-ingest exited early: {status}");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the binary did not answer every invocation in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().await.ok();
    std::mem::take(&mut rt.lock().unwrap().responses)
}

#[tokio::test]
async fn binary_runs_the_runtime_loop_end_to_end() {
    let db = acme_db("lambda_binary").await;
    let (bodies, rows) = sns_bodies(8, 30);
    let mut second = bodies[..10].to_vec();
    second.push("garbage".into());
    let events = vec![
        serde_json::to_value(sqs_event(&bodies)).unwrap(),
        serde_json::to_value(sqs_event(&second)).unwrap(),
    ];
    let responses = run_binary(&db.config, events).await;
    assert_eq!(responses.len(), 2);
    for (id, body) in &responses {
        assert!(id.starts_with("req-"));
        assert_eq!(body, &json!({"batchItemFailures": []}), "{id}");
    }
    assert_eq!(db.store.count(Table::Events).await.unwrap() as usize, rows);
    assert_eq!(
        db.store
            .list_quarantine(Some("invalid_json"), false, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // The same binary with its store down reports every record of the batch.
    let down = ClickHouseConfig {
        url: "http://127.0.0.1:1".into(),
        ..db.config.clone()
    };
    let responses = run_binary(
        &down,
        vec![serde_json::to_value(sqs_event(&bodies[..4])).unwrap()],
    )
    .await;
    let ids: Vec<&str> = responses[0].1["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["msg-0", "msg-1", "msg-2", "msg-3"]);
    db.drop().await;
}
