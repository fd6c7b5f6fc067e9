//! A small JSON client of the admin API, for the CLI verbs.

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::AdminArgs;

pub struct AdminClient {
    base: String,
    token: String,
}

impl AdminClient {
    /// From flags/env; the token falls back to the one a local gateway generated.
    pub fn new(args: &AdminArgs) -> Result<Self, String> {
        let token = match &args.admin_token {
            Some(t) if !t.trim().is_empty() => t.trim().to_owned(),
            _ => {
                let path = args.data_dir.join("admin-token");
                std::fs::read_to_string(&path).map(|t| t.trim().to_owned()).map_err(|_| {
                    format!(
                        "no admin token: set REBUCKET_ADMIN_TOKEN (or --admin-token); {} is not readable",
                        path.display()
                    )
                })?
            }
        };
        Ok(Self {
            base: args.admin_url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// Calls `method path` with an optional JSON body; an error answer becomes `Err(message)`.
    pub async fn call(
        &self,
        method: http::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
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
        let resp = tokio::time::timeout(std::time::Duration::from_secs(60), client.request(req))
            .await
            .map_err(|_| format!("admin API at {} did not answer within 60 s", self.base))?
            .map_err(|e| {
                format!(
                    "cannot reach the admin API at {} (is `rebucket serve` running?): {e}",
                    self.base
                )
            })?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the admin answer: {e}"))?
            .to_bytes();
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| {
            format!(
                "admin API answered {status} with non-JSON: {}",
                String::from_utf8_lossy(&bytes)
            )
        })?;
        if status.is_success() {
            Ok(value)
        } else {
            Err(value
                .get("error")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| value.to_string()))
        }
    }
}
