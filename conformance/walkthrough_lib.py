"""Helpers of the walkthrough test (conformance/test_walkthrough.py): processes in their own
process groups (always cleaned up, also at exit), two rclone `serve s3` upstreams, a rebucket
gateway with its AWS shared files, and a transcript of every CLI output of the run.

Everything listens on 127.0.0.1 only.
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

# ---------------------------------------------------------------- step log


_CONFIG = None


def set_pytest_config(config) -> None:
    """Lets `log` write to pytest's terminal past output capture."""
    global _CONFIG
    _CONFIG = config


def log(msg: str) -> None:
    """One line of the step log, shown even when pytest captures output."""
    line = f"[walk] {msg}"
    pm = _CONFIG.pluginmanager if _CONFIG is not None else None
    reporter = pm.get_plugin("terminalreporter") if pm else None
    capman = pm.get_plugin("capturemanager") if pm else None
    if reporter is None or capman is None:
        print(line, flush=True)
        return
    with capman.global_and_fixture_disabled():
        reporter.write_line(line)


# ---------------------------------------------------------------- processes

_LIVE: list[subprocess.Popen] = []


def _kill_group(p: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        p.wait(timeout=10)


def _cleanup_all() -> None:
    while _LIVE:
        _kill_group(_LIVE.pop())


atexit.register(_cleanup_all)


def _on_term(signum, frame):
    """SIGTERM/SIGHUP end the run like Ctrl-C: pytest stops, fixtures and atexit clean up."""
    _cleanup_all()
    raise KeyboardInterrupt(f"signal {signum}")


for _s in (signal.SIGTERM, signal.SIGHUP):
    try:
        if signal.getsignal(_s) in (signal.SIG_DFL, None):
            signal.signal(_s, _on_term)
    except ValueError:  # not the main thread
        pass


def _die_with_parent() -> None:
    """In the child: SIGKILL when the test process dies, even by SIGKILL (Linux only)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def spawn(args: list[str], env: dict, logfile: Path) -> subprocess.Popen:
    """Starts `args` in a new session (own process group), stdout+stderr appended to logfile."""
    f = open(logfile, "ab")
    p = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=f,
                         stderr=subprocess.STDOUT, start_new_session=True,
                         preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    f.close()
    _LIVE.append(p)
    return p


def stop(p: subprocess.Popen | None, sig: int = signal.SIGKILL) -> None:
    """Ends one process group we started."""
    if p is None:
        return
    _kill_group(p, sig)
    if p in _LIVE:
        _LIVE.remove(p)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 15,
              logfile: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = logfile.read_text(errors="replace")[-3000:] if logfile else ""
            raise RuntimeError(f"process exited with {proc.returncode} before listening on "
                               f"{port}:\n{tail}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {HOST}:{port} after {timeout} s")


def clean_env() -> dict:
    """The process environment without AWS, rebucket or proxy settings."""
    drop = ("AWS_", "REBUCKET_", "S3_ENDPOINT")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(drop) and k.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env["NO_COLOR"] = "1"
    return env


# ---------------------------------------------------------------- transcript


@dataclass
class Result:
    argv: list[str]
    rc: int
    out: str
    err: str
    secs: float

    def __str__(self) -> str:
        return (f"$ {' '.join(self.argv)}\n  -> rc={self.rc} in {self.secs:.2f}s\n"
                f"  stdout: {self.out!r}\n  stderr: {self.err!r}")


@dataclass
class Transcript:
    results: list[Result] = field(default_factory=list)

    def add(self, r: Result) -> Result:
        self.results.append(r)
        return r


def run(argv: list[str], env: dict, transcript: Transcript, timeout: float = 60,
        stdin: str | None = None) -> Result:
    t0 = time.monotonic()
    try:
        cp = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                            input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL)
        r = Result(argv, cp.returncode, cp.stdout, cp.stderr, time.monotonic() - t0)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        r = Result(argv, -999, out, err + f"\n[timed out after {timeout} s]",
                   time.monotonic() - t0)
    return transcript.add(r)


# ---------------------------------------------------------------- binary


def rebucket_binary(snapshot_dir: Path, wait: float = 300) -> Path:
    """`REBUCKET_BIN`, else <repo>/target/debug/rebucket; waits while it is being rebuilt, then
    hard-links (or copies) it into snapshot_dir so a rebuild during the run changes nothing."""
    src = Path(os.environ.get("REBUCKET_BIN") or REPO_ROOT / "target" / "debug" / "rebucket")
    deadline = time.monotonic() + wait
    while not (src.is_file() and os.access(src, os.X_OK)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"rebucket binary {src} not found (set REBUCKET_BIN)")
        log(f"waiting for {src} to (re)appear ...")
        time.sleep(5)
    time.sleep(0.2)  # let a writer finish
    dst = snapshot_dir / "rebucket"
    try:
        os.link(src, dst)
    except OSError:
        try:
            shutil.copy2(src, dst)
        except OSError:
            return src
    return dst


# ---------------------------------------------------------------- upstreams


class Rclone:
    """An `rclone serve s3` upstream that checks SigV4 with one key pair."""

    def __init__(self, name: str, root: Path, logdir: Path):
        self.name = name
        self.root = root
        self.port = free_port()
        self.logfile = logdir / f"rclone-{name}.log"
        self.proc: subprocess.Popen | None = None
        self.keys: tuple[str, str] | None = None
        root.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, access_key: str, secret_key: str) -> None:
        self.keys = (access_key, secret_key)
        env = clean_env()
        env["RCLONE_CONFIG"] = str(self.logfile.parent / "rclone.conf")
        self.proc = spawn(["rclone", "serve", "s3", "--addr", f"{HOST}:{self.port}",
                           "--auth-key", f"{access_key},{secret_key}", str(self.root)],
                          env, self.logfile)
        wait_port(self.port, self.proc, logfile=self.logfile)

    def stop(self) -> None:
        stop(self.proc)
        self.proc = None

    def restart(self, access_key: str, secret_key: str) -> None:
        self.stop()
        deadline = time.monotonic() + 10
        while True:  # the port must be free again before rclone binds it
            try:
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((HOST, self.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.start(access_key, secret_key)

    def put(self, bucket: str, key: str, data: str) -> None:
        p = self.root / bucket / key
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(data)


# ---------------------------------------------------------------- the gateway


def write_aws_files(config: Path, credentials: Path, profiles: dict[str, tuple[str, str]],
                    extra_config: dict[str, dict[str, str]] | None = None) -> None:
    """Writes the shared files atomically: `profiles` name -> (access key, secret)."""
    cfg = []
    for name in profiles:
        cfg.append("[default]" if name == "default" else f"[profile {name}]")
        cfg.append("region = us-east-1")
        for k, v in (extra_config or {}).get(name, {}).items():
            cfg.append(f"{k} = {v}")
        cfg.append("")
    creds = []
    for name, (ak, sk) in profiles.items():
        creds += [f"[{name}]", f"aws_access_key_id = {ak}", f"aws_secret_access_key = {sk}", ""]
    for path, text in ((config, cfg), (credentials, creds)):
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(text))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)


class Rebucket:
    """A `rebucket serve` process plus its CLI verbs and an aws cli pointed at it."""

    def __init__(self, binary: Path, work: Path, default_endpoint: str, transcript: Transcript,
                 front_keys: tuple[str, str], admin_token: str):
        self.bin = binary
        self.work = work
        self.data_dir = work / "data"
        self.aws_config = work / "aws" / "config"
        self.aws_credentials = work / "aws" / "credentials"
        self.aws_config.parent.mkdir(parents=True, exist_ok=True)
        self.logfile = work / "rebucket.log"
        self.port = free_port()
        self.admin_port = free_port()
        self.default_endpoint = default_endpoint
        self.transcript = transcript
        self.front_keys = front_keys
        self.admin_token = admin_token
        self.proc: subprocess.Popen | None = None
        client = work / "client"
        client.mkdir(parents=True, exist_ok=True)
        (client / "config").write_text("")
        (client / "credentials").write_text("")
        self._client_dir = client

    # environments ------------------------------------------------------
    def files_env(self) -> dict:
        env = clean_env()
        env["AWS_CONFIG_FILE"] = str(self.aws_config)
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(self.aws_credentials)
        return env

    def serve_env(self) -> dict:
        env = self.files_env()
        env.update({
            "S3_ENDPOINT": self.default_endpoint,
            "REBUCKET_ACCESS_KEY": self.front_keys[0],
            "REBUCKET_SECRET_KEY": self.front_keys[1],
            "REBUCKET_ADMIN_TOKEN": self.admin_token,
            "RUST_LOG": "info",
        })
        return env

    def cli_env(self) -> dict:
        env = clean_env()
        env["REBUCKET_ADMIN_URL"] = f"http://{HOST}:{self.admin_port}"
        env["REBUCKET_ADMIN_TOKEN"] = self.admin_token
        return env

    def aws_env(self) -> dict:
        env = clean_env()
        env.update({
            "AWS_CONFIG_FILE": str(self._client_dir / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self._client_dir / "credentials"),
            "AWS_ACCESS_KEY_ID": self.front_keys[0],
            "AWS_SECRET_ACCESS_KEY": self.front_keys[1],
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
            # One attempt: each step judges what rebucket answers to one request.
            "AWS_RETRY_MODE": "standard",
            "AWS_MAX_ATTEMPTS": "1",
        })
        return env

    # lifecycle -----------------------------------------------------------
    def start(self) -> None:
        self.proc = spawn([str(self.bin), "serve", "--listen", f"{HOST}:{self.port}",
                           "--admin-listen", f"{HOST}:{self.admin_port}",
                           "--data-dir", str(self.data_dir)], self.serve_env(), self.logfile)
        wait_port(self.port, self.proc, logfile=self.logfile)
        wait_port(self.admin_port, self.proc, logfile=self.logfile)

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        stop(self.proc)
        self.proc = None

    def stop(self) -> None:
        stop(self.proc, signal.SIGTERM)
        self.proc = None

    def log_text(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    # clients ---------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 60) -> Result:
        return run([str(self.bin), *args], self.cli_env(), self.transcript, timeout)

    def profiles_cli(self, *args: str) -> Result:
        """Offline `rebucket profiles ...` with the gateway's AWS files."""
        return run([str(self.bin), "profiles", *args], self.files_env(), self.transcript)

    def aws(self, *args: str, timeout: float = 60, stdin: str | None = None) -> Result:
        return run(["aws", "--endpoint-url", f"http://{HOST}:{self.port}", *args],
                   self.aws_env(), self.transcript, timeout, stdin)

    def show(self, bucket: str) -> dict[str, str]:
        """`show bucket` as name -> value (asserts success)."""
        r = self.cli("show", "bucket", f"s3://{bucket}")
        assert r.rc == 0, str(r)
        return parse_show(r.out)


def show_rows(text: str) -> list[tuple[str, str, str]]:
    """`show bucket`'s table: (name, value, source) per row after the title line and the
    `PROPERTY  VALUE  SOURCE` header; columns are separated by two or more spaces and an unset
    value or source is `-`, returned as ""."""
    rows = []
    lines = [ln for ln in text.splitlines() if ln.strip()]
    header = next((i for i, ln in enumerate(lines) if ln.split()[:1] == ["PROPERTY"]), -1)
    for line in lines[header + 1:]:
        cols = [c.strip() for c in re.split(r"\s{2,}", line.strip())]
        cols += [""] * (3 - len(cols))
        name, value, source = cols[0], cols[1], " ".join(cols[2:]).strip()
        rows.append((name, "" if value == "-" else value, "" if source == "-" else source))
    return rows


def parse_show(text: str) -> dict[str, str]:
    """`show bucket` as name -> value: the bucket's properties and its `route.*` rows."""
    return {name: value for name, value, _ in show_rows(text)}


def make_tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="rebucket-walk-"))
