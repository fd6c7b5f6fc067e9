//! Compares rebucket with its upstream reached directly, in one run, and prints the ratio.
//!
//! The upstream is an s3s-fs store served in-process (TCP_NODELAY on); the gateway is rebucket
//! in front of it; the clients are aws-sdk-s3. Everything shares this machine's cores, so the
//! absolute numbers are modest; the ratio is what to watch.
//!
//! `cargo bench --bench gateway` (env `BENCH_SECS` per phase, default 5; `BENCH_MIB`, default 64;
//! `BENCH_ROUNDS` large PUT+GET rounds, default 5, medians compared).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use rebucket::config::{ServeArgs, ServeConfig, User};
use rebucket::profiles::ProfileEnv;

fn client(endpoint: &str, ak: &str, sk: &str) -> Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(ak, sk, None, None, "bench"))
        .build();
    Client::from_conf(conf)
}

/// Small GETs from `concurrency` tasks for `secs`; returns requests per second.
async fn small_gets(c: &Client, bucket: &str, concurrency: usize, secs: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (c, done, bucket) = (c.clone(), done.clone(), bucket.to_owned());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let out = c
                    .get_object()
                    .bucket(&bucket)
                    .key("small")
                    .send()
                    .await
                    .expect("get small");
                let body = out.body.collect().await.expect("read small").into_bytes();
                assert_eq!(body.len(), 4096);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    done.load(Ordering::Relaxed) as f64 / secs as f64
}

/// PUT then GET of a `mib` MiB file; returns (put MiB/s, get MiB/s).
async fn large(c: &Client, bucket: &str, path: &std::path::Path, mib: u64) -> (f64, f64) {
    let t = Instant::now();
    c.put_object()
        .bucket(bucket)
        .key("large")
        .body(ByteStream::from_path(path).await.expect("file"))
        .send()
        .await
        .expect("put large");
    let put = mib as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut body = c
        .get_object()
        .bucket(bucket)
        .key("large")
        .send()
        .await
        .expect("get large")
        .body;
    let mut n = 0u64;
    while let Some(chunk) = body.try_next().await.expect("read large") {
        n += chunk.len() as u64;
    }
    assert_eq!(n, mib << 20);
    (put, mib as f64 / t.elapsed().as_secs_f64())
}

/// The median of some samples (the upper one of an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mib: u64 = std::env::var("BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let tmp = tempfile::tempdir().expect("tempdir");
        let keys = User { access_key: "UPSTREAMKEY".into(), secret_key: "upstream-secret".into() };
        let (_stop, stop_rx) = tokio::sync::watch::channel(false);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let upstream = format!("http://{}", listener.local_addr().expect("addr"));
        let store = rebucket::server::serve_store(listener, &tmp.path().join("up"), &keys, stop_rx).expect("store");
        tokio::spawn(store);

        let env: HashMap<String, String> = [
            ("S3_ENDPOINT", upstream.as_str()),
            ("AWS_ACCESS_KEY_ID", "UPSTREAMKEY"),
            ("AWS_SECRET_ACCESS_KEY", "upstream-secret"),
            ("REBUCKET_ACCESS_KEY", "FRONTKEY"),
            ("REBUCKET_SECRET_KEY", "front-secret"),
            ("REBUCKET_ADMIN_TOKEN", "bench-token"),
            ("HOME", tmp.path().to_str().expect("utf-8 path")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let args = ServeArgs {
            listen: "127.0.0.1:0".parse().expect("addr"),
            admin_listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: tmp.path().join("gw"),
            config: None,
            domain: vec![],
            log_format: Default::default(),
            metrics_listen: None,
        };
        let config = ServeConfig::build(args, &env).expect("config");
        let running = rebucket::server::start(config, ProfileEnv { vars: env }).await.expect("start");

        let direct = client(&upstream, "UPSTREAMKEY", "upstream-secret");
        let via = client(&format!("http://{}", running.s3_addr), "FRONTKEY", "front-secret");
        direct.create_bucket().bucket("bench").send().await.expect("create bucket");
        direct
            .put_object()
            .bucket("bench")
            .key("small")
            .body(ByteStream::from(vec![7u8; 4096]))
            .send()
            .await
            .expect("put small");
        let file = tmp.path().join("large.bin");
        std::fs::write(&file, (0..(mib << 20)).map(|i| (i % 251) as u8).collect::<Vec<u8>>()).expect("write");

        println!("rebucket bench: upstream s3s-fs at {upstream}, gateway at {}", running.s3_addr);
        let d = small_gets(&direct, "bench", 16, secs).await;
        let v = small_gets(&via, "bench", 16, secs).await;
        println!("4 KiB GET, 16 concurrent   direct {d:9.0} req/s   via rebucket {v:9.0} req/s   ratio {:.2}", v / d);
        // One large transfer is one noisy sample on shared cores: alternate direct and via
        // for `rounds` rounds and compare the medians.
        let (mut dps, mut dgs, mut vps, mut vgs) = (vec![], vec![], vec![], vec![]);
        for _ in 0..rounds {
            let (p, g) = large(&direct, "bench", &file, mib).await;
            dps.push(p);
            dgs.push(g);
            let (p, g) = large(&via, "bench", &file, mib).await;
            vps.push(p);
            vgs.push(g);
        }
        let (dp, dg, vp, vg) = (median(dps), median(dgs), median(vps), median(vgs));
        println!("(large transfers: median of {rounds} rounds)");
        println!("{mib} MiB PUT               direct {dp:9.1} MiB/s  via rebucket {vp:9.1} MiB/s  ratio {:.2}", vp / dp);
        println!("{mib} MiB GET               direct {dg:9.1} MiB/s  via rebucket {vg:9.1} MiB/s  ratio {:.2}", vg / dg);
        running.stop().await;
    });
}
