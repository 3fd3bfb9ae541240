//! A fast in-memory Amazon SQS stand-in: one standard queue served over HTTP with the AWS JSON 1.0
//! wire protocol the `aws-sdk-sqs` client of Cargo.lock (1.119) speaks — `POST /`,
//! `X-Amz-Target: AmazonSQS.<Operation>`, `Content-Type: application/x-amz-json-1.0`, JSON
//! bodies; errors as a JSON `__type` with the `x-amzn-query-error` header. moto_server speaks
//! it too but delivers a few hundred messages a second; this one is for the poller's tests and
//! `benches/poll.sh`, where ~400,000 messages must go through at the store's pace.
//!
//! | operation | what it does |
//! |---|---|
//! | ReceiveMessage | up to `MaxNumberOfMessages` (1–10) visible messages, hidden for `VisibilityTimeout` (or the queue's); with nothing visible it waits up to `WaitTimeSeconds` (long poll). Each message carries `MessageId`, `ReceiptHandle` (new on every receive), `MD5OfBody` (hex MD5 of the body, as SQS sends it; the Rust SDK does not check it, other SDKs do) and `Body` |
//! | DeleteMessageBatch | 1–10 entries with distinct `Id`s; the latest receipt handle of a message deletes it (deleting a deleted message succeeds, as on SQS); an outdated or unknown handle is a `Failed` entry `ReceiptHandleIsInvalid` |
//! | DeleteMessage | the same for one handle (an invalid one is a `ReceiptHandleIsInvalid` error) |
//! | SendMessage, SendMessageBatch | appends messages (`MD5OfMessageBody` answered) |
//! | GetQueueAttributes | `ApproximateNumberOfMessages`, `ApproximateNumberOfMessagesNotVisible` |
//!
//! Any other operation is a `400 UnsupportedOperation`. `QueueUrl` must end in `/<queue name>`
//! (else `QueueDoesNotExist`). A fixed latency can be added to every call ([`FakeSqs::set_latency`])
//! to model the real service's ~10–20 ms round trips. `GET /_stats` answers [`Stats`] as JSON.
//! Requests are not checked for signatures.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use md5::{Digest, Md5};
use serde_json::{Value, json};

/// What the queue has done so far (`GET /_stats`, [`FakeSqs::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Messages ever put on the queue.
    pub messages: u64,
    /// Visible now.
    pub visible: u64,
    /// Received and neither deleted nor visible again.
    pub in_flight: u64,
    /// Deleted (each message counted once).
    pub deleted: u64,
    /// Messages handed out by ReceiveMessage, redeliveries included.
    pub received: u64,
    /// Messages received more than once (a redelivery each time).
    pub redelivered: u64,
    /// ReceiveMessage calls, and those that returned no message.
    pub receive_calls: u64,
    pub empty_receives: u64,
    /// DeleteMessageBatch and DeleteMessage calls.
    pub delete_calls: u64,
    /// Delete entries refused for an outdated or unknown receipt handle.
    pub invalid_handles: u64,
    /// Deletes of an already deleted message (they succeed).
    pub repeated_deletes: u64,
    /// The most ReceiveMessage calls, and the most DeleteMessageBatch/DeleteMessage calls, being
    /// answered at the same time (latency included): the client's concurrency.
    pub max_concurrent_receives: u64,
    pub max_concurrent_deletes: u64,
}

struct Msg {
    id: String,
    /// The body as a JSON string literal (quotes included), escaped once when loaded.
    body_json: Arc<str>,
    md5: String,
    /// Receives so far; the receipt handle of the latest is `<index>.<receives>`.
    receives: u32,
    deleted: bool,
}

#[derive(Default)]
struct Queue {
    msgs: Vec<Msg>,
    /// Indices of visible messages, oldest first.
    visible: VecDeque<u32>,
    /// (visible again at, index, receives at that receive): entries whose message was deleted
    /// or received again since are stale and skipped.
    hidden: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    in_flight: u64,
    stats: Stats,
}

