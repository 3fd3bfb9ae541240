//! An HTTP/1.1 proxy in front of ClickHouse's HTTP interface that can hold or drop one chosen
//! request (fault injection: "the INSERT is in flight", "the data is committed but the client has
//! no acknowledgement", "the connection died").
//!
//! Each client connection gets its own upstream connection; bytes pass through unchanged. The
//! proxy follows HTTP/1.1 framing in both directions (request and response heads, then a
//! `Content-Length` or chunked body; responses without either run until the upstream closes) so
//! it knows where each request on a keep-alive connection starts. When the upstream closes an idle
//! connection the proxy reconnects for the next request; when it cannot connect it closes the
//! client connection without an answer.
//!
//! A rule ([`DelayProxy::hold`], [`DelayProxy::hold_response`], [`DelayProxy::drop_connection`])
//! applies once, to the next request whose *match text* contains its pattern; rules are tried in
//! the order they were added. The match text is the request head (request line and headers), the
//! URL-decoded query parameters as `name=value` lines (the `clickhouse` crate sends an INSERT's
//! SQL in `query=`), and the start of the body: up to 64 KiB of a `Content-Length` body (waited
//! for; a SELECT's SQL is there) or, for a chunked body, only the bytes that arrived with the head
//! (raw, with chunk framing; a streamed INSERT body is not waited for). Note that the `clickhouse`
//! crate quotes table names: `client.insert::<Row>("events")` sends
//! ``INSERT INTO `events`(...) FORMAT RowBinary``, so hold it with ``"INSERT INTO `events`"``.
//!
//! ```no_run
//! # async fn demo(upstream: &str) {
//! use sendops_testkit::proxy::DelayProxy;
//! let proxy = DelayProxy::start(upstream).await;
//! let hold = proxy.hold("INSERT INTO `events`");
//! // ... start the INSERT against proxy.url() on another task ...
//! hold.arrived().await; // the INSERT is in flight; the server has not seen it
//! hold.release(); // now it goes on
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

/// How much of a request (head, and body start) is looked at for matching.
const MATCH_LIMIT: usize = 64 * 1024;
/// The largest request or response head accepted.
const HEAD_LIMIT: usize = 64 * 1024;

/// When [`DelayProxy::drop_connection`] closes the client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropAt {
    /// Without forwarding the request (the server never sees it).
    BeforeForward,
    /// After forwarding the request and reading the server's whole response, which the client
    /// never gets (the server did the work; the client sees a dead connection).
    AfterResponse,
}

enum Fault {
    HoldRequest(oneshot::Receiver<()>),
    HoldResponse(oneshot::Receiver<()>),
    Drop(DropAt),
}

struct Rule {
    pattern: String,
    fault: Fault,
    /// Set to `true` when the fault took effect.
    arrived: watch::Sender<bool>,
}

type Rules = Arc<Mutex<Vec<Rule>>>;

/// A running proxy on a loopback port. Dropping it closes the listener and every connection.
pub struct DelayProxy {
    addr: SocketAddr,
    rules: Rules,
    task: JoinHandle<()>,
}

/// A held request (or response), from [`DelayProxy::hold`] or [`DelayProxy::hold_response`].
/// Dropping it releases the request, as [`Hold::release`] does; the rule stays armed until a
/// request matches it (or [`DelayProxy::clear`]).
pub struct Hold {
    arrived: watch::Receiver<bool>,
    release: Option<oneshot::Sender<()>>,
}

/// A connection drop armed by [`DelayProxy::drop_connection`].
pub struct Trigger {
    fired: watch::Receiver<bool>,
}

