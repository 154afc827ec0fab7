"""``report.html``: one self-contained page per run (or per comparison of runs).

Everything the page shows is inside the file: PNGs as ``data:`` URIs, charts as inline SVG
(:mod:`gankit.report.svg`), the one small script (the sample slider) and the style sheet
inline. Nothing is loaded from the network, so the report opens offline and can be mailed.

A run directory may come from someone else, so every string read from it (config values,
metric and column names, ``judge/score.json`` fields, file names) is HTML-escaped, and the
page's content-security policy (:data:`CSP`) lets only its own script run (by hash) and
nothing load from anywhere but the page itself.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from gankit.report.rundir import CLASS_KEY, RunFiles, read_run
from gankit.report.svg import DASHES, PALETTE, Series, line_chart

GENERATOR_TAG = '<meta name="generator" content="gankit report">'
MAX_SLIDER_IMAGES = 40  # sample grids embedded per run: evenly spaced over training, the last one kept

# point data sets, for run directories written before metrics.json recorded the data's kind
_POINT_DATA = ("ring", "grid", "mixture1d", "mixture", "points", "moons", "circles", "swissroll", "spiral")
_PROB_KEYS = ("D(x)", "D(G(z))", "D(z)", "D(E(x))")
_FACT_KEYS = ("step", "wall_time_s", "threads", "feature_extractor")
_FEATURE_METRICS = ("fid",)   # named with its feature space (the feature_extractor row holds it for the rest)
_CARD_KEY = "feature_protocol"   # the Inception protocol card: its own table, not a metric row
_ABOUT = {
    "modes": "modes covered (a mode counts with >= 1 % of its expected samples within 3 sigma)",
    "hq_percent": "% of samples within 3 sigma of a mode",
    "reverse_kl": "KL(generated mode histogram || uniform)",
    "energy": "energy distance to real data (its real-vs-real value is the baseline)",
    "fid": "Frechet distance of the features named by feature_extractor (lower is better)",
    "kid": "kernel inception distance x 1000",
    "precision": "share of generated samples inside the real manifold",
    "recall": "share of real samples inside the generated manifold",
    "classes_generated": "classes the classifier finds among the samples",
    "classes_kl": "KL(class histogram || uniform)",
    "cond_accuracy": "classifier accuracy on samples conditioned on a class",
    "cond_accuracy_worst": "the worst class's conditional accuracy",
}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1b1b1b;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}
h3{font-size:14px;margin:10px 0 6px}.sub{color:#555;margin:0 0 12px}
table{border-collapse:collapse;margin:6px 0 10px}th,td{border:1px solid #d8d8d8;padding:3px 9px;text-align:right}td{white-space:nowrap}td.k{white-space:normal}
th{background:#f4f4f4}td.k,th.k{text-align:left;font-family:ui-monospace,Menlo,Consolas,monospace}
.base{color:#666;font-size:12px}.note{color:#666;font-size:12px;margin:2px 0 8px}
.charts{display:flex;flex-wrap:wrap;gap:10px}.chart{background:#fff;border:1px solid #e3e3e3}
.chart .ct{font-size:13px;font-weight:600}.chart .cl{font-size:11px;fill:#333}
.chart .frame{fill:none;stroke:#bbb}.chart .grid{stroke:#eee}.chart .axis{stroke:#999}
.chart .ref{stroke:#888;stroke-dasharray:4 3}
.side{display:flex;flex-wrap:wrap;gap:0 36px;align-items:flex-start}.side>div{max-width:100%;overflow-x:auto}.runs{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,740px),1fr));gap:16px}
.pic,.slider{max-width:100%;overflow-x:auto}.pic img,.slider img{display:block;max-width:none;border:1px solid #e3e3e3}
.pic img.grid,.slider img{image-rendering:pixelated}
.slider input{width:100%;max-width:520px}.charts svg{max-width:none}pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px;max-height:520px}
.swatch{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px}
"""

_SLIDER_JS = """
document.querySelectorAll('.slider').forEach(function (box) {
  var imgs = box.querySelectorAll('img'), r = box.querySelector('input'), lab = box.querySelector('.steplabel');
  function show() {
    imgs.forEach(function (im, i) { im.hidden = (i !== Number(r.value)); });
    lab.textContent = 'step ' + imgs[Number(r.value)].dataset.step;
  }
  r.addEventListener('input', show); show();
});
"""


