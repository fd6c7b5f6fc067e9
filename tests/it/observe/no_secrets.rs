//! No secret in any output: the real `rebucket serve` binary, at `RUST_LOG=trace`, at trace
//! with every noisy library named target by target, and at the default filter, serves a day's
//! worth of S3 traffic (SSE-C, presigned URLs, multipart, copies, bad signatures, unknown keys,
//! errors), admin calls and CLI verbs; then every line of its log, every CLI output and every
//! answer is searched for the test's secrets: the upstream secret key and session token, the
//! front secret key, the admin token, the SSE-C customer key (raw and base64) and each
//! signature that was sent (front and upstream, header and presigned), and none is found.
//!
//! `profiles dump` is left out: it prints the AWS files' secrets by design (see the README's
//! security model).

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use aws_smithy_types::retry::RetryConfig;
use hyper_util::rt::{TokioExecutor, TokioIo};
use md5::{Digest, Md5};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

use crate::common::*;

const SESSION_TOKEN: &str = "upstreamSessionTokenIQoJb3JpZ2luX2VjEJr0123456789abcdefXYZ";
const SSE_C_KEY: &[u8; 32] = b"sseCustomerKey0123456789abcdefXY";
const WRONG_SECRET: &str = "wrongFrontSecret0123456789abcdefghijklmnop";
const BUCKET: &str = "leaky";

/// Signatures seen on the wire, front and upstream: each is a secret of its request.
#[derive(Debug, Clone, Default)]
struct Signatures(Arc<Mutex<Vec<String>>>);

impl Signatures {
    /// Records the `Signature=` of an `Authorization` header and an `X-Amz-Signature` query
    /// parameter.
    fn record(&self, authorization: Option<&str>, uri: &str) {
        let mut found = Vec::new();
        if let Some(sig) = authorization.and_then(|a| a.split("Signature=").nth(1)) {
            found.push(sig.trim().to_owned());
        }
        if let Some(sig) = uri.split("X-Amz-Signature=").nth(1) {
            found.push(sig.split('&').next().unwrap_or("").to_owned());
        }
        self.0
            .lock()
            .unwrap()
            .extend(found.into_iter().filter(|s| s.len() >= 32));
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl Intercept for Signatures {
    fn name(&self) -> &'static str {
        "RecordSignatures"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = ctx.request();
        self.record(req.headers().get("authorization"), req.uri());
        Ok(())
    }
}

/// An s3s-fs upstream accepting `KEYS_A` that records the signature of every request it gets.
async fn recording_upstream(sigs: Signatures) -> (SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut b = S3ServiceBuilder::new(s3s_fs::FileSystem::new(dir.path()).unwrap());
    let mut auth = SimpleAuth::new();
    auth.register(KEYS_A.0.to_owned(), KEYS_A.1.into());
    b.set_auth(auth);
    let s3 = b.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let (s3, sigs) = (s3.clone(), sigs.clone());
            let svc =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    sigs.record(
                        req.headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok()),
                        &req.uri().to_string(),
                    );
                    hyper::service::Service::call(&s3, req)
                });
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(socket), svc)
                    .await;
            });
        }
    });
    (addr, dir)
}

/// What a run wrote and answered, by where it came from.
#[derive(Default)]
struct Outputs(Vec<(String, String)>);

impl Outputs {
    fn add(&mut self, source: impl Into<String>, text: impl Into<String>) {
        self.0.push((source.into(), text.into()));
    }
}

/// A `rebucket serve` child on loopback ports; its stderr and stdout go to files.
struct Serve {
    child: tokio::process::Child,
    s3: String,
    admin: String,
    log: std::path::PathBuf,
    out: std::path::PathBuf,
}

/// The environment every `rebucket` the test runs gets: its AWS files (profile `up`, with a
/// session token), the upstream, the keys and the token.
fn env_of(home: &std::path::Path, upstream: SocketAddr) -> Vec<(String, String)> {
    let aws = home.join("aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("config"),
        "[profile up]\nregion = us-east-1\ns3 =\n  addressing_style = path\n",
    )
    .unwrap();
    std::fs::write(
        aws.join("credentials"),
        format!(
            "[up]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {SESSION_TOKEN}\n",
            KEYS_A.0, KEYS_A.1
        ),
    )
    .unwrap();
    [
        ("HOME", home.display().to_string()),
        ("AWS_CONFIG_FILE", aws.join("config").display().to_string()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            aws.join("credentials").display().to_string(),
        ),
        ("AWS_PROFILE", "up".to_owned()),
        ("S3_ENDPOINT", format!("http://{upstream}")),
        ("REBUCKET_ACCESS_KEY", FRONT_AK.to_owned()),
        ("REBUCKET_SECRET_KEY", FRONT_SK.to_owned()),
        ("REBUCKET_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn rebucket(env: &[(String, String)], rust_log: Option<&str>) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_rebucket"));
    c.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    if let Some(filter) = rust_log {
        c.env("RUST_LOG", filter);
    }
    c.stdin(Stdio::null());
    c
}

