//! Crash safety: a writer process killed with SIGKILL mid-write leaves the old file or the new
//! one, never a mix.

use super::*;

const CRASH_DIR_ENV: &str = "REBUCKET_TEST_CRASH_DIR";
const CRASH_BUCKETS: usize = 300;

/// The state written at `version`: a function of the version, so a reader can tell a whole file
/// from a mix of two.
fn crash_state(version: u64) -> BTreeMap<String, BucketProps> {
    (0..CRASH_BUCKETS)
        .map(|i| {
            let props = BucketProps {
                backend_bck: Some(format!("upstream-{i}").parse().unwrap()),
                endpoint: Some(
                    format!("http://host{i}.example:{}", 1 + version % 60000)
                        .parse()
                        .unwrap(),
                ),
                cloud_region: Some(format!("r{version}").parse().unwrap()),
                ..Default::default()
            };
            (format!("bucket-{i:03}"), props)
        })
        .collect()
}

/// The libtest name of [`crash_child_writer`] (its module path without the crate's name).
fn crash_child_test_name() -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    format!("{module}::crash_child_writer")
}

/// Run by `kill_9_mid_write_leaves_old_or_new_file` as a child process: writes forever.
///
/// Not a test of its own, only a way to run this code in a process of its own. It is
/// `#[ignore]`d so that `cargo test` leaves it out, and fails when it is started without
/// [`CRASH_DIR_ENV`] (by `--include-ignored`), so that it never passes without having done
/// anything; `.ci/run` runs the ignored tests with `--skip crash_child_writer`.
#[test]
#[ignore = "not a test: the writer process of kill_9_mid_write_leaves_old_or_new_file"]
fn crash_child_writer() {
    let dir = std::env::var(CRASH_DIR_ENV).unwrap_or_else(|_| {
        panic!(
            "crash_child_writer is the writer process that kill_9_mid_write_leaves_old_or_new_file \
             starts with {CRASH_DIR_ENV} set, not a test of its own; with --include-ignored, \
             add --skip crash_child_writer (as .ci/run does)"
        )
    });
    let reg = Registry::open(Path::new(&dir)).unwrap();
    println!("ready");
    // Bounded, in case the parent dies without killing us.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        reg.update(|s| {
            s.buckets = crash_state(s.version + 1);
            Ok(())
        })
        .unwrap();
    }
}

/// Kills the child if the test fails before it does.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn kill_9_mid_write_leaves_old_or_new_file() {
    let _g = light_blocking();
    let tmp = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut last = 0;
    let mut leftovers = 0;
    for _ in 0..40 {
        let mut child = KillOnDrop(
            Command::new(&exe)
                .args([
                    "--exact",
                    &crash_child_test_name(),
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CRASH_DIR_ENV, tmp.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let mut out = BufReader::new(child.0.stdout.take().unwrap());
        let mut line = String::new();
        while !line.trim_end().ends_with("ready") {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "the child exited early"
            );
        }
        std::thread::sleep(Duration::from_micros(rand::random_range(0..60_000)));
        child.0.kill().unwrap(); // SIGKILL
        child.0.wait().unwrap();
        leftovers += temp_files(tmp.path()).len();

        let reg = Registry::open(tmp.path()).unwrap();
        let s = reg.snapshot();
        assert!(
            s.version >= last,
            "version went back from {last} to {}",
            s.version
        );
        if s.version > 0 {
            assert_eq!(
                s.buckets,
                crash_state(s.version),
                "a mixed file at version {}",
                s.version
            );
        }
        assert_eq!(temp_files(tmp.path()), Vec::<String>::new());
        last = s.version;
    }
    assert!(last > 0, "the child never wrote");
    eprintln!("kill -9 test: final version {last}, {leftovers} torn temp files cleaned up");
}
