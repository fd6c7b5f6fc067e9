"""Start/stop the upstream S3 servers used by the conformance suites.

Every server listens on a free 127.0.0.1 port, keeps its data in a temp dir under
conformance/.work/tmp and its log under conformance/.work/logs.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

from .procs import Proc, free_port, work_tmpdir, LOOPBACK
from . import s3client

REGION = "us-east-1"


class Upstream:
    name = "?"
    access_key = "upstream-ak"
    secret_key = "upstream-secret-key-0123456789"
    checks_signatures = True
    start_timeout = 30.0

    def __init__(self):
        self.port: int | None = None
        self.procs: list[Proc] = []
        self.tmp = None

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def client(self, **kw):
        return s3client.client(self.endpoint, self.access_key, self.secret_key, **kw)

    def start(self) -> "Upstream":
        self.tmp = work_tmpdir(self.name)
        self._start()
        self._wait_ready()
        return self

    def _start(self):
        raise NotImplementedError

    def _wait_ready(self):
        main = self.procs[-1]
        main.wait_tcp(self.port, self.start_timeout)
        deadline = time.monotonic() + self.start_timeout
        last = None
        c = self.client()
        while time.monotonic() < deadline:
            if not main.alive():
                raise main.fail("exited during start-up")
            try:
                c.list_buckets()
                return
            except Exception as e:  # server still warming up
                last = e
                time.sleep(0.3)
        raise main.fail(f"list_buckets never succeeded: {last!r}")

    def stop(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs.clear()

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()


class Moto(Upstream):
    name = "moto"
    checks_signatures = False
    access_key = "moto-ak"
    secret_key = "moto-secret-key-0123456789"

    def _start(self):
        self.port = free_port()
        exe = shutil.which("moto_server") or "moto_server"
        self.procs.append(Proc("moto", [exe, "-H", LOOPBACK, "-p", str(self.port)],
                               env={"MOTO_ALLOW_NONEXISTENT_REGION": "true"}))


class Rclone(Upstream):
    name = "rclone"
    access_key = "rclone-ak"
    secret_key = "rclone-secret-key-0123456789"

    def _start(self):
        self.port = free_port()
        data = self.tmp / "data"
        data.mkdir()
        cfg = self.tmp / "rclone.conf"
        cfg.write_text("")
        exe = shutil.which("rclone") or "rclone"
        self.procs.append(Proc("rclone", [
            exe, "serve", "s3", "--addr", f"{LOOPBACK}:{self.port}",
            "--auth-key", f"{self.access_key},{self.secret_key}",
            "--config", str(cfg), str(data)]))


class SeaweedFS(Upstream):
    name = "seaweedfs"
    access_key = "seaweed-ak"
    secret_key = "seaweed-secret-key-0123456789"
    start_timeout = 60.0

    def _start(self):
        ports = {k: free_port() for k in (
            "master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc",
            "s3", "s3.grpc", "metrics")}
        self.port = ports["s3"]
        cfg = self.tmp / "s3.json"
        cfg.write_text(json.dumps({"identities": [{
            "name": "admin",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
        data = self.tmp / "data"
        data.mkdir()
        exe = shutil.which("weed") or "weed"
        argv = [exe, "server", f"-dir={data}", f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
                "-master.telemetry=false", "-master.volumeSizeLimitMB=32", "-volume.max=0",
                f"-master.port={ports['master']}", f"-master.port.grpc={ports['master.grpc']}",
                f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['volume.grpc']}",
                f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filer.grpc']}",
                f"-filer.localSocket={self.tmp}/filer.sock",
                "-s3", f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['s3.grpc']}",
                f"-s3.localSocket={self.tmp}/s3.sock",
                "-s3.port.iceberg=0", "-s3.port.lance=0",
                f"-s3.config={cfg}", f"-metricsPort={ports['metrics']}"]
        self.procs.append(Proc("seaweedfs", argv, cwd=self.tmp, stop_signal=signal.SIGINT))


class JuiceFS(Upstream):
    """Optional: MinIO-gateway-based JuiceFS S3 gateway on a local sqlite + file store."""
    name = "juicefs"
    access_key = "juicefsadmin"
    secret_key = "juicefs-secret-key-0123456789"

    def _start(self):
        self.port = free_port()
        exe = shutil.which("juicefs") or "juicefs"
        meta = f"sqlite3://{self.tmp}/meta.db"
        subprocess.run([exe, "format", "--storage", "file", "--bucket", f"{self.tmp}/blobs/",
                        meta, "conf"], check=True, capture_output=True)
        self.procs.append(Proc("juicefs", [
            exe, "gateway", "--multi-buckets", "--keep-etag", "--no-usage-report",
            meta, f"{LOOPBACK}:{self.port}"],
            env={"MINIO_ROOT_USER": self.access_key, "MINIO_ROOT_PASSWORD": self.secret_key}))


class Garage(Upstream):
    """Optional: garage (`cargo install garage`), one node, replication factor 1."""
    name = "garage"
    # garage imports only keys of its own shape: GK + 24 hex digits, a 64-hex-digit secret.
    access_key = "GK0123456789abcdef01234567"
    secret_key = "0123456789abcdef" * 4
    start_timeout = 60.0

    def _garage(self, *args: str) -> str:
        exe = shutil.which("garage") or os.path.expanduser("~/.cargo/bin/garage")
        out = subprocess.run([exe, "-c", str(self.tmp / "garage.toml"), *args],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise self.procs[-1].fail(f"garage {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def _start(self):
        self.port, rpc, admin = free_port(), free_port(), free_port()
        cfg = self.tmp / "garage.toml"
        cfg.write_text(f"""
metadata_dir = "{self.tmp}/meta"
data_dir = "{self.tmp}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "{LOOPBACK}:{rpc}"
rpc_public_addr = "{LOOPBACK}:{rpc}"
rpc_secret = "{'ab' * 32}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "{LOOPBACK}:{self.port}"

[admin]
api_bind_addr = "{LOOPBACK}:{admin}"
""")
        exe = shutil.which("garage") or os.path.expanduser("~/.cargo/bin/garage")
        self.procs.append(Proc("garage", [exe, "-c", str(cfg), "server"],
                               env={"RUST_LOG": "garage=warn"}))
        self.procs[-1].wait_tcp(rpc, self.start_timeout)
        node = self._garage("node", "id", "-q").strip().split("@")[0]
        self._garage("layout", "assign", "-z", "dc1", "-c", "1G", node)
        self._garage("layout", "apply", "--version", "1")
        self._garage("key", "import", "--yes", "-n", "conformance",
                     self.access_key, self.secret_key)
        self._garage("key", "allow", "--create-bucket", "conformance")


UPSTREAMS = {c.name: c for c in (Moto, Rclone, SeaweedFS, JuiceFS, Garage)}


def make(name: str) -> Upstream:
    try:
        return UPSTREAMS[name]()
    except KeyError:
        raise SystemExit(f"unknown upstream {name!r}; known: {', '.join(UPSTREAMS)}")
