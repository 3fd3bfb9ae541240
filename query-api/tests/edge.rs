//! The API's edge over real TCP (issue 14): the server loop `sendops-api` runs, on 127.0.0.1:0,
//! driven with raw HTTP/1.1 bytes: client IPs behind proxies, `Host` and `Link`, slow and idle
//! connections, the connection limit, and refusals the HTTP layer makes before routing.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{TestApp, traffic};
use sendops_query_api::AppState;
use sendops_query_api::config::{ApiConfig, EdgeLimits};
use sendops_shared::control::org::Plan;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const A: &str = "111111111111";

/// A running server; stops when dropped.
struct Server {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn start(state: AppState) -> Server {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(sendops_query_api::serve(tcp, state, async {
        let _ = stopped.await;
    }));
    Server { addr, _stop: stop }
}

fn config(edge: EdgeLimits) -> ApiConfig {
    ApiConfig {
        key_cache_ttl: Duration::from_secs(1),
        edge,
        ..ApiConfig::default()
    }
}

fn short_timeouts() -> EdgeLimits {
    EdgeLimits {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        shutdown_grace: Duration::from_secs(2),
        max_connections: 64,
        max_uri_bytes: 1024,
        max_header_bytes: 2048,
    }
}

/// A response read off the wire.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: Value,
}

impl Raw {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}\n{}", self.head, self.body);
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json"),
            "{}",
            self.head
        );
        assert_eq!(self.body["code"], code, "{}", self.body);
        assert_eq!(self.body["status"], status);
        let id = self.body["request_id"].as_str().unwrap_or("");
        assert!(!id.is_empty(), "{}", self.body);
        assert_eq!(self.header("x-request-id").as_deref(), Some(id));
        assert!(self.body["type"].as_str().unwrap().contains("/problems/"));
        assert!(self.body["instance"].is_string() && self.body["detail"].is_string());
        assert!(self.header("x-ratelimit-limit").is_some(), "{}", self.head);
    }
}

/// Sends `request` on a fresh connection and reads one response (the server closes after it, or
/// the request asked `Connection: close`).
async fn exchange(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The server may answer (and close) before it has read everything.
    let _ = s.write_all(request).await;
    tokio::time::timeout(Duration::from_secs(3), read_response(&mut s))
        .await
        .expect("an answer within 3 s")
}

async fn read_response(s: &mut TcpStream) -> Raw {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len = head
                .lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let status = head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let body = serde_json::from_slice(&buf[end + 4..end + 4 + len]).unwrap_or_default();
                return Raw { status, head, body };
            }
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => panic!(
                "connection closed before a full response: {:?}",
                String::from_utf8_lossy(&buf)
            ),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn get(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: api.test\r\n{extra}Connection: close\r\n\r\n")
        .into_bytes()
}

/// Waits until the server closes `s`; returns how long that took.
async fn closed_after(mut s: TcpStream, started: Instant) -> Duration {
    let mut b = [0u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(4), s.read(&mut b)).await {
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("connection still open after {:?}", started.elapsed()),
        }
    }
}

