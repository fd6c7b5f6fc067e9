//! The `rebucket` binary as an operator meets it: help texts with examples, shell completions,
//! the config verbs, one-line errors and exit codes when the admin API is unreachable or
//! refuses the token, the `bucket show` alias and what a `props set` that changes nothing says.
//! Runs the built binary (`CARGO_BIN_EXE_rebucket`); the gateway it talks to is a real
//! `rebucket serve` on loopback ports, serving from its embedded store.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "cli-test-admin-token-0123456789";

/// The binary with an empty environment but for `HOME` (an empty directory: no AWS files).
fn rebucket(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rebucket"));
    c.env_clear().env("HOME", home).current_dir(home);
    c
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run rebucket")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Every subcommand path of the CLI, e.g. `["bucket", "props", "set"]`.
fn subcommand_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_owned());
            out.push(path.clone());
            walk(sub, &path, out);
        }
    }
    let mut out = vec![vec![]];
    walk(&rebucket::cli::command(), &[], &mut out);
    out
}

#[test]
fn every_help_shows_an_example() {
    let home = tempfile::tempdir().unwrap();
    let paths = subcommand_paths();
    assert!(paths.len() >= 20, "{paths:?}");
    for path in paths {
        let o = run(rebucket(home.path()).args(&path).arg("--help"));
        assert!(o.status.success(), "{path:?}: {}", stderr(&o));
        assert!(
            stdout(&o).contains("Example"),
            "`rebucket {} --help` has no example:\n{}",
            path.join(" "),
            stdout(&o)
        );
    }
}

#[test]
fn props_help_lists_every_property_and_value() {
    let home = tempfile::tempdir().unwrap();
    for path in [&["bucket", "props", "set"][..], &["bucket", "add"]] {
        let o = run(rebucket(home.path()).args(path).arg("--help"));
        let text = stdout(&o);
        for name in rebucket::registry::PropKey::ALL.map(|k| k.as_str()) {
            assert!(text.contains(name), "{path:?} misses {name}:\n{text}");
        }
        for style in rebucket::registry::AddressingStyle::ALL.map(|s| s.as_str()) {
            assert!(text.contains(style), "{path:?} misses {style}:\n{text}");
        }
        for value in rebucket::registry::Anonymous::ALL.map(|a| a.as_str()) {
            assert!(text.contains(value), "{path:?} misses {value}:\n{text}");
        }
    }
}

#[test]
fn serve_help_lists_the_environment_and_config_keys() {
    let home = tempfile::tempdir().unwrap();
    let text = stdout(&run(rebucket(home.path()).args(["serve", "--help"])));
    for var in [
        "S3_ENDPOINT",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "REBUCKET_ACCESS_KEY",
        "REBUCKET_SECRET_KEY",
        "REBUCKET_ADMIN_TOKEN",
        "RUST_LOG",
        "connect_timeout_ms",
        "[[users]]",
    ] {
        assert!(text.contains(var), "serve --help misses {var}:\n{text}");
    }
}

#[test]
fn profiles_dump_help_warns_about_secrets() {
    let home = tempfile::tempdir().unwrap();
    let text = stdout(&run(
        rebucket(home.path()).args(["profiles", "dump", "--help"])
    ));
    assert!(text.contains("prints secrets"), "{text}");
    let text = stdout(&run(rebucket(home.path()).args(["profiles", "--help"])));
    assert!(text.contains("mask secrets"), "{text}");
}

