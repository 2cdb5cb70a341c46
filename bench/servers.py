"""Start the service and the hello baseline as real uvicorn processes, and watch their memory."""

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs in the lock file

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def workers(self) -> list[psutil.Process]:
        """The worker processes (uvicorn's spawned children; the process itself with one)."""
        parent = psutil.Process(self.process.pid)
        children = [
            child
            for child in parent.children(recursive=True)
            if "spawn_main" in " ".join(_cmdline(child))
        ]
        return children or [parent]


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return [str(part) for part in process.cmdline()]
    except psutil.Error:
        return []


def _wait_ready(server: Server, path: str, timeout: float = 90.0) -> Server:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}")
        try:
            if httpx.get(server.base_url + path, timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"{server.name} did not answer {path} within {timeout:.0f} s")


def start_service(
    database_url: str, port: int, workers: int, pool_size: int, max_overflow: int
) -> Server:
    """`python -m app serve` on the bench database, as production runs it (access log off)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "DB_POOL_SIZE": str(pool_size),
        "DB_MAX_OVERFLOW": str(max_overflow),
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="snp-bench-metrics-"),
        # One bench key stands for a whole SAS of regulators: no per-client request limit (the
        # limiter's own cost is an in-memory counter, measured with it on in its tests).
        "RATE_LIMIT_ADMIN": "",
        "RATE_LIMIT_REGULATOR": "",
        "RATE_LIMIT_PRACTICE_SOFTWARE": "",
        "RATE_LIMIT_SAS_PLATFORM": "",
    }
    command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env)
    return _wait_ready(Server("service", process, f"http://127.0.0.1:{port}"), "/readyz")


def wait_index_loaded(server: Server, workers: int, timeout: float = 300.0) -> float:
    """Wait until every worker's search index is loaded (`snp_search_index_ready` is 1 for
    `workers` live processes): the bench measures the service as it serves, not while it loads.
    Returns the seconds waited."""
    began = time.monotonic()
    deadline = began + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}")
        try:
            text = httpx.get(server.base_url + "/metrics", timeout=5).text
        except httpx.HTTPError:
            text = ""
        ready = [
            line.rsplit(" ", 1)[-1]
            for line in text.splitlines()
            if line.startswith("snp_search_index_ready{")
        ]
        if len(ready) >= workers and all(float(value) == 1.0 for value in ready):
            return time.monotonic() - began
        time.sleep(0.5)
    raise RuntimeError(f"the search index of {workers} workers was not loaded in {timeout:.0f} s")


def start_hello(port: int, workers: int) -> Server:
    """The hello baseline under the same uvicorn settings as `python -m app serve`."""
    command = [sys.executable, "-m", "uvicorn", "bench.baselines:hello_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--log-level", "warning", "--proxy-headers"]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT)
    return _wait_ready(Server("hello", process, f"http://127.0.0.1:{port}"), "/hello")


@dataclass
class MemoryWatch:
    """Samples the resident memory of a server's workers in the background; keeps the peak."""

    server: Server
    interval: float = 0.5
    peak_mb: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> "MemoryWatch":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            for worker in self.server.workers():
                try:
                    rss = worker.memory_info().rss / 2**20
                except psutil.Error:
                    continue
                self.peak_mb[worker.pid] = max(self.peak_mb.get(worker.pid, 0.0), rss)
            self._stop.wait(self.interval)
