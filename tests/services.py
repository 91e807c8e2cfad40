"""Real local servers for the tests: nx-27017 (MongoDB wire protocol) and Debian's redis-server.

Each runs as a child process on a free loopback port and is stopped by the caller (the pytest
fixtures in ``conftest.py``, or ``bench/``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _nx_binary() -> str:
    exe = Path(sys.executable).with_name("nx-27017")
    if exe.exists():
        return str(exe)
    found = shutil.which("nx-27017")
    if not found:
        raise RuntimeError("nx-27017 is not installed (pip install nx-27017==0.8.1 neosqlite==1.17.2)")
    return found


class MongoServer:
    """An nx-27017 process. ``data_dir`` keeps data across :meth:`restart`; ``None`` = a temp dir."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self) -> MongoServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.data_dir / "nx-27017.log"
        self.proc = subprocess.Popen(
            [
                _nx_binary(),
                "--data-dir", str(self.data_dir),
                "--host", "127.0.0.1",
                "-p", str(self.port),
                "--log-file", str(log),
                "--pid-file", str(self.data_dir / "nx-27017.pid"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


class RedisServer:
    """Debian's redis-server on a free loopback port. No persistence, unless ``data_dir`` is given: then an
    append-only file there (``appendonly yes``), as in production, so the data survives :meth:`restart` (on
    the same port). :meth:`stop` is SIGTERM, which makes redis-server flush the append-only file and exit."""

    def __init__(self, port: int | None = None, data_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(exe):
            raise RuntimeError("redis-server is not installed: run `make system-deps` (apt-get install redis-server)")
        if self.data_dir is None:
            persistence = ["--save", "", "--appendonly", "no"]
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            persistence = ["--dir", str(self.data_dir), "--save", "", "--appendonly", "yes",
                           "--appendfsync", "everysec"]
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", *persistence],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
