//! `/v1/undeliverable` and `/v1/undeliverable/rules` on the real ClickHouse, through the real
//! ingest pipeline: gap-free `?since=` polling against an oracle computed here from the raw event
//! JSON, every filter, reason priority, status defaults, cursors, last_changed_at cases, windows
//! and retention, the settle time, scopes and the rules version header.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use common::{Reply, TestApp, env_number};
use sendops_query_api::config::ApiConfig;
use sendops_shared::control::api_key::KeyEnv;
use sendops_shared::control::org::{Org, Plan};
use sendops_shared::control::scopes::Scope;
use sendops_shared::timefmt::now_ms;
use sendops_shared::undeliverable::{Rule, RuleSet};
use serde_json::{Value, json};

const ACCOUNT: &str = "333333333333";
const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

// ---- test events -------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Permanent,
    Transient,
    Undetermined,
    Complaint,
    Reject,
    Delay,
    Delivery,
}

/// One SES event for one recipient, as the test wants it.
#[derive(Debug, Clone)]
struct Ev {
    id: u64,
    ty: Ty,
    to: String,
    at: i64,
    sub: Option<String>,
    diag: Option<String>,
    from: String,
}

impl Ev {
    fn new(id: u64, ty: Ty, to: &str, at: i64) -> Ev {
        Ev {
            id,
            ty,
            to: to.into(),
            at,
            sub: None,
            diag: None,
            from: "Acme Ops <ops@acme.example>".into(),
        }
    }

    fn sub(mut self, s: &str) -> Ev {
        self.sub = Some(s.into());
        self
    }

    fn diag(mut self, s: &str) -> Ev {
        self.diag = Some(s.into());
        self
    }

    fn from(mut self, s: &str) -> Ev {
        self.from = s.into();
        self
    }

    /// SES event-publishing JSON.
    fn json(&self) -> Value {
        let ts = rfc3339_ms(self.at);
        // Reject's time is mail.timestamp (docs/semantics.md#counting); the others are a minute after it.
        let sent = if self.ty == Ty::Reject {
            ts.clone()
        } else {
            rfc3339_ms(self.at - 60_000)
        };
        let mail = json!({
            "timestamp": sent,
            "source": self.from,
            "sendingAccountId": ACCOUNT,
            "messageId": format!("0100018f-test-{:08}", self.id),
            "destination": [self.to],
            "commonHeaders": {"subject": "Hello"},
            "tags": {"ses:configuration-set": ["main"]},
        });
        let mut recipient = json!({"emailAddress": self.to});
        if let Some(d) = &self.diag {
            recipient["diagnosticCode"] = json!(d);
        }
        // A bounce's or complaint's feedback: its recipients, time, id and the optional subtype.
        let feedback = |recipients_field: &str, recipients: Value, sub_field: &str| {
            let mut payload = json!({"timestamp": ts, "feedbackId": format!("fb-{}", self.id)});
            payload[recipients_field] = recipients;
            if let Some(s) = &self.sub {
                payload[sub_field] = json!(s);
            }
            payload
        };
        match self.ty {
            Ty::Permanent | Ty::Transient | Ty::Undetermined => {
                let mut bounce = feedback("bouncedRecipients", json!([recipient]), "bounceSubType");
                bounce["bounceType"] = json!(match self.ty {
                    Ty::Permanent => "Permanent",
                    Ty::Transient => "Transient",
                    _ => "Undetermined",
                });
                json!({"eventType": "Bounce", "bounce": bounce, "mail": mail})
            }
            Ty::Complaint => {
                let recipients = json!([{"emailAddress": self.to}]);
                let complaint =
                    feedback("complainedRecipients", recipients, "complaintFeedbackType");
                json!({"eventType": "Complaint", "complaint": complaint, "mail": mail})
            }
            Ty::Reject => {
                json!({"eventType": "Reject", "reject": {"reason": "Bad content"}, "mail": mail})
            }
            Ty::Delay => json!({
                "eventType": "DeliveryDelay",
                "deliveryDelay": {
                    "timestamp": ts,
                    "delayType": "TransientCommunicationFailure",
                    "delayedRecipients": [recipient],
                },
                "mail": mail,
            }),
            Ty::Delivery => json!({
                "eventType": "Delivery",
                "delivery": {"timestamp": ts, "recipients": [self.to], "smtpResponse": "250 ok"},
                "mail": mail,
            }),
        }
    }
}

/// Makes test events numbered 1, 2, … in the order they are made.
#[derive(Default)]
struct Numbered(std::cell::Cell<u64>);

impl Numbered {
    /// The next event.
    fn ev(&self, ty: Ty, to: &str, at: i64) -> Ev {
        self.0.set(self.0.get() + 1);
        Ev::new(self.0.get(), ty, to, at)
    }

    /// One event of `ty` for `to` at each of `times`, numbered in that order.
    fn each(&self, ty: Ty, to: &str, times: &[i64]) -> Vec<Ev> {
        times.iter().map(|&at| self.ev(ty, to, at)).collect()
    }
}

/// The time `n` hours before `now`, as a function of `n`.
fn hours_before(now: i64) -> impl Fn(i64) -> i64 {
    move |n| now - n * HOUR
}

