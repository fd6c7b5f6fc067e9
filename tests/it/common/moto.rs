//! A `moto_server` (installed by conformance/setup.sh) for tests that need what s3s-fs does not
//! do: an STS endpoint, or an S3 server that hands out URLs in its answers.
//!
//! Tests that use it are `#[ignore = "needs moto_server ..."]`: a plain `cargo test` leaves them
//! out, and `cargo test -- --include-ignored` (what CI runs) runs them. Started without a
//! `moto_server` on PATH, they fail: they never pass without having run.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `moto_server` started for one test and killed when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    /// Starts a `moto_server` on a free port and waits until it listens; panics if there is no
    /// `moto_server` on PATH.
    pub fn start() -> Moto {
        let on_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join("moto_server").is_file()))
            .unwrap_or(false);
        assert!(
            on_path,
            "this test needs `moto_server` on PATH: run `bash conformance/setup.sh` (it installs \
             it), or leave the test out (it is #[ignore]d, so a plain `cargo test` does)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start listening on {port}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
