//! Upstream failures as S3 errors: one enum ([`UpstreamError`]), one doc comment per variant,
//! and one place ([`From`] into [`S3Error`]) that decides code, status and message.
//!
//! Service errors from the upstream keep their code, message and status (s3s-aws already copies
//! them). Failures to reach the upstream at all — refused, DNS, TLS, timeouts — become
//! `503 ServiceUnavailable` naming the bucket, profile and endpoint (never a key). A 5xx answer
//! that is no S3 error (a proxy's error page, a crash) keeps its status, with the S3 code of
//! that status (`InternalError`, `ServiceUnavailable`, ...), naming the same; a 4xx answer
//! without one (garage's body-less 412) is the S3 error of that status (`PreconditionFailed`);
//! any other garbled answer becomes `502 BadGateway`.
//!
//! How a call failed is read from the SDK's typed errors: the orchestrator's
//! (`OrchestratorError::is_timeout_error` and friends), recorded by the interceptor of
//! [`super::raw`], and the connector's (`ConnectorError`) in the error's source chain.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::error::operation::BuildError;
use s3s::{S3Error, S3ErrorCode};

use super::raw::Recorded;
use super::route::{Route, RouteError};

/// How an upstream call failed before any S3 answer could be read, as the SDK's typed errors
/// say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Connection refused or reset, DNS failure, TLS failure.
    Connect,
    /// Connect or read timed out.
    Timeout,
    /// The upstream answered something the SDK cannot read as S3.
    BadResponse,
}

