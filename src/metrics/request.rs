//! One request's context, from the front's HTTP layer down to the upstream calls: the id
//! rebucket gives it ([`RequestId`], sent as `x-amz-request-id`, written into error bodies and
//! the log line), the S3 operation once s3s has resolved it, and the time spent waiting for
//! upstreams with the upstream's own request id. The layer runs the request inside [`scope`];
//! code deeper down records into it with the free functions here, which do nothing outside a
//! request (background look-ups).
//!
//! The context lives in a task-local slot: s3s, the gateway and the SDK's interceptors run in
//! the task that awaits the request, so the slot needs no lock and no allocation.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::OnceLock;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::HeaderValue;

tokio::task_local! {
    static CURRENT: Context;
}

/// An id of rebucket's: 16 upper-case hex digits, like S3's, from a per-process random prefix
/// and a counter — unique per process, cheap, and no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId([u8; 16]);

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn process_prefix() -> u64 {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    // The top 24 bits are random per process; the counter takes the low 40.
    *PREFIX.get_or_init(|| rand::random::<u64>() & !((1 << 40) - 1))
}

impl RequestId {
    /// The next id of this process.
    pub fn next() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed) & ((1 << 40) - 1);
        let v = process_prefix() | n;
        let mut out = [0u8; 16];
        for (i, b) in out.iter_mut().enumerate() {
            *b = HEX[((v >> (60 - 4 * i)) & 0xF) as usize];
        }
        Self(out)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The id as a header value (`x-amz-request-id`).
    pub fn header_value(&self) -> HeaderValue {
        HeaderValue::from_bytes(&self.0).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The `x-amz-id-2` that goes with the id: a random id of this process and the request's
    /// id, so an operator can tell which gateway process answered.
    pub fn id_2_value(&self) -> HeaderValue {
        static HOST: OnceLock<u64> = OnceLock::new();
        let host = *HOST.get_or_init(rand::random::<u64>);
        let mut out = [0u8; 33];
        for (i, b) in out[..16].iter_mut().enumerate() {
            *b = HEX[((host >> (60 - 4 * i)) & 0xF) as usize];
        }
        out[16] = b'/';
        out[17..].copy_from_slice(&self.0);
        HeaderValue::from_bytes(&out).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a request recorded while it ran.
#[derive(Debug, Default)]
pub struct Summary {
    /// The S3 operation, if it was resolved.
    pub operation: Option<&'static str>,
    /// Time spent waiting for upstream answers, if the request called an upstream.
    pub upstream: Option<Duration>,
    /// The upstream's `x-amz-request-id` of the last upstream answer.
    pub upstream_id: Option<HeaderValue>,
}

struct Context {
    id: RequestId,
    operation: Cell<Option<&'static str>>,
    upstream: Cell<Option<Duration>>,
    upstream_id: RefCell<Option<HeaderValue>>,
}

/// Runs `fut` as the request `id`; returns its output and what it recorded.
pub async fn scope<F: Future>(id: RequestId, fut: F) -> (F::Output, Summary) {
    let cx = Context {
        id,
        operation: Cell::new(None),
        upstream: Cell::new(None),
        upstream_id: RefCell::new(None),
    };
    CURRENT
        .scope(cx, async move {
            let out = fut.await;
            let summary = CURRENT.with(|cx| Summary {
                operation: cx.operation.get(),
                upstream: cx.upstream.get(),
                upstream_id: cx.upstream_id.take(),
            });
            (out, summary)
        })
        .await
}

/// The id of the request being answered, if any.
pub fn id() -> Option<RequestId> {
    CURRENT.try_with(|cx| cx.id).ok()
}

/// Records the S3 operation of the request being answered.
pub fn set_operation(name: &'static str) {
    let _ = CURRENT.try_with(|cx| cx.operation.set(Some(name)));
}

/// Records the S3 operation of the request being answered from a name s3s lends (its
/// `S3Operation::name` is a `&str` tied to the request). Names are kept once for the process;
/// s3s has a fixed set of them, so the set stays small.
pub fn set_operation_named(name: &str) {
    static NAMES: RwLock<BTreeSet<&'static str>> = RwLock::new(BTreeSet::new());
    let known = NAMES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(name)
        .copied();
    let name = known.unwrap_or_else(|| {
        let mut names = NAMES.write().unwrap_or_else(|e| e.into_inner());
        match names.get(name) {
            Some(n) => *n,
            None => {
                let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
                names.insert(leaked);
                leaked
            }
        }
    });
    set_operation(name);
}

/// Whether the request being answered has called an upstream so far.
pub fn upstream_called() -> bool {
    CURRENT
        .try_with(|cx| cx.upstream.get().is_some())
        .unwrap_or(false)
}

/// Records one upstream call of the request being answered: how long it waited for the
/// answer and the upstream's request id, if it sent one.
pub fn record_upstream(elapsed: Duration, upstream_id: Option<&HeaderValue>) {
    let _ = CURRENT.try_with(|cx| {
        cx.upstream
            .set(Some(cx.upstream.get().unwrap_or_default() + elapsed));
        if let Some(v) = upstream_id {
            *cx.upstream_id.borrow_mut() = Some(v.clone());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_16_hex_digits_and_differ() {
        let a = RequestId::next();
        let b = RequestId::next();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 16);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(&a.as_str()[..6], &b.as_str()[..6]);
        let id2 = a.id_2_value();
        assert!(id2.to_str().unwrap().ends_with(a.as_str()));
    }

    #[tokio::test]
    async fn a_scope_collects_what_the_request_recorded() {
        let id = RequestId::next();
        let ((), s) = scope(id, async {
            assert_eq!(super::id(), Some(id));
            set_operation("GetObject");
            record_upstream(Duration::from_millis(2), None);
            record_upstream(
                Duration::from_millis(3),
                Some(&HeaderValue::from_static("UP1")),
            );
        })
        .await;
        assert_eq!(s.operation, Some("GetObject"));
        assert_eq!(s.upstream, Some(Duration::from_millis(5)));
        assert_eq!(s.upstream_id.unwrap(), "UP1");
        assert_eq!(super::id(), None);
    }
}