impl Queue {
    fn push(&mut self, body: &str) -> (String, String) {
        let index = u32::try_from(self.msgs.len()).expect("at most 4 G messages");
        let id = message_id(index);
        let md5 = md5_hex(body.as_bytes());
        self.msgs.push(Msg {
            id: id.clone(),
            body_json: Arc::from(serde_json::to_string(body).expect("a string serializes")),
            md5: md5.clone(),
            receives: 0,
            deleted: false,
        });
        self.visible.push_back(index);
        self.stats.messages += 1;
        (id, md5)
    }

    /// Makes the messages whose visibility timeout ran out visible again.
    fn expire(&mut self, now: Instant) {
        while let Some(Reverse((at, index, receives))) = self.hidden.peek().copied() {
            if at > now {
                break;
            }
            self.hidden.pop();
            let m = &self.msgs[index as usize];
            if !m.deleted && m.receives == receives {
                self.in_flight -= 1;
                self.visible.push_back(index);
            }
        }
    }

    fn next_expiry(&self) -> Option<Instant> {
        self.hidden.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Up to `max` visible messages as (id, receipt handle, md5, body literal).
    fn receive(
        &mut self,
        max: usize,
        visibility: Duration,
        now: Instant,
    ) -> Vec<(String, String, String, Arc<str>)> {
        self.expire(now);
        let mut out = Vec::new();
        while out.len() < max {
            let Some(index) = self.visible.pop_front() else {
                break;
            };
            let m = &mut self.msgs[index as usize];
            if m.deleted {
                continue;
            }
            m.receives += 1;
            if m.receives > 1 {
                self.stats.redelivered += 1;
            }
            self.hidden
                .push(Reverse((now + visibility, index, m.receives)));
            self.in_flight += 1;
            out.push((
                m.id.clone(),
                format!("{index}.{}", m.receives),
                m.md5.clone(),
                m.body_json.clone(),
            ));
        }
        self.stats.received += out.len() as u64;
        out
    }

    /// Deletes the message of a receipt handle; false for an outdated or unknown handle.
    fn delete(&mut self, handle: &str) -> bool {
        let parsed = handle
            .split_once('.')
            .and_then(|(i, r)| Some((i.parse::<usize>().ok()?, r.parse::<u32>().ok()?)));
        let Some((index, receives)) = parsed else {
            self.stats.invalid_handles += 1;
            return false;
        };
        let Some(m) = self.msgs.get_mut(index) else {
            self.stats.invalid_handles += 1;
            return false;
        };
        if m.deleted {
            self.stats.repeated_deletes += 1;
            return true;
        }
        if receives == 0 || receives != m.receives {
            self.stats.invalid_handles += 1;
            return false;
        }
        m.deleted = true;
        // Its entry in `hidden` is skipped when it comes up (deleted); if it had become visible
        // again meanwhile, the receive above would have raised `receives`.
        self.in_flight -= 1;
        self.stats.deleted += 1;
        true
    }

    fn stats(&self) -> Stats {
        let mut s = self.stats;
        s.in_flight = self.in_flight;
        s.visible = s.messages - s.deleted - s.in_flight;
        s
    }
}

struct Shared {
    queue: Mutex<Queue>,
    name: String,
    default_visibility: Duration,
    latency_us: AtomicU64,
    receives_now: AtomicU64,
    deletes_now: AtomicU64,
    max_receives: AtomicU64,
    max_deletes: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stats(&self) -> Stats {
        let mut s = self.lock().stats();
        s.max_concurrent_receives = self.max_receives.load(Ordering::Relaxed);
        s.max_concurrent_deletes = self.max_deletes.load(Ordering::Relaxed);
        s
    }
}

/// Counts a call in progress (and the most at once) until dropped.
struct Busy<'a>(&'a AtomicU64);

