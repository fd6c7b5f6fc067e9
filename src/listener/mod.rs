//! What the S3 and admin listeners do with each connection, so that no client can hold the
//! gateway's time or memory without bound (a client is anyone who can open a socket; these
//! bounds hold before any signature is checked):
//!
//! | bound | setting (TOML) | default |
//! |---|---|---|
//! | a request's header block must arrive within | `header_read_timeout_ms` | 20 000 |
//! | a connection with no request in flight and no traffic is closed after | `idle_timeout_ms` | 20 000 |
//! | an upload (request body) that sends nothing for this long is cut off; so is a client that reads nothing of an answer for this long | `body_idle_timeout_ms` | 30 000 |
//! | open connections per listener; past it a connection is refused | `max_connections` | 1 024 |
//! | header fields per request (HTTP/1) | `max_headers` | 100 |
//! | size of a request's header block, request line included | `max_header_bytes` | 16 384 |
//!
//! - **Header read**: hyper's HTTP/1 `header_read_timeout`, with its timer set (hyper's own
//!   30 s default does nothing without a timer). hyper also runs that clock while a kept-alive
//!   connection waits for its next request, so an idle HTTP/1 connection is closed after the
//!   shorter of the header and idle timeouts. The first bytes of a connection (read to tell
//!   HTTP/1 from HTTP/2, RFC 9113 §3.3) must come within the header timeout too.
//! - **Idle**: a watch on the connection's traffic; with no request in flight it closes the
//!   connection gracefully (hyper's `graceful_shutdown`: at once when idle, after the answer
//!   in flight otherwise). It also covers HTTP/2 connections, which have no header timeout.
//!   A graceful close waits for the client (an HTTP/2 `GOAWAY` is answered by the client
//!   finishing or closing); one that has not ended within the idle timeout more is dropped, so
//!   a client that stays silent after the HTTP/2 preface holds no connection for good.
//! - **Upload idle**: request bodies of the S3 listener are read through [`body::IdleBody`]; a
//!   body that stalls fails, the operation fails as the client's (the upstream write is
//!   abandoned, never completed), and the connection is closed. A write the client does not
//!   read for the same time fails the connection ([`io::Watched`]).
//! - **Connections**: past `max_connections`, a new connection is answered
//!   `503 SlowDown` ("Please reduce your request rate", S3's answer to a client it wants to
//!   slow down, which S3 clients retry with backoff) with `Connection: close`, then closed;
//!   it is never queued, so the client knows at once. Refusals in progress are themselves
//!   bounded; past that bound a connection is closed without an answer.
//! - **Header limits**: past `max_headers` or `max_header_bytes`, hyper answers
//!   `431 Request Header Fields Too Large` (RFC 6585 §5) and closes the connection; for HTTP/2
//!   the size is the `SETTINGS_MAX_HEADER_LIST_SIZE` announced to the client (RFC 9113 §6.5.2).

pub mod body;
pub mod idle;
pub mod io;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::{HttpService, Service};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

pub use body::IdleBodies;
use io::{Activity, Watched};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The bounds of a listener's connections (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrontLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_idle_timeout: Duration,
    pub max_connections: usize,
    pub max_headers: usize,
    pub max_header_bytes: usize,
}

impl Default for FrontLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(20),
            body_idle_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_headers: 100,
            max_header_bytes: 16 << 10,
        }
    }
}

impl FrontLimits {
    /// Largest accepted `max_connections`.
    pub const MAX_CONNECTIONS: usize = 1 << 20;
    /// Smallest and largest accepted `max_header_bytes`.
    pub const HEADER_BYTES: (usize, usize) = (1 << 10, 1 << 20);
    /// Largest accepted `max_headers`.
    pub const MAX_HEADERS: usize = 10_000;
    /// Largest accepted timeout.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
}

