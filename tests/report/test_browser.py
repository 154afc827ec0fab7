"""The judge page in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright without its own browser download) against `gankit judge` run as a command.

Skipped, with the reason, where Chromium or the Playwright package is missing (.ci/run
installs both, best effort)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("GANKIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
    pytest.mark.timeout(240),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                                             "(pip install playwright; it uses /usr/bin/chromium)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield ctx
        ctx.close()


class Server:
    """`gankit judge RUN ...` in a subprocess; ``url`` once it listens."""

    def __init__(self, run_dir: Path, *args: str) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "gankit", "judge", str(run_dir), "--port", "0",
                                      "--pool", "100", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.lines: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"judge exited {self.proc.wait()}: {self.proc.stderr.read()}")
            self.lines.append(line)
            if m := re.search(r"open (http://127\.0\.0\.1:\d+/)", line):
                self.url = m.group(1)
                return
        raise AssertionError("judge did not start in 90 s")

    def stop(self) -> tuple[int, str, str]:
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=120)
        return self.proc.returncode, "".join(self.lines) + out, err

    def kill(self) -> None:
        self.proc.kill()   # SIGKILL: no handler runs, nothing is flushed by the server on exit
        self.proc.wait(timeout=30)


def _answer(page: object, items: range, key_for: dict[int, str], masked: bool = False) -> None:
    for i in items:
        page.wait_for_selector(f'main[data-phase="question"][data-item="{i}"]', timeout=30_000)
        if masked:
            page.wait_for_selector('main[data-masked="1"]', timeout=10_000)
        page.keyboard.press(key_for[i])
    # a selector, not a JS predicate: the page's Content-Security-Policy forbids eval
    page.wait_for_selector('main:not([data-phase="sending"])', timeout=30_000)


def _answers(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0]["type"] == "session"
    return rows[1:]


def test_twenty_questions_by_keyboard_killed_and_resumed(browser: object, cond_run: Path) -> None:
    errors: list[str] = []
    page = browser.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    keys = {i: ("r" if (i * 7) % 3 else "f") for i in range(20)}
    log = cond_run / "judge" / "hype-inf.jsonl"

    server = Server(cond_run)
    page.goto(server.url)
    page.wait_for_selector('main[data-phase="intro"]')
    assert "start" in page.inner_text("#start-label")
    page.keyboard.press("Enter")
    _answer(page, range(8), keys)
    page.wait_for_selector('main[data-phase="question"][data-item="8"]')
    assert page.evaluate("document.querySelector('#stage img').naturalWidth") >= 112   # an 8x8 digit, upscaled
    assert [a["item"] for a in _answers(log)] == list(range(8))
    server.kill()   # mid-session: question 8 is on screen, unanswered

    server = Server(cond_run)
    assert "8 of 20 answered" in "".join(server.lines)
    page.goto(server.url)
    page.wait_for_selector('main[data-phase="intro"]')
    assert page.inner_text("#start-label") == "continue (8 of 20 answered)"
    page.keyboard.press("Enter")
    _answer(page, range(8, 20), keys)
    page.wait_for_selector('main[data-phase="done"]')
    result = page.inner_text("#result")

    answers = _answers(log)
    assert [a["item"] for a in answers] == list(range(20))                    # each once, in order
    assert [a["answer"] for a in answers] == ["real" if keys[i] == "r" else "generated" for i in range(20)]
    assert sum(a["truth"] == "real" for a in answers) == 10                   # half real
    error = sum(a["answer"] != a["truth"] for a in answers) / 20
    assert f"Your error rate: {100 * error:.1f} %" in result
    assert all(a["rt_ms"] is not None and a["rt_ms"] >= 0 for a in answers)

    rc, out, err = server.stop()
    assert rc == 0, err
    human = re.search(r"^human \(hype-inf\)\s+HYPE∞\s+20\s+([\d.]+)", out, re.M)
    assert human and float(human.group(1)) == pytest.approx(100 * error, abs=0.05), out
    assert re.search(r"^discriminator\s+HYPE∞ \(the session's items\)\s+20\s", out, re.M)
    # scored on data the run never trained on: digits' test split, its size beside it
    assert re.search(r"^classifier\s+test split \(\d+ real \+ \d+ generated\)", out, re.M), out
    score = json.loads((cond_run / "judge" / "score.json").read_text())
    (row,) = [r for r in score["rows"] if r["judge"] == "human (hype-inf)"]
    assert row["error"] == pytest.approx(error) and sum(c["items"] for c in row["per_class"].values()) == 20
    assert "Real or generated? (HYPE)" in (cond_run / "report.html").read_text()
    assert errors == []   # no script error, no blocked resource (the CSP would log one)
    page.close()


def test_time_limited_points_are_masked(browser: object, point_run: Path) -> None:
    # In-process (the kill and the scores on stopping are the test above's): the same server
    # and page the command serves, a scatter of 256 points per item, masked after 150 ms.
    import threading

    from gankit.report.judge import open_session
    from gankit.report.server import JudgeApp, make_server
    from gankit.session.run import load_run

    session = open_session(load_run(point_run), point_run, name="hype-150ms", n=4, seed=0, exposure_ms=150,
                           points=256)
    server = make_server(JudgeApp(session, "ring"), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    page = browser.new_page()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        page.wait_for_selector('main[data-phase="intro"]')
        assert "150 ms" in page.inner_text("#exposure")
        page.keyboard.press("Enter")
        page.wait_for_selector('main[data-phase="question"][data-item="0"]')
        assert page.evaluate("document.querySelector('#stage canvas').width") == 448   # the scatter
        page.keyboard.press("x")   # not an answer key: nothing happens
        _answer(page, range(4), {i: "rf"[i % 2] for i in range(4)}, masked=True)
        page.wait_for_selector('main[data-phase="done"]')
        assert "Your error rate" in page.inner_text("#result")
    finally:
        page.close()
        server.shutdown()
        server.server_close()
    answers = _answers(point_run / "judge" / "hype-150ms.jsonl")
    assert [a["item"] for a in answers] == [0, 1, 2, 3]
    assert [a["answer"] for a in answers] == ["real", "generated", "real", "generated"]
    assert all(a["exposure_ms"] == 150 and a["rt_ms"] >= 150 for a in answers)


def test_report_opens_offline_and_its_slider_moves(browser: object, cond_run: Path) -> None:
    from gankit.report import write_report

    path = write_report(cond_run)
    requests: list[str] = []
    errors: list[str] = []
    browser.set_offline(True)
    page = browser.new_page()
    try:
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.resolve().as_uri())
        images = page.locator("img")
        assert images.count() >= 3   # samples.png and the grids at steps 10 and 20
        assert all(images.nth(i).evaluate("im => im.complete && im.naturalWidth > 0") for i in range(images.count()))
        shown = "Array.from(document.querySelectorAll('.slider img')).filter(i => !i.hidden).map(i => i.dataset.step)"
        assert page.evaluate(shown) == ["10"]
        page.locator('.slider input[type="range"]').fill("1")
        assert page.evaluate(shown) == ["20"] and "step 20" in page.inner_text(".steplabel")
    finally:
        page.close()
        browser.set_offline(False)
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
