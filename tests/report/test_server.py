"""The judge server over raw HTTP: only its own routes, every bad request a 4xx with a
one-line JSON error (never a traceback), answers on disk before the reply, resumable."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gankit.errors import ConfigError
from gankit.report.judge import AnswerLog
from gankit.report.server import JudgeApp, make_server

from .conftest import make_session


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, JudgeApp, Path]]:
    (tmp_path / "secret.txt").write_text("do not serve me")
    app = JudgeApp(make_session(tmp_path), "test-run")
    server = make_server(app, "127.0.0.1", 0)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield server.server_address[1], app, tmp_path
    server.shutdown()
    server.server_close()


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host="Host" in (headers or {}), skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None and "Content-Length" not in (headers or {}):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, r.read(), {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


def post(port: int, obj: object, **kw: object) -> tuple[int, dict]:
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    status, data, _ = request(port, "POST", "/api/answer", body, {"Content-Type": "application/json", **kw})
    return status, json.loads(data)


def raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _assert_clean_error(status: int, body: bytes, lo: int = 400) -> None:
    assert lo <= status < 500, (status, body)
    assert b"Traceback" not in body and b"File \"" not in body
    assert set(json.loads(body)) == {"error"}


def test_page_state_and_items(served: tuple[int, JudgeApp, Path]) -> None:
    port, app, _ = served
    status, page, h = request(port, "GET", "/")
    assert status == 200 and h["content-type"].startswith("text/html") and b"Real or generated?" in page
    assert "default-src 'none'" in h["content-security-policy"] and h["x-content-type-options"] == "nosniff"
    assert b"http://" not in page and b"https://" not in page   # nothing loaded from elsewhere
    status, body, _ = request(port, "GET", "/api/state")
    state = json.loads(body)
    assert status == 200 and state == {"session": "t", "n": 6, "answered": 0, "next": 0, "kind": "images",
                                       "exposure_ms": None, "protocol": "HYPE∞", "done": False}
    status, png, h = request(port, "GET", "/api/item/5")
    assert status == 200 and h["content-type"] == "image/png" and png.startswith(b"\x89PNG")
    assert b"real" not in body.lower().replace(b'"kind"', b"")   # the state never says which item is real


@pytest.mark.parametrize("path", [
    "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "//etc/passwd",
    "/etc/passwd", "/api/item/../../../etc/passwd", "/api/item/0/../../secret.txt", "/secret.txt",
    "/judge/t.jsonl", "/index.html/../secret.txt", "/api/item/%30", "/api/item/-1", "/api/item/6",
    "/api/item/99999999", "/gankit/report/server.py", "/api/item/0%00.png", "/..%5c..%5csecret.txt",
])
def test_nothing_outside_the_routes_is_served(served: tuple[int, JudgeApp, Path], path: str) -> None:
    port, _, _ = served
    status, body, _ = request(port, "GET", path)
    _assert_clean_error(status, body)
    assert status == 404
    assert b"root:" not in body and b"do not serve me" not in body


def test_absolute_form_and_garbage_request_lines(served: tuple[int, JudgeApp, Path]) -> None:
    port, _, _ = served
    for line in (b"GET /etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                 b"GET http://127.0.0.1/../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                 b"GET file:///etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                 b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x02\x00\r\n\r\n"):
        reply = raw(port, line)
        head, _, body = reply.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        assert 400 <= status < 500 and b"root:" not in reply and b"Traceback" not in reply, reply


@pytest.mark.parametrize("body, status", [
    (b"{bad json", 400), (b"\xff\xfe", 400), (b"[1, 2]", 400), (b'"real"', 400), (b"{}", 400),
    (b'{"item": 0}', 400), (b'{"item": 0, "answer": "maybe"}', 400), (b'{"item": true, "answer": "real"}', 400),
    (b'{"item": "0", "answer": "real"}', 400), (b'{"item": 0.0, "answer": "real"}', 400),
    (b'{"item": 0, "answer": "real", "rt_ms": -1}', 400), (b'{"item": 0, "answer": "real", "rt_ms": NaN}', 400),
    (b'{"item": 0, "answer": "real", "extra": 1}', 400), (b'{"item": 99, "answer": "real"}', 404),
    (b'{"item": -1, "answer": "real"}', 404), (b'{"item": 3, "answer": "real"}', 409),
])
def test_malformed_answers_are_refused(served: tuple[int, JudgeApp, Path], body: bytes, status: int) -> None:
    port, app, tmp = served
    got, reply = post(port, body)
    assert got == status, reply
    assert set(reply) == {"error"}
    assert app.session.log.answers == {}
    assert len((tmp / "judge" / "t.jsonl").read_text().splitlines()) == 1   # the header only


def test_bad_headers_and_methods(served: tuple[int, JudgeApp, Path]) -> None:
    port, _, _ = served
    ok = json.dumps({"item": 0, "answer": "real"}).encode()
    cases = [
        (("POST", "/api/answer", ok, {"Content-Type": "text/plain"}), 415),
        (("POST", "/api/answer", ok, {"Content-Type": "application/x-www-form-urlencoded"}), 415),
        (("POST", "/api/answer", b"x" * 5000, {"Content-Type": "application/json"}), 413),
        (("POST", "/api/answer", ok, {"Content-Type": "application/json", "Content-Length": "abc"}), 400),
        (("GET", "/api/state", None, {"Host": "evil.example:80"}), 400),   # DNS rebinding
        (("PUT", "/", ok, {}), 405), (("DELETE", "/api/answer", None, {}), 405), (("BREW", "/", None, {}), 405),
        (("OPTIONS", "/api/answer", None, {"Origin": "http://evil.example"}), 405),
        (("POST", "/", ok, {"Content-Type": "application/json"}), 405), (("GET", "/api/answer", None, {}), 405),
        (("POST", "/nowhere", ok, {"Content-Type": "application/json"}), 404),
    ]
    for (method, path, body, headers), want in cases:
        status, data, h = request(port, method, path, body, headers)
        assert status == want, (method, path, headers, status, data)
        _assert_clean_error(status, data)
        assert "access-control-allow-origin" not in h
    reply = raw(port, b"POST /api/answer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 411")


def test_answers_in_order_on_disk_before_the_reply_and_resumed(served: tuple[int, JudgeApp, Path]) -> None:
    port, app, tmp = served
    log = tmp / "judge" / "t.jsonl"
    for i, said in enumerate(["real", "generated", "generated"]):
        status, state = post(port, {"item": i, "answer": said, "rt_ms": 812.5})
        assert status == 200 and state["answered"] == i + 1 and state["next"] == i + 1
        rows = [json.loads(line) for line in log.read_text().splitlines()]
        assert len(rows) == i + 2 and rows[-1]["item"] == i and rows[-1]["answer"] == said
        assert rows[-1]["truth"] == ("real" if app.session.items.real[i] else "generated")
    status, reply = post(port, {"item": 1, "answer": "real"})
    assert status == 409 and "already answered" in reply["error"]
    status, reply = post(port, {"item": 5, "answer": "real"})
    assert status == 409 and "not the current question" in reply["error"]
    # a torn line (a crash inside a write) is skipped and the next answer starts a new line
    with open(log, "a") as f:
        f.write('{"type":"answer","item":3,"ans')
    again = AnswerLog(log, app.session.log.header)
    assert sorted(again.answers) == [0, 1, 2] and again.next_item == 3
    again.answer(3, "real", "generated", 0, None, None)
    assert json.loads(log.read_text().splitlines()[-1])["item"] == 3
    with pytest.raises(ConfigError, match="started with n=6"):
        AnswerLog(log, {**app.session.log.header, "n": 8})


def test_finishing_gives_the_result(served: tuple[int, JudgeApp, Path]) -> None:
    port, app, _ = served
    real = app.session.items.real
    for i in range(6):   # right on the first four, wrong on the last two
        said = ("real" if real[i] else "generated") if i < 4 else ("generated" if real[i] else "real")
        post(port, {"item": i, "answer": said})
    _, body, _ = request(port, "GET", "/api/state")
    state = json.loads(body)
    assert state["done"] and state["next"] is None and app.finished.is_set()
    assert state["result"]["error"] == pytest.approx(2 / 6) and state["result"]["items"] == 6
    status, reply = post(port, {"item": 5, "answer": "real"})
    assert status == 409