def _sha256_source(text: str) -> str:
    """A CSP source that allows exactly the inline script ``text``."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# Only the slider script (by its hash) runs; images only from data: URIs inside the page;
# nothing else loads, no form posts anywhere, no <base> re-points relative URLs. Inline
# styles stay allowed (the legend's colour swatches); with every fetch directive 'none',
# a style cannot load anything either.
CSP = (f"default-src 'none'; script-src {_sha256_source(_SLIDER_JS)}; style-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")
CSP_TAG = f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">'


def _text(v: Any) -> str:
    """Any value read from a run directory, as escaped HTML text."""
    return escape(str(v))


def data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _value(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "–" if v is None else str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "–" if not math.isfinite(v) else (f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}")
    return escape(str(v))


def metric_keys(runs: Sequence[RunFiles]) -> list[str]:
    """The metrics rows of the table: every key of any run's metrics.json, in first-seen order,
    less the baselines, totals and standard errors (shown beside their metric), per-class values
    (their own table) and run facts."""
    keys: list[str] = []
    for r in runs:
        for k in r.metrics:
            if k in keys or k in _FACT_KEYS or k == _CARD_KEY or CLASS_KEY.match(k):
                continue
            if k.endswith(("_baseline", "_std", "_total")) and k.rsplit("_", 1)[0] in r.metrics:
                continue
            keys.append(k)
    return keys


def _metric_cell(m: dict[str, Any], k: str) -> str:
    if k not in m:
        return "<td>–</td>"
    cell = _value(m[k])
    if f"{k}_std" in m:
        cell += f" ± {_value(m[f'{k}_std'])}"
    if f"{k}_baseline" in m:
        cell += f' <span class="base">(baseline {_value(m[f"{k}_baseline"])})</span>'
    elif f"{k}_total" in m:
        cell += f' <span class="base">(of {_value(m[f"{k}_total"])} in the data)</span>'
    elif k in _FEATURE_METRICS and m.get("feature_extractor"):
        cell += f' <span class="base">(features: {_text(m["feature_extractor"])})</span>'
    return f"<td>{cell}</td>"


def metrics_table(runs: Sequence[RunFiles]) -> str:
    keys = metric_keys(runs)
    if not keys:
        return '<p class="note">No final evaluation: metrics.json is missing or empty (a run stopped early, or eval.metrics=[]).</p>'
    head = "".join(f"<th>{escape(r.name)}</th>" for r in runs)
    rows = []
    for k in keys:
        about = f' title="{escape(_ABOUT[k])}"' if k in _ABOUT else ""
        rows.append(f'<tr><td class="k"{about}>{escape(k)}</td>' + "".join(_metric_cell(r.metrics, k) for r in runs) + "</tr>")
    facts = []
    for k in _FACT_KEYS:
        if any(k in r.metrics for r in runs):
            facts.append(f'<tr><td class="k">{escape(k)}</td>' + "".join(
                f"<td>{_value(r.metrics.get(k))}</td>" for r in runs) + "</tr>")
    return (f'<table><tr><th class="k">metric</th>{head}</tr>{"".join(rows)}{"".join(facts)}</table>'
            '<p class="note">In brackets, what a number compares with: a <code>_baseline</code> is the same '
            "metric between two samples of real data (the value a perfect generator would get); modes are out "
            "of the data's own count; a distance in a feature space names its features.</p>")


def _card_rows(card: dict[str, Any]) -> list[tuple[str, str]]:
    """The protocol card's lines a reader needs beside an FID (every value escaped)."""
    ref = card.get("reference")
    ref_text = (f"{ref.get('data', '?')}, {ref.get('split', '?')} split, {ref.get('images', '?')}"
                if isinstance(ref, dict) else str(ref) if ref is not None else None)
    counts = [f"{card[k]} {k.split('_', 1)[1]}" for k in ("num_real", "num_generated") if k in card]
    rows = [("extractor", card.get("extractor")), ("resize to 299", card.get("resize_method") or card.get("resize")),
            ("images (FID-N)", ", ".join(counts) or None), ("reference", ref_text),
            ("statistics", card.get("statistics")),
            ("weights SHA-1", str(card["weights_sha1"])[:12] if card.get("weights_sha1") else None)]
    return [(k, escape(str(v))) for k, v in rows if v is not None]