/// Concurrent HTTP/2 streams allowed on one connection.
const MAX_H2_STREAMS: u32 = 100;
/// Refusals (past `max_connections`) in progress at once; past it, connections are dropped.
const MAX_REFUSING: usize = 256;
/// How long a refused connection may take to be told.
const REFUSAL_TIME: Duration = Duration::from_secs(2);

/// How a refused connection is answered: S3's error document, or the admin API's JSON.
#[derive(Debug, Clone, Copy)]
pub enum Refusal {
    S3,
    Json,
}

impl Refusal {
    fn response(self) -> Vec<u8> {
        let (content_type, body) = match self {
            Refusal::S3 => (
                "application/xml",
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                 <Message>Please reduce your request rate.</Message></Error>",
            ),
            Refusal::Json => (
                "application/json",
                "{\"error\": \"too many connections; retry later\"}\n",
            ),
        };
        format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {content_type}\r\n\
             content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

/// The connections of one listener: admission, protocol set-up, the idle watch, and the wait
/// for them at shutdown.
pub struct Connections {
    limits: FrontLimits,
    open: Arc<Semaphore>,
    refusing: Arc<Semaphore>,
    refusal: Refusal,
    /// Connections refused so far, and the second (since `created`) of the last warning.
    refused: AtomicU64,
    last_warned: AtomicU64,
    created: Instant,
    h1: http1::Builder,
    h2: http2::Builder<TokioExecutor>,
}

impl Connections {
    pub fn new(limits: FrontLimits, refusal: Refusal) -> Self {
        let mut h1 = http1::Builder::new();
        h1.timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_headers(limits.max_headers)
            .max_header_size(limits.max_header_bytes);
        let mut h2 = http2::Builder::new(TokioExecutor::new());
        h2.timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .max_concurrent_streams(MAX_H2_STREAMS);
        Self {
            limits,
            open: Arc::new(Semaphore::new(limits.max_connections)),
            refusing: Arc::new(Semaphore::new(MAX_REFUSING)),
            refusal,
            refused: AtomicU64::new(0),
            last_warned: AtomicU64::new(u64::MAX),
            created: Instant::now(),
            h1,
            h2,
        }
    }

    /// A place for `socket`, or `None` when the listener is full (then the socket is refused).
    pub fn admit(&self, socket: TcpStream) -> Option<(TcpStream, OwnedSemaphorePermit)> {
        match self.open.clone().try_acquire_owned() {
            Ok(permit) => Some((socket, permit)),
            Err(_) => {
                self.refuse(socket);
                None
            }
        }
    }

    fn refuse(&self, mut socket: TcpStream) {
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        // One line a second at most: a flood of connections must not become a flood of logs.
        let now = self.created.elapsed().as_secs();
        if self.last_warned.swap(now, Ordering::Relaxed) != now {
            tracing::warn!(
                max_connections = self.limits.max_connections,
                refused_so_far = refused,
                "connections refused: too many open connections"
            );
        }
        let Ok(permit) = self.refusing.clone().try_acquire_owned() else {
            // Too many refusals in progress as well: closed without an answer.
            return;
        };
        let answer = self.refusal.response();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let _permit = permit;
            let _ = tokio::time::timeout(REFUSAL_TIME, async {
                socket.write_all(&answer).await?;
                socket.shutdown().await?;
                // Read what the client sent until it closes, so that closing does not reset
                // the connection (RFC 9112 §9.6) before the client read the answer.
                let mut sink = [0u8; 4096];
                while socket.read(&mut sink).await? > 0 {}
                Ok::<_, std::io::Error>(())
            })
            .await;
        });
    }

