//! Hostile input is normal input: property tests (proptest) that feed rebucket generated and
//! mutated input and check that every input gets an answer, never a panic.
//!
//! - `request`: the S3 listener, over raw TCP: captured client requests (the seed corpus in
//!   `fixtures/fuzz/seeds/`) replayed and mutated, then signed again; generated requests
//!   (methods, paths and keys, query strings, headers, XML bodies) signed with SigV4;
//!   aws-chunked bodies (signed chunks, unsigned chunks with trailers) with generated framing;
//!   unsigned garbage.
//! - `admin`: the admin API: methods, paths, tokens and JSON bodies.
//! - `parsers`: the bucket property values, the property model, the registry file and the
//!   config file checker.
//!
//! Bounded time: each suite runs `REBUCKET_FUZZ_CASES` cases (default [`DEFAULT_CASES`], so a
//! plain `cargo test` stays quick; `.ci/run` sets more). Kept corpus: proptest writes each
//! failing case it finds into `tests/proptest-regressions/fuzz/<suite>.txt`, and replays those
//! first on every run; they are committed, and each crash found also became a named test.

mod admin;
mod parsers;
mod request;

use std::net::SocketAddr;
use std::sync::{Mutex, Once};
use std::time::Duration;

use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Cases per suite when `REBUCKET_FUZZ_CASES` is not set.
pub const DEFAULT_CASES: u32 = 48;

/// Cases per suite: `REBUCKET_FUZZ_CASES`, else [`DEFAULT_CASES`]; `scale` multiplies it for the
/// suites whose cases are cheap (pure functions rather than HTTP exchanges).
pub fn cases(scale: u32) -> u32 {
    std::env::var("REBUCKET_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_CASES)
        .saturating_mul(scale)
}

/// The proptest configuration of a suite: [`cases`], failures kept next to the test crate
/// (`tests/proptest-regressions/...`, proptest's default, named here so it stays so), and
/// little shrinking (a case is an HTTP exchange; shrinking a failure must not take minutes).
pub fn config(scale: u32, source_file: &'static str) -> ProptestConfig {
    ProptestConfig {
        cases: cases(scale),
        source_file: Some(source_file),
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        max_shrink_iters: 256,
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    }
}

// Panics: a panic in a task of the gateway is caught by tokio and only drops the connection,
// so a hook records every panic on the threads of the runtimes the suites start (named
// `fuzz-gw-<suite>`); each case asserts that its suite's runtime recorded none.

static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn watch_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("");
            if name.starts_with("fuzz-gw-") {
                PANICS.lock().unwrap().push(format!("{name}: {info}"));
            }
            previous(info);
        }));
    });
}

/// The panics recorded on the runtime of `suite` since the last call (each case sees its own).
pub fn panics_of(suite: &str) -> Vec<String> {
    let prefix = format!("fuzz-gw-{suite}:");
    let mut all = PANICS.lock().unwrap();
    let (mine, others): (Vec<String>, Vec<String>) =
        all.drain(..).partition(|p| p.starts_with(&prefix));
    *all = others;
    mine
}

/// A tokio runtime for the upstream a suite's gateway talks to: apart from the gateway's, so a
/// panic of the upstream (s3s-fs) is not taken for the gateway's.
pub fn upstream_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("fuzz-upstream")
        .enable_all()
        .build()
        .expect("runtime")
}

/// A tokio runtime for a suite's gateway, its threads named for the panic hook.
pub fn runtime(suite: &str) -> tokio::runtime::Runtime {
    watch_panics();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(format!("fuzz-gw-{suite}"))
        .enable_all()
        .build()
        .expect("runtime")
}

/// What came back on a connection.
#[derive(Debug)]
pub struct Answer {
    /// The final (non-1xx) status, `None` when the connection closed without one.
    pub status: Option<u16>,
    /// Everything read, for messages and searches.
    pub raw: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        let shown = &self.raw[..self.raw.len().min(2000)];
        String::from_utf8_lossy(shown).into_owned()
    }
}

/// How long a case may wait for its answer: the suites' gateways time out stalled header
/// blocks and bodies after 1 s, so anything longer is a hang.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(15);

/// Sends `request` on a new connection and reads until the server closes it (the suites send
/// `Connection: close`); `Err` when no close came within [`ANSWER_WITHIN`].
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Result<Answer, String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // The server may answer (and close) before reading everything: a failed write is no
    // failure of the property, the answer read next is what counts.
    let _ = s.write_all(request).await;
    let mut raw = Vec::new();
    let read = tokio::time::timeout(ANSWER_WITHIN, async {
        let mut buf = [0u8; 16384];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    if read.is_err() {
        return Err(format!(
            "no answer and no close within {ANSWER_WITHIN:?}; read so far: {:?}",
            String::from_utf8_lossy(&raw)
        ));
    }
    Ok(Answer {
        status: final_status(&raw),
        raw,
    })
}

/// The status of the first non-1xx answer head in `raw`.
fn final_status(raw: &[u8]) -> Option<u16> {
    let mut rest = raw;
    loop {
        let status: u16 = std::str::from_utf8(rest.get(..12)?)
            .ok()?
            .strip_prefix("HTTP/1.1 ")?
            .parse()
            .ok()?;
        if !(100..200).contains(&status) {
            return Some(status);
        }
        let end = rest.windows(4).position(|w| w == b"\r\n\r\n")?;
        rest = &rest[end + 4..];
    }
}

#[test]
fn final_status_skips_a_100_continue() {
    assert_eq!(
        final_status(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\n\r\n"),
        Some(403)
    );
    assert_eq!(final_status(b"HTTP/1.1 200 OK\r\n\r\n"), Some(200));
    assert_eq!(final_status(b""), None);
    assert_eq!(final_status(b"garbage"), None);
}