impl<'a> Busy<'a> {
    fn new(now: &'a AtomicU64, max: &AtomicU64) -> Busy<'a> {
        let n = now.fetch_add(1, Ordering::Relaxed) + 1;
        max.fetch_max(n, Ordering::Relaxed);
        Busy(now)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A running SQS stand-in with one queue (stops when its runtime ends).
#[derive(Clone)]
pub struct FakeSqs {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FakeSqs {
    /// Starts the stand-in on a free loopback port with a queue `name` (visibility timeout 30 s).
    pub async fn start(name: &str) -> FakeSqs {
        FakeSqs::start_on(
            "127.0.0.1:0".parse().expect("address"),
            name,
            Duration::from_secs(30),
        )
        .await
        .expect("bind the SQS stand-in")
    }

    /// Starts it on `addr` with a queue `name` and a default visibility timeout.
    pub async fn start_on(
        addr: SocketAddr,
        name: &str,
        default_visibility: Duration,
    ) -> std::io::Result<FakeSqs> {
        let shared = Arc::new(Shared {
            queue: Mutex::default(),
            name: name.to_owned(),
            default_visibility,
            latency_us: AtomicU64::new(0),
            receives_now: AtomicU64::new(0),
            deletes_now: AtomicU64::new(0),
            max_receives: AtomicU64::new(0),
            max_deletes: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/", post(operation))
            .route("/_stats", get(stats))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeSqs { addr, shared })
    }

    /// The endpoint URL to give the SDK (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The queue's URL (what `--queue-url` takes).
    pub fn queue_url(&self) -> String {
        format!("http://{}/000000000000/{}", self.addr, self.shared.name)
    }

    /// Every SQS call answers this much later (0 by default).
    pub fn set_latency(&self, latency: Duration) {
        self.shared
            .latency_us
            .store(latency.as_micros() as u64, Ordering::Relaxed);
    }

    /// Puts messages on the queue, in order.
    pub fn push<S: AsRef<str>>(&self, bodies: impl IntoIterator<Item = S>) {
        let mut q = self.shared.lock();
        for b in bodies {
            q.push(b.as_ref());
        }
    }

    /// Puts every non-empty line of a file on the queue (one message per line, the line's
    /// terminator not included); returns how many.
    pub fn push_lines(&self, path: &std::path::Path) -> std::io::Result<u64> {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
        let mut line = String::new();
        let mut n = 0;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(n);
            }
            let body = line.trim_end_matches(['\n', '\r']);
            if !body.is_empty() {
                self.shared.lock().push(body);
                n += 1;
            }
        }
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Makes every received, undeleted message visible again at once (as if their visibility
    /// timeouts ran out).
    pub fn reveal_in_flight(&self) {
        let mut q = self.shared.lock();
        let hidden: Vec<_> = q.hidden.drain().collect();
        for Reverse((_, index, receives)) in hidden {
            let m = &q.msgs[index as usize];
            if !m.deleted && m.receives == receives {
                q.in_flight -= 1;
                q.visible.push_back(index);
            }
        }
    }

    /// How many times each message was received, in the order they were put on the queue.
    pub fn receive_counts(&self) -> Vec<u32> {
        self.shared.lock().msgs.iter().map(|m| m.receives).collect()
    }
}

fn message_id(index: u32) -> String {
    format!("00000000-0000-4000-8000-{index:012x}")
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.stats()).into_response()
}

/// An SQS error as the JSON protocol answers it (`__type`, `message`) with the query-compatible
/// code in `x-amzn-query-error`.
fn error(status: StatusCode, ty: &str, query_code: &str, message: &str) -> Response {
    let fault = if status.is_client_error() {
        "Sender"
    } else {
        "Receiver"
    };
    let mut resp = (
        status,
        json!({ "__type": format!("com.amazonaws.sqs#{ty}"), "message": message }).to_string(),
    )
        .into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("{query_code};{fault}")) {
        headers.insert("x-amzn-query-error", v);
    }
    resp
}

fn bad(message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "InvalidParameterValue",
        "InvalidParameterValue",
        message,
    )
}

fn ok(body: String) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    resp
}

async fn operation(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let _busy = match target {
        "AmazonSQS.ReceiveMessage" => Some(Busy::new(&shared.receives_now, &shared.max_receives)),
        "AmazonSQS.DeleteMessageBatch" | "AmazonSQS.DeleteMessage" => {
            Some(Busy::new(&shared.deletes_now, &shared.max_deletes))
        }
        _ => None,
    };
    let latency = shared.latency_us.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_micros(latency)).await;
    }
    let Some(op) = target.strip_prefix("AmazonSQS.") else {
        return error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            "InvalidAction",
            &format!("X-Amz-Target {target:?} is not AmazonSQS.<Operation>"),
        );
    };
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad(&format!("request body is not JSON: {e}")),
    };
    let queue_ok = req["QueueUrl"]
        .as_str()
        .is_some_and(|u| u.rsplit('/').next() == Some(shared.name.as_str()));
    if !queue_ok {
        return error(
            StatusCode::BAD_REQUEST,
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist.",
        );
    }
    match op {
        "ReceiveMessage" => receive_message(&shared, &req).await,
        "DeleteMessageBatch" => delete_message_batch(&shared, &req),
        "DeleteMessage" => {
            let handle = req["ReceiptHandle"].as_str().unwrap_or("");
            let mut q = shared.lock();
            q.stats.delete_calls += 1;
            if q.delete(handle) {
                ok("{}".into())
            } else {
                error(
                    StatusCode::BAD_REQUEST,
                    "ReceiptHandleIsInvalid",
                    "ReceiptHandleIsInvalid",
                    "The input receipt handle is invalid.",
                )
            }
        }
        "SendMessage" => {
            let Some(body) = req["MessageBody"].as_str() else {
                return bad("MessageBody is required");
            };
            let (id, md5) = shared.lock().push(body);
            ok(json!({ "MessageId": id, "MD5OfMessageBody": md5 }).to_string())
        }
        "SendMessageBatch" => {
            let Some(entries) = req["Entries"]
                .as_array()
                .filter(|e| (1..=10).contains(&e.len()))
            else {
                return bad("Entries must hold 1 to 10 entries");
            };
            let mut q = shared.lock();
            let mut successful = Vec::new();
            for e in entries {
                let Some(body) = e["MessageBody"].as_str() else {
                    return bad("MessageBody is required");
                };
                let (id, md5) = q.push(body);
                successful.push(json!({ "Id": e["Id"], "MessageId": id, "MD5OfMessageBody": md5 }));
            }
            ok(json!({ "Successful": successful, "Failed": [] }).to_string())
        }
        "GetQueueAttributes" => {
            let mut q = shared.lock();
            q.expire(Instant::now());
            let s = q.stats();
            ok(json!({ "Attributes": {
                "ApproximateNumberOfMessages": s.visible.to_string(),
                "ApproximateNumberOfMessagesNotVisible": s.in_flight.to_string(),
            } })
            .to_string())
        }
        other => error(
            StatusCode::BAD_REQUEST,
            "UnsupportedOperation",
            "AWS.SimpleQueueService.UnsupportedOperation",
            &format!("the stand-in does not serve {other}"),
        ),
    }
}

