//! Memory measurements (resident set of this process over a window) and the big test file.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use md5::{Digest, Md5};

use super::{MIB, hex, pattern};

/// A field of /proc/self/status, in bytes.
pub fn proc_status_bytes(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Watches the process's resident memory over a window: resets the kernel's peak (VmHWM) when
/// allowed, and samples VmRSS every 20 ms as well.
pub struct MemProbe {
    base_rss: u64,
    base_hwm: u64,
    hwm_reset: bool,
    stop: std::sync::Arc<AtomicBool>,
    max_rss: std::sync::Arc<AtomicU64>,
    sampler: Option<std::thread::JoinHandle<()>>,
}

impl MemProbe {
    pub fn start() -> Self {
        let base_hwm = proc_status_bytes("VmHWM");
        let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let base_rss = proc_status_bytes("VmRSS");
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let max_rss = std::sync::Arc::new(AtomicU64::new(base_rss));
        let sampler = {
            let stop = stop.clone();
            let max_rss = max_rss.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    max_rss.fetch_max(proc_status_bytes("VmRSS"), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Self {
            base_rss,
            base_hwm,
            hwm_reset,
            stop,
            max_rss,
            sampler: Some(sampler),
        }
    }

    pub fn finish(mut self, label: &str) -> MemReport {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.sampler.take() {
            let _ = t.join();
        }
        let peak_hwm = proc_status_bytes("VmHWM");
        let max_sampled_rss = self.max_rss.load(Ordering::Relaxed);
        // Without a reset, VmHWM only tells anything if it grew past the old peak.
        let hwm_increase = if self.hwm_reset {
            peak_hwm.saturating_sub(self.base_rss)
        } else {
            peak_hwm.saturating_sub(self.base_hwm)
        };
        let increase = hwm_increase.max(max_sampled_rss.saturating_sub(self.base_rss));
        let r = MemReport {
            base_rss: self.base_rss,
            peak_hwm,
            max_sampled_rss,
            increase,
            hwm_reset: self.hwm_reset,
        };
        println!(
            "MEMORY {label}: baseline VmRSS {:.1} MiB, VmHWM after {:.1} MiB (peak reset: {}), \
             max sampled VmRSS {:.1} MiB => increase {:.1} MiB",
            r.base_rss as f64 / MIB as f64,
            r.peak_hwm as f64 / MIB as f64,
            r.hwm_reset,
            r.max_sampled_rss as f64 / MIB as f64,
            r.increase as f64 / MIB as f64,
        );
        r
    }
}

/// What a window cost.
#[derive(Debug, Clone, Copy)]
pub struct MemReport {
    pub base_rss: u64,
    pub peak_hwm: u64,
    pub max_sampled_rss: u64,
    /// The larger of the two peak estimates minus the baseline.
    pub increase: u64,
    pub hwm_reset: bool,
}

impl Drop for MemProbe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

pub struct BigFile {
    pub path: PathBuf,
    pub len: u64,
    pub md5: String,
}

/// Larger than 100 MiB, and not a multiple of any buffer size.
pub const BIG_LEN: u64 = 105 * MIB + 12_345;

/// The big test file (generated on first use, reused afterwards); blocking.
pub fn big_file() -> &'static BigFile {
    static F: OnceLock<BigFile> = OnceLock::new();
    F.get_or_init(|| {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rebucket-itest-big.bin");
        let fresh = std::fs::metadata(&path).map(|m| m.len()).ok() != Some(BIG_LEN);
        if fresh {
            use std::io::Write;
            let tmp = path.with_extension("tmp");
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).expect("create"));
            let mut left = BIG_LEN;
            let mut seed = 1;
            while left > 0 {
                let n = left.min(MIB) as usize;
                f.write_all(&pattern(n, seed)).expect("write");
                left -= n as u64;
                seed += 1;
            }
            f.into_inner().expect("flush").sync_all().expect("sync");
            std::fs::rename(&tmp, &path).expect("rename");
        }
        let md5 = {
            use std::io::Read;
            let mut f = std::fs::File::open(&path).expect("open");
            let mut h = Md5::new();
            let mut buf = vec![0u8; MIB as usize];
            loop {
                let n = f.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            hex(&h.finalize())
        };
        BigFile {
            path,
            len: BIG_LEN,
            md5,
        }
    })
}

/// [`big_file`] from async code.
pub async fn big_file_async() -> &'static BigFile {
    tokio::task::spawn_blocking(big_file)
        .await
        .expect("big file")
}
