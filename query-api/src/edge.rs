//! The connection layer every listener shares: accepts TCP connections and serves HTTP/1.1 with
//! hyper under [`EdgeLimits`] (header-read, idle and whole-request timeouts, a connection limit,
//! URI and header size limits), and makes every refusal it answers itself a problem document
//! with a request id, through the listener's [`Refuse`] renderer. A new listener (metrics,
//! dashboard) calls [`serve`] with its own router and renderer.
//!
//! Refusals:
//! - over `max_connections`: the connection is served one request that answers 503
//!   `service_unavailable` (`retry_after` 1) and is then closed; at most [`REFUSAL_SLOTS`] such
//!   connections at once, beyond which a connection is closed without an answer;
//! - a request target longer than `max_uri_bytes`: 414 `uri_too_long`; header fields larger than
//!   `max_header_bytes`: 431 `headers_too_large` (both before routing);
//! - a request hyper cannot parse: hyper's own bare 400/414/431 is replaced on the wire by the
//!   problem document (`instance` is `/`, the path being unknown);
//! - no answer within `request_timeout`: 503 `service_unavailable`;
//! - headers not complete within `header_read_timeout`, or no byte moved for `idle_timeout`: the
//!   connection is closed without an answer (there is no request to answer).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::EdgeLimits;
use crate::problem::ApiError;

/// Renders a refusal the connection layer makes: the error, the request path (`/` when
/// unknown) and the socket peer's address, as a complete response.
pub type Refuse = Arc<dyn Fn(ApiError, &str, IpAddr) -> Response<Vec<u8>> + Send + Sync>;

/// Connections over the limit that may be answered 503 at once; more are closed unanswered.
pub const REFUSAL_SLOTS: usize = 64;

/// How long a connection over the limit may take to send the request its 503 answers.
const REFUSAL_READ_TIMEOUT: Duration = Duration::from_secs(1);

/// Raises the soft open-files limit to the hard limit; returns (before, after).
pub fn raise_open_files_limit() -> io::Result<(u64, u64)> {
    let (soft, _hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    let raised = rlimit::increase_nofile_limit(u64::MAX)?;
    Ok((soft, raised))
}

/// Serves `app` on `tcp` until `shutdown` resolves, then stops accepting and lets open
/// connections finish their current request, for at most `shutdown_grace`.
pub async fn serve(
    tcp: TcpListener,
    app: Router,
    limits: EdgeLimits,
    refuse: Refuse,
    shutdown: impl Future<Output = ()>,
) {
    let limits = Arc::new(limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusing = Arc::new(Semaphore::new(REFUSAL_SLOTS));
    let refused = AtomicU64::new(0);
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = tcp.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            let conn = Connection {
                app: app.clone(),
                limits: limits.clone(),
                refuse: refuse.clone(),
                peer,
            };
            let stop = stop_rx.clone();
            tokio::spawn(async move {
                conn.run(stream, stop).await;
                drop(permit);
            });
            continue;
        }
        let n = refused.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!(
                refused_total = n,
                max_connections = limits.max_connections,
                "connection limit reached; refusing connections with 503"
            );
        }
        if let Ok(permit) = refusing.clone().try_acquire_owned() {
            let refuse = refuse.clone();
            tokio::spawn(async move {
                refuse_connection(stream, peer, refuse).await;
                drop(permit);
            });
        }
    }
    // Stop accepting: close the listening socket, so new connections are refused at once
    // (a load balancer moves on) instead of waiting in the backlog.
    drop(tcp);
    let _ = stop_tx.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            grace_seconds = limits.shutdown_grace.as_secs(),
            "requests still open when the shutdown grace period ended; exiting anyway"
        );
    }
}

/// Answers the one request of a connection over the limit with a 503 problem, then closes it.
async fn refuse_connection(stream: TcpStream, peer: SocketAddr, refuse: Refuse) {
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let busy = ApiError::Unavailable {
            retry_after: 1,
            cause: "connection limit reached".into(),
        };
        let resp = refuse(busy, req.uri().path(), peer.ip());
        async move { Ok::<_, Infallible>(resp.map(Body::from)) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(REFUSAL_READ_TIMEOUT)
        .keep_alive(false);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(REFUSAL_READ_TIMEOUT * 2, conn).await;
}

/// One accepted connection within the limit.
struct Connection {
    app: Router,
    limits: Arc<EdgeLimits>,
    refuse: Refuse,
    peer: SocketAddr,
}

impl Connection {
    async fn run(self, stream: TcpStream, mut stop: watch::Receiver<bool>) {
        let activity = Arc::new(Activity::new());
        let io = EdgeIo {
            inner: stream,
            activity: activity.clone(),
            pending: Vec::new(),
            limits: self.limits.clone(),
            refuse: self.refuse.clone(),
            peer: self.peer.ip(),
        };
        let limits = self.limits.clone();
        let head_cap = limits.max_uri_bytes + limits.max_header_bytes + 1024;
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let app = self.app.clone();
            let limits = self.limits.clone();
            let refuse = self.refuse.clone();
            let peer = self.peer;
            async move { Ok::<_, Infallible>(handle(app, &limits, &refuse, peer, req).await) }
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .keep_alive(true)
            .max_header_size(head_cap)
            .max_buf_size(head_cap.max(8192) + 4096);
        let conn = builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        let mut stopping = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                changed = stop.changed(), if !stopping => {
                    stopping = true;
                    if changed.is_ok() {
                        conn.as_mut().graceful_shutdown();
                    }
                }
                () = activity.idle_for(limits.idle_timeout) => {
                    tracing::debug!(peer = %self.peer, "idle connection closed");
                    return;
                }
            }
        }
    }
}