#[tokio::test]
async fn rotating_forwarded_for_is_locked_out_and_cannot_lock_out_a_victim() {
    let app = TestApp::with_config(
        "edge_xff",
        ApiConfig {
            trusted_proxies: 1,
            auth_failures_per_minute: 5,
            ..config(short_timeouts())
        },
    )
    .await;
    let (_, key) = app.acme_org(A, Plan::Pro).await;
    let server = start(app.state.clone()).await;
    // The attacker (seen by the load balancer as 10.9.9.9) rotates the leftmost entry.
    let mut statuses = Vec::new();
    for i in 0..12 {
        let xff = format!(
            "X-Forwarded-For: 198.51.100.{i}, 10.9.9.9\r\nAuthorization: Bearer sk_live_bad{i}\r\n"
        );
        statuses.push(
            exchange(server.addr, &get("/v1/_scopes", &xff))
                .await
                .status,
        );
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // Naming the victim's address in the leftmost entry only spends the attacker's budget.
    for i in 0..8 {
        let xff = format!(
            "X-Forwarded-For: 10.7.7.7, 10.9.9.9\r\nAuthorization: Bearer sk_live_bad{i}\r\n"
        );
        let r = exchange(server.addr, &get("/v1/_scopes", &xff)).await;
        r.assert_problem(429, "rate_limited");
    }
    let victim = format!("X-Forwarded-For: 10.7.7.7\r\nAuthorization: Bearer {key}\r\n");
    let r = exchange(server.addr, &get("/v1/_scopes", &victim)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Fewer entries than trusted proxies: the socket peer, never the client-written entry.
    assert_eq!(
        sendops_query_api::gate::client_ip(
            &[("x-forwarded-for", "203.0.113.5")]
                .into_iter()
                .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
                .collect(),
            "127.0.0.1".parse().unwrap(),
            2
        ),
        "127.0.0.1".parse::<std::net::IpAddr>().unwrap()
    );
    app.drop().await;
}

#[tokio::test]
async fn crafted_host_values_never_reach_a_link() {
    let app = TestApp::with_config("edge_host", config(short_timeouts())).await;
    let (_, key) = app.acme_org(A, Plan::Pro).await;
    app.ingest(&traffic(14, 4, 1, A)).await;
    let crafted = [
        "evil.example>; rel=\"prev\", <http://x",
        "evil.example",
        "api.example.com.evil.example",
        "api.example.com@evil.example",
        "api.example.com:80/evil",
    ];
    let list = |host: &str| {
        format!(
            "GET /v1/messages?limit=1 HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
        )
        .into_bytes()
    };
    // Neither a public URL nor allowed hosts: relative references.
    let plain = start(app.state.clone()).await;
    for host in crafted {
        let r = exchange(plain.addr, &list(host)).await;
        assert_eq!(r.status, 200, "{host}: {}", r.body);
        let link = r.header("link").expect("a next page");
        assert!(
            link.starts_with("</v1/messages?limit=1&cursor="),
            "{host}: {link}"
        );
        assert!(
            !link.contains("evil") && link.matches("rel=").count() == 1,
            "{link}"
        );
    }
    // Allowed hosts: a listed Host makes the URL absolute, any other is a 400.
    let allowed = AppState::new(
        app.db.store.clone(),
        ApiConfig {
            allowed_hosts: vec!["api.example.com".into()],
            ..config(short_timeouts())
        },
    );
    let checked = start(allowed).await;
    for host in crafted {
        let r = exchange(checked.addr, &list(host)).await;
        r.assert_problem(400, "invalid_request");
        assert!(r.body["detail"].as_str().unwrap().contains("Host header"));
        assert!(r.header("link").is_none());
    }
    let r = exchange(checked.addr, &list("API.example.com:8080")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let link = r.header("link").unwrap();
    assert!(
        link.starts_with("<http://API.example.com:8080/v1/messages?"),
        "{link}"
    );
    // A public URL wins over any Host.
    let public = AppState::new(
        app.db.store.clone(),
        ApiConfig {
            public_url: Some("https://api.sendops.dev".into()),
            ..config(short_timeouts())
        },
    );
    let public = start(public).await;
    for host in crafted {
        let r = exchange(public.addr, &list(host)).await;
        let link = r.header("link").unwrap();
        assert!(
            link.starts_with("<https://api.sendops.dev/v1/messages?"),
            "{link}"
        );
        assert!(!link.contains("evil"), "{link}");
    }
    app.drop().await;
}

#[tokio::test]
async fn slowloris_and_silent_connections_are_closed_within_the_timeouts() {
    let app = TestApp::with_config("edge_slow", config(short_timeouts())).await;
    let server = start(app.state.clone()).await;
    let started = Instant::now();
    let silent = TcpStream::connect(server.addr).await.unwrap();
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /v1/_health HTTP/1.1\r\nHost: api.test\r\n")
        .await
        .unwrap();
    // Trickle one header byte every 100 ms, for longer than the header-read timeout.
    let trickle = tokio::spawn(async move {
        for b in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
            if slow.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        slow
    });
    let silent_after = closed_after(silent, started).await;
    let slow = trickle.await.unwrap();
    let slow_after = closed_after(slow, started).await;
    assert!(
        silent_after < Duration::from_millis(1600),
        "{silent_after:?}"
    );
    // The trickle notices the close on its next write at the latest.
    assert!(slow_after < Duration::from_millis(1800), "{slow_after:?}");
    // A kept-alive connection waiting for its next request is closed the same way.
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(b"GET /v1/_health HTTP/1.1\r\nHost: api.test\r\n\r\n")
        .await
        .unwrap();
    let r = read_response(&mut kept).await;
    assert_eq!(r.status, 200);
    let waited = closed_after(kept, Instant::now()).await;
    assert!(waited < Duration::from_millis(1600), "{waited:?}");
    app.drop().await;
}

#[tokio::test]
async fn over_the_connection_limit_a_client_gets_a_clear_refusal_within_a_second() {
    let app = TestApp::with_config(
        "edge_limit",
        config(EdgeLimits {
            max_connections: 4,
            ..short_timeouts()
        }),
    )
    .await;
    let server = start(app.state.clone()).await;
    let mut idle = Vec::new();
    for _ in 0..10 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let asked = Instant::now();
    let r = exchange(server.addr, &get("/v1/_health", "")).await;
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    r.assert_problem(503, "service_unavailable");
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    assert_eq!(r.body["instance"], "/v1/_health");
    // The idle ones are closed by the header-read timeout; then the client is served.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let r = exchange(server.addr, &get("/v1/_health", "")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    drop(idle);
    app.drop().await;
}

#[tokio::test]
async fn http_layer_refusals_are_problem_documents_with_a_request_id() {
    let app = TestApp::with_config("edge_refusals", config(short_timeouts())).await;
    let server = start(app.state.clone()).await;
    // Over the configured URI limit, and far over what the parser buffers.
    let long = format!("/v1/_health?x={}", "a".repeat(2000));
    exchange(server.addr, &get(&long, ""))
        .await
        .assert_problem(414, "uri_too_long");
    let huge = format!("/v1/_health?x={}", "a".repeat(70_000));
    let r = exchange(server.addr, &get(&huge, "")).await;
    assert!(matches!(r.status, 414 | 431), "{}", r.head);
    r.assert_problem(
        r.status,
        if r.status == 414 {
            "uri_too_long"
        } else {
            "headers_too_large"
        },
    );
    // Header fields over the configured limit, far over it, and too many of them.
    let big = format!("X-Big: {}\r\n", "b".repeat(3000));
    exchange(server.addr, &get("/v1/_health", &big))
        .await
        .assert_problem(431, "headers_too_large");
    let huge = format!("X-Big: {}\r\n", "b".repeat(100_000));
    exchange(server.addr, &get("/v1/_health", &huge))
        .await
        .assert_problem(431, "headers_too_large");
    let many: String = (0..150).map(|i| format!("X-{i}: 1\r\n")).collect();
    exchange(server.addr, &get("/v1/_health", &many))
        .await
        .assert_problem(431, "headers_too_large");
    // Malformed requests: raw non-ASCII in the target, broken framing, a broken header line.
    for raw in [
        b"GET /v1/\xff\xfe HTTP/1.1\r\nHost: api.test\r\n\r\n".to_vec(),
        b"GET /v1/_health HTTP/1.1\r\nHost: api.test\r\nContent-Length: abc\r\n\r\n".to_vec(),
        b"GET /v1/_health HTTP/1.1\r\nHost: api.test\r\nno colon here\r\n\r\n".to_vec(),
        b"GET /v1/_health HTTP/1.1\r\nHost: api.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
    ] {
        let r = exchange(server.addr, &raw).await;
        r.assert_problem(400, "invalid_request");
    }
    app.drop().await;
}