impl DelayProxy {
    /// Starts a proxy for `upstream` (`http://host:port`, any path ignored) on a free loopback
    /// port.
    pub async fn start(upstream: &str) -> DelayProxy {
        let authority = upstream
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(
            !authority.is_empty(),
            "upstream URL without host: {upstream}"
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let rules: Rules = Arc::default();
        let r = rules.clone();
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            let upstream: Arc<str> = authority.into();
            while let Ok((client, _)) = listener.accept().await {
                while conns.try_join_next().is_some() {}
                let _ = client.set_nodelay(true);
                conns.spawn(serve(client, upstream.clone(), r.clone()));
            }
        });
        DelayProxy { addr, rules, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Holds the next request matching `pattern` before forwarding any of it; the client's
    /// further body bytes wait in the socket. [`Hold::release`] forwards it.
    pub fn hold(&self, pattern: &str) -> Hold {
        self.add_hold(pattern, Fault::HoldRequest)
    }

    /// Forwards the next request matching `pattern`, reads the server's whole response (so the
    /// server has finished it: an INSERT is committed) and holds that response until
    /// [`Hold::release`].
    pub fn hold_response(&self, pattern: &str) -> Hold {
        self.add_hold(pattern, Fault::HoldResponse)
    }

    /// Closes the client connection of the next request matching `pattern`, at `at`.
    pub fn drop_connection(&self, pattern: &str, at: DropAt) -> Trigger {
        Trigger {
            fired: self.add(pattern, Fault::Drop(at)),
        }
    }

    /// Disarms every rule no request has matched yet (their `arrived`/`fired` then panic).
    pub fn clear(&self) {
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Arms a hold rule (`fault` is [`Fault::HoldRequest`] or [`Fault::HoldResponse`]) released
    /// through the returned [`Hold`].
    fn add_hold(&self, pattern: &str, fault: fn(oneshot::Receiver<()>) -> Fault) -> Hold {
        let (tx, rx) = oneshot::channel();
        Hold {
            arrived: self.add(pattern, fault(rx)),
            release: Some(tx),
        }
    }

    fn add(&self, pattern: &str, fault: Fault) -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(false);
        self.rules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Rule {
                pattern: pattern.to_string(),
                fault,
                arrived: tx,
            });
        rx
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hold {
    /// Resolves once a matching request (for [`DelayProxy::hold_response`]: its response) is
    /// being held. Panics if the proxy went away or the rule was cleared first.
    pub async fn arrived(&self) {
        wait_matched(&self.arrived).await;
    }

    pub fn is_arrived(&self) -> bool {
        *self.arrived.borrow()
    }

    /// Lets the held request (or response) go on.
    pub fn release(mut self) {
        if let Some(tx) = self.release.take() {
            let _ = tx.send(());
        }
    }
}

impl Trigger {
    /// Resolves once a matching request had its connection dropped. Panics if the proxy went
    /// away or the rule was cleared first.
    pub async fn fired(&self) {
        wait_matched(&self.fired).await;
    }

    pub fn has_fired(&self) -> bool {
        *self.fired.borrow()
    }
}

/// Waits until a rule's flag says it took effect; panics if the proxy or the rule went away first.
async fn wait_matched(flag: &watch::Receiver<bool>) {
    let mut rx = flag.clone();
    rx.wait_for(|a| *a)
        .await
        .expect("the proxy stopped or the rule was cleared before a request matched");
}

/// A read half with a buffer of bytes read but not yet consumed.
struct Reader {
    r: OwnedReadHalf,
    buf: Vec<u8>,
}

fn eof() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "connection closed mid-message",
    )
}

impl Reader {
    fn new(r: OwnedReadHalf) -> Reader {
        Reader { r, buf: Vec::new() }
    }

    /// Reads more bytes into the buffer; `Ok(0)` at end of stream.
    async fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.r.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads until the buffer holds at least `n` bytes or the stream ends.
    async fn fill_to(&mut self, n: usize) -> io::Result<()> {
        while self.buf.len() < n && self.fill().await? > 0 {}
        Ok(())
    }

    /// The next message head, through its blank line; `None` if the stream ends cleanly first.
    async fn read_head(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                return Ok(Some(self.buf.drain(..end + 4).collect()));
            }
            if self.buf.len() > HEAD_LIMIT {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
            }
            if self.fill().await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(eof())
                };
            }
        }
    }

    /// The next line, with its CRLF.
    async fn read_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                return Ok(self.buf.drain(..end + 2).collect());
            }
            if self.buf.len() > HEAD_LIMIT {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            if self.fill().await? == 0 {
                return Err(eof());
            }
        }
    }

    /// Copies exactly `n` bytes to `out`.
    async fn copy(&mut self, mut n: u64, out: &mut Sink<'_>) -> io::Result<()> {
        while n > 0 {
            if self.buf.is_empty() && self.fill().await? == 0 {
                return Err(eof());
            }
            let take = self.buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            out.put(&self.buf[..take]).await;
            self.buf.drain(..take);
            n -= take as u64;
        }
        Ok(())
    }

    /// Copies everything up to the end of the stream to `out`.
    async fn copy_to_eof(&mut self, out: &mut Sink<'_>) -> io::Result<()> {
        loop {
            if !self.buf.is_empty() {
                out.put(&self.buf).await;
                self.buf.clear();
            }
            if self.fill().await? == 0 {
                return Ok(());
            }
        }
    }

    /// Copies one message body framed as `framing` to `out`.
    async fn copy_body(&mut self, framing: Framing, out: &mut Sink<'_>) -> io::Result<()> {
        match framing {
            Framing::Empty => Ok(()),
            Framing::Length(n) => self.copy(n, out).await,
            Framing::UntilClose => self.copy_to_eof(out).await,
            Framing::Chunked => loop {
                let line = self.read_line().await?;
                out.put(&line).await;
                let size = std::str::from_utf8(&line)
                    .ok()
                    .and_then(|l| {
                        let hex = l.trim_end().split(';').next()?.trim();
                        u64::from_str_radix(hex, 16).ok()
                    })
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
                if size == 0 {
                    // Trailers, up to the blank line.
                    loop {
                        let line = self.read_line().await?;
                        out.put(&line).await;
                        if line == b"\r\n" {
                            return Ok(());
                        }
                    }
                }
                self.copy(size + 2, out).await?;
            },
        }
    }

    /// Whether the peer closed (or sent something unasked) while the connection was idle.
    fn idle_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        !matches!(self.r.try_read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

/// Where copied bytes go. Write errors are remembered, not returned, so a request body can be
/// drained from the client after the server went away.
enum Sink<'a> {
    Write {
        w: &'a mut OwnedWriteHalf,
        broken: bool,
    },
    Buffer(Vec<u8>),
    Discard,
}