/// Why an upstream call failed, as the client is told.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream answered with an S3 error: the client gets it as the upstream sent it.
    #[error("{0}")]
    Answered(S3Error),
    /// The upstream could not be reached (refused, reset, DNS, TLS): `503
    /// ServiceUnavailable`, naming bucket, profile and endpoint.
    #[error("upstream unreachable for {route} during {op}: {cause}")]
    Unreachable {
        route: String,
        op: &'static str,
        cause: String,
    },
    /// Connecting to or reading from the upstream timed out: `503 ServiceUnavailable`.
    #[error("upstream timed out for {route} during {op}: {cause}")]
    TimedOut {
        route: String,
        op: &'static str,
        cause: String,
    },
    /// The upstream answered something that is not S3 as the AWS SDK reads it: `502
    /// BadGateway`.
    #[error("upstream sent an invalid response for {route} during {op}: {cause}")]
    BadResponse {
        route: String,
        op: &'static str,
        cause: String,
    },
    /// The upstream answered a 5xx without an S3 error: that status, with its S3 code.
    #[error("upstream answered {status} without an S3 error for {route} during {op}: {cause}")]
    ServerError {
        status: http::StatusCode,
        route: String,
        op: &'static str,
        cause: String,
    },
    /// The upstream answered a 4xx without an S3 error (garage's body-less 412): the client's
    /// own request failed, and gets the S3 error of that status, as S3 would send it.
    #[error("{}", client_error(*.0).1)]
    ClientError(http::StatusCode),
    /// The AWS SDK refused to build the upstream request from the client's input (an empty
    /// `uploadId`, which s3s reads from a bare `?uploadId` and the SDK's builders refuse):
    /// nothing was sent; `400 InvalidArgument`, saying which field.
    #[error("{op}: the request cannot be sent upstream: {cause}")]
    Unsendable { op: &'static str, cause: String },
    /// The bucket's settings cannot make a route (missing profile, bad credentials source):
    /// `503 ServiceUnavailable`, naming bucket, profile and endpoint.
    #[error(transparent)]
    Unroutable(#[from] RouteError),
}

impl UpstreamError {
    /// Classifies an error of an upstream call made for `route`, given what the call's HTTP
    /// exchange recorded.
    pub fn of_call(err: S3Error, recorded: &Recorded, route: &Route, op: &'static str) -> Self {
        let answered = recorded.answer.as_ref().map(|a| a.status);
        // s3s-aws answers InternalError for every failure that is not an upstream S3 error,
        // and copies the code (and message) of one that is.
        if *err.code() != S3ErrorCode::InternalError {
            return Self::Answered(err);
        }
        let source = err.source().map(|e| e as &(dyn StdError + 'static));
        if let Some(refused) = source.and_then(build_error) {
            return Self::Unsendable {
                op,
                cause: refused.to_string(),
            };
        }
        let transport = recorded.failure.or(source.and_then(connector_failure));
        let cause = source.map(root_cause).unwrap_or_default();
        let route = route.describe();
        let classified = match (transport, answered) {
            (Some(Transport::Connect), _) => Self::Unreachable { route, op, cause },
            (Some(Transport::Timeout), _) => Self::TimedOut { route, op, cause },
            // A 2xx answer that still ended in an error is one the SDK could not read.
            (Some(Transport::BadResponse), _) => Self::BadResponse { route, op, cause },
            (None, Some(s)) if s.is_success() => Self::BadResponse { route, op, cause },
            (None, Some(s)) if s.is_server_error() && err.message().is_none() => {
                Self::ServerError {
                    status: s,
                    route,
                    op,
                    cause,
                }
            }
            (None, Some(s)) if s.is_client_error() && err.message().is_none() => {
                return Self::ClientError(s);
            }
            _ => return Self::Answered(err),
        };
        tracing::warn!(error = %classified, "upstream call failed");
        classified
    }
}

impl UpstreamError {
    /// Classifies a failure of a request sent without the SDK (`super::direct`) for `route`:
    /// what the connector said, as [`Self::of_call`] reads it from the SDK's errors.
    pub fn of_connector(err: &ConnectorError, route: &Route, op: &'static str) -> Self {
        let cause = root_cause(err);
        let route = route.describe();
        let classified = if err.is_timeout() {
            Self::TimedOut { route, op, cause }
        } else if err.is_io() {
            Self::Unreachable { route, op, cause }
        } else {
            Self::BadResponse { route, op, cause }
        };
        tracing::warn!(error = %classified, "upstream call failed");
        classified
    }

    /// Classifies an upstream's answer with error `status` and `body` (at most its first
    /// bytes) to a request sent without the SDK, as [`Self::of_call`] classifies the SDK's
    /// reading of the same answer: an S3 error document keeps its code, message and status,
    /// except an `InternalError` without a message, which s3s-aws cannot tell from no S3
    /// error at all; without one, a 5xx is a [`Self::ServerError`], a 4xx a
    /// [`Self::ClientError`], anything else a [`Self::BadResponse`].
    pub fn of_answer(
        status: http::StatusCode,
        body: &[u8],
        route: &Route,
        op: &'static str,
    ) -> Self {
        let code = element(body, "Code").filter(|c| !c.is_empty());
        let message = element(body, "Message");
        if let Some(code) = code.filter(|c| *c != "InternalError" || message.is_some()) {
            let code = S3ErrorCode::from_bytes(code.as_bytes())
                .unwrap_or_else(|| S3ErrorCode::Custom(code.to_owned().into()));
            let mut err = match message {
                Some(message) => S3Error::with_message(code, message.to_owned()),
                None => S3Error::new(code),
            };
            err.set_status_code(status);
            return Self::Answered(err);
        }
        let cause = format!("HTTP {status} without an S3 error");
        let route = route.describe();
        let classified = if status.is_server_error() {
            Self::ServerError {
                status,
                route,
                op,
                cause,
            }
        } else if status.is_client_error() {
            return Self::ClientError(status);
        } else {
            Self::BadResponse { route, op, cause }
        };
        tracing::warn!(error = %classified, "upstream call failed");
        classified
    }

    /// The `kind` label of `rebucket_upstream_errors_total` for a failure without an S3 error
    /// (`None` for an upstream's S3 error, a bare 4xx or an unroutable bucket).
    pub fn metric_kind(&self) -> Option<&'static str> {
        match self {
            Self::Unreachable { .. } => Some("refused"),
            Self::TimedOut { .. } => Some("timeout"),
            Self::ServerError { .. } => Some("5xx"),
            Self::BadResponse { .. } => Some("bad_response"),
            Self::Answered(_)
            | Self::ClientError(_)
            | Self::Unsendable { .. }
            | Self::Unroutable(_) => None,
        }
    }
}

impl From<UpstreamError> for S3Error {
    fn from(e: UpstreamError) -> Self {
        use http::StatusCode as S;
        let (code, status) = match &e {
            UpstreamError::Answered(_) => {
                let UpstreamError::Answered(err) = e else {
                    unreachable!()
                };
                return err;
            }
            UpstreamError::Unreachable { .. }
            | UpstreamError::TimedOut { .. }
            | UpstreamError::Unroutable(_) => {
                (S3ErrorCode::ServiceUnavailable, S::SERVICE_UNAVAILABLE)
            }
            UpstreamError::BadResponse { .. } => {
                (S3ErrorCode::Custom("BadGateway".into()), S::BAD_GATEWAY)
            }
            UpstreamError::ServerError { status, .. } => (server_error_code(*status), *status),
            UpstreamError::ClientError(status) => (client_error(*status).0, *status),
            UpstreamError::Unsendable { .. } => (S3ErrorCode::InvalidArgument, S::BAD_REQUEST),
        };
        let mut out = S3Error::with_message(code, e.to_string());
        out.set_status_code(status);
        out
    }
}

/// A bucket whose settings cannot make a route answers 503, naming bucket, profile, endpoint.
pub fn from_route(err: RouteError) -> S3Error {
    tracing::warn!(error = %err, "bucket cannot be routed");
    UpstreamError::Unroutable(err).into()
}

/// An error and its sources, outermost first.
fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |&e| e.source())
}

