"""The replay site: a local HTTP server answering Guba's URL shapes from a :class:`SiteModel`.

Routes (paths exactly as on guba.eastmoney.com; point ``GUBA_BASE_URL`` at :attr:`ReplaySite.base_url`):

* ``GET /list,{code}.html``, ``/list,{code}_{n}.html`` (by last activity), ``/list,{code},f.html``,
  ``/list,{code},f_{n}.html`` (by publish time). Unknown board -> ``302 /error?type=1``.
* ``GET /news,{bar},{post_id}.html`` -> post page; deleted or unknown post -> ``302 /error?type=2``.
* ``GET /error?type=N`` -> the error404 shell (200).
* ``POST /api/getData?code={bar}&path=reply/api/Reply/ArticleNewReplyList`` and
  ``POST /interface/GetData.aspx`` with form ``param=postid={id}&sort=1&sorttype=1&p={p}&ps={ps}`` -> reply JSON.
* ``GET /caifuhao/news/{id}`` -> 财富号 page whose body only a browser can see.

Standard library only: :class:`http.server.ThreadingHTTPServer` in a background thread, HTTP/1.1
keep-alive, one ``write`` per response (no Nagle stalls). Rendered bodies are cached per model version.

Log kinds (``.requests`` entries are ``(method, path_with_query, status, kind)``): ``list``, ``post``
(including the 302 of a deleted post), ``replies``, ``error`` (``/error`` pages and injected error
statuses), ``verification`` (the 身份核实 shell), ``other``.
"""

from __future__ import annotations

import contextlib
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.site import render
from tests.site.faults import LIST_PATH_RE, Fault, FaultSet
from tests.site.model import SiteModel

HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
_POST_PATH_RE = re.compile(r"^/news,([A-Za-z0-9_.]+),(\d+)(?:_\d+)?\.html$")
_CAIFUHAO_RE = re.compile(r"^/caifuhao/news/(\d+)$")
_DATA_MARKERS = (b"<script>var article_list=", b"<script>var post_article=")


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = HTML
    kind: str = "other"
    headers: list[tuple[str, str]] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], site: ReplaySite) -> None:
        self.site = site
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-request (timeouts in fault tests, crawler killed) is normal here.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GubaReplay/1.0"
    timeout = 60  # idle keep-alive connections give their thread back eventually
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.server.site._serve(self, "GET")

    def do_POST(self) -> None:
        self.server.site._serve(self, "POST")

    def do_HEAD(self) -> None:
        self.server.site._serve(self, "HEAD")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the site keeps its own structured log