/// Size limits before routing, the whole-request timeout, then the router.
async fn handle(
    app: Router,
    limits: &EdgeLimits,
    refuse: &Refuse,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Body> {
    let target_len = req
        .uri()
        .path_and_query()
        .map_or(req.uri().path().len(), |p| p.as_str().len());
    if target_len > limits.max_uri_bytes {
        let e = ApiError::UriTooLong {
            max_bytes: limits.max_uri_bytes,
        };
        return refuse(e, "/", peer.ip()).map(Body::from);
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > limits.max_header_bytes {
        let e = ApiError::HeadersTooLarge {
            max_bytes: limits.max_header_bytes,
        };
        return refuse(e, req.uri().path(), peer.ip()).map(Body::from);
    }
    let path = req.uri().path().to_owned();
    let mut req = req.map(Body::new);
    req.extensions_mut().insert(ConnectInfo(peer));
    match tokio::time::timeout(limits.request_timeout, app.oneshot(req)).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(never)) => match never {},
        Err(_) => {
            tracing::warn!(%path, timeout_s = limits.request_timeout.as_secs(), "request not answered in time");
            let e = ApiError::Unavailable {
                retry_after: 1,
                cause: "request timeout".into(),
            };
            refuse(e, &path, peer.ip()).map(Body::from)
        }
    }
}

/// When a connection last moved a byte.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Resolves once no byte has moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// The socket, recording activity and replacing hyper's bare parse-error responses (no
/// `x-request-id`) by the listener's problem document.
struct EdgeIo {
    inner: TcpStream,
    activity: Arc<Activity>,
    /// Replacement bytes not yet written.
    pending: Vec<u8>,
    limits: Arc<EdgeLimits>,
    refuse: Refuse,
    peer: IpAddr,
}

impl EdgeIo {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
            self.activity.touch();
        }
        Poll::Ready(Ok(()))
    }

    /// The problem document replacing `head` when it is one of hyper's own refusals.
    fn replacement(&self, head: &[u8]) -> Option<Vec<u8>> {
        let status = bare_refusal(head)?;
        let error = match status {
            StatusCode::URI_TOO_LONG => ApiError::UriTooLong {
                max_bytes: self.limits.max_uri_bytes,
            },
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ApiError::HeadersTooLarge {
                max_bytes: self.limits.max_header_bytes,
            },
            _ => ApiError::InvalidRequest("The request is not valid HTTP/1.1.".into()),
        };
        Some(to_wire(&(self.refuse)(error, "/", self.peer)))
    }
}

/// The status of `head` when it is a response hyper wrote on its own for a request it could not
/// parse (400, 414 or 431 without `x-request-id`, which every response of ours carries).
fn bare_refusal(head: &[u8]) -> Option<StatusCode> {
    let status = match head.get(..13)? {
        b"HTTP/1.1 400 " => StatusCode::BAD_REQUEST,
        b"HTTP/1.1 414 " => StatusCode::URI_TOO_LONG,
        b"HTTP/1.1 431 " => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        _ => return None,
    };
    let end = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(head.len());
    let lower = head[..end].to_ascii_lowercase();
    let ours = lower.windows(13).any(|w| w == b"x-request-id:");
    (!ours).then_some(status)
}

/// A complete HTTP/1.1 response that closes the connection.
fn to_wire(resp: &Response<Vec<u8>>) -> Vec<u8> {
    let status = resp.status();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in resp.headers() {
        if name == "content-length" || name == "connection" {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            resp.body().len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(resp.body());
    out
}

impl AsyncRead for EdgeIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            this.activity.touch();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for EdgeIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if let Some(bytes) = this.replacement(buf) {
            this.pending = bytes;
            return Poll::Ready(Ok(buf.len()));
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        if n > 0 {
            this.activity.touch();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if let Some(first) = bufs.iter().find(|b| !b.is_empty())
            && let Some(bytes) = this.replacement(first)
        {
            // A bare refusal has no body: the replacement stands for everything queued.
            this.pending = bytes;
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
        if n > 0 {
            this.activity.touch();
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_refusals_are_replaced() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            bare_refusal(bare),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        let ours = b"HTTP/1.1 400 Bad Request\r\nX-Request-ID: 1\r\n\r\n{}";
        assert_eq!(bare_refusal(ours), None);
        assert_eq!(bare_refusal(b"HTTP/1.1 200 OK\r\n\r\n"), None);
    }
}
