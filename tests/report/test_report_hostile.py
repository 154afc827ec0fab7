"""A run directory is data: a report built from one full of hostile strings (config values,
metric names, curve names, ``judge/score.json`` fields, the directory's own name) shows them
as text, runs no script but its own (under a content-security policy), loads nothing from
elsewhere and never embeds a file that a link points to outside the run directory.

The structural checks parse the page (html.parser) and need nothing installed; the browser
check loads the page in headless Chromium and reads the DOM back (``--dump-dom``), skipped
with the reason where Chromium is missing."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from gankit.report.html import CSP, build_report
from gankit.report.page import render_page

# Each payload, if it ever ran, marks the page: a DOM attribute or the document's title.
MARK = "document.documentElement.setAttribute('data-pwned','{}')"
PAYLOADS = {
    "img": f'<img src=x onerror="{MARK.format("img")}">',
    "script": f"<script>{MARK.format('script')};document.title='PWNED'</script>",
    "svg": f"<svg onload=\"{MARK.format('svg')}\"></svg>",
    "attr": f'" autofocus onfocus="{MARK.format("attr")}" x="',
    "remote": '<img src="http://127.0.0.1:9/steal.png"><link rel=stylesheet href="http://127.0.0.1:9/s.css">',
}
# the run directory's own name (a name holds no '/'): a file name that reaches the page
DIR_NAME = "run<img src=x onerror=document.documentElement.setAttribute('data-pwned','dir')>"
SECRET = b"gankit-test-secret: never in a report\n"


def png(width: int = 2, height: int = 2, grey: int = 128) -> bytes:
    """A valid greyscale PNG, written from the format's definition (no image library)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes([grey]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def hostile_run(tmp_path: Path) -> dict:
    """A run directory whose every string is a payload, with samples.png and one sample grid
    linked to a file outside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.png"
    secret.write_bytes(SECRET)
    d = tmp_path / DIR_NAME
    (d / "samples").mkdir(parents=True)
    p = PAYLOADS
    (d / "config.yaml").write_text(yaml.safe_dump({
        "name": p["script"], "conditional": True, "model": {"name": p["svg"]},
        "data": {"name": p["img"], "path": p["attr"]}, "loss": {"name": p["remote"]}}))
    (d / "metrics.json").write_text(json.dumps({
        "step": 200, p["img"]: 0.5, "modes": p["script"], f"{p['svg']}_baseline": p["attr"], p["svg"]: 1.0,
        "cond_accuracy_0": 0.9, "cond_accuracy_1": 0.8, "wall_time_s": p["remote"]}))
    (d / "metrics.jsonl").write_text("\n".join(json.dumps(row) for row in [
        {"step": 100, f"{p['img']}_loss": 0.7, p["script"]: 0.1},
        {"step": 100, "eval": {p["svg"]: 0.3, "energy": 0.2}},
        {"step": 200, f"{p['img']}_loss": 0.6, p["script"]: 0.2},
    ]) + "\n")
    (d / "judge").mkdir()
    (d / "judge" / "score.json").write_text(json.dumps({"kind": p["svg"], "rows": [
        {"judge": p["img"], "protocol": p["attr"], "items": p["script"], "error": 0.4, "ci_low": 0.3,
         "ci_high": 0.5, "note": p["remote"], "per_class": {p["svg"]: {"error": 0.5, "items": p["img"]}}},
        {"judge": "discriminator", "protocol": "hype-inf", "items": f"<b>{p['svg']}</b>", "error": 0.5},
    ]}))
    (d / "samples" / "step_100.png").write_bytes(png(grey=10))
    (d / "samples" / "step_200.png").write_bytes(png(grey=200))
    os.symlink(secret, d / "samples" / "step_300.png")
    os.symlink(secret, d / "samples.png")
    out = tmp_path / "report.html"
    build_report([d], out)
    return {"dir": d, "page": out.read_text(encoding="utf-8"), "out": out}


class Elements(HTMLParser):
    """Every start tag of a page with its attributes, and every script's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def parse(page: str) -> Elements:
    e = Elements()
    e.feed(page)
    return e


def test_no_payload_survives_unescaped(hostile_run):
    page = hostile_run["page"]
    for name, payload in [*PAYLOADS.items(), ("dir", DIR_NAME)]:
        assert payload not in page, name
    assert "data-pwned" not in page.replace("&#x27;data-pwned&#x27;", "")  # only in escaped text
    tags = parse(page)
    # one script, the page's own slider; no element carries an event handler; no tag came from a payload
    assert len(tags.scripts) == 1 and "querySelectorAll('.slider')" in tags.scripts[0]
    handlers = [(t, a) for t, a in tags.tags for a in a if a.lower().startswith("on")]
    assert handlers == []
    assert not [t for t, _ in tags.tags if t in ("link", "iframe", "object", "embed", "base", "form")]
    srcs = [a["src"] for t, a in tags.tags if "src" in a]
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)