#[test]
fn completions_for_each_shell() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let o = run(rebucket(home.path()).args(["completions", shell]));
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        assert!(
            script.contains("rebucket") && script.contains("reload-creds"),
            "{shell}"
        );
    }
    let o = run(rebucket(home.path()).args(["completions", "tcsh"]));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["frobnicate"][..],
        &["bucket", "props", "set", "s3://b"],
        &["config", "check"],
        &["serve", "--listen", "not-an-address"],
    ] {
        let o = run(rebucket(home.path()).args(args));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn config_example_passes_config_check() {
    let home = tempfile::tempdir().unwrap();
    let o = run(rebucket(home.path()).args(["config", "example"]));
    assert!(o.status.success());
    let example = home.path().join("rebucket.toml");
    std::fs::write(&example, &o.stdout).unwrap();
    let o = run(rebucket(home.path())
        .args(["config", "check"])
        .arg(&example));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).ends_with(": ok\n"), "{}", stdout(&o));
    assert_eq!(stderr(&o), "");
}

#[test]
fn config_check_names_line_and_column() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("bad.toml");
    std::fs::write(
        &file,
        "allow_anonymous = false\nconnect_timeout_ms = \"3s\"\n",
    )
    .unwrap();
    let o = run(rebucket(home.path()).args(["config", "check"]).arg(&file));
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!("{}:2:22: error: ", file.display())),
        "{err}"
    );

    std::fs::write(&file, "domains = [\"https://s3.example.test\"]\n").unwrap();
    let o = run(rebucket(home.path()).args(["config", "check"]).arg(&file));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(":1:12: error: domain"),
        "{}",
        stderr(&o)
    );

    let o = run(rebucket(home.path())
        .args(["config", "check"])
        .arg(home.path().join("missing.toml")));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn profiles_list_without_aws_files_says_so() {
    let home = tempfile::tempdir().unwrap();
    let o = run(rebucket(home.path()).args(["profiles", "list"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("no AWS config or credentials file"),
        "{}",
        stdout(&o)
    );
    let aws = home.path().join(".aws");
    std::fs::create_dir(&aws).unwrap();
    std::fs::write(aws.join("config"), "# nothing yet\n").unwrap();
    let o = run(rebucket(home.path()).args(["profiles", "list"]));
    assert!(stdout(&o).starts_with("no profiles in"), "{}", stdout(&o));

    // A file that does not parse fails the command, naming file and line.
    std::fs::write(
        aws.join("config"),
        "[profile a]\nregion = x\nno equals sign\n",
    )
    .unwrap();
    let o = run(rebucket(home.path()).args(["profiles", "list"]));
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("config:3:"), "{}", stderr(&o));
}

#[test]
fn unreachable_admin_api_is_one_line_and_exit_1() {
    let home = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let o = run(rebucket(home.path())
        .arg("ls")
        .env("REBUCKET_ADMIN_URL", &url)
        .env("REBUCKET_ADMIN_TOKEN", TOKEN));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("rebucket: cannot reach the admin API at {url}: ")),
        "{err}"
    );
    assert!(err.to_lowercase().contains("refused"), "{err}");

    // No token anywhere: says where it looked.
    let o = run(rebucket(home.path())
        .arg("ls")
        .env("REBUCKET_ADMIN_URL", &url));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("rebucket: no admin token"),
        "{}",
        stderr(&o)
    );

    // Not an http:// URL.
    let o = run(rebucket(home.path())
        .arg("ls")
        .env("REBUCKET_ADMIN_URL", "127.0.0.1:8081")
        .env("REBUCKET_ADMIN_TOKEN", TOKEN));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("expected http://HOST:PORT"),
        "{}",
        stderr(&o)
    );
}

/// A `rebucket serve` on loopback ports with a temporary data dir; killed on drop.
struct Gateway {
    child: Child,
    admin_url: String,
    s3_port: u16,
    home: tempfile::TempDir,
}