/// How the connector failed, from the `ConnectorError`s in an error's source chain: a timeout
/// anywhere in it (the normalizing connector wraps a body-read error, itself possibly a
/// timeout, in another `ConnectorError`), else a connection failure; `None` without one.
fn connector_failure(err: &(dyn StdError + 'static)) -> Option<Transport> {
    let mut found = None;
    for c in chain(err).filter_map(|e| e.downcast_ref::<ConnectorError>()) {
        if c.is_timeout() {
            return Some(Transport::Timeout);
        }
        found = Some(Transport::Connect);
    }
    found
}

/// The SDK's refusal to build a request from its input, anywhere in an error's source chain.
fn build_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a BuildError> {
    chain(err).find_map(|e| e.downcast_ref::<BuildError>())
}

/// The text of the first `<name>` element of an XML document (not unescaped: S3 error codes
/// and messages rarely hold entities, and the SDK path keeps them as sent too).
fn element<'a>(body: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(body).ok()?;
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let len = text[start..].find(&format!("</{name}>"))?;
    Some(&text[start..start + len])
}

/// The innermost message of an error chain (e.g. "Connection refused (os error 111)"), safe to
/// show: upstream errors name hosts and OS errors, never keys.
pub fn root_cause(err: &(dyn StdError + 'static)) -> String {
    chain(err).last().unwrap_or(err).to_string()
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
fn client_error(status: http::StatusCode) -> (S3ErrorCode, &'static str) {
    use http::StatusCode as S;
    match status {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::raw::RawAnswer;
    use http::StatusCode;

    fn route() -> Route {
        Route {
            bucket: "b".into(),
            backend: "b".into(),
            profile: "default".into(),
            key: crate::upstream::UpstreamKey {
                endpoint: Some("http://127.0.0.1:9".into()),
                region: "us-east-1".into(),
                path_style: true,
                credentials: crate::profiles::CredentialSource::Anonymous,
            },
            sources: crate::upstream::route::RouteSources {
                endpoint: crate::upstream::route::Source::BucketProp("extra.aws.endpoint"),
                profile: crate::upstream::route::Source::BuiltIn,
                region: crate::upstream::route::Source::BuiltIn,
                addressing_style: crate::upstream::route::Source::BuiltIn,
                credentials: crate::upstream::route::Source::BuiltIn,
            },
            embedded: false,
        }
    }

    fn answered(status: StatusCode) -> Recorded {
        Recorded {
            answer: Some(RawAnswer {
                status,
                headers: http::HeaderMap::new(),
            }),
            failure: None,
            request_id: None,
        }
    }

    fn client_sees(e: UpstreamError) -> (String, u16) {
        let e = S3Error::from(e);
        (
            e.code().as_str().to_owned(),
            e.status_code().unwrap().as_u16(),
        )
    }

    #[test]
    fn a_bare_4xx_is_the_s3_error_of_its_status() {
        let bare = || S3Error::new(S3ErrorCode::InternalError);
        let s412 = StatusCode::PRECONDITION_FAILED;
        let e = UpstreamError::of_call(bare(), &answered(s412), &route(), "get_object");
        assert_eq!(client_sees(e), ("PreconditionFailed".into(), 412));
        let e = UpstreamError::of_call(
            bare(),
            &answered(StatusCode::RANGE_NOT_SATISFIABLE),
            &route(),
            "get_object",
        );
        assert_eq!(client_sees(e), ("InvalidRange".into(), 416));
        let e = UpstreamError::of_call(bare(), &answered(StatusCode::CONFLICT), &route(), "x");
        assert_eq!(client_sees(e), ("Conflict".into(), 409));
        // An S3 error the upstream sent (a code, or a message) is the upstream's to keep.
        let sent = S3Error::new(S3ErrorCode::PreconditionFailed);
        let e = UpstreamError::of_call(sent, &answered(s412), &route(), "x");
        assert!(matches!(e, UpstreamError::Answered(_)));
        let with_message = S3Error::with_message(S3ErrorCode::InternalError, "boom");
        let e = UpstreamError::of_call(with_message, &answered(s412), &route(), "x");
        assert!(matches!(e, UpstreamError::Answered(_)));
    }

    #[test]
    fn an_input_the_sdk_refuses_to_build_is_the_clients_invalid_argument() {
        use aws_sdk_s3::error::SdkError;
        use aws_sdk_s3::operation::list_parts::ListPartsError;
        use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
        let refused = BuildError::missing_field("upload_id", "cannot be empty or unset");
        let sdk: SdkError<ListPartsError, HttpResponse> = SdkError::construction_failure(refused);
        let mut err = S3Error::new(S3ErrorCode::InternalError);
        err.set_source(Box::new(sdk));
        let nothing_sent = Recorded {
            answer: None,
            failure: None,
            request_id: None,
        };
        let e = UpstreamError::of_call(err, &nothing_sent, &route(), "list_parts");
        assert!(e.metric_kind().is_none(), "not an upstream failure: {e}");
        let e = S3Error::from(e);
        assert_eq!(e.code(), &S3ErrorCode::InvalidArgument);
        assert_eq!(e.status_code(), Some(StatusCode::BAD_REQUEST));
        let message = e.message().unwrap();
        assert!(
            message.contains("list_parts") && message.contains("upload_id"),
            "{message}"
        );
        // Without the SDK's refusal in the chain, a failure with nothing sent is no client's.
        let mut other = S3Error::new(S3ErrorCode::InternalError);
        other.set_source(Box::new(std::io::Error::other("signing failed")));
        let e = UpstreamError::of_call(other, &nothing_sent, &route(), "list_parts");
        assert_eq!(S3Error::from(e).code(), &S3ErrorCode::InternalError);
    }

    #[test]
    fn a_connector_timeout_anywhere_in_the_chain_is_a_timeout() {
        #[derive(Debug)]
        struct Wrapped(ConnectorError);
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("body read failed")
            }
        }
        impl StdError for Wrapped {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let inner = ConnectorError::timeout("stalled".into());
        let outer = ConnectorError::io(Box::new(Wrapped(inner)));
        assert_eq!(connector_failure(&outer), Some(Transport::Timeout));
        let refused = ConnectorError::io("refused".into());
        assert_eq!(connector_failure(&refused), Some(Transport::Connect));
        assert_eq!(
            connector_failure(&Wrapped(refused)),
            Some(Transport::Connect)
        );
    }

    #[test]
    fn transport_failures_name_the_route_and_answer_503_or_502() {
        let failed = |t| Recorded {
            answer: None,
            failure: Some(t),
            request_id: None,
        };
        let bare = || S3Error::new(S3ErrorCode::InternalError);
        for (t, want) in [
            (Transport::Connect, ("ServiceUnavailable", 503)),
            (Transport::Timeout, ("ServiceUnavailable", 503)),
            (Transport::BadResponse, ("BadGateway", 502)),
        ] {
            let e = UpstreamError::of_call(bare(), &failed(t), &route(), "head_object");
            let message = e.to_string();
            assert!(message.contains("bucket \"b\""), "{message}");
            assert!(message.contains("during head_object"), "{message}");
            assert_eq!(client_sees(e), (want.0.to_owned(), want.1));
        }
        let e = UpstreamError::of_call(
            bare(),
            &answered(StatusCode::BAD_GATEWAY),
            &route(),
            "get_object",
        );
        assert_eq!(client_sees(e), ("InternalError".into(), 502));
    }

    #[test]
    fn answers_read_without_the_sdk_are_classified_as_the_sdk_path_classifies_them() {
        let r = route();
        let xml = |code: &str, message: Option<&str>| {
            let message = message
                .map(|m| format!("<Message>{m}</Message>"))
                .unwrap_or_default();
            format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code>{message}</Error>")
        };
        let e: S3Error = UpstreamError::of_answer(
            StatusCode::NOT_FOUND,
            xml("NoSuchBucket", Some("gone")).as_bytes(),
            &r,
            "put_object",
        )
        .into();
        assert_eq!(
            (e.code().as_str(), e.message(), e.status_code()),
            ("NoSuchBucket", Some("gone"), Some(StatusCode::NOT_FOUND))
        );
        // An InternalError with no message is what s3s-aws makes of no S3 error at all.
        let bare = UpstreamError::of_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            xml("InternalError", None).as_bytes(),
            &r,
            "put_object",
        );
        assert!(
            matches!(bare, UpstreamError::ServerError { .. }),
            "{bare:?}"
        );
        assert_eq!(bare.metric_kind(), Some("5xx"));
        let page = UpstreamError::of_answer(
            StatusCode::BAD_GATEWAY,
            b"<html>proxy error</html>",
            &r,
            "put_object",
        );
        assert!(
            matches!(page, UpstreamError::ServerError { .. }),
            "{page:?}"
        );
        let e: S3Error =
            UpstreamError::of_answer(StatusCode::PRECONDITION_FAILED, b"", &r, "put_object").into();
        assert_eq!(e.code().as_str(), "PreconditionFailed");
        let odd = UpstreamError::of_answer(StatusCode::MOVED_PERMANENTLY, b"", &r, "put_object");
        assert!(matches!(odd, UpstreamError::BadResponse { .. }), "{odd:?}");
    }
}