def test_hostile_strings_are_shown_as_text(hostile_run):
    """Escaped, not dropped: the reader sees what the run directory says."""
    page = hostile_run["page"]
    text = re.sub(r"<[^>]+>", "", page)
    import html

    shown = html.unescape(text)
    for name in ("img", "script", "svg"):  # config, metric names, score.json fields
        assert PAYLOADS[name] in shown, name
    assert DIR_NAME in shown
    judge = page[page.index("Real or generated?"):page.index("<h2>Config</h2>")]
    assert html.escape(PAYLOADS["script"]) in judge  # score.json's items, the field that was written raw


def test_the_page_has_a_csp_that_allows_only_its_own_script(hostile_run):
    tags = parse(hostile_run["page"])
    metas = [a for t, a in tags.tags
             if t == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy"]
    assert len(metas) == 1 and metas[0]["content"] == CSP
    policy = dict((d.split()[0], d.split()[1:]) for d in CSP.split(";") if d.strip())
    assert policy["default-src"] == ["'none'"] and policy["img-src"] == ["data:"] and policy["base-uri"] == ["'none'"]
    own = base64.b64encode(hashlib.sha256(tags.scripts[0].encode()).digest()).decode()
    assert policy["script-src"] == [f"'sha256-{own}'"]  # the one script, by its hash: no 'unsafe-inline'
    head = hostile_run["page"][:hostile_run["page"].index("<title>")]
    assert 'http-equiv="Content-Security-Policy"' in head  # before anything it must govern


def test_links_out_of_the_run_directory_are_not_embedded(hostile_run):
    page = hostile_run["page"]
    secret = base64.b64encode(SECRET).decode()
    assert secret[:24] not in page
    assert "Not shown: <code>samples.png</code>, <code>samples/step_300.png</code>" in page
    assert page.count('alt="samples at step') == 2  # the two grids that are the run's own files
    assert "no samples.png in this run" in page


def test_a_link_inside_the_run_directory_is_embedded(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / "metrics.json").write_text(json.dumps({"step": 1}))
    (d / "grid.png").write_bytes(png(grey=77))
    os.symlink("grid.png", d / "samples.png")
    build_report([d], tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert base64.b64encode(png(grey=77)).decode() in page and "Not shown" not in page


def test_score_json_rows_of_any_shape_still_build_a_page(tmp_path):
    d = tmp_path / "run"
    (d / "judge").mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps({"step": "<b>x</b>"}))
    (d / "judge" / "score.json").write_text(json.dumps({"rows": [
        PAYLOADS["script"], 3, {"judge": "d", "error": True, "per_class": {"7": PAYLOADS["script"]}},
        {"judge": "e", "per_class": [1, 2]}]}))
    build_report([d], tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert PAYLOADS["script"] not in page and len(parse(page).scripts) == 1
    assert '<td class="k">d</td>' in page and '<td class="k">7</td>' in page


def test_the_judge_page_escapes_the_run_name():
    page = render_page(DIR_NAME + PAYLOADS["script"]).decode()
    tags = parse(page)
    assert DIR_NAME not in page and PAYLOADS["script"] not in page
    assert len(tags.scripts) == 1 and not [a for _, attrs in tags.tags for a in attrs if a.lower().startswith("on")]


# --------------------------------------------------------------------------- in a browser

CHROMIUM = os.environ.get("GANKIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         "--virtual-time-budget=3000"]
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                                    reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` after it loaded and its timers ran, as headless Chromium serialises it."""
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


@needs_chromium
@pytest.mark.timeout(300)
def test_in_chromium_no_payload_runs_and_the_own_script_does(hostile_run, tmp_path):
    out: Path = hostile_run["out"]
    # the slider starts at its second grid: only the page's own script, if it runs, shows step 200
    page = re.sub(r'(type="range" min="0" max="\d+") value="0"', r'\1 value="1"', hostile_run["page"])
    assert page != hostile_run["page"]
    out.write_text(page, encoding="utf-8")
    dom = dump_dom(out, tmp_path / "profile")
    assert not re.search(r"<html[^>]*data-pwned", dom) and "<title>PWNED" not in dom
    assert '<span class="steplabel">step 200</span>' in dom  # the slider's script ran, under the CSP

    # the harness can see a payload run: the same markup on a page without escaping or CSP
    control = tmp_path / "control.html"
    control.write_text(f"<!DOCTYPE html><html><head><title>t</title></head><body>{PAYLOADS['img']}</body></html>")
    assert re.search(r"<html[^>]*data-pwned=\"img\"", dump_dom(control, tmp_path / "profile2"))
