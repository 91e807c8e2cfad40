"""What every benchmark shares: the JSON line format, the machine line, local servers and crawl subprocesses."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.crawl import FAST_SETTINGS, ROOT, descendants, scrapy_cmd
from tests.services import MongoServer


def emit(figure: str, value: Any, unit: str, target: str | None, meets_target: bool | None,
         details: dict[str, Any]) -> dict[str, Any]:
    """Print one figure as one JSON line (flushed at once, so a long run shows progress) and return it.

    ``target`` is a human-readable condition (``">= 0.7"``) or ``None`` when the figure has none;
    ``meets_target`` is then ``None`` too.
    """
    line = {"figure": figure, "value": value, "unit": unit, "target": target, "meets_target": meets_target,
            "details": details}
    print(json.dumps(line, ensure_ascii=False, default=str), flush=True)
    return line


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, Python, Scrapy, pymongo and nx-27017 versions of this machine."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_mb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    def ver(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mb": mem_mb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "scrapy": ver("scrapy"),
        "twisted": ver("twisted"),
        "pymongo": ver("pymongo"),
        "nx-27017": ver("nx-27017"),
        "lxml": ver("lxml"),
    }


@contextmanager
def mongo_server(tmp: Path) -> Iterator[MongoServer]:
    """A fresh nx-27017 under ``tmp/mongo``, stopped on exit."""
    server = MongoServer(tmp / "mongo").start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def workdir(name: str) -> Iterator[Path]:
    """A temporary directory for one benchmark (deleted afterwards unless BENCH_KEEP=1)."""
    if os.environ.get("BENCH_KEEP"):
        path = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        yield path
        print(f"# kept {path}", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as d:
        yield Path(d)


def read_rss_kb(pid: int, field: str = "VmRSS") -> int | None:
    """A memory field of ``/proc/PID/status`` in kB: ``VmRSS`` (now) or ``VmHWM`` (peak since exec);
    ``None`` once the process has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def tree_rss_kb(pid: int) -> tuple[int, int] | None:
    """(VmRSS of ``pid``, VmRSS of its descendants together) in kB; ``None`` once ``pid`` has gone. The crawler's
    MongoDB writer process (MONGO_WRITER_PROCESS) is such a descendant."""
    own = read_rss_kb(pid)
    if own is None:
        return None
    return own, sum(read_rss_kb(child) or 0 for child in descendants(pid))


@dataclass
class RunResult:
    """One crawl subprocess: exit status, the stats it wrote, its log tail and RSS samples over time."""

    returncode: int
    stats: dict[str, Any]
    log_tail: str
    wall_seconds: float
    cpu_seconds: float  # user + system CPU of the child process
    # (seconds, rss_kb of the process and its descendants, progress)
    rss_samples: list[tuple[float, int, int]] = field(default_factory=list)
    hwm_kb: int = 0  # the child's VmHWM (peak RSS since exec) at the last sample
    descendants_peak_kb: int = 0  # the largest RSS of the child's own child processes together (writer process)

    def stat(self, key: str, default: Any = 0) -> Any:
        return self.stats.get(key, default)


def run_process(cmd: list[str], *, env: dict[str, str], stats_file: Path, timeout: float,
                progress: Any = None, sample_every: float = 0.0) -> RunResult:
    """Run ``cmd`` (a crawl writing its stats to ``stats_file``) from the project root; optionally sample the
    child's VmRSS every ``sample_every`` seconds together with ``progress()`` (e.g. posts served so far)."""
    log_path = stats_file.with_suffix(".log")
    samples: list[tuple[float, int, int]] = []
    hwm = [0]
    kids_peak = [0]
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(sample_every):
                rss = tree_rss_kb(proc.pid)
                if rss is not None:
                    own, kids = rss
                    if kids == 0 and kids_peak[0]:
                        continue  # the writer process has exited: the crawl is shutting down, not shrinking
                    samples.append((time.perf_counter() - started, own + kids, int(progress()) if progress else 0))
                    hwm[0] = max(hwm[0], read_rss_kb(proc.pid, "VmHWM") or 0)
                    kids_peak[0] = max(kids_peak[0], kids)

        sampler = threading.Thread(target=sample, daemon=True) if sample_every > 0 else None
        if sampler:
            sampler.start()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        finally:
            stop.set()
            if sampler:
                sampler.join()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else {}
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
    return RunResult(proc.returncode, stats, tail, wall, cpu, samples, hwm[0], kids_peak[0])


def crawl_env(base_url: str, mongo_uri: str, database: str) -> dict[str, str]:
    return {**os.environ, "GUBA_BASE_URL": base_url, "MONGO_URI": mongo_uri, "MONGO_DATABASE": database}


def guba_crawl(tmp: Path, *, base_url: str, mongo_uri: str, database: str, args: dict[str, Any],
               settings: dict[str, Any] | None = None, timeout: float = 900, progress: Any = None,
               sample_every: float = 0.0) -> RunResult:
    """``scrapy crawl guba`` as users run it, against ``base_url``, storing into ``database``."""
    stats_file = tmp / f"stats-{database}-{len(list(tmp.glob('stats-*.json')))}.json"
    # The tests' fast settings (no delay, quick block backoff) but the project's storage batching.
    fast = {k: v for k, v in FAST_SETTINGS.items() if not k.startswith("MONGO_")}
    merged = {**fast, "LOG_LEVEL": "WARNING", "MONGO_SPILL_DIR": str(tmp / "spill"), **(settings or {}),
              "GUBA_STATS_FILE": str(stats_file)}
    return run_process(scrapy_cmd("guba", args, merged), env=crawl_env(base_url, mongo_uri, database),
                       stats_file=stats_file, timeout=timeout, progress=progress, sample_every=sample_every)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process has used so far (from /proc; 0.0 if it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0