async fn receive_message(shared: &Shared, req: &Value) -> Response {
    let max = req["MaxNumberOfMessages"].as_i64().unwrap_or(1);
    if !(1..=10).contains(&max) {
        return bad("MaxNumberOfMessages must be 1 to 10");
    }
    let wait = req["WaitTimeSeconds"].as_i64().unwrap_or(0);
    if !(0..=20).contains(&wait) {
        return bad("WaitTimeSeconds must be 0 to 20");
    }
    let visibility = match req["VisibilityTimeout"].as_i64() {
        Some(v) if (0..=43_200).contains(&v) => Duration::from_secs(v as u64),
        Some(_) => return bad("VisibilityTimeout must be 0 to 43200"),
        None => shared.default_visibility,
    };
    let deadline = Instant::now() + Duration::from_secs(wait as u64);
    let messages = loop {
        let now = Instant::now();
        let (got, next_expiry) = {
            let mut q = shared.lock();
            let got = q.receive(max as usize, visibility, now);
            (got, q.next_expiry())
        };
        if !got.is_empty() || now >= deadline {
            break got;
        }
        // Long poll: look again when a hidden message comes back, or every 20 ms for pushes.
        let until = next_expiry
            .unwrap_or(deadline)
            .min(deadline)
            .min(now + Duration::from_millis(20));
        tokio::time::sleep_until(until.into()).await;
    };
    {
        let mut q = shared.lock();
        q.stats.receive_calls += 1;
        if messages.is_empty() {
            q.stats.empty_receives += 1;
        }
    }
    let mut out = String::with_capacity(
        16 + messages
            .iter()
            .map(|(_, _, _, b)| b.len() + 160)
            .sum::<usize>(),
    );
    out.push_str("{\"Messages\":[");
    for (i, (id, handle, md5, body)) in messages.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"MessageId\":\"");
        out.push_str(id);
        out.push_str("\",\"ReceiptHandle\":\"");
        out.push_str(handle);
        out.push_str("\",\"MD5OfBody\":\"");
        out.push_str(md5);
        out.push_str("\",\"Body\":");
        out.push_str(body);
        out.push('}');
    }
    out.push_str("]}");
    ok(out)
}