class ReplaySite:
    """A scriptable local Guba serving ``model`` on ``host:port`` (port 0 = any free port).

    Use as a context manager or call :meth:`start` / :meth:`stop`. Inspect traffic with :attr:`requests`,
    :meth:`count`, :meth:`reset_log`; script misbehaviour with :attr:`faults`.
    """

    def __init__(self, model: SiteModel, host: str = "127.0.0.1", port: int = 0) -> None:
        self.model = model
        self.faults = FaultSet()
        self._host, self._port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._log: list[tuple[str, str, int, str]] = []
        self._reply_forms: list[bytes] = []
        self._log_lock = threading.Lock()
        self._cache: dict[tuple[Any, ...], Response] = {}
        self._cache_version = -1

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> ReplaySite:
        """Bind and serve in a daemon thread; returns ``self``. Starting twice raises ``RuntimeError``."""
        if self._server is not None:
            raise RuntimeError("replay site already started")
        self._server = _Server((self._host, self._port), self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"replay-site:{self._port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections (clients then see a closed connection).
        Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with server.sockets_lock:
            sockets = list(server.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ReplaySite:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:{port}`` (valid once started)."""
        return f"http://{self._host}:{self._port}"

    def url(self, path: str) -> str:
        """``base_url`` + ``path`` (``path`` starts with ``/``)."""
        return self.base_url + path

    # ------------------------------------------------------------------ log
    @property
    def requests(self) -> list[tuple[str, str, int, str]]:
        """Snapshot of the request log: ``(method, path_with_query, status, kind)`` in arrival order."""
        with self._log_lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._log_lock:
            self._log.clear()
            self._reply_forms.clear()

    def reply_pages_requested(self, post_id: str) -> list[int]:
        """Replies-API page numbers asked for ``post_id``, in arrival order (from the logged form bodies)."""
        from urllib.parse import parse_qs

        pages = []
        with self._log_lock:
            forms = list(self._reply_forms)
        for form in forms:
            inner = parse_qs(parse_qs(form.decode("utf-8", "replace")).get("param", [""])[0])
            if inner.get("postid", [""])[0] == str(post_id):
                pages.append(int(inner.get("p", ["1"])[0]))
        return pages

    def count(self, kind: str | None = None, path_contains: str | None = None) -> int:
        """Logged requests of ``kind`` (any if ``None``) whose path contains ``path_contains``."""
        with self._log_lock:
            return sum(1 for _, path, _, k in self._log
                       if (kind is None or k == kind) and (path_contains is None or path_contains in path))

    # ------------------------------------------------------------------ serving
    def _serve(self, handler: _Handler, method: str) -> None:
        path = handler.path
        length = int(handler.headers.get("Content-Length") or 0)
        form = handler.rfile.read(length) if length > 0 else b""
        try:
            resp = self.respond(method, path, form)
        except Exception as exc:  # a bug in the site must show up as a 500, not a hung client
            resp = Response(500, f"replay site error: {exc!r}".encode(), "text/plain; charset=utf-8", "error")
        reason = HTTPStatus(resp.status).phrase if resp.status in HTTPStatus._value2member_map_ else "Unknown"
        lines = [f"HTTP/1.1 {resp.status} {reason}", f"Server: {handler.server_version}",
                 f"Date: {formatdate(usegmt=True)}", f"Content-Type: {resp.content_type}",
                 f"Content-Length: {len(resp.body)}"]
        lines += [f"{k}: {v}" for k, v in resp.headers]
        if handler.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        with self._log_lock:
            self._log.append((method, path, resp.status, resp.kind))
            if resp.kind == "replies" and form:
                self._reply_forms.append(form)
        try:
            handler.wfile.write(head if method == "HEAD" else head + resp.body)
        except OSError:
            handler.close_connection = True

    def respond(self, method: str, path: str, form: bytes = b"") -> Response:
        """The response to one request after faults (also usable without a socket, e.g. in benchmarks)."""
        fault = self.faults.match(path)
        if fault is None:
            return self._route(method, path, form)
        return self._apply(fault, method, path, form)

    def _apply(self, fault: Fault, method: str, path: str, form: bytes) -> Response:
        kind = fault.kind
        if kind == "verification":
            return Response(200, render.VERIFICATION_SHELL, HTML, "verification")
        if kind == "error":
            status = int(fault.params["status"])
            return Response(status, f"<html><body><h1>{status}</h1></body></html>".encode(), HTML, "error")
        if kind == "redirect_loop":
            parts = urlsplit(path)
            query = [q for q in parts.query.split("&") if q and q != "_loop=1"]
            if "_loop=1" not in parts.query.split("&"):
                query.append("_loop=1")
            target = parts.path + ("?" + "&".join(query) if query else "")
            return Response(302, b"", HTML, self._kind_of(parts.path), [("Location", target)])
        if kind == "tarpit":
            return self._route(method, path, form, page_override=int(fault.params["from_page"]) - 1)
        if kind == "slow":
            time.sleep(float(fault.params["delay"]))
            return self._route(method, path, form)
        resp = self._route(method, path, form)
        if kind == "truncate":
            return replace(resp, body=resp.body[: int(len(resp.body) * float(fault.params["at"]))])
        if kind == "no_charset":
            return replace(resp, content_type=resp.content_type.split(";")[0])
        if kind == "wrong_charset":
            return replace(resp, content_type=f"{resp.content_type.split(';')[0]}; charset={fault.params['charset']}")
        if kind == "huge":
            return replace(resp, body=_pad(resp.body, int(fault.params["size_bytes"])))
        raise AssertionError(f"unknown fault kind {kind!r}")  # pragma: no cover

    @staticmethod
    def _kind_of(path: str) -> str:
        if path.startswith("/list,"):
            return "list"
        if path.startswith("/news,"):
            return "post"
        if path.startswith(("/api/getData", "/interface/GetData.aspx")):
            return "replies"
        if path.startswith("/error"):
            return "error"
        return "other"

    def _cached(self, key: tuple[Any, ...], build: Callable[[], Response]) -> Response:
        model = self.model
        with model.lock:
            if self._cache_version != model.version:
                self._cache.clear()
                self._cache_version = model.version
            resp = self._cache.get(key)
            if resp is None:
                resp = build()
                self._cache[key] = resp
            return resp

    def _route(self, method: str, path: str, form: bytes, page_override: int | None = None) -> Response:
        parts = urlsplit(path)
        p = parts.path
        model = self.model
        if method in ("GET", "HEAD"):
            m = LIST_PATH_RE.match(p)
            if m:
                code, sort = m.group(1), "publish" if m.group(2) else "reply"
                page = page_override if page_override is not None else int(m.group(3) or 1)
                if code not in model.boards:
                    return Response(302, b"", HTML, "list", [("Location", "/error?type=1")])
                return self._cached(("list", code, sort, page), lambda: Response(
                    200, render.list_page(model, code, page, sort), HTML, "list"))
            m = _POST_PATH_RE.match(p)
            if m:
                post = model.posts.get(m.group(2))
                if post is None or post.deleted:
                    return Response(302, b"", HTML, "post", [("Location", "/error?type=2")])
                return self._cached(("post", post.post_id), lambda: Response(
                    200, render.post_page(model, post), HTML, "post"))
            if p.rstrip("/") == "/error":
                return Response(200, render.ERROR_SHELL, HTML, "error")
            m = _CAIFUHAO_RE.match(p)
            if m:
                found = model.find_by_source_id(m.group(1))
                if found is None:
                    return Response(302, b"", HTML, "other", [("Location", "/error?type=2")])
                return Response(200, render.caifuhao_page(found), HTML, "other")
            if p == "/":
                links = "".join(f'<li><a href="/list,{c}.html">{b.name}吧</a></li>' for c, b in model.boards.items())
                return Response(200, f"<!DOCTYPE html><html><body><ul>{links}</ul></body></html>".encode(),
                                HTML, "other")
        elif method == "POST" and p in ("/api/getData", "/interface/GetData.aspx"):
            return self._replies(parts.query, form)
        return Response(404, render.ERROR_SHELL, HTML, "other")

    def _replies(self, query: str, form: bytes) -> Response:
        fields = parse_qs(form.decode("utf-8", "replace"), keep_blank_values=True)
        api_path = (parse_qs(query).get("path") or fields.get("path") or [""])[0]
        if "ArticleNewReplyList" not in api_path:
            body = b'{"re":[],"rc":0,"me":"\xe7\xb3\xbb\xe7\xbb\x9f\xe7\xb9\x81\xe5\xbf\x99"}'  # 系统繁忙
            return Response(200, body, JSON, "other")
        inner = parse_qs((fields.get("param") or [""])[0])

        def num(name: str, default: int) -> int:
            try:
                return int((inner.get(name) or [str(default)])[0])
            except ValueError:
                return default

        post_id = (inner.get("postid") or [""])[0]
        page, size = num("p", 1), min(num("ps", 30), 200)
        return self._cached(("replies", post_id, page, size), lambda: Response(
            200, render.replies_payload(self.model, post_id, page, size), JSON, "replies"))


def _pad(body: bytes, size: int) -> bytes:
    """Insert an HTML comment of about ``size`` bytes before the data script (else before ``</head>``,
    else at the front), keeping the page valid."""
    comment = b"<!-- " + b" " * max(size - 9, 0) + b" -->"
    for marker in (*_DATA_MARKERS, b"</head>"):
        at = body.find(marker)
        if at >= 0:
            return body[:at] + comment + body[at:]
    return comment + body
