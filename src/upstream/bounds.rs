//! Bounded time on every upstream call, and which calls are tried again.
//!
//! The shared HTTP client of the upstream clients is wrapped ([`bounded`]) so that a stalled
//! upstream fails the call instead of holding the client's request forever:
//! - **first byte**: once the request (head and body) is sent, the answer's head must come
//!   within `first_byte`. The clock starts when the last byte of the body has been handed
//!   over, so a long upload is never cut for its length (the AWS SDK's own `read_timeout`
//!   runs from the start of the request, body included, so it would be);
//! - **idle, both ways**: an upstream that takes none of the request body for `idle` (while
//!   the body has data ready), or sends none of the answer's body for `idle` while it is being
//!   read, fails the call. Time spent waiting for the client (its upload, or its reading of a
//!   download) is not the upstream's and does not count: an answer body's clock runs only while
//!   its reader is waiting for it, so a long download that flows is never cut.
//!
//! These failures are typed connector timeouts (`ConnectorError::timeout`, whose source is
//! [`Stalled`]), so `upstream::error` answers them `503` like any unreachable upstream, and
//! they are not tried again ([`NoRetryAfterStall`]): the client already waited the configured
//! time, and S3 clients retry a 503 themselves. An answer that fails mid-body reaches the
//! client as a failed body, never as a clean short one.
//!
//! Calls that are not idempotent are tried once ([`NotRetried`]): CreateMultipartUpload
//! (a retry opens a second upload), CompleteMultipartUpload (a retry after a success answers
//! NoSuchUpload), CopyObject and UploadPartCopy (a retry repeats a copy that may have
//! happened). See the AWS SDKs and Tools Reference Guide, "Retry behavior". So is a call made
//! inside [`one_attempt_left`]: the second attempt of a read the lean path already sent once
//! (`gateway::lean`), so that a failing upstream gets no more attempts than without it.
//!
//! The same wrapper refuses requests whose URL may not be connected to (see
//! [`super::guard::Destinations`]).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use aws_sdk_s3::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use bytes::Bytes;
use tokio::time::Instant;

use super::guard;
use crate::listener::idle::IdleClock;

/// Default bound on the wait for an answer's head once the request is sent: 60 s.
pub const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default bound on a pause of an upstream transfer (either way): 30 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What [`bounded`] enforces.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub first_byte: Duration,
    pub idle: Duration,
}

/// How an upstream stalled.
#[derive(Debug, thiserror::Error)]
pub enum Stalled {
    #[error("no answer from the upstream within {0:?} of sending the request")]
    FirstByte(Duration),
    #[error("the upstream took none of the request body for {0:?}")]
    Send(Duration),
    #[error("the upstream sent none of the answer for {0:?}")]
    Receive(Duration),
}

fn timeout(stalled: Stalled) -> ConnectorError {
    ConnectorError::timeout(Box::new(stalled))
}

/// Wraps `inner` with the bounds (see the module documentation).
pub fn bounded(
    inner: SharedHttpClient,
    bounds: Bounds,
    destinations: guard::Destinations,
) -> SharedHttpClient {
    SharedHttpClient::new(BoundedClient {
        inner,
        bounds,
        destinations: Arc::new(destinations),
    })
}

#[derive(Debug)]
struct BoundedClient {
    inner: SharedHttpClient,
    bounds: Bounds,
    destinations: Arc<guard::Destinations>,
}

impl HttpClient for BoundedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(BoundedConnector {
            inner: self.inner.http_connector(settings, components),
            bounds: self.bounds,
            destinations: self.destinations.clone(),
        })
    }
}

#[derive(Debug)]
struct BoundedConnector {
    inner: SharedHttpConnector,
    bounds: Bounds,
    destinations: Arc<guard::Destinations>,
}

impl HttpConnector for BoundedConnector {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        if let Some(refused) = self.destinations.refusal(request.uri()) {
            return HttpConnectorFuture::ready(Err(ConnectorError::user(Box::new(refused))));
        }
        let bounds = self.bounds;
        let progress = Arc::new(Progress::new());
        let body = request.take_body();
        *request.body_mut() = SdkBody::from_body_1_x(SentBody {
            inner: body,
            progress: progress.clone(),
        });
        let fut = self.inner.call(request);
        HttpConnectorFuture::new(async move {
            tokio::pin!(fut);
            loop {
                let deadline = progress.deadline(bounds);
                // Waiting on the client's body: look again after a while.
                let wake = deadline.unwrap_or_else(|| Instant::now() + bounds.idle);
                tokio::select! {
                    res = &mut fut => {
                        let mut resp = res?;
                        let body = resp.take_body();
                        *resp.body_mut() = SdkBody::from_body_1_x(ReceivedBody {
                            inner: body,
                            clock: IdleClock::new(bounds.idle),
                        });
                        return Ok(resp);
                    }
                    () = progress.sent.notified() => {}
                    () = tokio::time::sleep_until(wake) => {
                        if let Some(d) = progress.deadline(bounds)
                            && Instant::now() >= d
                        {
                            return Err(timeout(if progress.is_sent() {
                                Stalled::FirstByte(bounds.first_byte)
                            } else {
                                Stalled::Send(bounds.idle)
                            }));
                        }
                    }
                }
            }
        })
    }
}