impl Serve {
    async fn start(
        home: &std::path::Path,
        env: &[(String, String)],
        rust_log: Option<&str>,
        json: bool,
    ) -> Self {
        let (s3, admin) = (free_port(), free_port());
        let log = home.join("serve.log");
        let out = home.join("serve.out");
        let mut cmd = rebucket(env, rust_log);
        cmd.arg("serve")
            .args(["--listen", &format!("127.0.0.1:{s3}")])
            .args(["--admin-listen", &format!("127.0.0.1:{admin}")])
            .arg("--data-dir")
            .arg(home.join("data"))
            .args(["--log-format", if json { "json" } else { "text" }])
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true);
        let child = cmd.spawn().expect("start rebucket serve");
        let serve = Self {
            child,
            s3: format!("http://127.0.0.1:{s3}"),
            admin: format!("http://127.0.0.1:{admin}"),
            log,
            out,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = tokio::net::TcpStream::connect(("127.0.0.1", admin))
                .await
                .is_ok()
                && tokio::net::TcpStream::connect(("127.0.0.1", s3))
                    .await
                    .is_ok();
            if up {
                break;
            }
            assert!(Instant::now() < deadline, "rebucket serve did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        serve
    }

    async fn stop(mut self, outputs: &mut Outputs, run: &str) {
        let _ = self.child.kill().await;
        outputs.add(
            format!("{run}: serve stderr"),
            std::fs::read_to_string(&self.log).unwrap(),
        );
        outputs.add(
            format!("{run}: serve stdout"),
            std::fs::read_to_string(&self.out).unwrap(),
        );
    }
}

fn client(endpoint: &str, ak: &str, sk: &str, sigs: &Signatures) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(ak, sk, None, None, "no-secrets"))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .interceptor(sigs.clone())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// S3 traffic through the front: every kind of request that carries a secret, and errors.
async fn s3_traffic(serve: &Serve, sigs: &Signatures, outputs: &mut Outputs, run: &str) {
    let c = client(&serve.s3, FRONT_AK, FRONT_SK, sigs);
    let key_b64 = aws_smithy_types::base64::encode(SSE_C_KEY);
    let key_md5 = aws_smithy_types::base64::encode(Md5::digest(SSE_C_KEY));

    let _ = c.create_bucket().bucket(BUCKET).send().await;
    c.put_object()
        .bucket(BUCKET)
        .key("plain.txt")
        .body(ByteStream::from_static(b"plain"))
        .send()
        .await
        .expect("put through rebucket");
    let got = c
        .get_object()
        .bucket(BUCKET)
        .key("plain.txt")
        .send()
        .await
        .expect("get");
    assert_eq!(collect(got.body).await, b"plain");
    let _ = c.head_object().bucket(BUCKET).key("plain.txt").send().await;
    let _ = c.list_objects_v2().bucket(BUCKET).send().await;
    let _ = c.list_buckets().send().await;
    let _ = c
        .copy_object()
        .bucket(BUCKET)
        .key("copy.txt")
        .copy_source(format!("{BUCKET}/plain.txt"))
        .send()
        .await;
    // SSE-C: the customer key travels in headers, both ways to the upstream.
    let _ = c
        .put_object()
        .bucket(BUCKET)
        .key("ssec.txt")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key_b64)
        .sse_customer_key_md5(&key_md5)
        .body(ByteStream::from_static(b"secret body"))
        .send()
        .await;
    let _ = c
        .get_object()
        .bucket(BUCKET)
        .key("ssec.txt")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key_b64)
        .sse_customer_key_md5(&key_md5)
        .send()
        .await;
    // Multipart.
    if let Ok(mpu) = c
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("parts.bin")
        .send()
        .await
    {
        let id = mpu.upload_id().unwrap_or_default().to_owned();
        let part = c
            .upload_part()
            .bucket(BUCKET)
            .key("parts.bin")
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from(vec![7u8; 1000]))
            .send()
            .await;
        if let Ok(part) = part {
            let _ = c
                .complete_multipart_upload()
                .bucket(BUCKET)
                .key("parts.bin")
                .upload_id(&id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .parts(
                            CompletedPart::builder()
                                .part_number(1)
                                .e_tag(part.e_tag().unwrap_or_default())
                                .build(),
                        )
                        .build(),
                )
                .send()
                .await;
        }
    }
    let _ = c
        .delete_objects()
        .bucket(BUCKET)
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key("copy.txt").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await;
    // Errors: a missing key, a missing bucket, a wrong secret, an unknown access key.
    let _ = c.get_object().bucket(BUCKET).key("missing").send().await;
    let _ = c.head_bucket().bucket("no-such-bucket-here").send().await;
    let wrong = client(&serve.s3, FRONT_AK, WRONG_SECRET, sigs);
    let e = wrong
        .list_buckets()
        .send()
        .await
        .expect_err("a wrong secret");
    assert_eq!(err_parts(&e).1, "SignatureDoesNotMatch");
    let unknown = client(&serve.s3, "AKIAUNKNOWNUNKNOWN00", WRONG_SECRET, sigs);
    assert!(unknown.list_buckets().send().await.is_err());

    // Presigned URLs: the signature is in the query string; a broken one too; one with SSE-C.
    let presign = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let get = c
        .get_object()
        .bucket(BUCKET)
        .key("plain.txt")
        .presigned(presign.clone())
        .await
        .unwrap();
    let ssec = c
        .get_object()
        .bucket(BUCKET)
        .key("ssec.txt")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key_b64)
        .sse_customer_key_md5(&key_md5)
        .presigned(presign.clone())
        .await
        .unwrap();
    let put = c
        .put_object()
        .bucket(BUCKET)
        .key("presigned.txt")
        .presigned(presign)
        .await
        .unwrap();
    let mut calls = Vec::new();
    for (method, req) in [("GET", &get), ("GET", &ssec), ("PUT", &put)] {
        sigs.record(None, req.uri());
        let headers: Vec<(String, String)> = req
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        calls.push((method, req.uri().to_owned(), headers));
    }
    let (m, uri, h) = calls[0].clone();
    let broken = uri.replace("X-Amz-Signature=", "X-Amz-Signature=0");
    calls.push((m, broken, h));
    for (method, uri, headers) in calls {
        let body = if method == "PUT" {
            b"p".to_vec()
        } else {
            Vec::new()
        };
        let (status, resp_headers, body) = http_call(method, &uri, &headers, body).await;
        outputs.add(
            format!("{run}: presigned {method} answer"),
            format!(
                "{status} {resp_headers:?} {}",
                String::from_utf8_lossy(&body)
            ),
        );
    }
}

