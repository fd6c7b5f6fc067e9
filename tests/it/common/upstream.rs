//! Upstreams on loopback: s3s-fs servers that check signatures, and canned HTTP servers that
//! are no S3 servers.

use std::convert::Infallible;
use std::net::SocketAddr;

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

use super::{GwOpts, KEYS_A, TestGateway, collect, err_parts, s3_client};

/// Serves `svc` over HTTP/1 and HTTP/2 on a free 127.0.0.1 port until the task is aborted.
async fn serve_on_loopback<S, B>(svc: S) -> (SocketAddr, tokio::task::JoinHandle<()>)
where
    S: hyper::service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let _ = socket.set_nodelay(true);
            let svc = svc.clone();
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(socket), svc)
                    .await;
            });
        }
    });
    (addr, task)
}

/// An s3s-fs server on 127.0.0.1 that accepts only `keys` (or, from [`Upstream::start_open`],
/// unsigned requests too).
pub struct Upstream {
    pub addr: SocketAddr,
    pub endpoint: String,
    pub dir: tempfile::TempDir,
    pub keys: Vec<(String, String)>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    pub async fn start(keys: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs = s3s_fs::FileSystem::new(dir.path()).expect("s3s-fs");
        let mut b = S3ServiceBuilder::new(fs);
        let mut auth = SimpleAuth::new();
        for (ak, sk) in keys {
            auth.register((*ak).to_owned(), (*sk).into());
        }
        b.set_auth(auth);
        let (addr, task) = serve_on_loopback(b.build()).await;
        Self {
            addr,
            endpoint: format!("http://{addr}"),
            dir,
            keys: keys
                .iter()
                .map(|(a, s)| ((*a).to_owned(), (*s).to_owned()))
                .collect(),
            task,
        }
    }

    /// An s3s-fs server on 127.0.0.1 whose buckets are open to unsigned requests, as far as
    /// `open` says: [`OpenTo::Reads`] (signed requests need one of `keys`; unsigned ones may
    /// only GET, HEAD and list, as a public-read bucket policy allows) or [`OpenTo::All`]
    /// (unsigned requests may do anything; signed ones still need one of `keys`).
    pub async fn start_open(keys: &[(&str, &str)], open: OpenTo) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs = s3s_fs::FileSystem::new(dir.path()).expect("s3s-fs");
        let mut b = S3ServiceBuilder::new(fs);
        let mut auth = SimpleAuth::new();
        for (ak, sk) in keys {
            auth.register((*ak).to_owned(), (*sk).into());
        }
        b.set_auth(auth);
        b.set_access(Unsigned(open));
        let (addr, task) = serve_on_loopback(b.build()).await;
        Self {
            addr,
            endpoint: format!("http://{addr}"),
            dir,
            keys: keys
                .iter()
                .map(|(a, s)| ((*a).to_owned(), (*s).to_owned()))
                .collect(),
            task,
        }
    }

    /// A client signing with the upstream's first key pair.
    pub fn client(&self) -> aws_sdk_s3::Client {
        s3_client(&self.endpoint, &self.keys[0].0, &self.keys[0].1)
    }

    pub async fn create_bucket(&self, bucket: &str) {
        self.client()
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create {bucket} on {}: {e:?}", self.endpoint));
    }

    pub async fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        self.client()
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {bucket}/{key} on {}: {e:?}", self.endpoint));
    }

    /// The object's bytes, or `None` when the upstream has no such key.
    pub async fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        match self
            .client()
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Some(collect(out.body).await),
            Err(e) if err_parts(&e).1 == "NoSuchKey" => None,
            Err(e) => panic!("get {bucket}/{key} on {}: {e:?}", self.endpoint),
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What an [`Upstream::start_open`] lets unsigned callers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenTo {
    /// GET, HEAD and list (a public-read bucket).
    Reads,
    /// Everything.
    All,
}

/// The access check of an [`Upstream::start_open`]: signed requests may do anything (s3s has
/// checked their signature), unsigned ones what the [`OpenTo`] says.
struct Unsigned(OpenTo);

#[async_trait::async_trait]
impl s3s::access::S3Access for Unsigned {
    async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> s3s::S3Result<()> {
        let reads = [
            "GetObject",
            "HeadObject",
            "HeadBucket",
            "ListObjects",
            "ListObjectsV2",
        ];
        if cx.credentials().is_some() || self.0 == OpenTo::All || reads.contains(&cx.s3_op().name())
        {
            Ok(())
        } else {
            Err(s3s::s3_error!(AccessDenied, "Access Denied"))
        }
    }
}

/// A canned answer of a [`CannedUpstream`].
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// Sent with `Transfer-Encoding: chunked` rather than a `Content-Length`.
    pub chunked: bool,
}

impl Canned {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            chunked: false,
        }
    }

    /// The body sent chunked (HTTP/1.1), as some servers send their larger listings.
    pub fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// A plain HTTP server on 127.0.0.1 that is no S3 server: it answers what `answer` says for a
/// request's method and path-and-query, as a proxy in front of an S3 endpoint might (5xx pages,
/// unreadable bodies), or as an S3-compatible server whose XML the SDK would refuse unmended.
/// What real S3 servers answer is tested against real ones.
pub struct CannedUpstream {
    pub endpoint: String,
    task: tokio::task::JoinHandle<()>,
}

impl CannedUpstream {
    pub async fn start(answer: fn(&str, &str) -> Canned) -> Self {
        let svc = hyper::service::service_fn(
            move |req: http::Request<hyper::body::Incoming>| async move {
                let method = req.method().to_string();
                let target = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.to_string())
                    .unwrap_or_default();
                let _ = req.into_body().collect().await;
                let c = answer(&method, &target);
                let mut resp = http::Response::builder().status(c.status);
                for (k, v) in &c.headers {
                    resp = resp.header(*k, v.as_str());
                }
                let body = Bytes::from(c.body);
                // A body of unknown length goes out chunked.
                let body = if c.chunked {
                    Either::Right(StreamBody::new(futures::stream::once(async move {
                        Ok::<_, Infallible>(Frame::data(body))
                    })))
                } else {
                    Either::Left(Full::new(body))
                };
                Ok::<_, Infallible>(resp.body(body).expect("response"))
            },
        );
        let (addr, task) = serve_on_loopback(svc).await;
        Self {
            endpoint: format!("http://{addr}"),
            task,
        }
    }

    /// A gateway in front of this upstream (S3_ENDPOINT + env keys).
    pub async fn gateway(&self) -> TestGateway {
        TestGateway::start(GwOpts {
            s3_endpoint: Some(self.endpoint.clone()),
            aws_keys: Some((KEYS_A.0.to_owned(), KEYS_A.1.to_owned())),
            ..GwOpts::default()
        })
        .await
    }
}

impl Drop for CannedUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An endpoint where nothing listens (a listener bound, then dropped).
pub async fn closed_endpoint() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}
