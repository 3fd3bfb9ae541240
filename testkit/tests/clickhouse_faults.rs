//! PrivateClickHouse and DelayProxy against a real ClickHouse server.

use std::time::Duration;

use clickhouse::{Client, Row};
use sendops_testkit::clickhouse::PrivateClickHouse;
use sendops_testkit::proxy::{DelayProxy, DropAt};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(20);

#[derive(Row, Serialize)]
struct Item {
    id: u32,
}

fn client(url: &str) -> Client {
    Client::default().with_url(url).with_validation(false)
}

async fn create(ch: &Client, table: &str) {
    ch.query(&format!(
        "CREATE TABLE {table} (id UInt32) ENGINE = MergeTree ORDER BY id"
    ))
    .execute()
    .await
    .unwrap();
}

async fn count(ch: &Client, table: &str) -> u64 {
    ch.query(&format!("SELECT count() FROM {table}"))
        .fetch_one::<u64>()
        .await
        .unwrap()
}

/// Inserts one row through `url` on a task of its own.
fn spawn_insert(
    url: String,
    table: &'static str,
) -> tokio::task::JoinHandle<clickhouse::error::Result<()>> {
    tokio::spawn(async move {
        let mut insert = client(&url).insert::<Item>(table).await?;
        insert.write(&Item { id: 7 }).await?;
        insert.end().await
    })
}

/// Inserts one row through `proxy` into `table` and waits (at most [`WAIT`]) for its outcome.
async fn insert_through(proxy: &DelayProxy, table: &'static str) -> clickhouse::error::Result<()> {
    timeout(WAIT, spawn_insert(proxy.url(), table))
        .await
        .unwrap()
        .unwrap()
}

/// A private server holding the empty table `table`, a client straight to it and a proxy in
/// front of it.
async fn proxied(table: &str) -> (PrivateClickHouse, Client, DelayProxy) {
    let server = PrivateClickHouse::start().await.unwrap();
    let direct = client(&server.url());
    create(&direct, table).await;
    let proxy = DelayProxy::start(&server.url()).await;
    (server, direct, proxy)
}

#[tokio::test]
async fn private_server_keeps_its_data_across_kill_and_restart() {
    let mut server = PrivateClickHouse::start().await.unwrap();
    let pid = server.pid().expect("running");
    let ch = client(&server.url());
    create(&ch, "kept").await;
    ch.query("INSERT INTO kept VALUES (1), (2)")
        .execute()
        .await
        .unwrap();
    // A proxied client with a warm keep-alive connection across the crash.
    let proxy = DelayProxy::start(&server.url()).await;
    let through = client(&proxy.url());
    assert_eq!(count(&through, "kept").await, 2);

    server.kill();
    assert_eq!(server.pid(), None);
    assert!(
        ch.query("SELECT 1").fetch_one::<u8>().await.is_err(),
        "killed server answers"
    );
    assert!(
        through.query("SELECT 1").fetch_one::<u8>().await.is_err(),
        "proxy answers"
    );

    server.restart().await.unwrap();
    assert_ne!(server.pid(), Some(pid));
    assert_eq!(count(&client(&server.url()), "kept").await, 2);
    assert_eq!(count(&through, "kept").await, 2, "the proxy reconnects");

    let dir = server.dir().to_path_buf();
    drop(server);
    assert!(!dir.exists(), "drop removes {}", dir.display());
}

#[tokio::test]
async fn two_private_servers_run_side_by_side() {
    let (a, b) = tokio::join!(PrivateClickHouse::start(), PrivateClickHouse::start());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.url(), b.url());
    assert_ne!(a.tcp_port(), b.tcp_port());
    for s in [&a, &b] {
        assert_eq!(
            client(&s.url())
                .query("SELECT 1")
                .fetch_one::<u8>()
                .await
                .unwrap(),
            1
        );
    }
}

#[tokio::test]
async fn proxy_holds_an_insert_while_other_queries_pass() {
    let (_server, direct, proxy) = proxied("held").await;
    let through = client(&proxy.url());
    // The proxied client has a warm keep-alive connection before the hold.
    assert_eq!(count(&through, "held").await, 0);

    let hold = proxy.hold("INSERT INTO `held`");
    let insert = spawn_insert(proxy.url(), "held");
    timeout(WAIT, hold.arrived())
        .await
        .expect("insert reaches the proxy");

    // Another connection through the proxy still works, and the server has not seen the row.
    assert_eq!(count(&through, "held").await, 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!insert.is_finished(), "the insert waits for the release");
    assert_eq!(count(&direct, "held").await, 0);

    hold.release();
    timeout(WAIT, insert).await.unwrap().unwrap().unwrap();
    assert_eq!(count(&through, "held").await, 1);
}

