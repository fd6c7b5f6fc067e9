//! Forwarding, once for every operation: an [`Operation`] names its bucket and how the
//! upstream client sends it; [`Gateway::forward`] routes the bucket, renames it to the
//! upstream's, sends, and retries once in the right region after a wrong-region redirect;
//! [`send`] makes one upstream call and answers for the client — the client's bucket name in
//! the output, the upstream's status and the headers the SDK output drops carried over (see
//! `upstream::raw`), or the error mapped for the client (`upstream::error`).

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use s3s_aws::Proxy;

use super::{Gateway, UpstreamStatus};
use crate::metrics::{Metrics, request};
use crate::upstream::error::UpstreamError;
use crate::upstream::route::Route;
use crate::upstream::{BlankKey, raw};

/// The future an upstream call returns.
pub type Call<'a, O> = Pin<Box<dyn Future<Output = S3Result<S3Response<O>>> + Send + 'a>>;

/// One S3 operation as the gateway forwards it (implemented for every input in `ops.rs`).
pub trait Operation: Sized + Send + 'static {
    type Output: Send + 'static;
    /// The operation's name in logs and errors (`get_object`).
    const NAME: &'static str;
    /// The bucket the input names.
    fn bucket_mut(&mut self) -> &mut String;
    /// The object key the input names, if it names one.
    fn key_mut(&mut self) -> Option<&mut String> {
        None
    }
    /// A copy to send again after a wrong-region redirect; `None` for inputs whose body
    /// streams and cannot be sent twice.
    fn replay(&self) -> Option<Self>;
    /// Sends the input through the upstream client.
    fn send(proxy: &Proxy, req: S3Request<Self>) -> Call<'_, Self::Output>;
    /// Puts the client's bucket name (not `backend_bck`) where the output names its bucket.
    fn name_client_bucket(_output: &mut Self::Output, _bucket: &str) {}
}

impl Gateway {
    /// Forwards `input` to its bucket's upstream; on a wrong-region redirect, looks the region
    /// up, records it and sends a replayable input once more there (not for a request sent
    /// unsigned, see [`Unsigned`](super::Unsigned): its redirect is the client's answer).
    pub(super) async fn forward<I: Operation>(
        &self,
        mut input: I,
    ) -> S3Result<S3Response<I::Output>> {
        let route = self.route(input.bucket_mut())?;
        self.forward_on(route, input).await
    }

    /// [`Self::forward`] without starting discovery of a bucket not registered yet: for
    /// CreateBucket and DeleteBucket, whose bucket is about to change (a look-up racing them
    /// would find it as it was; see `discovery`).
    pub(super) async fn forward_lifecycle<I: Operation>(
        &self,
        mut input: I,
    ) -> S3Result<S3Response<I::Output>> {
        let route = self.route_without_discovery(input.bucket_mut())?;
        self.forward_on(route, input).await
    }

    /// Forwards `input` along `route`, retrying once in the right region (see [`Self::forward`]).
    async fn forward_on<I: Operation>(
        &self,
        route: Route,
        mut input: I,
    ) -> S3Result<S3Response<I::Output>> {
        *input.bucket_mut() = route.backend.clone();
        let replay = input.replay();
        match self.send(&route, I::NAME, input).await {
            Err(e) if is_wrong_region(&e) && !super::Unsigned::applies(&route.bucket) => {
                match (replay, self.relocate(&route).await) {
                    (Some(replay), Some(moved)) => self.send(&moved, I::NAME, replay).await,
                    _ => Err(e),
                }
            }
            res => res,
        }
    }

    /// Forwards `input` to its bucket's upstream as the registry routes it now: no discovery,
    /// no region look-up after a wrong-region redirect (for requests made on behalf of
    /// unsigned callers).
    pub(super) async fn forward_known<I: Operation>(
        &self,
        mut input: I,
    ) -> S3Result<S3Response<I::Output>> {
        let route = self.route_without_discovery(input.bucket_mut())?;
        *input.bucket_mut() = route.backend.clone();
        self.send(&route, I::NAME, input).await
    }

    /// Sends `input`, already named for the upstream, to `route`'s upstream as part of
    /// operation `op`.
    pub(super) async fn send<I: Operation>(
        &self,
        route: &Route,
        op: &'static str,
        mut input: I,
    ) -> S3Result<S3Response<I::Output>> {
        let proxy = self.proxy(route);
        let blank = input.key_mut().and_then(BlankKey::hide);
        let call = BlankKey::scope(blank, I::send(&proxy, upstream_request(input)));
        let mut resp = send(route, op, &self.inner.metrics, call).await?;
        I::name_client_bucket(&mut resp.output, &route.bucket);
        Ok(resp)
    }

    /// The upstream client of `route`, as an S3 implementation.
    pub(super) fn proxy(&self, route: &Route) -> Proxy {
        Proxy::from(self.inner.pool.client(&route.key))
    }

    /// Looks the region of `route`'s bucket up, records it, and returns the corrected route.
    async fn relocate(&self, route: &Route) -> Option<Route> {
        let region = self.look_up_region_for_client(route).await.ok()?;
        if region == route.key.region {
            return None;
        }
        let mut moved = route.clone();
        moved.key.region = region;
        Some(moved)
    }
}

/// Makes one upstream call for `route` and answers for the client: the answer with the
/// upstream's status and the headers its output lost, or the error mapped for the client,
/// with rebucket's request id in place of the upstream's. The call's time and the upstream's
/// request id go to the request's context, a failure without an S3 error to `metrics`.
pub(super) async fn send<O>(
    route: &Route,
    op: &'static str,
    metrics: &Metrics,
    call: impl Future<Output = S3Result<S3Response<O>>>,
) -> S3Result<S3Response<O>> {
    let started = Instant::now();
    let (res, recorded) = raw::capture(call).await;
    request::record_upstream(started.elapsed(), recorded.request_id.as_ref());
    match res {
        Ok(mut resp) => {
            if let Some(answer) = &recorded.answer {
                if answer.status.is_success() {
                    resp.extensions.insert(UpstreamStatus(answer.status));
                }
                answer.carry(&mut resp);
            }
            Ok(resp)
        }
        Err(e) => {
            let classified = UpstreamError::of_call(e, &recorded, route, op);
            if let Some(kind) = classified.metric_kind() {
                metrics.upstream_error(route.key.endpoint_display(), kind);
            }
            let mut e: S3Error = classified.into();
            if let Some(answer) = &recorded.answer {
                answer.carry_to_error(&mut e);
            }
            if let Some(id) = request::id() {
                e.set_request_id(id.as_str());
            }
            Err(e)
        }
    }
}

/// A request for `s3s_aws::Proxy`, which reads only the input.
pub(super) fn upstream_request<T>(input: T) -> S3Request<T> {
    S3Request {
        input,
        method: http::Method::GET,
        uri: http::Uri::from_static("/"),
        headers: http::HeaderMap::new(),
        extensions: http::Extensions::new(),
        credentials: None,
        region: None,
        service: None,
        trailing_headers: None,
    }
}

/// Whether the upstream says the bucket lives in another region.
fn is_wrong_region(e: &S3Error) -> bool {
    *e.code() == S3ErrorCode::PermanentRedirect
        || *e.code() == S3ErrorCode::AuthorizationHeaderMalformed
        || e.status_code() == Some(http::StatusCode::MOVED_PERMANENTLY)
}
