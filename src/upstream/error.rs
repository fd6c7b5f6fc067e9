//! Upstream failures as S3 errors: the one place that decides code, status and message.
//!
//! Service errors from the upstream keep their code, message and status (s3s-aws already copies
//! them). Failures to reach the upstream at all — refused, DNS, TLS, timeouts — become
//! `503 ServiceUnavailable` naming the bucket, profile and endpoint (never a key). A 5xx answer
//! that is no S3 error (a proxy's error page, a crash) keeps its status, with the S3 code of
//! that status (`InternalError`, `ServiceUnavailable`, ...), naming the same; a 4xx answer
//! without one (garage's body-less 412) is the S3 error of that status (`PreconditionFailed`);
//! any other garbled answer becomes `502 BadGateway`.

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
    /// The upstream answered this 4xx status without an S3 error: a failed precondition or a
    /// range out of bounds answered with an empty body (garage), as S3 answers only HEADs.
    ClientError(http::StatusCode),
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
    // A connector error anywhere in the chain; a timeout one wins (a timeout can come wrapped
    // in another connector error, e.g. when an answer body stalled while it was read).
    let mut connector = None;
    let mut cur = source;
    while let Some(e) = cur {
        if let Some(c) = e.downcast_ref::<ConnectorError>() {
            if c.is_timeout() {
                return Some(Unreachable::Timeout);
            }
            connector.get_or_insert(Unreachable::Connect);
        }
        cur = e.source();
    }
    if connector.is_some() {
        return connector;
    }
    match answered {
        // A 2xx answer that still ended in an error is one the SDK could not read.
        Some(s) if s.is_success() => return Some(Unreachable::BadResponse),
        Some(s) if s.is_server_error() && err.message().is_none() => {
            return Some(Unreachable::ServerError(s));
        }
        Some(s) if s.is_client_error() && err.message().is_none() => {
            return Some(Unreachable::ClientError(s));
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
        // The client's own request failed upstream: the S3 error of that status, as S3 would
        // send it; nothing about the upstream is wrong.
        Unreachable::ClientError(status) => {
            let (code, message) = client_error(status);
            let mut out = S3Error::with_message(code, message);
            out.set_status_code(status);
            return out;
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

/// The S3 code and message of a 4xx status that came without an S3 error.
fn client_error(status: http::StatusCode) -> (S3ErrorCode, String) {
    use http::StatusCode as S;
    let (code, message) = match status {
        S::BAD_REQUEST => (S3ErrorCode::InvalidRequest, "Bad Request"),
        S::FORBIDDEN => (S3ErrorCode::AccessDenied, "Access Denied"),
        S::NOT_FOUND => (S3ErrorCode::Custom("NotFound".into()), "Not Found"),
        S::METHOD_NOT_ALLOWED => (
            S3ErrorCode::MethodNotAllowed,
            "The specified method is not allowed against this resource.",
        ),
        S::LENGTH_REQUIRED => (
            S3ErrorCode::MissingContentLength,
            "You must provide the Content-Length HTTP header.",
        ),
        S::PRECONDITION_FAILED => (
            S3ErrorCode::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        ),
        S::RANGE_NOT_SATISFIABLE => (
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        ),
        _ => {
            let reason = status.canonical_reason().unwrap_or("Client Error");
            (S3ErrorCode::Custom(reason.replace(' ', "").into()), reason)
        }
    };
    (code, message.to_owned())
}

/// A bucket whose settings cannot make a route answers 503, naming bucket, profile, endpoint.
pub fn from_route(err: RouteError) -> S3Error {
    tracing::warn!(error = %err, "bucket cannot be routed");
    let mut out = S3Error::with_message(S3ErrorCode::ServiceUnavailable, err.to_string());
    out.set_status_code(http::StatusCode::SERVICE_UNAVAILABLE);
    out
}

#[cfg(test)]
mod tests {
    use super::{Unreachable, classify, client_error};
    use http::StatusCode;
    use s3s::{S3Error, S3ErrorCode};

    #[test]
    fn a_timeout_inside_another_connector_error_is_a_timeout() {
        use aws_smithy_runtime_api::client::result::ConnectorError;
        let stalled = ConnectorError::timeout("the upstream sent nothing".into());
        let wrapped = ConnectorError::io(Box::new(stalled));
        let err = S3Error::with_source(S3ErrorCode::InternalError, Box::new(wrapped));
        assert_eq!(classify(&err, None), Some(Unreachable::Timeout));
        let refused = ConnectorError::io("connection refused".into());
        let err = S3Error::with_source(S3ErrorCode::InternalError, Box::new(refused));
        assert_eq!(classify(&err, None), Some(Unreachable::Connect));
    }

    #[test]
    fn a_bare_4xx_is_the_s3_error_of_its_status() {
        let bare = S3Error::new(S3ErrorCode::InternalError);
        let s412 = StatusCode::PRECONDITION_FAILED;
        assert_eq!(
            classify(&bare, Some(s412)),
            Some(Unreachable::ClientError(s412))
        );
        assert_eq!(client_error(s412).0, S3ErrorCode::PreconditionFailed);
        assert_eq!(
            client_error(StatusCode::RANGE_NOT_SATISFIABLE).0,
            S3ErrorCode::InvalidRange
        );
        assert_eq!(
            client_error(StatusCode::CONFLICT).0,
            S3ErrorCode::Custom("Conflict".into())
        );
        // An S3 error the upstream sent (a code, or a message) is the upstream's to keep.
        let sent = S3Error::new(S3ErrorCode::PreconditionFailed);
        assert_eq!(classify(&sent, Some(s412)), None);
        let with_message = S3Error::with_message(S3ErrorCode::InternalError, "boom");
        assert_eq!(classify(&with_message, Some(s412)), None);
    }
}
