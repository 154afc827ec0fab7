"""report.html: what it shows (metrics beside baselines, per-class rows with the data set's
names, curves, sample slider, judge scores, config), that it loads nothing from the network,
and the `gankit report` command's one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from gankit.cli.main import main
from gankit.report import build_report, write_report
from gankit.report.html import GENERATOR_TAG

# Anything a browser would fetch: src/href/xlink/srcset/poster attributes with a scheme or
# protocol-relative URL, CSS url(...) and @import, and script/style/link elements that point out.
_REMOTE = re.compile(r"""(?:src|href|srcset|poster|action|data)\s*=\s*["']?\s*(?:https?:|//|ftp:|file:)"""
                     r"""|url\(\s*["']?\s*(?:https?:|//)|@import""", re.I)


def _png(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((20, 30), value, dtype=np.uint8)).save(path)


def fake_run(d: Path, *, conditional: bool = False, loss: str = "ns", steps: int = 300) -> Path:
    """A run directory as Run.fit leaves it (without the checkpoint, which a report never reads)."""
    d.mkdir(parents=True)
    cfg = {"name": None, "seed": 0, "model": "gan", "conditional": conditional,
           "data": {"name": "fashion-mnist" if conditional else "ring"}, "loss": {"name": loss},
           "train": {"steps": steps, "batch_size": 64}}
    (d / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    rows = [{"step": s, "d_loss": 1.3 - s / 1000, "g_loss": 0.7 + s / 2000, "D(x)": 0.55, "D(G(z))": 0.45,
             "divergence": 0.01 * s / 100} for s in range(50, steps + 1, 50)]
    rows.insert(3, {"step": 150, "eval": {"energy": 0.004, "energy_baseline": -0.0001, "modes": 6.0}})
    (d / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + '\n{"step": 999, "d_lo')  # torn last line
    metrics = {"modes": 8.0, "energy": 0.00123, "energy_baseline": -0.00005, "kid": 6.7, "kid_std": 0.73,
               "step": steps, "wall_time_s": 12.5}
    if conditional:
        metrics.update({"cond_accuracy": 0.9, **{f"cond_accuracy_{c}": 0.8 + c / 100 for c in range(10)}})
    (d / "metrics.json").write_text(json.dumps(metrics))
    _png(d / "samples.png", 128)
    if conditional:
        for s in (100, 200, 300):
            _png(d / "samples" / f"step_{s:06d}.png", s // 2)
    return d


def test_one_run_shows_its_metrics_beside_baselines(tmp_path: Path) -> None:
    d = fake_run(tmp_path / "ring-run")
    html = write_report(d).read_text()
    assert GENERATOR_TAG in html
    assert re.search(r">energy</td><td>0\.00123 <span class=\"base\">\(baseline -5\.00e-05\)</span>", html)
    assert "6.7 ± 0.73" in html                          # kid with its standard error
    assert '<td class="k">energy_baseline' not in html and '<td class="k">kid_std' not in html  # no rows of their own
    assert html.count("<svg") == 2 + 2   # losses, divergence; eval energy, modes
    for title in ("losses", "divergence estimate", "eval: energy", "eval: modes"):
        assert f'aria-label="{title}"' in html
    # D's outputs never changed (0.55, 0.45) and kid was measured once: table entries, not flat charts
    assert 'aria-label="discriminator outputs (mean)"' not in html and 'aria-label="eval: kid"' not in html
    assert re.search(r'<td class="k">D\(x\)</td><td>0\.55</td></tr><tr><td class="k">D\(G\(z\)\)</td><td>0\.45</td>', html)
    assert "Unchanged over the evaluations (no chart; final values above): kid." in html
    assert "energy_baseline" in html                     # the baseline drawn in the eval chart
    assert "ns on ring" in html and "batch_size: 64" in html   # title and the config itself
    assert "decision surface" in html                    # the 2-D picture for point data
    assert "Per class" not in html and 'class="slider"' not in html


def test_conditional_run_has_class_rows_and_a_slider(tmp_path: Path) -> None:
    d = fake_run(tmp_path / "cgan", conditional=True)
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    html = write_report(d, class_names=names).read_text()
    assert "<h2>Per class</h2>" in html
    for c, name in enumerate(names):
        assert re.search(rf'<td class="k">{c}</td><td class="k">{re.escape(name)}</td><td>{0.8 + c / 100:.4g}</td>', html)
    slider = re.search(r'<div class="slider">.*?</div>', html, re.S).group(0)
    assert re.findall(r'data-step="(\d+)"', slider) == ["100", "200", "300"]
    assert 'type="range" min="0" max="2"' in slider and slider.count(" hidden") == 2


def test_nothing_is_loaded_from_the_network(tmp_path: Path) -> None:
    d = fake_run(tmp_path / "cgan", conditional=True)
    html = write_report(d).read_text()
    assert not _REMOTE.search(html)
    assert "http://" not in html and "https://" not in html
    srcs = re.findall(r'\bsrc="([^"]*)"', html)
    assert len(srcs) == 4 and all(s.startswith("data:image/png;base64,") for s in srcs)   # picture + 3 steps
    assert "<link" not in html and "<iframe" not in html and re.findall(r"<script[^>]*>", html) == ["<script>"]


def test_several_runs_side_by_side(tmp_path: Path) -> None:
    a, b = fake_run(tmp_path / "run-a"), fake_run(tmp_path / "run-b", loss="wgan", steps=200)
    out = build_report([a, b], tmp_path / "cmp.html")
    html = out.read_text()
    assert html.count("<table>") >= 2 and "<th>run-a</th><th>run-b</th>" in html   # one metrics table
    assert "run-a: d_loss" in html and "run-b: g_loss" in html                       # curves overlaid
    losses = re.search(r'<svg[^>]*aria-label="losses".*?</svg>', html, re.S).group(0)
    assert losses.count("<polyline") == 4
    assert re.search(r'<td class="k">loss\.name</td><td class="k">ns</td><td class="k">wgan</td>', html)
    assert re.search(r'<td class="k">train\.steps</td><td class="k">300</td><td class="k">200</td>', html)


def test_judge_scores_appear(tmp_path: Path) -> None:
    d = fake_run(tmp_path / "judged", conditional=True)
    (d / "judge").mkdir()
    rows = [{"judge": "human (hype-inf)", "protocol": "HYPE∞", "items": 20, "error": 0.35, "ci_low": 0.15,
             "ci_high": 0.55, "fake_error": 0.3, "real_error": 0.4, "note": "20 of 20 answered",
             "per_class": {"0 T-shirt/top": {"items": 2, "error": 0.5}}},
            {"judge": "discriminator", "protocol": "-", "items": 0, "error": None, "note": "no D"}]
    (d / "judge" / "score.json").write_text(json.dumps({"rows": rows}))
    html = write_report(d).read_text()
    assert "Real or generated? (HYPE)" in html and "35.0 %" in html and "[15.0 %, 55.0 %]" in html
    assert "0 T-shirt/top" in html and "no D" in html


def test_a_trained_run_reports_itself(point_run: Path) -> None:
    html = write_report(point_run).read_text()
    metrics = json.loads((point_run / "metrics.json").read_text())
    assert f"(baseline {metrics['energy_baseline']:.2e})" in html or f"(baseline {metrics['energy_baseline']:.4g})" in html
    assert 'aria-label="eval: energy"' in html and not _REMOTE.search(html)


def test_cli_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = fake_run(tmp_path / "a"), fake_run(tmp_path / "b")
    assert main(["report", str(a)]) == 0 and (a / "report.html").is_file()
    assert main(["report", str(a), str(b), "--out", str(tmp_path / "both.html")]) == 0
    assert main(["report", str(a), "--out", str(tmp_path / "both.html")]) == 0    # a report is replaced
    capsys.readouterr()
    other = tmp_path / "notes.html"
    other.write_text("<p>mine</p>")
    for argv, msg in ([str(tmp_path / "nope")], "run directory not found"),  \
                     ([str(a), "--out", str(other)], "is not a gankit report"), \
                     ([str(a), "--out", str(tmp_path / "x.txt")], "--out must end in .html"), \
                     ([str(tmp_path)], "holds no gankit run"):
        assert main(["report", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("gankit: error: ") and msg in err and err.count("\n") == 1
    assert other.read_text() == "<p>mine</p>"
