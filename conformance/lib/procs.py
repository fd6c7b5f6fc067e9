"""Process helpers: free loopback ports, child processes in their own process
group with logs under conformance/.work/logs, and cleanup that survives
crashes (atexit + SIGTERM/SIGINT handlers kill every process group we started).
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent.parent          # .../conformance
REPO_ROOT = CONF_DIR.parent
WORK_DIR = Path(os.environ.get("CONFORMANCE_WORK_DIR", CONF_DIR / ".work"))
LOG_DIR = Path(os.environ.get("CONFORMANCE_LOG_DIR", WORK_DIR / "logs"))

LOOPBACK = "127.0.0.1"

_live: list["Proc"] = []
_tmpdirs: list[str] = []
_handlers_installed = False


def work_tmpdir(prefix: str) -> Path:
    """A fresh temp dir under conformance/.work/tmp, removed at exit."""
    base = WORK_DIR / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    d = tempfile.mkdtemp(prefix=prefix + "-", dir=base)
    _tmpdirs.append(d)
    return Path(d)


def remove_tmpdir(d) -> None:
    """Removes a dir of `work_tmpdir` now rather than at exit (kept with CONFORMANCE_KEEP_TMP=1)."""
    if os.environ.get("CONFORMANCE_KEEP_TMP") == "1":
        return
    shutil.rmtree(d, ignore_errors=True)
    if str(d) in _tmpdirs:
        _tmpdirs.remove(str(d))


_reserved: set[int] = set()


def free_port() -> int:
    """A currently-free TCP port on 127.0.0.1 (not handed out twice by us)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        # keep clear of ports whose +10000 (seaweed's gRPC default) would overflow
        if port in _reserved or port > 55000:
            continue
        _reserved.add(port)
        return port
    raise RuntimeError("no free port found")


def tcp_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class ProcError(RuntimeError):
    pass


class Proc:
    """A child process running in its own session / process group."""

    def __init__(self, name: str, argv: list[str], env: dict | None = None,
                 cwd: str | os.PathLike | None = None, stop_signal: int = signal.SIGTERM):
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.argv = [str(a) for a in argv]
        self.stop_signal = stop_signal
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.log_path = LOG_DIR / f"{name}-{stamp}-{os.getpid()}.log"
        full_env = dict(os.environ)
        for k, v in (env or {}).items():
            if v is None:
                full_env.pop(k, None)       # None means: remove from the environment
            else:
                full_env[k] = str(v)
        self._log = open(self.log_path, "wb")
        self._log.write(("$ " + " ".join(self.argv) + "\n").encode())
        self._log.flush()
        _install_handlers()
        self.popen = subprocess.Popen(
            self.argv, env=full_env, cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        _live.append(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def fail(self, msg: str) -> "ProcError":
        text = (f"{self.name}: {msg}\n--- last lines of {self.log_path} ---\n"
                f"{self.tail()}\n--- end ---")
        print(text, file=sys.stderr)
        return ProcError(text)

    def wait_tcp(self, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise self.fail(f"exited with code {self.popen.returncode} before listening on {port}")
            if tcp_open(port):
                return
            time.sleep(0.1)
        raise self.fail(f"not listening on 127.0.0.1:{port} after {timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        if self in _live:
            _live.remove(self)
        if self.popen.poll() is None:
            _signal_group(self.pid, self.stop_signal)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                try:
                    self.popen.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        # children that outlived the leader
        _signal_group(self.pid, signal.SIGKILL)
        try:
            self._log.close()
        except Exception:
            pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all() -> None:
    for p in list(reversed(_live)):
        try:
            p.stop(timeout=5)
        except Exception as e:  # pragma: no cover - best effort
            print(f"cleanup of {p.name} failed: {e}", file=sys.stderr)
    for d in list(_tmpdirs):
        remove_tmpdir(d)


def _on_signal(signum, frame):
    stop_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers() -> None:
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(stop_all)
    for s in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(s, _on_signal)
        except (ValueError, OSError):  # not main thread
            pass
