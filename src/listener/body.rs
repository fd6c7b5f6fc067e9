//! Request bodies of the S3 listener under an idle deadline: a client that stops sending in
//! the middle of an upload (slow loris on uploads) is cut off after the body idle timeout
//! instead of holding its connection, its upstream call and their buffers.
//!
//! The clock runs only while the body's reader waits for the client: time the gateway spends
//! waiting on the upstream (which is not reading) does not count. The client is answered as S3
//! answers it, `400 RequestTimeout` ("Amazon S3 error responses", Amazon S3 API Reference),
//! and the connection is closed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use s3s::service::S3Service;

use super::BoxError;
use super::idle::IdleClock;

/// The client sent nothing of its request body for the body idle timeout.
#[derive(Debug, thiserror::Error)]
#[error("the client sent nothing of the request body for {0:?} (body idle timeout)")]
pub struct BodyIdle(pub Duration);

/// A request body that fails with [`BodyIdle`] when the client sends nothing for `idle`
/// while it is being read.
pub struct IdleBody<B> {
    inner: B,
    clock: IdleClock,
    /// Set when the timeout fired.
    fired: Arc<AtomicBool>,
}

impl<B> IdleBody<B> {
    pub fn new(inner: B, idle: Duration, fired: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            clock: IdleClock::new(idle),
            fired,
        }
    }
}

impl<B> Body for IdleBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => match self.clock.poll_pending(cx) {
                Poll::Ready(()) => {
                    let idle = self.clock.idle();
                    self.fired.store(true, Ordering::Release);
                    tracing::info!(idle_ms = idle.as_millis(), "request body stalled: cut off");
                    Poll::Ready(Some(Err(Box::new(BodyIdle(idle)))))
                }
                Poll::Pending => Poll::Pending,
            },
            Poll::Ready(ready) => {
                self.clock.progressed();
                Poll::Ready(ready.map(|r| r.map_err(Into::into)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A future of an S3 answer.
pub type Answer =
    Pin<Box<dyn Future<Output = Result<http::Response<s3s::Body>, s3s::HttpError>> + Send>>;

/// What [`IdleBodies`] hands a request to once its body is watched: the s3s service, or a
/// service in front of it.
pub trait Handler: Clone + Send + Sync + 'static {
    fn handle(&self, req: http::Request<s3s::Body>) -> Answer;
}

impl Handler for S3Service {
    fn handle(&self, req: http::Request<s3s::Body>) -> Answer {
        let service = self.clone();
        Box::pin(async move { service.call(req).await })
    }
}

/// The S3 service (or a [`Handler`] in front of it), reading request bodies through
/// [`IdleBody`].
#[derive(Clone)]
pub struct IdleBodies<S = S3Service> {
    inner: S,
    idle: Duration,
}

impl<S: Handler> IdleBodies<S> {
    pub fn new(inner: S, idle: Duration) -> Self {
        Self { inner, idle }
    }
}

impl<S: Handler> hyper::service::Service<http::Request<Incoming>> for IdleBodies<S> {
    type Response = http::Response<s3s::Body>;
    type Error = s3s::HttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let idle = self.idle;
        let fired = Arc::new(AtomicBool::new(false));
        let req = req.map(|body| s3s::Body::http_body(IdleBody::new(body, idle, fired.clone())));
        let answer = self.inner.handle(req);
        Box::pin(async move {
            let res = answer.await;
            if fired.load(Ordering::Acquire) {
                return Ok(request_timeout());
            }
            res
        })
    }
}

/// S3's answer to a client whose upload stalled.
fn request_timeout() -> http::Response<s3s::Body> {
    const XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>RequestTimeout</Code>\
        <Message>Your socket connection to the server was not read from or written to within \
        the timeout period. Idle connections will be closed.</Message></Error>";
    let mut resp = http::Response::new(s3s::Body::from(XML.to_owned()));
    *resp.status_mut() = http::StatusCode::BAD_REQUEST;
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    h.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::IdleBody;
    use bytes::Bytes;
    use http_body_util::BodyExt;
    use std::time::Duration;

    #[tokio::test]
    async fn a_body_that_stalls_fails_and_one_that_flows_does_not() {
        use futures::SinkExt;
        let (mut tx, rx) = futures::channel::mpsc::channel::<Result<_, std::io::Error>>(4);
        let idle = Duration::from_millis(200);
        let fired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut body = IdleBody::new(http_body_util::StreamBody::new(rx), idle, fired.clone());
        // A frame every 100 ms: flowing, never cut.
        let sender = tokio::spawn(async move {
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let frame = hyper::body::Frame::data(Bytes::from_static(b"x"));
                tx.send(Ok(frame)).await.unwrap();
            }
            // Then silence, with the body still open.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(tx);
        });
        for _ in 0..4 {
            assert!(body.frame().await.unwrap().is_ok());
        }
        let silent = std::time::Instant::now();
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(err.to_string().contains("body idle timeout"), "{err}");
        assert!(silent.elapsed() >= idle, "{:?}", silent.elapsed());
        assert!(fired.load(std::sync::atomic::Ordering::Acquire));
        sender.abort();
    }
}
