"""Run ``scrapy crawl`` in a subprocess against the replay site, the way users run it, and read its stats."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# No politeness delays against the local replay site; tiny block backoffs.
FAST_SETTINGS: dict[str, Any] = {
    "DOWNLOAD_DELAY": 0,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    "GUBA_BLOCK_BACKOFF_BASE": 0.02,
    "GUBA_BLOCK_BACKOFF_MAX": 0.1,
    "MONGO_FLUSH_SECONDS": 0.5,
    "MONGO_BATCH_SIZE": 50,
    "LOG_LEVEL": "INFO",
}


@dataclass
class CrawlResult:
    returncode: int
    stats: dict[str, Any]
    log: str

    def stat(self, key: str, default: int = 0) -> Any:
        return self.stats.get(key, default)


def scrapy_cmd(spider: str, args: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider]
    for k, v in args.items():
        cmd += ["-a", f"{k}={v}"]
    for k, v in settings.items():
        cmd += ["-s", f"{k}={v}"]
    return cmd


def run_crawl(
    spider: str,
    *,
    base_url: str,
    tmp_path: Path,
    mongo_uri: str = "",
    database: str = "guba",
    args: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> CrawlResult:
    stats_file = tmp_path / f"stats-{spider}-{len(list(tmp_path.glob('stats-*')))}.json"
    merged = {**FAST_SETTINGS, "GUBA_STATS_FILE": str(stats_file), **(settings or {})}
    full_env = {
        **os.environ,
        "GUBA_BASE_URL": base_url,
        "MONGO_URI": mongo_uri,
        "MONGO_DATABASE": database,
        "PYTHONWARNINGS": "error::DeprecationWarning:scrapy",
        **(env or {}),
    }
    proc = subprocess.run(
        scrapy_cmd(spider, args or {}, merged),
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else {}
    return CrawlResult(proc.returncode, stats, proc.stderr)


def crawl_boards(site: Any, tmp_path: Path, mongo_server: Any, db: str, boards: list[str], **kw: Any) -> CrawlResult:
    """``scrapy crawl guba -a boards=...`` against ``site`` into database ``db``; ``args=`` adds spider arguments."""
    args = {"boards": ",".join(boards), **kw.pop("args", {})}
    return run_crawl("guba", base_url=site.base_url, tmp_path=tmp_path, mongo_uri=mongo_server.uri,
                     database=db, args=args, **kw)


def descendants(pid: int) -> list[int]:
    """Process ids of every live descendant of ``pid`` (children, their children, ...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def writer_processes(pid: int) -> list[int]:
    """The MongoDB writer process(es) of crawler ``pid`` (MONGO_WRITER_PROCESS): its multiprocessing children."""
    found = []
    for child in descendants(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            found.append(child)
    return found


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