#[tokio::test]
async fn proxy_holds_the_acknowledgement_of_a_committed_insert() {
    let (_server, direct, proxy) = proxied("acked").await;

    let hold = proxy.hold_response("INSERT INTO `acked`");
    let insert = spawn_insert(proxy.url(), "acked");
    timeout(WAIT, hold.arrived())
        .await
        .expect("insert answered upstream");
    assert_eq!(
        count(&direct, "acked").await,
        1,
        "committed before the acknowledgement"
    );
    assert!(
        !insert.is_finished(),
        "the client has no acknowledgement yet"
    );

    hold.release();
    timeout(WAIT, insert).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn proxy_drops_connections_before_and_after_the_server() {
    let (_server, direct, proxy) = proxied("dropped").await;

    let before = proxy.drop_connection("INSERT INTO `dropped`", DropAt::BeforeForward);
    let result = insert_through(&proxy, "dropped").await;
    assert!(result.is_err(), "the client sees the connection die");
    assert!(before.has_fired());
    assert_eq!(
        count(&direct, "dropped").await,
        0,
        "the server never saw it"
    );

    let after = proxy.drop_connection("INSERT INTO `dropped`", DropAt::AfterResponse);
    let result = insert_through(&proxy, "dropped").await;
    assert!(result.is_err(), "the client sees the connection die");
    timeout(WAIT, after.fired()).await.unwrap();
    assert_eq!(
        count(&direct, "dropped").await,
        1,
        "the server committed it"
    );

    // Without rules the proxy passes everything.
    insert_through(&proxy, "dropped").await.unwrap();
    assert_eq!(count(&direct, "dropped").await, 2);
}

/// Reads one HTTP/1.1 response (Content-Length or chunked) off `s`; returns (head, body).
async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> (String, String) {
    async fn more(s: &mut TcpStream, buf: &mut Vec<u8>) {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-response");
        buf.extend_from_slice(&chunk[..n]);
    }
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        more(s, buf).await;
    };
    let head = String::from_utf8(buf.drain(..end).collect()).unwrap();
    let lower = head.to_ascii_lowercase();
    let mut body = Vec::new();
    if lower.contains("transfer-encoding: chunked") {
        loop {
            let line_end = loop {
                if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                more(s, buf).await;
            };
            let size =
                usize::from_str_radix(std::str::from_utf8(&buf[..line_end]).unwrap(), 16).unwrap();
            while buf.len() < line_end + 2 + size + 2 {
                more(s, buf).await;
            }
            body.extend_from_slice(&buf[line_end + 2..line_end + 2 + size]);
            buf.drain(..line_end + 2 + size + 2);
            if size == 0 {
                break;
            }
        }
    } else {
        let len: usize = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        while buf.len() < len {
            more(s, buf).await;
        }
        body.extend(buf.drain(..len));
    }
    (head, String::from_utf8(body).unwrap())
}

#[tokio::test]
async fn proxy_keeps_request_boundaries_on_one_keep_alive_connection() {
    let (_server, _direct, proxy) = proxied("raw").await;
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut buf = Vec::new();

    // A chunked INSERT whose rows are split over chunks, then a SELECT with a Content-Length
    // body, then a GET, all on one connection.
    let insert = "POST /?query=INSERT%20INTO%20raw%20FORMAT%20TSV HTTP/1.1\r\nHost: x\r\n\
        Transfer-Encoding: chunked\r\n\r\n3\r\n1\n2\r\n2\r\n\n3\r\n1;ext=1\r\n\n\r\n0\r\n\r\n";
    s.write_all(insert.as_bytes()).await.unwrap();
    let (head, _) = read_response(&mut s, &mut buf).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    let sql = "SELECT sum(id), count() FROM raw";
    let hold = proxy.hold("sum(id)");
    let select = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{sql}",
        sql.len()
    );
    s.write_all(select.as_bytes()).await.unwrap();
    timeout(WAIT, hold.arrived())
        .await
        .expect("matched on the body");
    hold.release();
    let (head, body) = read_response(&mut s, &mut buf).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, "6\t3\n");

    s.write_all(b"GET /?query=SELECT%20count()%20FROM%20raw HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (_, body) = read_response(&mut s, &mut buf).await;
    assert_eq!(body, "3\n");
}
