"""The judge's web server: standard library only, bound to 127.0.0.1 unless told otherwise.

Routes (nothing else exists, so nothing outside them can be reached, whatever the path
spells: ``..``, ``%2e%2e``, absolute paths and file names all fall through to 404):

* ``GET /`` (and ``/index.html``): the page (:mod:`gankit.report.page`);
* ``GET /api/state``: the session's progress and the next question;
* ``GET /api/item/<i>``: question ``i`` (a PNG image, or a JSON batch of points);
* ``GET /favicon.ico``: 204, empty;
* ``POST /api/answer``: ``{"item": i, "answer": "real" | "generated", "rt_ms": ...}``.

Every error is a status and a one-line JSON ``{"error": ...}``, never a traceback: 400 bad
request (malformed JSON, fields or Host), 404 unknown path or question, 405 other methods,
409 an answer to a question already answered or not current, 411/413 missing or oversized
bodies, 415 a body that is not JSON (so a page elsewhere cannot post answers with a plain
form; browsers preflight a cross-origin JSON post and this server never allows one).
"""

from __future__ import annotations

import io
import json
import math
import re
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from gankit import jsonio
from gankit.report.judge import ANSWERS, AnswerConflict, Session
from gankit.report.page import CSP, render_page
from gankit.report.score import error_row, protocol_name

MAX_BODY = 4096
_ITEM = re.compile(r"^/api/item/(\d{1,7})$")
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")


def item_png(x: np.ndarray, scale: int = 0) -> bytes:
    """One image ``(C, H, W)`` in [-1, 1] as PNG bytes (nearest-neighbour upscaled to >= 112 px)."""
    from PIL import Image

    a = np.clip((x.astype(np.float32) + 1) * 127.5, 0, 255).round().astype(np.uint8)
    img = Image.fromarray(a[0] if a.shape[0] == 1 else np.transpose(a[:3], (1, 2, 0)))
    scale = scale or max(1, math.ceil(112 / max(img.width, img.height)))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class JudgeApp:
    """What the handler serves: the session, the page, and rendered items (cached)."""

    def __init__(self, session: Session, title: str, *, allowed_hosts: tuple[str, ...] = ()) -> None:
        self.session, self.title = session, title
        self.page = render_page(title)
        self.allowed_hosts = allowed_hosts
        self._cache: dict[int, tuple[bytes, str]] = {}
        self._lock = threading.Lock()
        self.finished = threading.Event()
        if session.done:
            self.finished.set()
        items = session.items
        if items.kind == "points":
            self.limits = items.limits()
            self.window = items.window() if items.x.shape[-1] == 2 else None
            if items.x.shape[-1] == 1:
                self.bins = np.linspace(*self.limits, 41)
                counts = [np.histogram(x[:, 0], bins=self.bins)[0] for x in items.x]
                self.ymax = int(max(c.max() for c in counts)) or 1

    def state(self) -> dict[str, Any]:
        s = self.session
        log = s.log
        nxt = log.next_item
        out: dict[str, Any] = {"session": s.name, "n": len(s.items), "answered": len(log.answers), "next": nxt,
                               "kind": s.items.kind, "exposure_ms": s.exposure_ms,
                               "protocol": protocol_name(s.exposure_ms), "done": nxt is None}
        if nxt is None:
            ans = [log.answers[i] for i in sorted(log.answers)]
            row = error_row("you", protocol_name(s.exposure_ms), np.array([a["truth"] == "real" for a in ans]),
                            np.array([a["answer"] == "real" for a in ans]))
            out["result"] = {k: row[k] for k in ("items", "error", "ci_low", "ci_high", "fake_error", "real_error")}
        return out

    def item(self, i: int) -> tuple[bytes, str]:
        with self._lock:
            if i not in self._cache:
                x = self.session.items.x[i]
                if self.session.items.kind == "images":
                    self._cache[i] = (item_png(x), "image/png")
                else:
                    body: dict[str, Any] = {"limits": list(self.limits)}
                    if x.shape[-1] == 1:
                        body["hist"] = np.histogram(x[:, 0], bins=self.bins)[0].tolist()
                        body["ymax"] = self.ymax
                    else:
                        body["xlim"], body["ylim"] = (list(w) for w in self.window)
                        body["points"] = np.round(x, 5).tolist()
                    self._cache[i] = (json.dumps(body).encode(), "application/json")
            return self._cache[i]

    def answer(self, body: Any) -> dict[str, Any]:
        """Validate and record one answer; raises :class:`RequestError`."""
        if not isinstance(body, dict):
            raise RequestError(400, "the body must be a JSON object")
        unknown = set(body) - {"item", "answer", "rt_ms"}
        if unknown:
            raise RequestError(400, f"unknown field {sorted(unknown)[0]!r}")
        i, said, rt = body.get("item"), body.get("answer"), body.get("rt_ms")
        if not isinstance(i, int) or isinstance(i, bool):
            raise RequestError(400, "item must be an integer")
        if said not in ANSWERS:
            raise RequestError(400, "answer must be 'real' or 'generated'")
        if rt is not None and (not isinstance(rt, (int, float)) or isinstance(rt, bool) or not math.isfinite(rt)
                               or rt < 0):
            raise RequestError(400, "rt_ms must be a non-negative number")
        items = self.session.items
        if not 0 <= i < len(items):
            raise RequestError(404, f"unknown question {i}")
        truth = "real" if items.real[i] else "generated"
        label = int(items.label[i]) if items.label[i] >= 0 else None
        try:
            self.session.log.answer(i, said, truth, label, None if rt is None else float(rt), self.session.exposure_ms)
        except AnswerConflict as e:
            raise RequestError(409, str(e)) from None
        if self.session.done:
            self.finished.set()
        return self.state()


class RequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    server_version = "gankit-judge"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    # the version assumed before a request line is understood: an error about a garbled line
    # then still has a status line (the stdlib's HTTP/0.9 default sends the body alone)
    default_request_version = "HTTP/1.0"
    app: JudgeApp  # set on the server's handler class
    quiet = True

    # -- plumbing ---------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        if not self.quiet:
            sys.stderr.write(f"judge: {self.address_string()} {format % args}\n")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's own errors (malformed request lines, headers) as one JSON line too."""
        if code >= 500:  # 505 for an unknown HTTP version: the client's fault, so a 4xx here
            message, code = f"{HTTPStatus(code).phrase}: bad request", 400
        self._send(code, {"error": message or HTTPStatus(code).phrase}, close=True)

    def _send(self, status: int, body: Any, content_type: str = "application/json", close: bool = False) -> None:
        data = body if isinstance(body, bytes) else (json.dumps(body) + "\n").encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type if content_type != "text/html" else "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Content-Security-Policy", CSP)
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _check_host(self) -> None:
        if not self.app.allowed_hosts:
            return
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1:
            raise RequestError(400, "one Host header required")
        host = hosts[0].strip().lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name not in self.app.allowed_hosts:
            # a page elsewhere that rebinds its own name to 127.0.0.1 sends its own Host
            raise RequestError(400, "unexpected Host header")

    def _route(self, method: str) -> None:
        try:
            self._check_host()
            path = urlsplit(self.path).path if self.path.startswith("/") else None
            if path is None:
                raise RequestError(400, "the request target must be a path")
            if method == "GET":
                self._get(path)
            else:
                self._post(path)
        except RequestError as e:
            self._send(e.status, {"error": str(e)}, close=e.status in (411, 413))
        except Exception as e:  # noqa: BLE001 - a bug must not put a traceback in the page
            sys.stderr.write(f"judge: internal error on {method} {self.path!r}: {type(e).__name__}: {e}\n")
            self._send(500, {"error": "internal error"}, close=True)

    def _get(self, path: str) -> None:
        if path in ("/", "/index.html"):
            self._send(200, self.app.page, "text/html")
        elif path == "/api/state":
            self._send(200, self.app.state())
        elif path == "/favicon.ico":  # browsers ask for one; there is none (and no 404 in their console)
            self._send(204, b"", "image/x-icon")
        elif m := _ITEM.match(path):
            i = int(m.group(1))
            if not 0 <= i < len(self.app.session.items):
                raise RequestError(404, f"unknown question {i}")
            body, ctype = self.app.item(i)
            self._send(200, body, ctype)
        elif path in ("/api/answer",):
            raise RequestError(405, "use POST")
        else:
            raise RequestError(404, "not found")

    def _post(self, path: str) -> None:
        if path != "/api/answer":
            known = path in ("/", "/index.html", "/api/state") or _ITEM.match(path)
            raise RequestError(405, "method not allowed") if known else RequestError(404, "not found")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise RequestError(415, "the body must be application/json")
        length = self.headers.get("Content-Length")
        if length is None or "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raise RequestError(411, "Content-Length required")
        try:
            n = int(length)
        except ValueError:
            raise RequestError(400, "bad Content-Length") from None
        if n < 0:
            raise RequestError(400, "bad Content-Length")
        if n > MAX_BODY:
            raise RequestError(413, f"body larger than {MAX_BODY} bytes")
        raw = self.rfile.read(n)
        try:
            body = jsonio.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError):
            raise RequestError(400, "malformed JSON") from None
        self._send(200, self.app.answer(body))

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's names
        self._route("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def __getattr__(self, name: str) -> Any:
        # Any other method (PUT, DELETE, OPTIONS, made-up ones): 405, not the stdlib's 501.
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self._send(405, {"error": "method not allowed"}, close=True)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class JudgeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(app: JudgeApp, host: str = "127.0.0.1", port: int = 8765, *, quiet: bool = True) -> JudgeServer:
    handler = type("BoundHandler", (Handler,), {"app": app, "quiet": quiet})
    if host in ("127.0.0.1", "localhost", "::1") and not app.allowed_hosts:
        app.allowed_hosts = _LOOPBACK
    server_class = type("JudgeServer6", (JudgeServer,), {"address_family": socket.AF_INET6}) if ":" in host \
        else JudgeServer
    return server_class((host, port), handler)