    /// Serves one admitted connection until it ends, holding its place until then.
    pub fn serve<S>(
        &self,
        socket: TcpStream,
        service: S,
        permit: OwnedSemaphorePermit,
        shutdown: watch::Receiver<bool>,
    ) -> impl Future<Output = ()> + Send + 'static
    where
        S: Service<http::Request<Incoming>, Response = http::Response<s3s::Body>>
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
    {
        let limits = self.limits;
        let h1 = self.h1.clone();
        let h2 = self.h2.clone();
        async move {
            let _permit = permit;
            let _ = socket.set_nodelay(true);
            let first = tokio::time::timeout(limits.header_read_timeout, is_h2(&socket)).await;
            let Ok(Ok(h2_preface)) = first else {
                // Closed, or nothing readable within the header timeout.
                return;
            };
            let activity = Arc::new(Activity::new());
            let io = TokioIo::new(Watched::new(
                socket,
                activity.clone(),
                limits.body_idle_timeout,
            ));
            let service = Tracked {
                inner: service,
                activity: activity.clone(),
            };
            if h2_preface {
                drive(
                    h2.serve_connection(io, service),
                    &activity,
                    limits.idle_timeout,
                    shutdown,
                )
                .await;
            } else {
                drive(
                    h1.serve_connection(io, service),
                    &activity,
                    limits.idle_timeout,
                    shutdown,
                )
                .await;
            }
        }
    }

    /// Waits (up to `grace`) until every connection has ended.
    pub async fn drain(&self, grace: Duration) {
        let all = u32::try_from(self.limits.max_connections).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(grace, self.open.acquire_many(all)).await;
    }
}

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether the connection starts with the HTTP/2 preface (prior knowledge, RFC 9113 §3.3),
/// looking at its first bytes without consuming them.
async fn is_h2(socket: &TcpStream) -> std::io::Result<bool> {
    let mut buf = [0u8; 24];
    let mut wait = Duration::from_millis(2);
    loop {
        let n = socket.peek(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if buf[..n] != H2_PREFACE[..n] {
            return Ok(false);
        }
        if n == H2_PREFACE.len() {
            return Ok(true);
        }
        // A part of the preface: wait for the rest (peeking again at once would spin), less
        // and less often.
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_millis(100));
    }
}

/// A connection that can be closed gracefully.
trait Graceful: Future {
    fn close_gracefully(self: Pin<&mut Self>);
}

impl<I, S, B> Graceful for http1::Connection<I, S>
where
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: hyper::body::Body + 'static,
    B::Error: Into<BoxError>,
{
    fn close_gracefully(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, B, E> Graceful for http2::Connection<I, S, E>
where
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: hyper::body::Body + 'static,
    B::Error: Into<BoxError>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn close_gracefully(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Runs `conn` to its end, closing it gracefully at shutdown or once idle.
async fn drive<C: Graceful>(
    conn: C,
    activity: &Activity,
    idle: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::pin!(conn);
    let mut closing = false;
    // Set when the connection is closed for being idle: past it, it is dropped.
    let mut dropped_at: Option<Instant> = None;
    loop {
        let wake = if activity.in_flight() > 0 {
            Instant::now() + idle
        } else {
            activity.last() + idle
        };
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = shutdown.changed(), if !closing => {
                conn.as_mut().close_gracefully();
                closing = true;
            }
            () = tokio::time::sleep_until(wake), if !closing => {
                if activity.in_flight() == 0 && Instant::now() >= activity.last() + idle {
                    tracing::debug!("closing an idle connection");
                    conn.as_mut().close_gracefully();
                    closing = true;
                    dropped_at = Some(Instant::now() + idle);
                }
            }
            () = tokio::time::sleep_until(dropped_at.unwrap_or_else(Instant::now)),
                if dropped_at.is_some() =>
            {
                tracing::debug!("dropping an idle connection that did not close");
                return;
            }
        }
    }
}

/// Counts the connection's requests in flight: from the call until the answer's body is done
/// (or dropped).
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S, B> Service<http::Request<Incoming>> for Tracked<S>
where
    S: Service<http::Request<Incoming>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body,
{
    type Response = http::Response<io::InFlightBody<B>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let guard = io::InFlight::new(self.activity.clone());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await.map_err(Into::into)?;
            Ok(resp.map(|body| io::InFlightBody::new(body, guard)))
        })
    }
}