def protocol_table(runs: Sequence[RunFiles]) -> str:
    """Image runs measured on Inception features: the protocol their numbers hold under."""
    cards = [(r, r.metrics.get(_CARD_KEY)) for r in runs]
    cards = [(r, c) for r, c in cards if isinstance(c, dict) and c]
    if not cards:
        return ""
    out = []
    for r, card in cards:
        rows = "".join(f'<tr><td class="k">{escape(k)}</td><td class="k">{v}</td></tr>' for k, v in _card_rows(card))
        out.append(f"<h3>Feature protocol: {escape(r.name)}</h3><table>{rows}</table>")
    return ("".join(out) + '<p class="note">FID is biased in N: compare numbers of the same protocol and the '
            'same N only.</p>')


def per_class_table(runs: Sequence[RunFiles]) -> str:
    """Conditional models: one row per class (conditional accuracy of samples asked for it)."""
    cond = [r for r in runs if any(CLASS_KEY.match(k) for k in r.metrics)]
    if not cond:
        return ""
    k = max(len(r.class_names) for r in cond)
    names = max((r.class_names for r in cond), key=len)
    head = "".join(f"<th>{escape(r.name)}</th>" for r in cond)
    rows = []
    for c in range(k):
        cells = "".join(_metric_cell(r.metrics, f"cond_accuracy_{c}") for r in cond)
        rows.append(f'<tr><td class="k">{c}</td><td class="k">{_text(names[c])}</td>{cells}</tr>')
    return ("<h2>Per class</h2><p class=\"note\">Conditional accuracy: the share of samples generated for a "
            "class that the data set's classifier assigns to that class.</p>"
            f'<table><tr><th class="k">class</th><th class="k">name</th>{head}</tr>{"".join(rows)}</table>')


def _constant(values: Sequence[Any]) -> bool:
    """Finite numbers that never change: a table entry, not a chart."""
    vs = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    return bool(vs) and max(vs) - min(vs) <= 1e-12 * max(1.0, abs(vs[0]))


def constant_keys(runs: Sequence[RunFiles], rows_of: Any, keys: Sequence[str]) -> list[str]:
    """The ``keys`` whose values are constant in every run that logs them."""
    out = []
    for k in keys:
        per_run = [[row.get(k) for row in rows_of(r) if k in row] for r in runs]
        logged = [v for v in per_run if v]
        if logged and all(_constant(v) for v in logged):
            out.append(k)
    return out


def constants_table(runs: Sequence[RunFiles], rows_of: Any, keys: Sequence[str], what: str) -> str:
    """A table of the ``keys`` that did not change (each run's value), instead of flat charts."""
    if not keys:
        return ""
    head = "".join(f"<th>{escape(r.name)}</th>" for r in runs)
    body = "".join(f'<tr><td class="k">{escape(k)}</td>' + "".join(
        f"<td>{_value(next((row[k] for row in rows_of(r) if k in row), None))}</td>" for r in runs) + "</tr>"
        for k in keys)
    return (f'<div class="consts"><p class="note">Constant {escape(what)} (no chart):</p>'
            f'<table><tr><th class="k">value</th>{head}</tr>{body}</table></div>')


_Y_LABELS = {"losses": "loss", "discriminator outputs (mean)": "mean D (probability)",
             "divergence estimate": "divergence estimate (nats)"}


def _chart_groups(history: list[dict[str, float]]) -> list[tuple[str, list[str]]]:
    keys: list[str] = []
    for row in history:
        keys.extend(k for k in row if k != "step" and k not in keys)
    losses = [k for k in keys if k.endswith("_loss")]
    probs = [k for k in _PROB_KEYS if k in keys]
    groups = [("losses", losses), ("discriminator outputs (mean)", probs)]
    if "divergence" in keys:
        groups.append(("divergence estimate", ["divergence"]))
    groups += [(k, [k]) for k in keys if k not in losses and k not in probs and k != "divergence"]
    return [(t, ks) for t, ks in groups if ks]


def _series(runs: Sequence[RunFiles], keys: list[str], rows_of: Any) -> list[Series]:
    many = len(runs) > 1
    out = []
    for i, r in enumerate(runs):
        rows = rows_of(r)
        for j, k in enumerate(keys):
            pts = [(row["step"], row.get(k)) for row in rows if k in row]
            if not pts:
                continue
            color = PALETTE[i % len(PALETTE)] if many else PALETTE[j % len(PALETTE)]
            dash = DASHES[j % len(DASHES)] if many else ""
            label = f"{r.name}: {k}" if many and len(keys) > 1 else (r.name if many else k)
            out.append(Series(label, [p[0] for p in pts], [p[1] for p in pts], color, dash))
    return out