fn rfc3339_ms(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn secs(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms.div_euclid(1000) * 1000)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

// ---- the oracle: classification computed here from the raw event JSON --------------------

/// A qualifying-type event read back from its JSON.
#[derive(Debug, Clone)]
struct Raw {
    email: String,
    kind: &'static str,
    at: i64,
    sub: String,
    diag: String,
    sender: String,
}

fn parse_time(v: &Value) -> i64 {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

fn bare_address(source: &str) -> String {
    match (source.find('<'), source.find('>')) {
        (Some(a), Some(b)) if a < b => source[a + 1..b].trim().to_owned(),
        _ => source.trim().to_owned(),
    }
}

fn raw_events(event: &Value) -> Vec<Raw> {
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let sender = bare_address(event["mail"]["source"].as_str().unwrap());
    let list = |v: &Value| v.as_array().unwrap().clone();
    let (b, c, d, mail) = (
        &event["bounce"],
        &event["complaint"],
        &event["deliveryDelay"],
        &event["mail"],
    );
    // (recipients, kind, the object holding the time, subtype, whether recipients carry a diagnostic)
    let (recipients, kind, timed, sub, with_diag) = match event["eventType"].as_str().unwrap() {
        "Bounce" => {
            let kind = match b["bounceType"].as_str().unwrap() {
                "Permanent" => "P",
                "Transient" => "T",
                _ => "U",
            };
            let sub = text(&b["bounceSubType"]);
            (list(&b["bouncedRecipients"]), kind, b, sub, true)
        }
        "Complaint" => {
            let sub = text(&c["complaintFeedbackType"]);
            (list(&c["complainedRecipients"]), "C", c, sub, false)
        }
        "Reject" => (list(&mail["destination"]), "R", mail, String::new(), false),
        "DeliveryDelay" => (list(&d["delayedRecipients"]), "D", d, String::new(), true),
        _ => return Vec::new(),
    };
    recipients
        .iter()
        .map(|r| {
            // Reject's recipients are the destination's addresses; the others' are objects.
            let email = if kind == "R" { r } else { &r["emailAddress"] };
            Raw {
                email: email.as_str().unwrap().trim().to_ascii_lowercase(),
                kind,
                at: parse_time(&timed["timestamp"]),
                sub: sub.clone(),
                diag: if with_diag {
                    text(&r["diagnosticCode"])
                } else {
                    String::new()
                },
                sender: sender.clone(),
            }
        })
        .collect()
}

/// (enabled, events, window_days) of the three configurable rules.
type Config = [(bool, u64, i64); 3];

fn config_of(set: &RuleSet) -> Config {
    let t = |t: &sendops_shared::undeliverable::Threshold| {
        (t.enabled, u64::from(t.events), i64::from(t.window_days))
    };
    [
        t(&set.repeated_transient),
        t(&set.undetermined),
        t(&set.soft_bounce_accumulation),
    ]
}

#[derive(Debug, Clone)]
struct OracleExclusion {
    at: i64,
    by: String,
    reason: String,
}

/// What the list must show at `now` (rows without last_changed_at), by address.
fn oracle(
    stored: &[Value],
    exclusions: &HashMap<String, OracleExclusion>,
    cfg: &Config,
    retention_days: i64,
    now: i64,
) -> BTreeMap<String, Value> {
    let mut by_email: BTreeMap<String, Vec<Raw>> = BTreeMap::new();
    for e in stored {
        for r in raw_events(e) {
            by_email.entry(r.email.clone()).or_default().push(r);
        }
    }
    for email in exclusions.keys() {
        by_email.entry(email.clone()).or_default();
    }
    let retention_start = now - retention_days * DAY;
    // (name, kinds, None = locked | Some(config index))
    let rules: [(&str, &[&str], Option<usize>); 6] = [
        ("permanent_bounce", &["P"], None),
        ("complaint", &["C"], None),
        ("rejected", &["R"], None),
        ("repeated_transient", &["T"], Some(0)),
        ("undetermined", &["U"], Some(1)),
        ("soft_bounce_accumulation", &["D", "T"], Some(2)),
    ];
    let mut out = BTreeMap::new();
    for (email, events) in by_email {
        let excl = exclusions.get(&email);
        let mut row = None;
        for (name, kinds, conf) in rules {
            let (need, start) = match conf {
                None => (1, retention_start),
                Some(i) => {
                    let (enabled, n, days) = cfg[i];
                    if !enabled {
                        continue;
                    }
                    (n, retention_start.max(now - days * DAY))
                }
            };
            let q: Vec<&Raw> = events
                .iter()
                .filter(|r| kinds.contains(&r.kind) && r.at >= start)
                .collect();
            if (q.len() as u64) < need || q.is_empty() {
                continue;
            }
            let last = q.iter().map(|r| r.at).max().unwrap();
            if excl.is_some_and(|x| x.at > last) {
                continue;
            }
            let latest_with = |f: fn(&Raw) -> &str| {
                q.iter()
                    .filter(|r| !f(r).is_empty())
                    .max_by_key(|r| (r.at, f(r).to_owned()))
                    .map(|r| f(r).to_owned())
            };
            let mut v = json!({
                "email": email,
                "status": "listed",
                "reason": name,
                "first_seen_at": secs(q.iter().map(|r| r.at).min().unwrap()),
                "last_seen_at": secs(last),
                "event_count": q.len(),
            });
            if let Some(s) = latest_with(|r| &r.sub) {
                v["subtype"] = json!(s);
            }
            if let Some(d) = latest_with(|r| &r.diag) {
                v["last_diagnostic"] = json!(d);
            }
            if let Some(s) = latest_with(|r| &r.sender) {
                v["last_sender_identity"] = json!(s);
            }
            row = Some(v);
            break;
        }
        if row.is_none()
            && let Some(x) = excl
        {
            row = Some(json!({
                "email": email,
                "status": "excluded",
                "excluded_at": secs(x.at),
                "excluded_by": x.by,
                "exclusion_reason": x.reason,
            }));
        }
        if let Some(r) = row {
            out.insert(email, r);
        }
    }
    out
}

fn without_lcat(row: &Value) -> Value {
    let mut r = row.clone();
    r.as_object_mut().unwrap().remove("last_changed_at");
    r
}

// ---- harness ------------------------------------------------------------------------------

fn config(settle: Duration) -> ApiConfig {
    ApiConfig {
        key_cache_ttl: Duration::from_secs(1),
        undeliverable_settle: settle,
        ..ApiConfig::default()
    }
}

struct Fixture {
    app: TestApp,
    org: Org,
    key: String,
}

async fn fixture(name: &str, plan: Plan, settle: Duration) -> Fixture {
    let app = TestApp::with_config(name, config(settle)).await;
    let org = app.org("acme", ACCOUNT, plan).await;
    let key = app
        .key(&org, KeyEnv::Live, &[Scope::UndeliverableView])
        .await;
    Fixture { app, org, key }
}

impl Fixture {
    async fn ingest(&self, events: &[Ev]) {
        let json: Vec<Value> = events.iter().map(Ev::json).collect();
        self.app.ingest(&json).await;
    }

    async fn get(&self, uri: &str) -> Reply {
        let r = self.app.get(uri, Some(&self.key)).await;
        assert!(
            r.header("x-sendops-rules-version").is_some(),
            "rules version header on {uri} ({})",
            r.status
        );
        r
    }

    /// Every page of a list (following next_cursor), checking the Link header on the way.
    async fn all(&self, query: &str) -> Vec<Value> {
        let mut rows = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1000 {
            let uri = match &cursor {
                Some(c) if query.is_empty() => format!("/v1/undeliverable?cursor={c}"),
                Some(c) => format!("/v1/undeliverable?{query}&cursor={c}"),
                None if query.is_empty() => "/v1/undeliverable".to_owned(),
                None => format!("/v1/undeliverable?{query}"),
            };
            let r = self.get(&uri).await;
            assert_eq!(r.status, 200, "{uri}: {}", r.body);
            rows.extend(r.data().iter().cloned());
            let p = &r.body["pagination"];
            if p["has_more"] == json!(true) {
                let c = p["next_cursor"].as_str().unwrap().to_owned();
                let link = r.header("link").expect("Link header with a next page");
                assert!(link.contains(&format!("cursor={c}")), "{link}");
                assert!(link.ends_with("rel=\"next\""), "{link}");
                cursor = Some(c);
            } else {
                assert!(p["next_cursor"].is_null());
                assert!(r.header("link").is_none());
                return rows;
            }
        }
        panic!("pagination does not end");
    }

    async fn set_rules(&self, set: RuleSet) -> i64 {
        let change = self
            .app
            .db
            .store
            .set_undeliverable_rules(&self.org, set, "tests")
            .await
            .unwrap();
        assert!(change.changed);
        change.rules.updated_ms
    }

    async fn exclude(&self, email: &str, reason: &str) -> (String, OracleExclusion) {
        let x = self
            .app
            .db
            .store
            .add_exclusion(self.org.id, email, "ops@acme.example", reason)
            .await
            .unwrap();
        (
            x.email.clone(),
            OracleExclusion {
                at: x.excluded_ms,
                by: x.excluded_by,
                reason: x.reason,
            },
        )
    }

    /// The ingest time SendOps stored for the event rows of one message.
    async fn ingested_ms(&self, ev: &Ev) -> i64 {
        self.app
            .db
            .store
            .client()
            .query("SELECT max(ingested_ms) FROM events WHERE message_id = ?")
            .bind(format!("0100018f-test-{:08}", ev.id))
            .fetch_one::<i64>()
            .await
            .unwrap()
    }
}

/// The response body as sent (to check field order, which `Value` does not keep).
async fn raw_body(f: &Fixture, uri: &str) -> String {
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder()
        .uri(uri)
        .header("host", "api.test")
        .header("authorization", format!("Bearer {}", f.key))
        .body(Body::empty())
        .unwrap();
    let addr: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    let resp = f.app.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn emails(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["email"].as_str().unwrap().to_owned())
        .collect()
}

fn by_email(rows: &[Value]) -> BTreeMap<String, Value> {
    rows.iter()
        .map(|r| (r["email"].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

/// Sorted by (last_changed_at desc, email asc)?
fn assert_ordered(rows: &[Value]) {
    for w in rows.windows(2) {
        let a = (
            w[0]["last_changed_at"].as_str().unwrap(),
            w[0]["email"].as_str().unwrap(),
        );
        let b = (
            w[1]["last_changed_at"].as_str().unwrap(),
            w[1]["email"].as_str().unwrap(),
        );
        assert!(
            a.0 > b.0 || (a.0 == b.0 && a.1 < b.1),
            "order: {a:?} then {b:?}"
        );
    }
}

/// A small deterministic PRNG (xorshift64*), so a failing run can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

// ---- the polling test ---------------------------------------------------------------------

/// A client that keeps its own suppression list by polling with `since` = the largest
/// last_changed_at it has seen, applying rows by status.
struct Poller {
    since: String,
    list: BTreeMap<String, Value>,
    polls: u32,
    rows_received: u32,
}

impl Poller {
    async fn poll(&mut self, f: &Fixture) {
        let asked = self.since.clone();
        let rows = f.all(&format!("since={asked}&limit=7")).await;
        assert_ordered(&rows);
        self.polls += 1;
        for row in rows {
            self.rows_received += 1;
            let lcat = row["last_changed_at"].as_str().unwrap().to_owned();
            assert!(lcat >= asked, "since is honoured: {lcat} < {asked}");
            let email = row["email"].as_str().unwrap().to_owned();
            match row["status"].as_str().unwrap() {
                "listed" => {
                    self.list.insert(email, row);
                }
                "excluded" => {
                    self.list.remove(&email);
                }
                other => panic!("status {other}"),
            }
            if lcat > self.since {
                self.since = lcat;
            }
        }
    }
}

#[tokio::test]
async fn since_polling_converges_on_the_snapshot_and_the_snapshot_on_the_oracle() {
    let seed: u64 = env_number("UNDELIVERABLE_SEED", 0x5eed_0001_d00d_f00d);
    eprintln!("seed {seed}");
    let mut rng = Rng(seed | 1);
    let f = fixture("und_poll", Plan::Pro, Duration::ZERO).await;
    let retention = i64::from(Plan::Pro.retention_days());
    let start = now_ms();

    // Addresses, written in varying case by SES.
    let pool: Vec<String> = (0..36)
        .map(|i| format!("user{i}@d{}.example", i % 5))
        .collect();
    let spell = |rng: &mut Rng, email: &str| -> String {
        email
            .chars()
            .map(|c| {
                if rng.chance(20) {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    };
    // Event times: within 0–120 days, never within 2 h of a window or retention edge.
    let edges = [7, 14, 30, 60, 90].map(|d| start - d * DAY);
    let time = |rng: &mut Rng| loop {
        let at = start - 5 * 60_000 - rng.below(120 * DAY as u64) as i64;
        if edges.iter().all(|e| (at - e).abs() > 2 * HOUR) {
            return at;
        }
    };
    let senders = [
        "Acme Ops <ops@acme.example>",
        "news@acme.example",
        "\"Billing\" <billing@acme.example>",
    ];
    let mut next_id = 0u64;
    let mut make = |rng: &mut Rng, email: &str, ty: Ty, at: i64| -> Ev {
        next_id += 1;
        let sender = *rng.pick::<&str>(&senders);
        let mut ev = Ev::new(next_id, ty, &spell(rng, email), at).from(sender);
        let subs: &[&str] = match ty {
            Ty::Permanent => &["General", "NoEmail", "Suppressed"],
            Ty::Transient => &["General", "MailboxFull"],
            Ty::Undetermined => &["Undetermined"],
            Ty::Complaint => &["abuse", "fraud"],
            _ => &[],
        };
        if !subs.is_empty() && rng.chance(75) {
            let sub = *rng.pick::<&str>(subs);
            ev = ev.sub(sub);
        }
        if matches!(
            ty,
            Ty::Permanent | Ty::Transient | Ty::Undetermined | Ty::Delay
        ) && rng.chance(70)
        {
            ev = ev.diag(&format!(
                "smtp; {} 4.0.0 code {}",
                400 + rng.below(200),
                rng.below(50)
            ));
        }
        ev
    };
    let types = [
        (Ty::Permanent, 10),
        (Ty::Transient, 30),
        (Ty::Undetermined, 14),
        (Ty::Complaint, 6),
        (Ty::Reject, 6),
        (Ty::Delay, 26),
        (Ty::Delivery, 8),
    ];
    let random_type = |rng: &mut Rng| {
        let mut roll = rng.below(100);
        for (ty, w) in types {
            if roll < w {
                return ty;
            }
            roll -= w;
        }
        Ty::Delay
    };
    let mut pending: Vec<Ev> = Vec::new();
    for email in &pool {
        for _ in 0..rng.below(9) {
            let ty = random_type(&mut rng);
            let at = time(&mut rng);
            pending.push(make(&mut rng, email, ty, at));
        }
    }
    // Addresses that only ever soft-fail, mostly recently: the configurable rules' ground.
    let soft: Vec<String> = (0..16)
        .map(|i| format!("soft{i}@d{}.example", i % 3))
        .collect();
    for email in &soft {
        for _ in 0..2 + rng.below(9) {
            let ty = *rng.pick(&[
                Ty::Transient,
                Ty::Transient,
                Ty::Undetermined,
                Ty::Delay,
                Ty::Delay,
            ]);
            let at = loop {
                let at = start - 5 * 60_000 - rng.below(40 * DAY as u64) as i64;
                if edges.iter().all(|e| (at - e).abs() > 2 * HOUR) {
                    break at;
                }
            };
            pending.push(make(&mut rng, email, ty, at));
        }
    }
    let pool: Vec<String> = pool.into_iter().chain(soft).collect();
    // Random arrival order: late events everywhere.
    for i in (1..pending.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        pending.swap(i, j);
    }

    let mut stored: Vec<Value> = Vec::new();
    let mut sent_batches: Vec<Vec<Ev>> = Vec::new();
    let mut exclusions: HashMap<String, OracleExclusion> = HashMap::new();
    let mut rules = RuleSet::STANDARD;
    let loosening = {
        let mut custom = RuleSet::STANDARD;
        custom.undetermined.enabled = true;
        let mut looser = RuleSet::STRICT;
        looser.repeated_transient.events = 2;
        looser.soft_bounce_accumulation.window_days = 60;
        vec![custom, RuleSet::STRICT, looser]
    };
    let mut rule_steps = loosening.into_iter();
    let mut poller = Poller {
        since: "1970-01-01T00:00:00Z".into(),
        list: BTreeMap::new(),
        polls: 0,
        rows_received: 0,
    };
    let (mut duplicates, mut rebounces, mut late_for_excluded, mut rule_changes) = (0, 0, 0, 0);

    let mut step = 0;
    while !pending.is_empty() {
        step += 1;
        let n = (1 + rng.below(8) as usize).min(pending.len());
        let batch: Vec<Ev> = pending.drain(..n).collect();
        f.ingest(&batch).await;
        stored.extend(batch.iter().map(Ev::json));
        // Redelivery of an earlier batch (SQS at-least-once): stored once.
        if !sent_batches.is_empty() && rng.chance(30) {
            let again = rng.pick(&sent_batches).clone();
            f.ingest(&again).await;
            duplicates += again.len();
        }
        sent_batches.push(batch);

        if rng.chance(20) {
            let email = rng.pick(&pool).clone();
            let (e, x) = f
                .exclude(&spell(&mut rng, &email), "customer confirmed the mailbox")
                .await;
            exclusions.insert(e, x);
        }
        // An excluded address fails again (after the exclusion), or a late event from before
        // the exclusion arrives for it.
        if !exclusions.is_empty() && rng.chance(35) {
            let keys: Vec<String> = exclusions.keys().cloned().collect();
            let email = rng.pick(&keys).clone();
            let x_at = exclusions[&email].at;
            let ev = if rng.chance(60) {
                rebounces += 1;
                let ty = *rng.pick(&[
                    Ty::Permanent,
                    Ty::Complaint,
                    Ty::Transient,
                    Ty::Undetermined,
                ]);
                let at = x_at + 1 + rng.below(500) as i64;
                make(&mut rng, &email, ty, at)
            } else {
                late_for_excluded += 1;
                let ty = *rng.pick(&[Ty::Permanent, Ty::Complaint, Ty::Reject]);
                let at = x_at - 1000 - rng.below(3 * DAY as u64) as i64;
                make(&mut rng, &email, ty, at)
            };
            // Keep event times in the past for the re-bounces.
            while now_ms() <= ev.at {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            f.ingest(std::slice::from_ref(&ev)).await;
            stored.push(ev.json());
            sent_batches.push(vec![ev]);
        }
        if step % 4 == 0
            && rng.chance(50)
            && let Some(next) = rule_steps.next()
        {
            f.set_rules(next).await;
            rules = next;
            rule_changes += 1;
        }
        if rng.chance(60) {
            poller.poll(&f).await;
        }
        // Checkpoint: a caught-up poller holds exactly the snapshot.
        if step % 6 == 0 {
            poller.poll(&f).await;
            let snapshot = by_email(&f.all("limit=9").await);
            assert_eq!(
                poller.list, snapshot,
                "poller diverged at step {step} (seed {seed})"
            );
        }
    }
    // Rules not yet applied are applied at the end, then one last poll.
    for next in rule_steps {
        f.set_rules(next).await;
        rules = next;
        rule_changes += 1;
    }
    poller.poll(&f).await;

    let snapshot_rows = f.all("limit=11").await;
    assert_ordered(&snapshot_rows);
    assert!(
        snapshot_rows.iter().all(|r| r["status"] == "listed"),
        "snapshot default is listed"
    );
    let snapshot = by_email(&snapshot_rows);
    assert_eq!(
        poller.list, snapshot,
        "the poller ends with the snapshot (seed {seed})"
    );

    let expected = oracle(
        &stored,
        &exclusions,
        &config_of(&rules),
        retention,
        now_ms(),
    );
    let everything = by_email(&f.all("status=all&limit=50").await);
    let got: BTreeMap<String, Value> = everything
        .iter()
        .map(|(k, v)| (k.clone(), without_lcat(v)))
        .collect();
    assert_eq!(
        got, expected,
        "the list is the classification of the raw events (seed {seed})"
    );
    let listed = expected
        .values()
        .filter(|v| v["status"] == "listed")
        .count();
    assert_eq!(snapshot.len(), listed);
    // The scenario exercised what it claims to.
    let reasons: std::collections::BTreeSet<&str> = expected
        .values()
        .filter_map(|v| v["reason"].as_str())
        .collect();
    eprintln!(
        "steps {step}, events {}, duplicates {duplicates}, exclusions {}, re-bounces {rebounces}, \
         late for excluded {late_for_excluded}, rule changes {rule_changes}, polls {}, rows received {}, \
         listed {listed}, reasons {reasons:?}",
        stored.len(),
        exclusions.len(),
        poller.polls,
        poller.rows_received
    );
    assert!(duplicates > 0 && rebounces > 0 && rule_changes == 3 && exclusions.len() >= 2);
    assert!(reasons.len() >= 4, "several reasons in play: {reasons:?}");
    assert!(expected.values().any(|v| v["status"] == "excluded"));
    f.app.drop().await;
}

// ---- focused tests ------------------------------------------------------------------------

#[tokio::test]
async fn reason_priority_and_fields_follow_the_winning_rule() {
    let f = fixture("und_priority", Plan::Pro, Duration::ZERO).await;
    f.set_rules(RuleSet::STRICT).await;
    let h = hours_before(now_ms());
    let n = Numbered::default();
    let ev = |ty, to: &str, at| n.ev(ty, to, at);
    let each = |ty, to: &str, hours: &[i64]| {
        let times: Vec<i64> = hours.iter().map(|&k| h(k)).collect();
        n.each(ty, to, &times)
    };
    let events = [
        // Everything: permanent bounce wins; its fields only.
        vec![
            ev(Ty::Permanent, "all@x.example", h(50))
                .sub("NoEmail")
                .diag("smtp; 550 5.1.1 unknown")
                .from("Ops <ops@acme.example>"),
            ev(Ty::Complaint, "all@x.example", h(40)).sub("abuse"),
            ev(Ty::Reject, "all@x.example", h(30)),
        ],
        each(Ty::Transient, "all@x.example", &[3, 2]),
        vec![ev(Ty::Transient, "all@x.example", h(1)).diag("smtp; 421 later")],
        // Complaint beats reject and the configurable rules.
        vec![
            ev(Ty::Reject, "comp@x.example", h(5)),
            ev(Ty::Complaint, "comp@x.example", h(9)).from("news@acme.example"),
        ],
        each(Ty::Undetermined, "comp@x.example", &[4, 3]),
        // Reject beats repeated_transient.
        vec![ev(Ty::Reject, "rej@x.example", h(70))],
        each(Ty::Transient, "rej@x.example", &[6, 5, 4]),
        // repeated_transient beats undetermined and soft_bounce_accumulation.
        vec![
            ev(Ty::Transient, "rt@x.example", h(30)).sub("MailboxFull"),
            ev(Ty::Transient, "rt@x.example", h(20))
                .sub("General")
                .diag("smtp; 452 full"),
            ev(Ty::Transient, "rt@x.example", h(10)),
        ],
        each(Ty::Undetermined, "rt@x.example", &[9, 8]),
        each(Ty::Delay, "rt@x.example", &[7, 6]),
        // undetermined beats soft_bounce_accumulation.
        each(Ty::Undetermined, "und@x.example", &[100, 90]),
        each(Ty::Delay, "und@x.example", &[8, 7, 6, 5, 4]),
        // soft_bounce_accumulation: delays plus transient bounces (two transients only).
        vec![ev(Ty::Delay, "soft@x.example", h(200)).diag("smtp; 421 try later")],
        each(Ty::Delay, "soft@x.example", &[150, 120]),
        vec![
            ev(Ty::Transient, "soft@x.example", h(100)).sub("General"),
            ev(Ty::Transient, "soft@x.example", h(90)),
        ],
        // Deliveries never qualify.
        vec![ev(Ty::Delivery, "ok@x.example", h(1))],
    ]
    .concat();
    f.ingest(&events).await;
    let rows = by_email(&f.all("").await);
    let reason = |e: &str| rows[e]["reason"].as_str().unwrap().to_owned();
    assert_eq!(reason("all@x.example"), "permanent_bounce");
    assert_eq!(reason("comp@x.example"), "complaint");
    assert_eq!(reason("rej@x.example"), "rejected");
    assert_eq!(reason("rt@x.example"), "repeated_transient");
    assert_eq!(reason("und@x.example"), "undetermined");
    assert_eq!(reason("soft@x.example"), "soft_bounce_accumulation");
    assert!(!rows.contains_key("ok@x.example"));
    assert_eq!(rows.len(), 6);

    assert_eq!(
        without_lcat(&rows["all@x.example"]),
        json!({"email": "all@x.example", "status": "listed", "reason": "permanent_bounce",
            "subtype": "NoEmail", "first_seen_at": secs(h(50)), "last_seen_at": secs(h(50)),
            "event_count": 1, "last_diagnostic": "smtp; 550 5.1.1 unknown",
            "last_sender_identity": "ops@acme.example"})
    );
    // No feedback type, no diagnostic: omitted, not null.
    assert_eq!(
        without_lcat(&rows["comp@x.example"]),
        json!({"email": "comp@x.example", "status": "listed", "reason": "complaint",
            "first_seen_at": secs(h(9)), "last_seen_at": secs(h(9)), "event_count": 1,
            "last_sender_identity": "news@acme.example"})
    );
    // Subtype and diagnostic of the latest event that has one.
    let rt = &rows["rt@x.example"];
    assert_eq!(rt["event_count"], 3);
    assert_eq!(rt["subtype"], "General");
    assert_eq!(rt["last_diagnostic"], "smtp; 452 full");
    assert_eq!(rt["first_seen_at"], secs(h(30)));
    assert_eq!(rt["last_seen_at"], secs(h(10)));
    let soft = &rows["soft@x.example"];
    assert_eq!(soft["event_count"], 5);
    assert_eq!(soft["subtype"], "General");
    assert_eq!(soft["last_diagnostic"], "smtp; 421 try later");
    assert_eq!(rows["und@x.example"]["event_count"], 2);
    assert!(rows["und@x.example"].get("subtype").is_none());

    // Standard rules: only the locked reasons remain.
    f.set_rules(RuleSet::STANDARD).await;
    let rows = by_email(&f.all("").await);
    assert_eq!(
        rows.keys().cloned().collect::<Vec<_>>(),
        ["all@x.example", "comp@x.example", "rej@x.example"]
    );
    f.app.drop().await;
}

#[tokio::test]
async fn filters_status_defaults_min_events_and_validation() {
    let f = fixture("und_filters", Plan::Free, Duration::ZERO).await;
    let h = hours_before(now_ms());
    let n = Numbered::default();
    let events = [
        vec![
            n.ev(Ty::Permanent, "Alice@Example.com", h(30)),
            n.ev(Ty::Permanent, "alice@example.com", h(20)),
            n.ev(Ty::Permanent, "ALICE@example.COM", h(10)),
        ],
        n.each(Ty::Complaint, "bob@example.com", &[h(9), h(8)]),
        vec![
            n.ev(Ty::Reject, "carol@other.example", h(7)),
            n.ev(Ty::Transient, "dave@example.com", h(6)),
            n.ev(Ty::Permanent, "erin@example.com", h(5)),
        ],
    ]
    .concat();
    f.ingest(&events).await;
    f.exclude("Erin@Example.com", "confirmed valid").await;
    f.exclude("frank@example.com", "pre-emptive allow").await;

    let listed = [
        "alice@example.com",
        "bob@example.com",
        "carol@other.example",
    ];
    let tombstones = ["erin@example.com", "frank@example.com"];
    let set = |rows: Vec<Value>| {
        let mut v = emails(&rows);
        v.sort();
        v
    };
    let sorted = |items: &[&str]| {
        let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    // Snapshot default: listed only; addresses case-folded into one row.
    assert_eq!(set(f.all("").await), sorted(&listed));
    assert_eq!(
        by_email(&f.all("").await)["alice@example.com"]["event_count"],
        3
    );
    // With since: both statuses.
    let since = "since=1970-01-01T00:00:00Z";
    let all: Vec<&str> = listed.iter().chain(&tombstones).copied().collect();
    assert_eq!(set(f.all(since).await), sorted(&all));
    // Explicit status overrides either default.
    assert_eq!(
        set(f.all(&format!("{since}&status=listed")).await),
        sorted(&listed)
    );
    assert_eq!(set(f.all("status=excluded").await), sorted(&tombstones));
    assert_eq!(set(f.all("status=all").await), sorted(&all));
    let tomb = by_email(&f.all("status=excluded").await)["frank@example.com"].clone();
    // Field order as in the spec's example.
    let text = raw_body(&f, "/v1/undeliverable?status=excluded&email=frank").await;
    assert!(
        text.contains(r#"{"email":"frank@example.com","status":"excluded","last_changed_at":"#),
        "{text}"
    );
    let text = raw_body(&f, "/v1/undeliverable?email=alice").await;
    assert!(
        text.contains(r#"{"email":"alice@example.com","status":"listed","reason":"permanent_bounce","first_seen_at":"#),
        "{text}"
    );
    assert_eq!(
        tomb.as_object().unwrap().len(),
        6,
        "email, status, last_changed_at, excluded_at, excluded_by, exclusion_reason: {tomb}"
    );
    assert_eq!(tomb["last_changed_at"], tomb["excluded_at"]);
    assert_eq!(tomb["excluded_by"], "ops@acme.example");
    assert_eq!(tomb["exclusion_reason"], "pre-emptive allow");

    // reason: listed rows only; tombstones unaffected; all six values accepted.
    assert_eq!(set(f.all("reason=complaint").await), ["bob@example.com"]);
    assert_eq!(
        set(f.all("status=all&reason=rejected").await),
        sorted(&[
            "carol@other.example",
            "erin@example.com",
            "frank@example.com"
        ])
    );
    for r in Rule::NAMES {
        assert_eq!(
            f.get(&format!("/v1/undeliverable?reason={r}")).await.status,
            200
        );
    }
    assert!(
        f.all("reason=repeated_transient").await.is_empty(),
        "rule off: no rows"
    );
    // email: case-insensitive substring, on tombstones too.
    assert_eq!(set(f.all("email=ALI").await), ["alice@example.com"]);
    assert_eq!(set(f.all("status=all&email=example.com").await).len(), 4);
    assert_eq!(
        set(f.all("status=all&email=%40OTHER").await),
        ["carol@other.example"]
    );
    // min_events: listed rows with enough events; tombstones only at 1.
    assert_eq!(
        set(f.all("status=all&min_events=2").await),
        sorted(&["alice@example.com", "bob@example.com"])
    );
    assert_eq!(set(f.all("min_events=3").await), ["alice@example.com"]);
    assert_eq!(set(f.all("status=all&min_events=1").await).len(), 5);
    assert!(f.all("status=excluded&min_events=2").await.is_empty());
    // since filters by last_changed_at (inclusive on the second).
    let newest = f.all("status=all").await[0].clone();
    let lcat = newest["last_changed_at"].as_str().unwrap();
    let rows = f.all(&format!("since={lcat}")).await;
    assert!(emails(&rows).contains(&newest["email"].as_str().unwrap().to_owned()));
    assert!(
        rows.iter()
            .all(|r| r["last_changed_at"].as_str().unwrap() >= lcat)
    );
    let later = secs(parse_time(&json!(lcat)) + 1000);
    assert!(
        f.all(&format!("since={}", later.replace('+', "%2B")))
            .await
            .is_empty()
    );

    // Validation: 422 naming each field, with the rules header.
    let r = f
        .get("/v1/undeliverable?status=gone&reason=soft&min_events=0&limit=500&since=yesterday&email=")
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let mut fields: Vec<&str> = r.strs("errors", "field");
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["email", "limit", "min_events", "reason", "since", "status"]
    );
    assert_eq!(r.body["code"], "validation_failed");
    // Unknown parameters are ignored.
    assert_eq!(f.get("/v1/undeliverable?colour=blue").await.status, 200);
    f.app.drop().await;
}

#[tokio::test]
async fn cursors_page_through_and_bad_ones_restart_at_page_one() {
    let f = fixture("und_cursor", Plan::Pro, Duration::ZERO).await;
    let now = now_ms();
    let events: Vec<Ev> = (0..23)
        .map(|i| {
            Ev::new(
                i,
                Ty::Permanent,
                &format!("p{i:02}@x.example"),
                now - (i as i64 + 1) * HOUR,
            )
        })
        .collect();
    // Several batches: several distinct last_changed_at values, with ties inside each batch.
    for chunk in events.chunks(5) {
        f.ingest(chunk).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let whole = f.all("limit=200").await;
    assert_eq!(whole.len(), 23);
    assert_ordered(&whole);
    let paged = f.all("limit=4").await;
    assert_eq!(paged, whole, "pages of 4 concatenate to the whole list");

    let first = f.get("/v1/undeliverable?limit=4").await;
    let c = first.body["pagination"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = f
        .get(&format!("/v1/undeliverable?limit=4&cursor={c}"))
        .await;
    assert_eq!(second.data()[..], whole[4..8]);
    // Malformed, foreign-list and other-filter cursors: page 1, silently.
    let messages_cursor = sendops_query_api::cursor::encode(
        "messages",
        &sendops_query_api::cursor::filter_fingerprint(&[]),
        &sendops_query_api::cursor::Position {
            t: now,
            i: "p00@x.example".into(),
        },
    );
    for bad in [
        "%21%21not-base64".to_owned(),
        "e30".to_owned(),
        messages_cursor,
    ] {
        let r = f
            .get(&format!("/v1/undeliverable?limit=4&cursor={bad}"))
            .await;
        assert_eq!(r.status, 200, "{bad}: {}", r.body);
        assert_eq!(r.body["data"], first.body["data"], "{bad}");
    }
    let r = f
        .get(&format!(
            "/v1/undeliverable?limit=4&email=x.example&cursor={c}"
        ))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["data"], first.body["data"],
        "cursor of other filters"
    );
    // The Link header keeps every filter.
    let r = f
        .get("/v1/undeliverable?limit=2&email=x.example&min_events=1")
        .await;
    let link = r.header("link").unwrap();
    assert!(
        link.starts_with("</v1/undeliverable?limit=2&email=x.example&min_events=1&cursor="),
        "{link}"
    );
    f.app.drop().await;
}

#[tokio::test]
async fn last_changed_at_moves_on_every_change_and_only_then() {
    let f = fixture("und_lcat", Plan::Pro, Duration::ZERO).await;
    let h = hours_before(now_ms());
    let lcat_ms = |row: &Value| parse_time(&row["last_changed_at"]);
    let row_of = |rows: Vec<Value>, e: &str| rows.into_iter().find(|r| r["email"] == e);

    // A first permanent bounce: last_changed_at = its ingest time.
    let first = Ev::new(1, Ty::Permanent, "a@x.example", h(10)).sub("General");
    f.ingest(std::slice::from_ref(&first)).await;
    let t1 = f.ingested_ms(&first).await;
    let row = row_of(f.all("").await, "a@x.example").unwrap();
    assert_eq!(row["last_changed_at"], secs(t1));
    assert_eq!(row["last_seen_at"], secs(h(10)));
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // A late event from before: last_seen_at stays, event_count and first_seen_at change, and
    // so does last_changed_at (the late event's ingest time).
    let late = Ev::new(2, Ty::Permanent, "A@X.example", h(30)).sub("NoEmail");
    f.ingest(std::slice::from_ref(&late)).await;
    let t2 = f.ingested_ms(&late).await;
    let row = row_of(f.all("").await, "a@x.example").unwrap();
    assert_eq!(row["last_seen_at"], secs(h(10)));
    assert_eq!(row["first_seen_at"], secs(h(30)));
    assert_eq!(row["event_count"], 2);
    assert_eq!(
        row["subtype"], "General",
        "latest by event time, not by arrival"
    );
    assert_eq!(row["last_changed_at"], secs(t2));
    assert!(t2 >= t1 + 1000);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // A duplicate changes nothing; neither does an event of a lower-priority rule or one that
    // is outside the retention window.
    f.ingest(&[
        late.clone(),
        Ev::new(3, Ty::Reject, "a@x.example", h(1)),
        Ev::new(4, Ty::Permanent, "a@x.example", h(100 * 24)),
    ])
    .await;
    let again = row_of(f.all("").await, "a@x.example").unwrap();
    assert_eq!(again, row, "nothing about the row changed");

    // Exclusion: tombstone with last_changed_at = excluded_at.
    let (_, x) = f.exclude("a@x.example", "mailbox fixed").await;
    let tomb = row_of(f.all("status=all").await, "a@x.example").unwrap();
    assert_eq!(tomb["status"], "excluded");
    assert_eq!(lcat_ms(&tomb), x.at.div_euclid(1000) * 1000);
    assert!(
        row_of(f.all("").await, "a@x.example").is_none(),
        "not in the snapshot"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // A late event from before the exclusion leaves the tombstone alone.
    f.ingest(&[Ev::new(5, Ty::Complaint, "a@x.example", x.at - 5 * HOUR)])
        .await;
    assert_eq!(
        row_of(f.all("status=all").await, "a@x.example").unwrap(),
        tomb
    );

    // It bounces again: re-listed, last_changed_at = that event's ingest time, and the row
    // describes the reason's events in the window (old ones included).
    tokio::time::sleep(Duration::from_millis(50)).await;
    let again = Ev::new(6, Ty::Permanent, "a@x.example", now_ms() - 10).diag("smtp; 550 gone");
    f.ingest(std::slice::from_ref(&again)).await;
    let t6 = f.ingested_ms(&again).await;
    let row = row_of(f.all("status=all").await, "a@x.example").unwrap();
    assert_eq!(row["status"], "listed");
    assert_eq!(row["reason"], "permanent_bounce");
    assert_eq!(row["event_count"], 3);
    assert_eq!(row["last_changed_at"], secs(t6));
    assert!(t6 > x.at);

    // A rule change that newly lists an address: last_changed_at = the change time; rows it
    // does not alter keep theirs.
    let soft = [
        Ev::new(7, Ty::Transient, "soft@x.example", h(5)),
        Ev::new(8, Ty::Transient, "soft@x.example", h(4)),
        Ev::new(9, Ty::Transient, "soft@x.example", h(3)),
    ];
    f.ingest(&soft).await;
    assert!(
        row_of(f.all("").await, "soft@x.example").is_none(),
        "standard: not listed"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = row_of(f.all("").await, "a@x.example").unwrap();
    let changed_at = f.set_rules(RuleSet::STRICT).await;
    let rows = f.all("").await;
    let soft_row = row_of(rows.clone(), "soft@x.example").unwrap();
    assert_eq!(soft_row["reason"], "repeated_transient");
    assert_eq!(soft_row["last_changed_at"], secs(changed_at));
    assert!(changed_at > f.ingested_ms(&soft[2]).await);
    assert_eq!(row_of(rows, "a@x.example").unwrap(), before);
    // The version moved, and the rules endpoint says when and who.
    let r = f.get("/v1/undeliverable/rules").await;
    assert_eq!(r.body["version"], "1");
    assert_eq!(r.header("x-sendops-rules-version"), Some("1"));
    assert_eq!(r.body["updated_at"], secs(changed_at));
    assert_eq!(r.body["updated_by"], "tests");
    f.app.drop().await;
}

#[tokio::test]
async fn windows_and_retention_bound_what_counts() {
    let f = fixture("und_windows", Plan::Free, Duration::ZERO).await;
    let now = now_ms();
    let d = |days: i64, hours: i64| now - days * DAY - hours * HOUR;
    let n = Numbered::default();
    let events = [
        // Free plan: 30 days. An old permanent bounce does not list.
        n.each(Ty::Permanent, "old@x.example", &[d(30, 2)]),
        n.each(Ty::Permanent, "edge@x.example", &[d(29, 22), d(31, 0)]),
        // Strict repeated_transient 3 in 7 days: one of the three is outside.
        n.each(Ty::Transient, "rt@x.example", &[d(7, 2), d(6, 22), d(1, 0)]),
        n.each(
            Ty::Transient,
            "rt3@x.example",
            &[d(6, 22), d(3, 0), d(0, 2)],
        ),
        // undetermined with a 60-day window on a 30-day plan: clamped to retention.
        n.each(Ty::Undetermined, "und@x.example", &[d(45, 0), d(20, 0)]),
        n.each(Ty::Undetermined, "und2@x.example", &[d(25, 0), d(20, 0)]),
    ]
    .concat();
    f.ingest(&events).await;
    let mut rules = RuleSet::STRICT;
    rules.undetermined.window_days = 60;
    f.set_rules(rules).await;
    let rows = by_email(&f.all("").await);
    assert_eq!(
        rows.keys().cloned().collect::<Vec<_>>(),
        ["edge@x.example", "rt3@x.example", "und2@x.example"]
    );
    assert_eq!(rows["edge@x.example"]["event_count"], 1);
    assert_eq!(rows["edge@x.example"]["first_seen_at"], secs(d(29, 22)));
    assert_eq!(rows["und2@x.example"]["reason"], "undetermined");
    // Exclusion tombstones outlive retention: an address excluded long ago still shows.
    f.exclude("old@x.example", "ok").await;
    assert!(by_email(&f.all("status=excluded").await).contains_key("old@x.example"));
    f.app.drop().await;
}

#[tokio::test]
async fn since_polls_wait_for_the_settle_time() {
    let f = fixture("und_settle", Plan::Pro, Duration::from_millis(1500)).await;
    let t0 = secs(now_ms() - 1000);
    f.ingest(&[Ev::new(1, Ty::Complaint, "c@x.example", now_ms() - HOUR)])
        .await;
    assert_eq!(f.all("").await.len(), 1, "a snapshot shows it at once");
    assert!(
        f.all(&format!("since={t0}")).await.is_empty(),
        "a poll does not see it before it settles"
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(
        emails(&f.all(&format!("since={t0}")).await),
        ["c@x.example"]
    );
    f.app.drop().await;
}

#[tokio::test]
async fn rules_endpoint_scopes_and_version_header() {
    let f = fixture("und_rules", Plan::Pro, Duration::ZERO).await;
    let r = f.get("/v1/undeliverable/rules").await;
    assert_eq!(r.status, 200);
    let off = |events, window_days| json!({"enabled": false, "locked": false, "events": events, "window_days": window_days});
    let locked = json!({"enabled": true, "locked": true, "events": 0, "window_days": 0});
    assert_eq!(
        r.body,
        json!({
            "profile": "standard",
            "rules": {
                "permanent_bounce": locked, "complaint": locked, "rejected": locked,
                "repeated_transient": off(3, 7), "undetermined": off(2, 14),
                "soft_bounce_accumulation": off(5, 30),
            },
            "version": "0",
            "updated_at": f.org.created_at,
            "updated_by": "system",
        })
    );
    let text = raw_body(&f, "/v1/undeliverable/rules").await;
    let at: Vec<usize> = Rule::NAMES
        .iter()
        .map(|n| text.find(&format!("\"{n}\":")).unwrap())
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "rules in priority order: {text}"
    );
    assert_eq!(r.header("x-sendops-rules-version"), Some("0"));
    assert_eq!(
        f.get("/v1/undeliverable")
            .await
            .header("x-sendops-rules-version"),
        Some("0")
    );

    let mut custom = RuleSet::STANDARD;
    custom.soft_bounce_accumulation.enabled = true;
    custom.soft_bounce_accumulation.events = 4;
    f.set_rules(custom).await;
    f.set_rules(RuleSet::STRICT).await;
    let r = f.get("/v1/undeliverable?since=2020-01-01T00:00:00Z").await;
    assert_eq!(r.header("x-sendops-rules-version"), Some("2"));
    let r = f.get("/v1/undeliverable?limit=0").await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.header("x-sendops-rules-version"),
        Some("2"),
        "on errors too"
    );
    let r = f.get("/v1/undeliverable/rules").await;
    assert_eq!(r.body["profile"], "strict");
    assert_eq!(
        r.body["rules"]["repeated_transient"],
        json!({"enabled": true, "locked": false, "events": 3, "window_days": 7})
    );
    // Setting the same rules again is no change.
    let same = f
        .app
        .db
        .store
        .set_undeliverable_rules(&f.org, RuleSet::STRICT, "tests")
        .await
        .unwrap();
    assert!(!same.changed);
    assert_eq!(f.get("/v1/undeliverable/rules").await.body["version"], "2");

    // Scopes: the alias works; other keys get 403 naming the canonical scope, without rules.
    let alias = f
        .app
        .key_from_list(f.org.id, KeyEnv::Test, "alias", "undeliverable.view")
        .await;
    assert_eq!(
        f.app.get("/v1/undeliverable", Some(&alias)).await.status,
        200
    );
    let other = f
        .app
        .key(&f.org, KeyEnv::Live, &[Scope::MessagesView])
        .await;
    for path in ["/v1/undeliverable", "/v1/undeliverable/rules"] {
        let r = f.app.get(path, Some(&other)).await;
        assert_eq!(r.status, 403);
        assert_eq!(r.body["scope"], "api.undeliverable.view");
        assert!(r.header("x-sendops-rules-version").is_none());
        assert_eq!(f.app.get(path, None).await.status, 401);
    }
    // Another org sees none of this org's rows or rules.
    f.ingest(&[Ev::new(1, Ty::Permanent, "a@x.example", now_ms() - HOUR)])
        .await;
    let org_b = f.app.org("beta", "444444444444", Plan::Pro).await;
    let key_b = f
        .app
        .key(&org_b, KeyEnv::Live, &[Scope::UndeliverableView])
        .await;
    let r = f
        .app
        .get("/v1/undeliverable?status=all", Some(&key_b))
        .await;
    assert_eq!(r.body["data"], json!([]));
    assert_eq!(
        f.app
            .get("/v1/undeliverable/rules", Some(&key_b))
            .await
            .body["profile"],
        "standard"
    );
    // Documented in the OpenAPI document.
    let doc = f.app.get("/v1/openapi.json", None).await.body;
    assert!(doc["paths"]["/v1/undeliverable"]["get"].is_object());
    assert!(doc["paths"]["/v1/undeliverable/rules"]["get"].is_object());
    f.app.drop().await;
}

#[tokio::test]
async fn dense_seconds_and_crowded_slices_page_exactly() {
    // One ingest batch shares one ingest time: 350 addresses in one second (more than a slice
    // classifies at once), then 120 and 200 more in later seconds.
    let f = fixture("und_dense", Plan::Pro, Duration::ZERO).await;
    let now = now_ms();
    let batch = |tag: &str, n: u64, base: u64| -> Vec<Ev> {
        (0..n)
            .map(|i| {
                Ev::new(
                    base + i,
                    Ty::Permanent,
                    &format!("{tag}{:03}@x{}.example", (i * 37) % n, i % 3),
                    now - HOUR,
                )
            })
            .collect()
    };
    let (a, b, c) = (
        batch("a", 350, 0),
        batch("b", 120, 1000),
        batch("c", 200, 2000),
    );
    f.ingest(&a).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    f.ingest(&b).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    f.ingest(&c).await;
    let sorted = |evs: &[Ev]| {
        let mut v: Vec<String> = evs.iter().map(|e| e.to.clone()).collect();
        v.sort();
        v
    };
    let expected: Vec<String> = [sorted(&c), sorted(&b), sorted(&a)].concat();

    let whole = f.all("limit=200").await;
    assert_ordered(&whole);
    assert_eq!(
        emails(&whole),
        expected,
        "newest batch first, email order inside a second"
    );
    assert_eq!(emails(&f.all("limit=45").await), expected, "pages of 45");
    let one = f.get("/v1/undeliverable?limit=1").await;
    let c = one.body["pagination"]["next_cursor"].as_str().unwrap();
    let two = f
        .get(&format!("/v1/undeliverable?limit=1&cursor={c}"))
        .await;
    assert_eq!(
        [&one.body["data"][0]["email"], &two.body["data"][0]["email"]],
        [&expected[0], &expected[1]]
    );
    // A cursor in the middle of the dense second.
    let r = f.get("/v1/undeliverable?limit=200").await;
    let c = r.body["pagination"]["next_cursor"].as_str().unwrap();
    let r = f
        .get(&format!("/v1/undeliverable?limit=150&cursor={c}"))
        .await;
    let c = r.body["pagination"]["next_cursor"].as_str().unwrap();
    let rest = f
        .get(&format!("/v1/undeliverable?limit=200&cursor={c}"))
        .await;
    assert_eq!(emails(rest.data()), expected[350..550]);
    // Filters inside a dense second.
    let x1: Vec<String> = expected
        .iter()
        .filter(|e| e.contains("@x1."))
        .cloned()
        .collect();
    assert_eq!(emails(&f.all("email=%40x1.&limit=30").await), x1);
    // A poll from batch b's second returns b and c, across pages.
    let b_second = whole[200]["last_changed_at"].as_str().unwrap().to_owned();
    assert_eq!(whole[200]["email"], expected[200]);
    let polled = f.all(&format!("since={b_second}&limit=33")).await;
    assert_eq!(emails(&polled), expected[..320]);
    f.app.drop().await;
}
