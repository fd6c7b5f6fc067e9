"""Start rebucket in front of an upstream."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from .procs import Proc, free_port, work_tmpdir, REPO_ROOT, LOOPBACK
from . import s3client

FRONT_AK = "rebucket-front-ak"
FRONT_SK = "rebucket-front-secret-0123456789"
ADMIN_TOKEN = "conformance-admin-token"
DOMAIN = "s3.example.test"
PROFILE = "conf-upstream"


def binary() -> str:
    return os.environ.get("REBUCKET_BIN") or str(REPO_ROOT / "target" / "debug" / "rebucket")


def available() -> tuple[bool, str]:
    """(usable, reason): the binary exists and `serve --help` works."""
    exe = binary()
    if not Path(exe).exists():
        return False, f"{exe} does not exist (build it, or set REBUCKET_BIN)"
    try:
        r = subprocess.run([exe, "serve", "--help"], capture_output=True, text=True, timeout=20)
    except Exception as e:
        return False, f"{exe} serve --help failed: {e!r}"
    if r.returncode != 0 or "--listen" not in (r.stdout + r.stderr):
        return False, f"{exe} serve --help: rc={r.returncode} {(r.stdout + r.stderr)[-300:]}"
    return True, ""


class Rebucket:
    name = "rebucket"

    def __init__(self, upstream, domain: str | None = DOMAIN, extra_args: list[str] | None = None):
        self.upstream = upstream
        self.domain = domain
        self.extra_args = extra_args or []
        self.access_key = FRONT_AK
        self.secret_key = FRONT_SK
        self.admin_token = ADMIN_TOKEN
        self.port = None
        self.admin_port = None
        self.proc = None

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def admin_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.admin_port}"

    def client(self, **kw):
        return s3client.client(self.endpoint, self.access_key, self.secret_key, **kw)

    def start(self, timeout: float = 30.0) -> "Rebucket":
        ok, why = available()
        if not ok:
            raise RuntimeError(f"rebucket not available: {why}")
        tmp = work_tmpdir(f"rebucket-{self.upstream.name}")
        (tmp / "data").mkdir()
        (tmp / "credentials").write_text(
            f"[{PROFILE}]\naws_access_key_id = {self.upstream.access_key}\n"
            f"aws_secret_access_key = {self.upstream.secret_key}\n")
        (tmp / "config").write_text(f"[profile {PROFILE}]\nregion = us-east-1\n")
        self.port, self.admin_port = free_port(), free_port()
        env = {
            "S3_ENDPOINT": self.upstream.endpoint,
            "AWS_PROFILE": PROFILE,
            "AWS_CONFIG_FILE": tmp / "config",
            "AWS_SHARED_CREDENTIALS_FILE": tmp / "credentials",
            "REBUCKET_ACCESS_KEY": self.access_key,
            "REBUCKET_SECRET_KEY": self.secret_key,
            "REBUCKET_ADMIN_TOKEN": self.admin_token,
            "RUST_LOG": os.environ.get("RUST_LOG", "info"),
            "RUST_BACKTRACE": "1",
        }
        argv = [binary(), "serve", "--listen", f"{LOOPBACK}:{self.port}",
                "--admin-listen", f"{LOOPBACK}:{self.admin_port}", "--data-dir", tmp / "data"]
        if self.domain:
            argv += ["--domain", self.domain]
        argv += self.extra_args
        # keep the caller's own AWS settings out of rebucket's way
        env.update({k: None for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                    "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION",
                                    "AWS_DEFAULT_REGION")})
        if os.environ.get("CONFORMANCE_REBUCKET_CREDS") == "env":
            # upstream keys in the environment instead of a profile
            env.update({"AWS_PROFILE": None, "AWS_ACCESS_KEY_ID": self.upstream.access_key,
                        "AWS_SECRET_ACCESS_KEY": self.upstream.secret_key})
        self.proc = Proc(f"rebucket-{self.upstream.name}", argv, env=env, cwd=tmp)
        self.proc.wait_tcp(self.port, timeout)
        deadline = time.monotonic() + timeout
        last = None
        c = self.client()
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise self.proc.fail("exited during start-up")
            try:
                c.list_buckets()
                return self
            except Exception as e:
                last = e
                time.sleep(0.3)
        raise self.proc.fail(f"list_buckets through rebucket never succeeded: {last!r}")

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    def tail(self, n=40) -> str:
        return self.proc.tail(n) if self.proc else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()