/// Admin API calls, with the token and without.
async fn admin_traffic(serve: &Serve, outputs: &mut Outputs, run: &str) {
    let addr: SocketAddr = serve.admin.trim_start_matches("http://").parse().unwrap();
    for (method, path) in [
        ("GET", "/v1/buckets"),
        ("GET", "/v1/buckets/leaky"),
        ("GET", "/v1/profiles"),
        ("POST", "/v1/reload-creds"),
        ("GET", "/v1/buckets/no-such"),
    ] {
        let a = admin_call(addr, Some(ADMIN_TOKEN), method, path, None).await;
        outputs.add(format!("{run}: admin {method} {path}"), a.text);
    }
    let a = admin_call(addr, Some("not-the-token"), "GET", "/v1/buckets", None).await;
    assert_eq!(a.status, 401);
    outputs.add(format!("{run}: admin with a wrong token"), a.text);
    for path in ["/metrics", "/readyz", "/healthz"] {
        let (_, _, body) = http_call("GET", &format!("{}{path}", serve.admin), &[], vec![]).await;
        outputs.add(
            format!("{run}: admin {path}"),
            String::from_utf8_lossy(&body).into_owned(),
        );
    }
}

/// The CLI verbs an operator runs, at the run's log filter.
async fn cli_traffic(
    serve: &Serve,
    env: &[(String, String)],
    rust_log: Option<&str>,
    outputs: &mut Outputs,
    run: &str,
) {
    let verbs: &[&[&str]] = &[
        &["show", "bucket", "s3://leaky"],
        &["bucket", "show", "s3://leaky"],
        &["bucket", "props", "set", "s3://leaky", "backend_bck=leaky"],
        &["ls"],
        &["ls", "--json"],
        &["show", "bucket", "s3://leaky", "--json"],
        &["profiles", "list"],
        &["profiles", "show", "up"],
        &["reload-creds"],
    ];
    for verb in verbs {
        let o = rebucket(env, rust_log)
            .args(*verb)
            .env("REBUCKET_ADMIN_URL", &serve.admin)
            .output()
            .await
            .expect("run rebucket");
        let name = format!("{run}: rebucket {}", verb.join(" "));
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        outputs.add(
            format!("{name} (stdout)"),
            String::from_utf8_lossy(&o.stdout),
        );
        outputs.add(
            format!("{name} (stderr)"),
            String::from_utf8_lossy(&o.stderr),
        );
    }
}

