//! Operating rebucket: the Prometheus metrics after known traffic, the health endpoints,
//! rebucket's request ids on answers, in error bodies and in the log line, and no secret in
//! any log line, CLI output or answer, at `RUST_LOG=trace` too.

mod health;
mod metrics;
mod no_secrets;
mod request_ids;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::*;

/// The samples of a `/metrics` scrape: `name{labels}` → value.
#[derive(Debug)]
pub struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    /// The value of `series` (`name{label="v",...}` as the text writes it), 0 if absent.
    pub fn get(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }

    /// How much `series` moved since `before`.
    pub fn moved(&self, before: &Scrape, series: &str) -> f64 {
        self.get(series) - before.get(series)
    }
}

/// Scrapes `/metrics` on the gateway's admin listener, without a token.
pub async fn scrape(gw: &TestGateway) -> Scrape {
    let (status, headers, body) = http_call(
        "GET",
        &format!("http://{}/metrics", gw.admin_addr()),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{headers:?}"
    );
    let text = String::from_utf8(body.to_vec()).expect("utf-8");
    let mut samples = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        samples.insert(series.to_owned(), value.parse().expect("sample value"));
    }
    Scrape(samples)
}

// Log capture: one global subscriber for the test binary, writing the gateway's per-request
// lines as JSON (as `serve --log-format json` does) into a buffer while a test captures.
// Lines are found by request id, so tests running at the same time do not disturb each other.

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static CAPTURING: AtomicUsize = AtomicUsize::new(0);

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if CAPTURING.load(Ordering::SeqCst) > 0 {
            let line = String::from_utf8_lossy(buf).trim_end().to_owned();
            LINES.lock().unwrap().push(line);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the gateway's request log lines until dropped.
pub struct LogCapture;

impl LogCapture {
    pub fn start() -> Self {
        static INIT: std::sync::Once = std::sync::Once::new();
        INIT.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("rebucket::request=info"))
                .json()
                .flatten_event(true)
                .with_writer(|| Capture)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        });
        CAPTURING.fetch_add(1, Ordering::SeqCst);
        LogCapture
    }

    /// The request log line with `request_id`, waiting briefly for it to be written.
    pub async fn line(&self, request_id: &str) -> serde_json::Value {
        for _ in 0..100 {
            let found = LINES.lock().unwrap().iter().find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                (v["request_id"] == request_id).then_some(v)
            });
            if let Some(v) = found {
                return v;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no log line with request_id {request_id}");
    }
}

impl Drop for LogCapture {
    fn drop(&mut self) {
        CAPTURING.fetch_sub(1, Ordering::SeqCst);
    }
}