impl Gateway {
    fn start() -> Self {
        let home = tempfile::tempdir().unwrap();
        let (s3_port, admin_port) = (free_port(), free_port());
        let child = rebucket(home.path())
            // The flags' environment equivalents: the admin port below is only reachable
            // if REBUCKET_ADMIN_LISTEN was read.
            .arg("serve")
            .env("REBUCKET_DATA_DIR", home.path().join("data"))
            .env("REBUCKET_LISTEN", format!("127.0.0.1:{s3_port}"))
            .env("REBUCKET_ADMIN_LISTEN", format!("127.0.0.1:{admin_port}"))
            .env("REBUCKET_ADMIN_TOKEN", TOKEN)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rebucket serve");
        let gw = Self {
            child,
            admin_url: format!("http://127.0.0.1:{admin_port}"),
            s3_port,
            home,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(admin_port, "/healthz").is_none() {
            assert!(Instant::now() < deadline, "rebucket serve did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        gw
    }

    fn cli(&self, args: &[&str]) -> Output {
        run(rebucket(self.home.path())
            .args(args)
            .env("REBUCKET_ADMIN_URL", &self.admin_url)
            .env("REBUCKET_ADMIN_TOKEN", TOKEN))
    }

    fn port(&self) -> u16 {
        self.admin_url.rsplit(':').next().unwrap().parse().unwrap()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` on loopback: `(status line, body)`, `None` when nothing listens.
fn get(port: u16, path: &str) -> Option<(String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_owned(), body.to_owned()))
}

#[test]
fn against_a_running_gateway() {
    let gw = Gateway::start();

    // Liveness without a token.
    let (status, body) = get(gw.port(), "/healthz").unwrap();
    assert!(status.contains(" 200 "), "{status}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok", "{body}");

    // A wrong token: one line, exit 1, says where the token came from.
    let o = run(rebucket(gw.home.path())
        .arg("ls")
        .env("REBUCKET_ADMIN_URL", &gw.admin_url)
        .env("REBUCKET_ADMIN_TOKEN", "wrong-token"));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("refused the token (401 Unauthorized)"),
        "{err}"
    );
    assert!(err.contains("REBUCKET_ADMIN_TOKEN"), "{err}");

    // The S3 port instead of the admin one: one line, names the likely mix-up.
    let o = run(rebucket(gw.home.path())
        .arg("ls")
        .env(
            "REBUCKET_ADMIN_URL",
            format!("http://127.0.0.1:{}", gw.s3_port),
        )
        .env("REBUCKET_ADMIN_TOKEN", TOKEN));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("admin listener"), "{}", stderr(&o));

    // add, then set a value twice: the second time nothing changes, and it says so.
    let o = gw.cli(&["bucket", "add", "s3://photos", "backend_bck=pics"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "\"backend_bck\" set to: \"pics\" (was: \"\")\n");
    let o = gw.cli(&[
        "bucket",
        "props",
        "set",
        "s3://photos",
        "backend_bck",
        "pics",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "\"backend_bck\" unchanged: \"pics\"\nnothing changed: s3://photos already had these values\n"
    );
    let o = gw.cli(&[
        "bucket",
        "props",
        "set",
        "s3://photos",
        "backend_bck=pics",
        "extra.aws.addressing_style=path",
    ]);
    assert_eq!(
        stdout(&o),
        "\"backend_bck\" unchanged: \"pics\"\n\"extra.aws.addressing_style\" set to: \"path\" (was: \"\")\n"
    );
    let o = gw.cli(&[
        "bucket",
        "props",
        "reset",
        "s3://photos",
        "extra.aws.endpoint",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "nothing to reset: s3://photos has none of these properties set\n"
    );

    // `bucket show` is `show bucket`.
    let a = gw.cli(&["bucket", "show", "s3://photos"]);
    let b = gw.cli(&["show", "bucket", "s3://photos"]);
    assert!(a.status.success() && b.status.success(), "{}", stderr(&a));
    assert_eq!(stdout(&a), stdout(&b));
    assert!(stdout(&a).contains("pics"), "{}", stdout(&a));

    // An error answer of the API is one line, exit 1.
    let o = gw.cli(&["bucket", "props", "set", "s3://photos", "no.such.prop", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("unknown property"), "{}", stderr(&o));
}