/// How far the request body got, shared by the body and the call's watch.
struct Progress {
    start: Instant,
    /// Milliseconds from `start` of the last time the body was asked for data.
    last_asked: AtomicU64,
    /// Whether the last ask is waiting on the body's source (the client), not the upstream.
    waiting_on_source: AtomicBool,
    /// Milliseconds from `start` when the last byte was handed over (`u64::MAX`: not yet).
    sent_at: AtomicU64,
    sent: tokio::sync::Notify,
}

impl Progress {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_asked: AtomicU64::new(0),
            waiting_on_source: AtomicBool::new(false),
            sent_at: AtomicU64::new(u64::MAX),
            sent: tokio::sync::Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    fn is_sent(&self) -> bool {
        self.sent_at.load(Ordering::Acquire) != u64::MAX
    }

    fn mark_sent(&self) {
        if self
            .sent_at
            .compare_exchange(u64::MAX, self.now_ms(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.sent.notify_one();
        }
    }

    /// When the call fails if nothing changes; `None` while the body waits on the client.
    fn deadline(&self, bounds: Bounds) -> Option<Instant> {
        let sent_at = self.sent_at.load(Ordering::Acquire);
        if sent_at != u64::MAX {
            return Some(self.at(sent_at) + bounds.first_byte);
        }
        if self.waiting_on_source.load(Ordering::Acquire) {
            return None;
        }
        Some(self.at(self.last_asked.load(Ordering::Acquire)) + bounds.idle)
    }
}

/// The request body on its way upstream, reporting its progress.
struct SentBody {
    inner: SdkBody,
    progress: Arc<Progress>,
}

impl hyper::body::Body for SentBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, BoxError>>> {
        let p = self.progress.clone();
        p.last_asked.store(p.now_ms(), Ordering::Release);
        let res = Pin::new(&mut self.inner).poll_frame(cx);
        p.waiting_on_source
            .store(res.is_pending(), Ordering::Release);
        match &res {
            Poll::Ready(None) => p.mark_sent(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => p.mark_sent(),
            _ => {}
        }
        res
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            self.progress.mark_sent();
        }
        end
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// The answer's body, failing when the upstream sends nothing for `idle` while it is read.
struct ReceivedBody {
    inner: SdkBody,
    clock: IdleClock,
}

impl hyper::body::Body for ReceivedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => match self.clock.poll_pending(cx) {
                Poll::Ready(()) => {
                    let idle = self.clock.idle();
                    Poll::Ready(Some(Err(Box::new(timeout(Stalled::Receive(idle))))))
                }
                Poll::Pending => Poll::Pending,
            },
            ready => {
                self.clock.progressed();
                ready
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Forbids retrying a call that failed on a bound of this module or on the address guard.
#[derive(Debug)]
pub struct NoRetryAfterStall;

impl ClassifyRetry for NoRetryAfterStall {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(err)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = cur {
            if e.is::<Stalled>() || e.is::<guard::Refused>() {
                return RetryAction::RetryForbidden;
            }
            cur = e.source();
        }
        RetryAction::NoActionIndicated
    }

    fn name(&self) -> &'static str {
        "NoRetryAfterStall"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

tokio::task_local! {
    static ATTEMPT_SPENT: ();
}

/// Runs `calls` (SDK calls of one request) with one attempt of the request spent already
/// elsewhere: each is tried once, never again (see the module documentation).
pub fn one_attempt_left<F: std::future::Future>(
    calls: F,
) -> impl std::future::Future<Output = F::Output> {
    ATTEMPT_SPENT.scope((), calls)
}

/// Tries the calls that are not idempotent once, and the calls made inside
/// [`one_attempt_left`] (see the module documentation).
#[derive(Debug)]
pub struct NotRetried;

impl NotRetried {
    fn applies(input: &aws_smithy_runtime_api::client::interceptors::context::Input) -> bool {
        use aws_sdk_s3::operation::{
            complete_multipart_upload::CompleteMultipartUploadInput, copy_object::CopyObjectInput,
            create_multipart_upload::CreateMultipartUploadInput,
            upload_part_copy::UploadPartCopyInput,
        };
        input.downcast_ref::<CreateMultipartUploadInput>().is_some()
            || input
                .downcast_ref::<CompleteMultipartUploadInput>()
                .is_some()
            || input.downcast_ref::<CopyObjectInput>().is_some()
            || input.downcast_ref::<UploadPartCopyInput>().is_some()
    }
}

impl Intercept for NotRetried {
    fn name(&self) -> &'static str {
        "NotRetried"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The standard retry strategy reads the retry config of each call from its config
        // bag, where this layer comes first.
        if Self::applies(context.input()) || ATTEMPT_SPENT.try_with(|()| ()).is_ok() {
            cfg.interceptor_state().store_put(RetryConfig::disabled());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Bounds, Progress};
    use std::time::Duration;

    #[tokio::test]
    async fn the_first_byte_clock_starts_when_the_body_is_sent() {
        let bounds = Bounds {
            first_byte: Duration::from_secs(5),
            idle: Duration::from_secs(2),
        };
        let p = Progress::new();
        let start = p.start;
        // Sending (or connecting): the upstream must take the body within `idle`.
        assert_eq!(p.deadline(bounds), Some(start + bounds.idle));
        // Waiting on the client's upload: no upstream deadline.
        p.waiting_on_source
            .store(true, std::sync::atomic::Ordering::Release);
        assert_eq!(p.deadline(bounds), None);
        tokio::time::sleep(Duration::from_millis(30)).await;
        p.mark_sent();
        let d = p.deadline(bounds).unwrap();
        assert!(
            d >= start + Duration::from_millis(30) + bounds.first_byte,
            "{d:?}"
        );
    }
}