/// Every log filter an operator might set to see more: everything at trace, and the
/// libraries that see requests (the S3 front, the SDK, the signer, HTTP, TLS) each named down
/// to the module that prints requests.
const FILTERS: &[(&str, Option<&str>, bool)] = &[
    ("RUST_LOG=trace", Some("trace"), false),
    (
        "RUST_LOG=trace, per target",
        Some(
            "trace,s3s=trace,s3s::ops=trace,s3s::service=trace,s3s::http=trace,\
             s3s_aws=trace,aws_smithy_runtime=trace,\
             aws_smithy_runtime::client::orchestrator=trace,\
             aws_smithy_runtime::client::http=trace,aws_smithy_runtime_api=trace,\
             aws_sigv4=trace,aws_sigv4::http_request=trace,aws_sigv4::http_request::sign=trace,\
             aws_config=trace,aws_smithy_http_client=trace,hyper=trace,hyper::proto::h1=trace,\
             hyper_util=trace,h2=trace,rustls=trace,tower=trace",
        ),
        true,
    ),
    ("the default filter", None, false),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_cli_output_or_answer_shows_a_secret_even_at_trace() {
    let _g = light().await;
    let sigs = Signatures::default();
    let (upstream, _dir) = recording_upstream(sigs.clone()).await;
    let mut outputs = Outputs::default();
    for &(run, rust_log, json) in FILTERS {
        let home = tempfile::tempdir().unwrap();
        let env = env_of(home.path(), upstream);
        let serve = Serve::start(home.path(), &env, rust_log, json).await;
        s3_traffic(&serve, &sigs, &mut outputs, run).await;
        admin_traffic(&serve, &mut outputs, run).await;
        cli_traffic(&serve, &env, rust_log, &mut outputs, run).await;
        serve.stop(&mut outputs, run).await;
    }

    // The test saw what it looks for: signatures both sides, a log that is not empty, and at
    // trace more than the request lines.
    let signatures = sigs.all();
    assert!(
        signatures.len() > 40,
        "{} signatures seen",
        signatures.len()
    );
    let trace_log = &outputs
        .0
        .iter()
        .find(|(s, _)| s == "RUST_LOG=trace: serve stderr")
        .unwrap()
        .1;
    assert!(trace_log.contains("rebucket::request"), "{trace_log}");
    assert!(
        trace_log.contains(" DEBUG ") || trace_log.contains(" TRACE "),
        "nothing below info at RUST_LOG=trace: {trace_log}"
    );

    let mut secrets: Vec<(String, String)> = vec![
        ("the upstream secret key".into(), KEYS_A.1.into()),
        ("the upstream session token".into(), SESSION_TOKEN.into()),
        ("the front secret key".into(), FRONT_SK.into()),
        ("a wrong front secret key".into(), WRONG_SECRET.into()),
        ("the admin token".into(), ADMIN_TOKEN.into()),
        (
            "the SSE-C key".into(),
            String::from_utf8(SSE_C_KEY.to_vec()).unwrap(),
        ),
        (
            "the SSE-C key, base64".into(),
            aws_smithy_types::base64::encode(SSE_C_KEY),
        ),
    ];
    secrets.extend(
        signatures
            .into_iter()
            .map(|s| (format!("the signature {s}"), s)),
    );
    let mut leaks = Vec::new();
    for (source, text) in &outputs.0 {
        for line in text.lines() {
            for (what, secret) in &secrets {
                if line.contains(secret.as_str()) {
                    // A JSON log line names its target; a text line has it after the level.
                    let target = line
                        .split("\"target\":\"")
                        .nth(1)
                        .and_then(|t| t.split('"').next())
                        .unwrap_or("");
                    let shown = &line[..line.floor_char_boundary(300)];
                    leaks.push(format!("{what} in {source} [{target}]: {shown}"));
                }
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}
