//! Upstream failures as S3 errors: the one place that decides code, status and message.
//!
//! Service errors from the upstream keep their code, message and status (s3s-aws already copies
//! them). Failures to reach the upstream at all — refused, DNS, TLS, timeouts — become
//! `503 ServiceUnavailable` naming the bucket, profile and endpoint (never a key). A 5xx answer
//! that is no S3 error (a proxy's error page, a crash) keeps its status, with the S3 code of
//! that status (`InternalError`, `ServiceUnavailable`, ...), naming the same; any other garbled
//! answer becomes `502 BadGateway`.

use std::error::Error as StdError;

use s3s::{S3Error, S3ErrorCode};

use super::route::{Route, RouteError};
use aws_smithy_runtime_api::client::result::ConnectorError;

/// How an upstream call failed, when it did not fail with an S3 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// Connection refused or reset, DNS failure, TLS failure.
    Connect,
    /// Connect or read timed out.
    Timeout,
    /// The upstream answered something that is not S3 (or not S3 as the AWS SDK reads it).
    BadResponse,
    /// The upstream answered this 5xx status without an S3 error.
    ServerError(http::StatusCode),
}

/// Classifies a failed upstream call, given the status of the upstream's HTTP answer when one
/// came; `None` when the upstream answered with an S3 error.
pub fn classify(err: &S3Error, answered: Option<http::StatusCode>) -> Option<Unreachable> {
    // s3s-aws answers InternalError (with its status, 500) for every failure that is not an
    // upstream S3 error, and copies the message of one that is.
    if *err.code() != S3ErrorCode::InternalError {
        return None;
    }
    let source = err.source().map(|e| e as &(dyn StdError + 'static));
    let mut cur = source;
    while let Some(e) = cur {
        if let Some(c) = e.downcast_ref::<ConnectorError>() {
            return Some(if c.is_timeout() {
                Unreachable::Timeout
            } else {
                Unreachable::Connect
            });
        }
        cur = e.source();
    }
    match answered {
        // A 2xx answer that still ended in an error is one the SDK could not read.
        Some(s) if s.is_success() => return Some(Unreachable::BadResponse),
        Some(s) if s.is_server_error() && err.message().is_none() => {
            return Some(Unreachable::ServerError(s));
        }
        _ => {}
    }
    match source?.to_string().as_str() {
        "timeout error" => Some(Unreachable::Timeout),
        "dispatch failure" => Some(Unreachable::Connect),
        "response error" => Some(Unreachable::BadResponse),
        _ => None,
    }
}

/// The innermost message of an error chain (e.g. "Connection refused (os error 111)").
fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Maps an error of an upstream call made for `route` into what the client sees; `answered` is
/// the status of the upstream's HTTP answer, when one came.
pub fn from_upstream(
    err: S3Error,
    answered: Option<http::StatusCode>,
    route: &Route,
    op: &str,
) -> S3Error {
    let Some(kind) = classify(&err, answered) else {
        return err;
    };
    let cause = err.source().map(|e| root_cause(e)).unwrap_or_default();
    let server_error;
    let (code, status, what) = match kind {
        Unreachable::Connect => (
            S3ErrorCode::ServiceUnavailable,
            http::StatusCode::SERVICE_UNAVAILABLE,
            "upstream unreachable",
        ),
        Unreachable::Timeout => (
            S3ErrorCode::ServiceUnavailable,
            http::StatusCode::SERVICE_UNAVAILABLE,
            "upstream timed out",
        ),
        Unreachable::BadResponse => (
            S3ErrorCode::Custom("BadGateway".into()),
            http::StatusCode::BAD_GATEWAY,
            "upstream sent an invalid response",
        ),
        Unreachable::ServerError(status) => {
            server_error = format!("upstream answered {status} without an S3 error");
            (server_error_code(status), status, server_error.as_str())
        }
    };
    tracing::warn!(op, route = %route.describe(), cause = %cause, "{what}");
    let mut out = S3Error::with_message(
        code,
        format!("{what} for {} during {op}: {cause}", route.describe()),
    );
    out.set_status_code(status);
    out
}

/// The S3 code of a 5xx status.
fn server_error_code(status: http::StatusCode) -> S3ErrorCode {
    match status {
        http::StatusCode::SERVICE_UNAVAILABLE => S3ErrorCode::ServiceUnavailable,
        http::StatusCode::NOT_IMPLEMENTED => S3ErrorCode::NotImplemented,
        _ => S3ErrorCode::InternalError,
    }
}

/// A bucket whose settings cannot make a route answers 503, naming bucket, profile, endpoint.
pub fn from_route(err: RouteError) -> S3Error {
    tracing::warn!(error = %err, "bucket cannot be routed");
    let mut out = S3Error::with_message(S3ErrorCode::ServiceUnavailable, err.to_string());
    out.set_status_code(http::StatusCode::SERVICE_UNAVAILABLE);
    out
}
