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


# --------------------------------------------------------------------------- the report's layout

# Every line box of visible text (HTML text nodes line by line, SVG <text> whole), and every
# pair of boxes of different nodes that overlap by more than 2 px both ways; every shown
# <img> whose box is smaller than its natural size.
LAYOUT_JS = """() => {
  const boxes = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node, id = 0;
  while ((node = walker.nextNode())) {
    if (!node.textContent.trim()) continue;
    const el = node.parentElement;
    if (!el || el.closest('script,style,title') || !el.checkVisibility()) continue;   // e.g. a closed <details>
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = el.closest('svg') ? [el.getBoundingClientRect()] : Array.from(range.getClientRects());
    for (const r of rects) {
      if (r.width > 0.5 && r.height > 0.5) boxes.push({id: id, text: node.textContent.trim().slice(0, 40),
        l: r.left + scrollX, t: r.top + scrollY, r: r.right + scrollX, b: r.bottom + scrollY});
    }
    id++;
  }
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], c = boxes[j];
    if (a.id === c.id) continue;
    const w = Math.min(a.r, c.r) - Math.max(a.l, c.l), h = Math.min(a.b, c.b) - Math.max(a.t, c.t);
    if (w > 2 && h > 2) overlaps.push([a.text, c.text]);
  }
  const shrunk = Array.from(document.querySelectorAll('img')).filter(im => !im.hidden && im.complete).map(im => {
    const r = im.getBoundingClientRect();
    return {w: r.width, h: r.height, nw: im.naturalWidth, nh: im.naturalHeight, pixelated:
            getComputedStyle(im).imageRendering === 'pixelated', grid: im.classList.contains('grid') ||
            !!im.closest('.slider')};
  });
  return {texts: boxes.length, overlaps: overlaps, images: shrunk};
}"""


def layout(browser: object, path: Path, shot: Path | None = None) -> dict:
    """Open ``path`` offline and measure it (:data:`LAYOUT_JS`); a full-page screenshot to ``shot``."""
    page = browser.new_page()
    try:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(path.resolve().as_uri())
        page.wait_for_load_state("load")
        if shot is not None:
            page.screenshot(path=str(shot), full_page=True)
        return page.evaluate(LAYOUT_JS)
    finally:
        page.close()


def _check(result: dict) -> None:
    assert result["texts"] > 50                               # the measurement saw the page's text
    assert result["overlaps"] == [], result["overlaps"][:5]
    shown = result["images"]
    assert shown, "no image measured"
    for im in shown:
        assert im["w"] >= im["nw"] - 0.5 and im["h"] >= im["nh"] - 0.5, im    # never below native size
        assert im["pixelated"] == im["grid"], im   # sample grids pixelated, figures (matplotlib) smooth


@pytest.fixture(scope="module")
def translation_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pix2pix on 8x8 digit edges for 4 steps: a grid of input | output | target columns."""
    import gankit

    d = tmp_path_factory.mktemp("runs") / "pix2pix"
    gankit.train({"model": {"name": "pix2pix", "width": 4, "d_width": 4, "d_layers": 1},
                  "data": {"name": "pair-task", "base": "digits", "task": "edges", "size": 8, "num": 64,
                           "test_num": 16}},
                 overrides=["train.steps=4", "train.batch_size=8", "train.progress=false", "eval.metrics=[]"],
                 run_dir=d)
    return d


def test_report_pages_have_no_overlapping_text_and_no_shrunk_images(
        browser: object, point_run: Path, cond_run: Path, translation_run: Path, tmp_path: Path) -> None:
    import gankit
    from gankit.report import build_report, write_report

    other = tmp_path / "ring-wgan-with-a-long-run-name"
    gankit.train({"loss": "wgan", "data": "ring"}, overrides=["train.steps=20", "train.progress=false",
                                                              "train.eval_every=10", "eval.num_samples=200"],
                 run_dir=other)
    pages = {"points": write_report(point_run), "images": write_report(cond_run),
             "translation": write_report(translation_run),
             "comparison": build_report([point_run, other], tmp_path / "compare.html")}
    shots = Path(os.environ.get("GANKIT_SCREENSHOTS") or tmp_path)
    for name, path in pages.items():
        result = layout(browser, path, shots / f"report-{name}.png")
        assert (shots / f"report-{name}.png").stat().st_size > 10_000, name
        _check(result)


def test_the_layout_check_finds_a_broken_page(browser: object, tmp_path: Path) -> None:
    # two texts on top of each other and a 40 x 30 figure drawn at 20 x 15: what the check exists to catch
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buf, format="PNG")
    png = base64.b64encode(buf.getvalue()).decode()
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>" + "word " * 60 + "</p>"
                    '<div style="position:absolute;left:10px;top:200px">first label</div>'
                    '<div style="position:absolute;left:14px;top:204px">second label</div>'
                    f'<img style="width:20px;height:15px" src="data:image/png;base64,{png}"></body></html>')
    result = layout(browser, page)
    assert result["overlaps"] == [["first label", "second label"]]
    assert [(im["w"], im["h"], im["nw"], im["nh"]) for im in result["images"]] == [(20, 15, 40, 30)]
    with pytest.raises(AssertionError):
        _check({**result, "texts": 100})