def training_charts(runs: Sequence[RunFiles]) -> str:
    """The training logs' curves, grouped (losses, D's outputs, ...); a value that never
    changed is a row of :func:`constants_table` instead of a flat line."""
    groups: list[tuple[str, list[str]]] = []
    for r in runs:
        for title, ks in _chart_groups(r.history):
            for g in groups:
                if g[0] == title:
                    g[1].extend(k for k in ks if k not in g[1])
                    break
            else:
                groups.append((title, list(ks)))
    flat = constant_keys(runs, lambda r: r.history, [k for _, ks in groups for k in ks])
    charts = []
    for title, ks in groups:
        ks = [k for k in ks if k not in flat]
        if not ks:
            continue
        probs = title.startswith("discriminator")
        charts.append(line_chart(_series(runs, ks, lambda r: r.history), title=title,
                                 ylabel=_Y_LABELS.get(title, title),
                                 hlines=[(0.5, "0.5")] if probs else [], ylim=(0.0, 1.0) if probs else None))
    return ('<div class="charts">' + "".join(charts) + "</div>"
            + constants_table(runs, lambda r: r.history, flat, "during training"))


def eval_charts(runs: Sequence[RunFiles]) -> str:
    """Evaluation rows (``train.eval_every``) over steps, with the final evaluation as the last
    point; a metric's ``_baseline`` is drawn as a dashed line of the same colour."""
    rows_by_run = []
    for r in runs:
        rows = [{"step": s, **e} for s, e in r.evals]
        step = r.metrics.get("step")
        if isinstance(step, int) and not isinstance(step, bool) and (not rows or rows[-1]["step"] < step):
            rows.append({**r.metrics})
        rows_by_run.append(rows if len(rows) > 1 else [])
    if not any(rows_by_run):
        return ""
    keys: list[str] = []
    for rows in rows_by_run:
        for row in rows:
            keys.extend(k for k, v in row.items() if k not in keys and k not in _FACT_KEYS and not CLASS_KEY.match(k)
                        and not k.endswith(("_baseline", "_std", "_total")) and isinstance(v, (int, float))
                        and not isinstance(v, bool))
    lookup = dict(zip((r.name for r in runs), rows_by_run))
    flat = constant_keys(runs, lambda r: lookup[r.name], keys)
    charts = []
    for k in keys:
        if k in flat:   # its value is in the final metrics table
            continue
        series = _series(runs, [k], lambda r: lookup[r.name])
        base = _series(runs, [f"{k}_baseline"], lambda r: lookup[r.name])
        for s in base:
            s.dash, s.label = "4 3", f"{s.label} baseline" if len(runs) > 1 else f"{k}_baseline"
        totals = {r.metrics[f"{k}_total"] for r in runs if isinstance(r.metrics.get(f"{k}_total"), (int, float))}
        hlines = [(float(t), f"{_value(t)} in the data") for t in sorted(totals)]
        charts.append(line_chart(series + base, title=f"eval: {k}", ylabel=k, hlines=hlines))
    if len(runs) == 1 and runs[0].class_names:
        r = runs[0]
        names = r.class_names
        per = [f"cond_accuracy_{c}" for c in range(len(names))]
        series = _series(runs, per, lambda rr: lookup[rr.name])
        for s, c in zip(series, range(len(names))):
            s.label = str(c) if names[c] == str(c) else f"{c} {names[c]}"
        if series:
            charts.append(line_chart(series, title="eval: conditional accuracy per class", ylim=(0.0, 1.0),
                                     ylabel="conditional accuracy"))
    note = (f'<p class="note">Unchanged over the evaluations (no chart; final values above): '
            f'{escape(", ".join(flat))}.</p>' if flat else "")
    if not charts:
        return f"<h3>Evaluations during training</h3>{note}" if note else ""
    return "<h3>Evaluations during training</h3><div class=\"charts\">" + "".join(charts) + "</div>" + note