fn delete_message_batch(shared: &Shared, req: &Value) -> Response {
    let Some(entries) = req["Entries"].as_array().filter(|e| !e.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "EmptyBatchRequest",
            "AWS.SimpleQueueService.EmptyBatchRequest",
            "There should be at least one DeleteMessageBatchRequestEntry in the request.",
        );
    };
    if entries.len() > 10 {
        return error(
            StatusCode::BAD_REQUEST,
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            "Maximum number of entries per request are 10.",
        );
    }
    let ids: HashSet<&str> = entries.iter().filter_map(|e| e["Id"].as_str()).collect();
    if ids.len() != entries.len() {
        return error(
            StatusCode::BAD_REQUEST,
            "BatchEntryIdsNotDistinct",
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            "Two or more batch entries in the request have the same Id.",
        );
    }
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    {
        let mut q = shared.lock();
        q.stats.delete_calls += 1;
        for e in entries {
            let id = e["Id"].as_str().unwrap_or("");
            if q.delete(e["ReceiptHandle"].as_str().unwrap_or("")) {
                successful.push(json!({ "Id": id }));
            } else {
                failed.push(json!({
                    "Id": id,
                    "SenderFault": true,
                    "Code": "ReceiptHandleIsInvalid",
                    "Message": "The input receipt handle is invalid.",
                }));
            }
        }
    }
    ok(json!({ "Successful": successful, "Failed": failed }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_redelivery_and_handles() {
        let mut q = Queue::default();
        q.push("a");
        q.push("b");
        let t0 = Instant::now();
        let got = q.receive(10, Duration::from_secs(5), t0);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].2, "0cc175b9c0f1b6a831c399e269772661", "MD5 of \"a\"");
        assert_eq!(&*got[0].3, "\"a\"");
        assert!(q.receive(10, Duration::from_secs(5), t0).is_empty());
        // After the visibility timeout both come back with new handles; the old ones are void.
        let again = q.receive(10, Duration::from_secs(5), t0 + Duration::from_secs(6));
        assert_eq!(again.len(), 2);
        assert!(!q.delete(&got[0].1), "outdated handle");
        assert!(q.delete(&again[0].1));
        assert!(q.delete(&again[0].1), "deleting twice succeeds");
        let s = q.stats();
        assert_eq!((s.deleted, s.in_flight, s.visible), (1, 1, 0));
        assert_eq!((s.received, s.redelivered, s.invalid_handles), (4, 2, 1));
        // The deleted one never comes back; the other does.
        let last = q.receive(10, Duration::from_secs(5), t0 + Duration::from_secs(20));
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].0, message_id(1));
    }
}
