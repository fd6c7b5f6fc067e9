//! What an upstream call's HTTP exchange said beyond the SDK's output: the answer's status, the
//! few headers that s3s's DTOs have no field for on some operations, and — when no answer
//! could be read — how the call failed, as the SDK's typed errors tell.
//!
//! Forwarding goes s3s DTO → SDK → upstream → SDK output → s3s DTO, and each conversion keeps
//! only modelled fields: s3s answers every HeadObject 200 (S3 answers 206 to one with `Range` or
//! `partNumber`), its HeadObject output has no `x-amz-tagging-count`, and an S3Error from the
//! SDK keeps no header (a 416 loses `Content-Range: bytes */size`). [`capture`] runs one upstream
//! call and returns, next to its result, what an interceptor on every upstream client
//! ([`Recorder`]) took from the exchange ([`Recorded`]); the gateway carries the answer's part
//! onto what the client gets ([`RawAnswer::carry`], [`RawAnswer::carry_to_error`]), and the
//! failure's part classifies the error (`error.rs`).
//!
//! The recording lives in a task-local slot: the SDK runs its interceptors in the task that
//! awaits the call, so the slot needs no request id and no lock.

use std::cell::RefCell;
use std::future::Future;

use aws_sdk_s3::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use s3s::{S3Error, S3Response};

use super::error::Transport;

tokio::task_local! {
    static SLOT: RefCell<Recorded>;
}

/// Headers of successful answers that an s3s output may lack (HeadObject has no `TagCount`);
/// copied onto the client's answer when the output did not set them.
const SUCCESS_HEADERS: &[&str] = &["x-amz-tagging-count"];

/// Headers of error answers that clients read: the object size of a 416 (`bytes */size`), and
/// what S3 says about a delete marker answered 404/405.
const ERROR_HEADERS: &[&str] = &["content-range", "x-amz-delete-marker", "x-amz-version-id"];

/// Headers of a 304 Not Modified that clients read to keep their cached copy's validators.
const NOT_MODIFIED_HEADERS: &[&str] = &["etag", "last-modified"];

/// The status and the kept headers of an upstream's HTTP answer.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    pub status: StatusCode,
    pub headers: HeaderMap,
}

/// What one upstream call's (last) HTTP exchange recorded.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// The answer, if one came.
    pub answer: Option<RawAnswer>,
    /// How the call failed before an S3 answer could be read, if it did.
    pub failure: Option<Transport>,
    /// The upstream's own `x-amz-request-id`, for the log line next to rebucket's.
    pub request_id: Option<HeaderValue>,
}

/// Runs one upstream call; returns its result and what its HTTP exchange recorded.
pub async fn capture<F: Future>(call: F) -> (F::Output, Recorded) {
    SLOT.scope(RefCell::new(Recorded::default()), async move {
        let out = call.await;
        let recorded = SLOT.with(|slot| slot.take());
        (out, recorded)
    })
    .await
}

impl RawAnswer {
    /// Carries the headers the output of a success may lack.
    pub fn carry<O>(&self, resp: &mut S3Response<O>) {
        for name in SUCCESS_HEADERS {
            if let Some(v) = self.headers.get(*name)
                && !resp.headers.contains_key(*name)
            {
                resp.headers
                    .insert(HeaderName::from_static(name), v.clone());
            }
        }
    }

    /// Carries the headers S3 puts on error answers onto an error from this answer.
    pub fn carry_to_error(&self, err: &mut S3Error) {
        let not_modified: &[&str] = if self.status == StatusCode::NOT_MODIFIED {
            NOT_MODIFIED_HEADERS
        } else {
            &[]
        };
        let kept: Vec<_> = ERROR_HEADERS
            .iter()
            .chain(not_modified)
            .filter_map(|n| Some((HeaderName::from_static(n), self.headers.get(*n)?.clone())))
            .collect();
        if kept.is_empty() {
            return;
        }
        // s3s answers an error with exactly these headers, instead of its own Content-Type.
        let mut headers = err.headers().cloned().unwrap_or_else(|| {
            let mut h = HeaderMap::new();
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            h
        });
        headers.extend(kept);
        err.set_headers(headers);
    }
}

/// The interceptor on every upstream client that fills the slot of [`capture`].
#[derive(Debug)]
pub struct Recorder;

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "RawAnswerRecorder"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let resp = context.response();
        let Ok(status) = StatusCode::from_u16(resp.status().as_u16()) else {
            return Ok(());
        };
        let mut headers = HeaderMap::new();
        for name in SUCCESS_HEADERS
            .iter()
            .chain(ERROR_HEADERS)
            .chain(NOT_MODIFIED_HEADERS)
        {
            if let Some(v) = resp.headers().get(*name)
                && let Ok(v) = HeaderValue::from_str(v)
            {
                headers.insert(HeaderName::from_static(name), v);
            }
        }
        let request_id = resp
            .headers()
            .get("x-amz-request-id")
            .and_then(|v| HeaderValue::from_str(v).ok());
        // Outside `capture` (region lookups, copies through rebucket) there is no slot.
        let _ = SLOT.try_with(|slot| {
            let mut slot = slot.borrow_mut();
            slot.answer = Some(RawAnswer { status, headers });
            slot.request_id = request_id;
        });
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Err(e)) = context.output_or_error() else {
            return Ok(());
        };
        let failure = if e.is_timeout_error() {
            Some(Transport::Timeout)
        } else if let Some(c) = e.as_connector_error() {
            Some(if c.is_timeout() {
                Transport::Timeout
            } else {
                Transport::Connect
            })
        } else if e.is_response_error() {
            Some(Transport::BadResponse)
        } else {
            None
        };
        let _ = SLOT.try_with(|slot| slot.borrow_mut().failure = failure);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)]) -> RawAnswer {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        RawAnswer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: h,
        }
    }

    #[test]
    fn a_success_keeps_the_headers_its_output_lacks() {
        let mut resp = S3Response::new(());
        answer(206, &[("x-amz-tagging-count", "2")]).carry(&mut resp);
        assert_eq!(resp.headers["x-amz-tagging-count"], "2");
    }

    #[test]
    fn an_error_keeps_content_range_next_to_its_content_type() {
        let mut err = S3Error::new(s3s::S3ErrorCode::InvalidRange);
        answer(416, &[("content-range", "bytes */100")]).carry_to_error(&mut err);
        let h = err.headers().unwrap();
        assert_eq!(h["content-range"], "bytes */100");
        assert_eq!(h["content-type"], "application/xml");

        let mut err = S3Error::new(s3s::S3ErrorCode::NoSuchKey);
        answer(404, &[]).carry_to_error(&mut err);
        assert!(err.headers().is_none());
    }

    #[test]
    fn a_not_modified_keeps_its_validators_and_only_it() {
        let validators = [
            ("etag", "\"abc\""),
            ("last-modified", "Wed, 01 Jan 2025 00:00:00 GMT"),
        ];
        let mut err = S3Error::new(s3s::S3ErrorCode::NotModified);
        answer(304, &validators).carry_to_error(&mut err);
        let h = err.headers().unwrap();
        assert_eq!(h["etag"], "\"abc\"");
        assert_eq!(h["last-modified"], "Wed, 01 Jan 2025 00:00:00 GMT");

        let mut err = S3Error::new(s3s::S3ErrorCode::PreconditionFailed);
        answer(412, &validators).carry_to_error(&mut err);
        assert!(err.headers().is_none());
    }
}
