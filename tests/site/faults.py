"""Scriptable misbehaviour for the replay site (``site.faults``).

Each method adds one :class:`Fault` and returns it (read ``.hits``; ``.cancel()`` removes it). For every
request the server asks :meth:`FaultSet.match` for the first *live* fault, in the order added, that matches
the request path and fires for it; that fault is consumed (``hits`` + 1, ``count`` - 1) and no other applies.

Selection arguments shared by most kinds:

* ``path_contains``: substring of the path-with-query (``""`` = every request);
* ``count``: fire for the next ``count`` matching requests, then retire;
* ``fraction``: fire for a random share of matching requests (seeded, so a test run is reproducible); a
  request the draw skips falls through to later faults;
* ``seconds``: fire for every matching request during that many seconds from now.

With none of ``count``/``fraction``/``seconds`` a fault fires for every matching request until
:meth:`FaultSet.clear` or :meth:`Fault.cancel`.
"""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

LIST_PATH_RE = re.compile(r"^/list,([A-Za-z0-9.]+)(,f)?(?:_(\d+))?\.html$")


@dataclass
class Fault:
    """One scripted fault. ``kind`` is one of verification, tarpit, error, slow, truncate, no_charset,
    wrong_charset, redirect_loop, huge; ``params`` holds the kind's arguments."""

    kind: str
    path_contains: str = ""
    count: int | None = None
    fraction: float | None = None
    until: float | None = None  # time.monotonic() deadline
    params: dict[str, Any] = field(default_factory=dict)
    hits: int = 0
    cancelled: bool = False
    _rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)

    def cancel(self) -> None:
        """Stop this fault from firing again."""
        self.cancelled = True

    def live(self, now: float) -> bool:
        """Can still fire: not cancelled, count not used up, deadline not passed."""
        if self.cancelled:
            return False
        if self.count is not None and self.count <= 0:
            return False
        return not (self.until is not None and now >= self.until)

    def _matches(self, path: str) -> bool:
        if self.path_contains not in path:
            return False
        if self.kind == "tarpit":
            m = LIST_PATH_RE.match(path.split("?", 1)[0])
            return bool(m and m.group(1) == self.params["board"]
                        and int(m.group(3) or 1) >= self.params["from_page"])
        return True


class FaultSet:
    """The ordered, thread-safe list of faults of one :class:`~tests.site.server.ReplaySite`."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def _add(self, kind: str, path_contains: str = "", count: int | None = None, fraction: float | None = None,
             seconds: float | None = None, seed: int = 0, **params: Any) -> Fault:
        if count is not None and count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        if fraction is not None and not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be within [0, 1], got {fraction}")
        fault = Fault(kind=kind, path_contains=path_contains, count=count, fraction=fraction,
                      until=time.monotonic() + seconds if seconds is not None else None, params=params,
                      _rng=random.Random(seed))
        with self._lock:
            self._faults.append(fault)
        return fault

    def match(self, path: str) -> Fault | None:
        """The fault that handles a request for ``path`` (path with query), consumed; ``None`` = serve
        normally."""
        now = time.monotonic()
        with self._lock:
            for fault in self._faults:
                if not fault.live(now) or not fault._matches(path):
                    continue
                if fault.fraction is not None and fault._rng.random() >= fault.fraction:
                    continue
                fault.hits += 1
                if fault.count is not None:
                    fault.count -= 1
                return fault
        return None

    def clear(self) -> None:
        """Remove every fault (handles already returned keep their ``hits``)."""
        with self._lock:
            for fault in self._faults:
                fault.cancelled = True
            self._faults.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)

    # ------------------------------------------------------------------ kinds
    def verification(self, path_contains: str = "", count: int | None = None, fraction: float | None = None,
                     seconds: float | None = None, seed: int = 0) -> Fault:
        """Serve the 身份核实 shell (HTTP 200, 2834 bytes) instead of the page."""
        return self._add("verification", path_contains, count, fraction, seconds, seed)

    def tarpit(self, board: str, from_page: int) -> Fault:
        """List pages >= ``from_page`` of ``board`` (both sort orders) serve page ``from_page - 1``'s rows:
        the same ids under different page numbers. ``from_page`` must be >= 2."""
        if from_page < 2:
            raise ValueError(f"from_page must be >= 2, got {from_page}")
        return self._add("tarpit", "", board=board, from_page=from_page)

    def error(self, status: int = 503, path_contains: str = "", count: int | None = None,
              fraction: float | None = None, seconds: float | None = None, seed: int = 0) -> Fault:
        """Answer with HTTP ``status`` and a short body."""
        return self._add("error", path_contains, count, fraction, seconds, seed, status=status)

    def slow(self, delay: float, path_contains: str = "", count: int | None = None,
             fraction: float | None = None, seconds: float | None = None, seed: int = 0) -> Fault:
        """Wait ``delay`` seconds, then serve normally."""
        return self._add("slow", path_contains, count, fraction, seconds, seed, delay=delay)

    def truncate(self, path_contains: str = "", count: int | None = None, at: float = 0.5,
                 fraction: float | None = None, seconds: float | None = None, seed: int = 0) -> Fault:
        """Cut the body at ``at`` (fraction of its bytes); Content-Length matches the cut body."""
        if not 0.0 <= at <= 1.0:
            raise ValueError(f"at must be within [0, 1], got {at}")
        return self._add("truncate", path_contains, count, fraction, seconds, seed, at=at)

    def no_charset(self, path_contains: str = "", count: int | None = None) -> Fault:
        """``Content-Type: text/html`` without a charset (body still UTF-8)."""
        return self._add("no_charset", path_contains, count)

    def wrong_charset(self, path_contains: str = "", charset: str = "iso-8859-1",
                      count: int | None = None) -> Fault:
        """Declare ``charset`` although the body is UTF-8."""
        return self._add("wrong_charset", path_contains, count, charset=charset)

    def redirect_loop(self, path_contains: str, count: int | None = None) -> Fault:
        """302 between the path and the path with ``_loop=1`` added, forever (or ``count`` times)."""
        return self._add("redirect_loop", path_contains, count)

    def huge(self, path_contains: str, size_bytes: int = 5_000_000, count: int | None = None) -> Fault:
        """Pad the page with an HTML comment of about ``size_bytes`` before its data script: valid but huge."""
        return self._add("huge", path_contains, count, size_bytes=size_bytes)