impl Sink<'_> {
    async fn put(&mut self, data: &[u8]) {
        match self {
            Sink::Write { w, broken } => {
                if !*broken && w.write_all(data).await.is_err() {
                    *broken = true;
                }
            }
            Sink::Buffer(b) => b.extend_from_slice(data),
            Sink::Discard => {}
        }
    }

    fn broken(&self) -> bool {
        matches!(self, Sink::Write { broken: true, .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// What the proxy needs from a message head.
struct Head {
    /// The request target, or the response status code.
    first: String,
    method: String,
    chunked: bool,
    length: Option<u64>,
    close: bool,
}

fn parse_head(head: &[u8]) -> io::Result<Head> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed HTTP head");
    let text = std::str::from_utf8(head).map_err(|_| bad())?;
    let mut lines = text.split("\r\n");
    let mut start = lines.next().ok_or_else(bad)?.split(' ');
    let (a, b) = (start.next().ok_or_else(bad)?, start.next().ok_or_else(bad)?);
    let mut h = Head {
        first: b.to_string(),
        method: a.to_string(),
        chunked: false,
        length: None,
        close: false,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "transfer-encoding" => h.chunked = value.split(',').any(|v| v.trim() == "chunked"),
            "content-length" => h.length = Some(value.parse().map_err(|_| bad())?),
            "connection" => h.close = value.split(',').any(|v| v.trim() == "close"),
            _ => {}
        }
    }
    Ok(h)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The text rules match against (see the module docs).
fn match_text(head: &[u8], target: &str, body: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(head).into_owned();
    if let Some((_, query)) = target.split_once('?') {
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            text.push_str(&format!("{name}={value}\n"));
        }
    }
    text.push_str(&String::from_utf8_lossy(body));
    text
}

/// Takes the first armed rule whose pattern occurs in `text`.
fn take_rule(rules: &Rules, text: &str) -> Option<Rule> {
    let mut rules = rules.lock().unwrap_or_else(|e| e.into_inner());
    let i = rules.iter().position(|r| text.contains(&r.pattern))?;
    Some(rules.remove(i))
}

/// What happens to a response.
enum ResponseFault {
    None,
    Hold(oneshot::Receiver<()>, watch::Sender<bool>),
    Drop(watch::Sender<bool>),
}

/// How a response exchange ended.
struct Relayed {
    /// The upstream connection can carry the next request.
    upstream_reusable: bool,
}

/// Proxies one client connection.
async fn serve(client: TcpStream, upstream: Arc<str>, rules: Rules) {
    let (cr, mut cw) = client.into_split();
    let mut cr = Reader::new(cr);
    let mut up: Option<(Reader, OwnedWriteHalf)> = None;
    loop {
        let Ok(Some(head)) = cr.read_head().await else {
            return;
        };
        let Ok(req) = parse_head(&head) else {
            return;
        };
        let framing = match (req.chunked, req.length) {
            (true, _) => Framing::Chunked,
            (false, Some(n)) => Framing::Length(n),
            (false, None) => Framing::Empty,
        };

        let armed = !rules.lock().unwrap_or_else(|e| e.into_inner()).is_empty();
        let rule = if armed {
            let body_len = match framing {
                Framing::Length(n) => {
                    let n = usize::try_from(n).unwrap_or(usize::MAX).min(MATCH_LIMIT);
                    if cr.fill_to(n).await.is_err() {
                        return;
                    }
                    n.min(cr.buf.len())
                }
                Framing::Chunked => cr.buf.len().min(MATCH_LIMIT),
                _ => 0,
            };
            take_rule(&rules, &match_text(&head, &req.first, &cr.buf[..body_len]))
        } else {
            None
        };
        let mut response_fault = ResponseFault::None;
        if let Some(rule) = rule {
            match rule.fault {
                Fault::HoldRequest(release) => {
                    rule.arrived.send_replace(true);
                    let _ = release.await;
                }
                Fault::Drop(DropAt::BeforeForward) => {
                    rule.arrived.send_replace(true);
                    return;
                }
                Fault::HoldResponse(release) => {
                    response_fault = ResponseFault::Hold(release, rule.arrived);
                }
                Fault::Drop(DropAt::AfterResponse) => {
                    response_fault = ResponseFault::Drop(rule.arrived);
                }
            }
        }

        if up.as_mut().is_some_and(|(r, _)| r.idle_closed()) {
            up = None;
        }
        if up.is_none() {
            let Ok(s) = TcpStream::connect(&*upstream).await else {
                return;
            };
            let _ = s.set_nodelay(true);
            let (r, w) = s.into_split();
            up = Some((Reader::new(r), w));
        }
        let Some((ur, uw)) = up.as_mut() else {
            return;
        };

        let forward = async {
            let mut sink = Sink::Write {
                w: uw,
                broken: false,
            };
            sink.put(&head).await;
            cr.copy_body(framing, &mut sink).await?;
            Ok::<bool, io::Error>(sink.broken())
        };
        let relay = relay_response(ur, &mut cw, req.method == "HEAD", response_fault);
        match tokio::try_join!(forward, relay) {
            Ok((upstream_broken, relayed)) => {
                if upstream_broken || !relayed.upstream_reusable {
                    up = None;
                }
            }
            Err(_) => return,
        }
    }
}

/// Relays the response (after any interim 1xx responses) from the upstream to the client, with
/// `fault` applied. An error closes the client connection.
async fn relay_response(
    ur: &mut Reader,
    cw: &mut OwnedWriteHalf,
    head_request: bool,
    fault: ResponseFault,
) -> io::Result<Relayed> {
    loop {
        let head = ur.read_head().await?.ok_or_else(eof)?;
        let resp = parse_head(&head)?;
        let status: u16 = resp
            .first
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad status"))?;
        if (100..200).contains(&status) && status != 101 {
            cw.write_all(&head).await?;
            continue;
        }
        let framing = if head_request || status == 204 || status == 304 {
            Framing::Empty
        } else if resp.chunked {
            Framing::Chunked
        } else if let Some(n) = resp.length {
            Framing::Length(n)
        } else {
            Framing::UntilClose
        };
        match fault {
            ResponseFault::None => {
                let mut sink = Sink::Write {
                    w: cw,
                    broken: false,
                };
                sink.put(&head).await;
                ur.copy_body(framing, &mut sink).await?;
                if sink.broken() {
                    return Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "client went away",
                    ));
                }
            }
            ResponseFault::Hold(release, arrived) => {
                let mut sink = Sink::Buffer(head);
                ur.copy_body(framing, &mut sink).await?;
                arrived.send_replace(true);
                let _ = release.await;
                if let Sink::Buffer(bytes) = sink {
                    cw.write_all(&bytes).await?;
                }
            }
            ResponseFault::Drop(arrived) => {
                ur.copy_body(framing, &mut Sink::Discard).await?;
                arrived.send_replace(true);
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "dropped by rule",
                ));
            }
        }
        if framing == Framing::UntilClose {
            // The end of the body was the end of the connection: end the client's too.
            return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "closed"));
        }
        return Ok(Relayed {
            upstream_reusable: !resp.close,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_text_decodes_the_query() {
        let head =
            b"POST /?database=d&query=INSERT+INTO+t%20FORMAT+RowBinary HTTP/1.1\r\nHost: x\r\n\r\n";
        let req = parse_head(head).unwrap();
        let text = match_text(head, &req.first, b"");
        assert!(
            text.contains("query=INSERT INTO t FORMAT RowBinary"),
            "{text}"
        );
    }

    #[test]
    fn parses_framing_headers() {
        let h = parse_head(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: Keep-Alive, Close\r\n\r\n",
        )
        .unwrap();
        assert!(h.chunked && h.close && h.length.is_none());
        let h = parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n").unwrap();
        assert_eq!((h.first.as_str(), h.length), ("200", Some(12)));
    }
}