def _slider(r: RunFiles) -> str:
    steps = r.samples
    if not steps:
        return ""
    if len(steps) > MAX_SLIDER_IMAGES:
        idx = sorted({round(i * (len(steps) - 1) / (MAX_SLIDER_IMAGES - 1)) for i in range(MAX_SLIDER_IMAGES)})
        steps = [steps[i] for i in idx]
    imgs = "".join(f'<img alt="samples at step {s}" data-step="{s}" src="{data_uri(p)}"{" hidden" if i else ""}>'
                   for i, (s, p) in enumerate(steps))
    return (f'<div class="slider"><h3>Samples over training (fixed noise; <span class="steplabel">step '
            f'{steps[0][0]}</span>)</h3>{imgs}<br><input type="range" min="0" max="{len(steps) - 1}" value="0" '
            f'step="1" aria-label="training step"></div>')


def pictures(runs: Sequence[RunFiles]) -> str:
    cols = []
    for r in runs:
        kind = "images" if r.samples or _is_images(r) else "points"
        if r.model == "aae":
            what = "samples.png (the autoencoder's codes and samples)"
        elif kind == "images":
            what = "Final samples (one row per class)" if r.recipe_options.get("conditional") else "Final samples"
        else:
            what = "Generated points (orange) over the data (black) and its density, with D's decision surface"
        grid = ' class="grid"' if kind == "images" else ""
        pic = (f'<div class="pic"><h3>{escape(what)}</h3><img{grid} alt="{escape(what)}" src="{data_uri(r.picture)}">'
               "</div>" if r.picture is not None else '<p class="note">no samples.png in this run</p>')
        head = f"<h3>{escape(r.name)}</h3>" if len(runs) > 1 else ""
        cols.append(f'<div>{head}<div class="side">{pic}{_slider(r)}</div>{_skipped(r)}</div>')
    return '<div class="runs">' + "".join(cols) + "</div>"


def _skipped(r: RunFiles) -> str:
    """A note naming the run's files that were not read: links to outside the run directory."""
    if not r.skipped:
        return ""
    names = ", ".join(f"<code>{_text(n)}</code>" for n in sorted(r.skipped))
    return (f'<p class="note">Not shown: {names} (a link to a file outside the run directory; '
            "a report embeds only the run directory's own files).</p>")


def _is_images(r: RunFiles) -> bool:
    kind = r.metrics.get("data_kind") if isinstance(r.metrics, dict) else None
    if isinstance(kind, str):  # written by Run.fit: the data source's own word
        return kind == "images"
    data = r.config.get("data")
    name = data.get("name", "") if isinstance(data, dict) else str(data or "")
    return name not in _POINT_DATA


def judge_section(runs: Sequence[RunFiles]) -> str:
    judged = [r for r in runs if r.judge]
    if not judged:
        return ""
    parts = ["<h2>Real or generated? (HYPE)</h2><p class=\"note\">Error rate of a judge asked "
             "\"real or generated?\" on half real, half generated items (Zhou et al. 2019): 50 % means the "
             "judge cannot tell; 0 % means every item was told apart. 95 % bootstrap intervals over items. "
             "<code>gankit judge RUN</code> serves the page for a person.</p>"]
    for r in judged:
        j = r.judge or {}
        rows = []
        for row in _rows(j.get("rows")):
            ci = (f"[{_pct(row.get('ci_low'))}, {_pct(row.get('ci_high'))}]"
                  if row.get("ci_low") is not None else "–")
            rows.append(f'<tr><td class="k">{escape(str(row.get("judge", "")))}</td>'
                        f'<td class="k">{escape(str(row.get("protocol", "")))}</td><td>{_text(row.get("items", 0))}</td>'
                        f'<td>{_pct(row.get("error"))}</td><td>{ci}</td><td>{_pct(row.get("fake_error"))}</td>'
                        f'<td>{_pct(row.get("real_error"))}</td><td class="k">{escape(str(row.get("note", "")))}</td></tr>')
        parts.append(f"<h3>{escape(r.name)}</h3><table><tr><th class=\"k\">judge</th><th class=\"k\">protocol (items)</th>"
                     "<th>n</th><th>error</th><th>95 % CI</th><th>generated judged real</th>"
                     "<th>real judged generated</th><th class=\"k\">note</th></tr>" + "".join(rows) + "</table>")
        per = [row for row in _rows(j.get("rows")) if isinstance(row.get("per_class"), dict) and row["per_class"]]
        if per:
            names = list(per[0]["per_class"])
            head = "".join(f"<th>{_text(row.get('judge', ''))} ({_text(row.get('protocol', ''))})</th>" for row in per)
            body = "".join(f'<tr><td class="k">{_text(c)}</td>' + "".join(
                f"<td>{_pct(_cell(row['per_class'], c).get('error'))} "
                f"<span class=\"base\">n={_text(_cell(row['per_class'], c).get('items', 0))}</span></td>"
                for row in per) + "</tr>" for c in names)
            parts.append(f'<table><tr><th class="k">class</th>{head}</tr>{body}</table>')
    return "".join(parts)


