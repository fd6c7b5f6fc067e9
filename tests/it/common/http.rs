//! Plain HTTP: the admin API, presigned URLs, anonymous requests, S3 XML errors.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioExecutor;

#[derive(Debug)]
pub struct AdminAnswer {
    pub status: u16,
    pub json: serde_json::Value,
    pub text: String,
}

pub async fn admin_call(
    addr: SocketAddr,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> AdminAnswer {
    let mut headers = Vec::new();
    if let Some(t) = token {
        headers.push(("authorization".to_owned(), format!("Bearer {t}")));
    }
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let (status, _, bytes) =
        http_call(method, &format!("http://{addr}{path}"), &headers, body).await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    AdminAnswer {
        status,
        json: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        text,
    }
}

/// One plain HTTP/1.1 request.
pub async fn http_call(
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> (u16, http::HeaderMap, Bytes) {
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut req = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req.body(Full::new(Bytes::from(body))).expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .expect("HTTP call timed out")
        .expect("HTTP call");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .expect("read body")
        .to_bytes();
    (status, headers, bytes)
}

/// The text of the `<Code>` element of an S3 XML error.
pub fn xml_code(body: &[u8]) -> String {
    xml_element(body, "Code")
}

pub fn xml_element(body: &[u8], name: &str) -> String {
    let text = String::from_utf8_lossy(body);
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    text.split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&close))
        .map(|(v, _)| v.to_owned())
        .unwrap_or_default()
}
