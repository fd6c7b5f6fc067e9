//! A small JSON client of the admin API, for the CLI verbs.
//!
//! Every failure becomes one line meant for the operator: an unreachable API names the URL and
//! the innermost cause (`Connection refused`), a refused token says where the token came from,
//! and an answer that is not the admin API's JSON says which listener it probably reached.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::AdminArgs;

/// How long connecting to the admin API may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one admin call may take (a region lookup upstream happens inside some).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

pub struct AdminClient {
    base: String,
    token: String,
    /// Where the token came from, for the message when the API refuses it.
    token_source: String,
}

impl AdminClient {
    /// From flags/env; the token falls back to the one a local gateway generated.
    pub fn new(args: &AdminArgs) -> Result<Self, String> {
        let base = args.admin_url.trim().trim_end_matches('/').to_owned();
        if !base.starts_with("http://") || base.len() == "http://".len() {
            return Err(format!(
                "admin URL {base:?} (REBUCKET_ADMIN_URL or --admin-url): expected http://HOST:PORT"
            ));
        }
        let (token, token_source) = match &args.admin_token {
            Some(t) if !t.trim().is_empty() => (
                t.trim().to_owned(),
                "REBUCKET_ADMIN_TOKEN or --admin-token".to_owned(),
            ),
            _ => {
                let path = args.data_dir.join("admin-token");
                let token = std::fs::read_to_string(&path)
                    .map(|t| t.trim().to_owned())
                    .map_err(|_| {
                        format!(
                            "no admin token: set REBUCKET_ADMIN_TOKEN (or --admin-token); {} is not readable",
                            path.display()
                        )
                    })?;
                (token, path.display().to_string())
            }
        };
        Ok(Self {
            base,
            token,
            token_source,
        })
    }

    /// Calls `method path` with an optional JSON body; an error answer becomes `Err(message)`,
    /// one line.
    pub async fn call(
        &self,
        method: http::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client =
            Client::builder(TokioExecutor::new()).build::<_, Full<bytes::Bytes>>(connector);
        let url = format!("{}{path}", self.base);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = http::Request::builder()
            .method(method)
            .uri(&url)
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", self.token),
            )
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(bytes::Bytes::from(body)))
            .map_err(|e| format!("bad admin URL {url:?}: {e}"))?;
        let resp = tokio::time::timeout(CALL_TIMEOUT, client.request(req))
            .await
            .map_err(|_| {
                format!(
                    "the admin API at {} did not answer within {} s",
                    self.base,
                    CALL_TIMEOUT.as_secs()
                )
            })?
            .map_err(|e| {
                format!(
                    "cannot reach the admin API at {}: {} (is `rebucket serve` running there? \
                     REBUCKET_ADMIN_URL or --admin-url names it)",
                    self.base,
                    root_cause(&e)
                )
            })?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the admin API's answer: {}", root_cause(&e)))?
            .to_bytes();
        if status == http::StatusCode::UNAUTHORIZED {
            return Err(format!(
                "the admin API at {} refused the token (401 Unauthorized); the token came from {} \
                 and must equal the gateway's (its REBUCKET_ADMIN_TOKEN, admin_token_file or \
                 <data-dir>/admin-token)",
                self.base, self.token_source
            ));
        }
        let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
            return Err(format!(
                "{} answered {status} with something other than the admin API's JSON; \
                 is that the admin listener (--admin-listen) and not the S3 one?",
                self.base
            ));
        };
        if status.is_success() {
            Ok(value)
        } else {
            Err(one_line(
                &value
                    .get("error")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| value.to_string()),
            ))
        }
    }
}

/// The innermost error of a chain (`Connection refused (os error 111)` rather than
/// `client error (Connect)`), on one line.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    one_line(&inner.to_string())
}

/// Collapses line breaks so every message is one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn root_cause_is_the_innermost_error_on_one_line() {
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused\n(os error 111)",
        ));
        assert_eq!(root_cause(&e), "Connection refused (os error 111)");
    }

    #[test]
    fn admin_url_must_be_http() {
        let args = |url: &str| AdminArgs {
            admin_url: url.into(),
            admin_token: Some("t".into()),
            data_dir: "/nonexistent".into(),
            json: false,
        };
        assert!(AdminClient::new(&args("localhost:8081")).is_err());
        assert!(AdminClient::new(&args("https://gw:8081")).is_err());
        assert!(AdminClient::new(&args("http://127.0.0.1:8081/")).is_ok());
    }
}