def _rows(rows: Any) -> list[dict[str, Any]]:
    """score.json's ``rows``: the mappings among them (a hand-edited file may hold anything)."""
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def _cell(per_class: dict[str, Any], c: Any) -> dict[str, Any]:
    v = per_class.get(c)
    return v if isinstance(v, dict) else {}


def _pct(v: Any) -> str:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    return f"{100 * v:.1f} %" if ok else "–"


def _flatten(d: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(d, dict):
        out: dict[str, str] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: repr(d) if not isinstance(d, str) else d}


def config_section(runs: Sequence[RunFiles]) -> str:
    if len(runs) == 1:
        r = runs[0]
        return f"<pre>{escape(r.config_text) or 'no config.yaml'}</pre>"
    flat = [_flatten(r.config) for r in runs]
    keys = sorted({k for f in flat for k in f})
    diff = [k for k in keys if len({f.get(k) for f in flat}) > 1 and k not in ("name",)]
    head = "".join(f"<th>{escape(r.name)}</th>" for r in runs)
    rows = "".join(f'<tr><td class="k">{escape(k)}</td>' + "".join(
        f'<td class="k">{escape(f.get(k, "–"))}</td>' for f in flat) + "</tr>" for k in diff)
    full = "".join(f"<details><summary>{escape(r.name)}: config.yaml</summary><pre>{escape(r.config_text)}</pre>"
                   "</details>" for r in runs)
    table = (f'<table><tr><th class="k">key (values that differ)</th>{head}</tr>{rows}</table>' if diff
             else '<p class="note">The runs have the same config.</p>')
    return table + full


def render(runs: Sequence[RunFiles]) -> str:
    """The whole page for one or several runs."""
    many = len(runs) > 1
    title = "gankit report: " + (", ".join(r.name for r in runs) if many else runs[0].name)
    legend = ""
    if many:
        legend = "<p>" + " ".join(f'<span class="swatch" style="background:{PALETTE[i % len(PALETTE)]}"></span>'
                                  f"{escape(r.name)} ({escape(r.title)}) &nbsp;" for i, r in enumerate(runs)) + "</p>"
    sub = escape(runs[0].title) if not many else f"{len(runs)} runs compared"
    body = [f"<h1>{escape(title)}</h1><p class=\"sub\">{sub} · {escape(', '.join(str(r.dir) for r in runs))}</p>",
            legend, '<div class="side"><div><h2>Final metrics</h2>', metrics_table(runs), protocol_table(runs), "</div>",
            f"<div>{per_class_table(runs)}</div></div>", "<h2>Samples</h2>", pictures(runs),
            "<h2>Training curves</h2>", training_charts(runs),
            eval_charts(runs), judge_section(runs), "<h2>Config</h2>", config_section(runs)]
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">{CSP_TAG}{GENERATOR_TAG}"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}<script>{_SLIDER_JS}</script></body></html>\n")


def build_report(run_dirs: Sequence[str | Path], out: str | Path, *,
                 class_names: Sequence[list[str] | None] | None = None) -> Path:
    """Write the report of ``run_dirs`` to ``out`` (atomically: temporary file, rename)."""
    names = list(class_names) if class_names is not None else [None] * len(run_dirs)
    runs = [read_run(d, n) for d, n in zip(run_dirs, names)]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(render(runs), encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def write_report(run_dir: str | Path, *, class_names: list[str] | None = None) -> Path:
    """``RUN_DIR/report.html`` for one run; the hook :class:`gankit.session.outputs.FinalOutputs` calls
    at the end of training. ``class_names``: the data set's (read from the config if omitted)."""
    return build_report([run_dir], Path(run_dir) / "report.html", class_names=[class_names])
