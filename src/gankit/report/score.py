"""Scores of the HYPE protocol: the error rate of a judge on half real, half generated items,
with a percentile bootstrap interval over items, for three judges:

* people, from the answers of ``gankit judge`` sessions (HYPE∞, or at an exposure time);
* the run's own discriminator: an item is called real when D's logit is above 0 (D(x) > 1/2)
  for the objectives whose sigmoid is a probability (ns, minimax, ...), and above the median
  critic value on held-out samples for critics without one (WGAN, hinge, least squares);
  for point data an item (a batch) is scored by the mean logit of its points;
* a fresh classifier of real vs generated (scikit-learn: boosted trees for points, an MLP
  for images; :func:`make_classifier`)
  trained on held-out samples of both, with its 5-fold cross-validated error on them; for
  point data an item is called real when its points' mean log-odds is above 0.

The machine judges' real samples are data the run never trained on (:func:`held_out_real`):
a points file's held-out rows (``data.test_fraction``), an image set's test split, fresh
draws of a distribution. Only a finite data set without any held-out split (a folder, an
.npz of images) falls back to training rows, and its rows say so. Which split and how many
rows is written beside the scores (``held_out`` in ``score.json``, the rows' protocol).

50 % error: the judge cannot tell; 0 %: it tells every item apart.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.capabilities import Discriminates, Encodes, FiniteData
from gankit.report.judge import Items, Session, draw_real, judge_dir, read_sessions

BOOTSTRAP_REPS = 10_000


def bootstrap_ci(errors: Sequence[float] | np.ndarray, *, level: float = 0.95, reps: int = BOOTSTRAP_REPS,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``errors`` (items resampled with
    replacement ``reps`` times with a seeded generator). ``(nan, nan)`` for no items."""
    e = np.asarray(errors, dtype=np.float64).ravel()
    n = len(e)
    if n == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = np.empty(reps)
    chunk = max(1, 2_000_000 // n)  # resampled indices held at once
    for start in range(0, reps, chunk):
        m = min(chunk, reps - start)
        means[start:start + m] = e[rng.integers(0, n, size=(m, n))].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


def error_row(judge: str, protocol: str, truth_real: np.ndarray, said_real: np.ndarray, *,
              labels: np.ndarray | None = None, class_names: Sequence[str] = (), seed: int = 0,
              note: str = "") -> dict[str, Any]:
    """One judge's result: error rate, its interval, the two kinds of error and, with labels
    (>= 0), the same per class."""
    truth = np.asarray(truth_real, dtype=bool)
    said = np.asarray(said_real, dtype=bool)
    wrong = truth != said
    lo, hi = bootstrap_ci(wrong, seed=seed)
    row: dict[str, Any] = {
        "judge": judge, "protocol": protocol, "items": int(len(truth)),
        "error": float(wrong.mean()) if len(truth) else None, "ci_low": lo if len(truth) else None,
        "ci_high": hi if len(truth) else None,
        "fake_error": float(said[~truth].mean()) if (~truth).any() else None,   # generated judged real
        "real_error": float((~said[truth]).mean()) if truth.any() else None,    # real judged generated
        "note": note}
    if labels is not None and (np.asarray(labels) >= 0).any():
        labels = np.asarray(labels)
        per = {}
        for c in sorted(set(int(v) for v in labels if v >= 0)):
            sel = labels == c
            name = f"{c} {class_names[c]}" if c < len(class_names) and class_names[c] != str(c) else str(c)
            clo, chi = bootstrap_ci(wrong[sel], seed=seed + 1 + c)
            per[name] = {"items": int(sel.sum()), "error": float(wrong[sel].mean()), "ci_low": clo, "ci_high": chi}
        row["per_class"] = per
    return row


def protocol_name(exposure_ms: int | None) -> str:
    return "HYPE∞" if exposure_ms is None else f"HYPE {exposure_ms} ms"


def human_rows(run_dir: Path, *, class_names: Sequence[str] = (), seed: int = 0) -> list[dict[str, Any]]:
    """One row per session in ``RUN/judge/`` that has answers."""
    rows = []
    for head, answers in read_sessions(run_dir):
        if not answers:
            continue
        truth = np.array([a["truth"] == "real" for a in answers])
        said = np.array([a["answer"] == "real" for a in answers])
        labels = np.array([a["label"] if isinstance(a.get("label"), int) else -1 for a in answers])
        done = f"{len(answers)} of {head.get('n')} answered"
        rows.append(error_row(f"human ({head.get('session')})", protocol_name(head.get("exposure_ms")), truth, said,
                              labels=labels, class_names=class_names, seed=seed, note=done))
    return rows


# -- machine judges ---------------------------------------------------------------------------
@dataclass
class HeldOut:
    """The real samples the machine judges are scored on: ``x (n, *shape)``, labels ``(n,)``
    or None, and where they come from: ``split`` (``held-out rows``, ``test split``, ``fresh
    samples`` or ``training rows``), ``available`` (rows in that split, 0 for a distribution),
    ``trained_on`` (True only for the training-rows fallback) and a sentence for people."""

    x: torch.Tensor
    y: torch.Tensor | None
    split: str
    available: int
    trained_on: bool
    description: str

    def protocol(self) -> dict[str, Any]:
        """What ``score.json`` records: the split, the real rows used and the rows it has."""
        return {"split": self.split, "real": int(len(self.x)), "available": self.available,
                "trained_on": self.trained_on, "description": self.description}


def held_out_real(run: Any, n: int, seed: int, *, skip: int = 0) -> HeldOut:
    """At most ``n`` real samples the run never trained on, in a seeded order.

    * a data set with held-out rows (``test_x``: a points file's ``data.test_fraction``): those rows;
    * a registered image set trained on its ``train`` split: its ``test`` split, with the same options;
    * a distribution (no finite rows): ``n`` fresh draws from a stream of their own;
    * otherwise (no held-out split exists): training rows ``skip ..`` of a seeded permutation,
      marked ``trained_on``."""
    data = run.data
    order = torch.Generator().manual_seed(seed)
    test_x = data.test_x
    if test_x is not None and len(test_x) >= 2:
        idx = torch.randperm(len(test_x), generator=order)[:n]
        test_y = data.test_y
        what = "the points file's held-out rows (data.test_fraction)" if data.kind == "points" else \
            "the data set's held-out rows"
        return HeldOut(test_x[idx], None if test_y is None else test_y[idx], "held-out rows", len(test_x), False,
                       f"{len(idx)} of {what}: {len(test_x)} rows never trained on (training split: {len(data)})")
    if not isinstance(data, FiniteData):
        x, y = draw_real(data, n, seed, skip=1)
        return HeldOut(x, y, "fresh samples", 0, False,
                       f"{len(x)} fresh samples of {data.name}, drawn apart from training's stream")
    test = _test_split(run)
    if test is not None:
        idx = torch.randperm(len(test.x), generator=order)[:n]
        return HeldOut(test.x[idx], None if test.y is None else test.y[idx], "test split", len(test.x), False,
                       f"{len(idx)} of {data.name}'s test split ({len(test.x)} images, never trained on)")
    x, y = draw_real(data, n, seed, skip=skip)
    return HeldOut(x, y, "training rows", len(data), True,
                   f"{len(x)} TRAINING rows of {data.name}: it has no held-out split, so D has seen these "
                   "(a points file: data.test_fraction > 0 holds rows out)")


def _test_split(run: Any) -> Any:
    """The run's data set's ``test`` split (same options, same shape), or None when it has none."""
    from gankit.data import DATASETS
    from gankit.data.base import held_out

    cfg = getattr(run, "cfg", None)
    if cfg is None or cfg.data.name not in DATASETS:
        return None
    options = dict(cfg.data.options)
    test = held_out(cfg.data.name, options) if options.get("split", "train") == "train" else None
    if test is None:
        return None
    x = test.x
    return test if x is not None and len(x) >= 2 and tuple(x.shape[1:]) == tuple(run.data.shape) else None


def critic_outputs(run: Any, x: np.ndarray, labels: np.ndarray | None) -> tuple[np.ndarray | None, str]:
    """D's raw outputs ``(n,)`` on ``x (n, *shape)``, or None and the reason D cannot judge."""
    recipe = run.recipe
    if isinstance(recipe, Encodes):
        return None, "an adversarial autoencoder's D judges latent codes, not data"
    if not isinstance(recipe, Discriminates):
        return None, "the model has no discriminator of single samples"
    obj = recipe.objective
    if not obj.learned_critic:
        return None, "the objective has no discriminator"
    if obj.critic_dim != 1:
        return None, f"the critic has {obj.critic_dim} outputs per sample, not one logit"
    if recipe.num_classes and (labels is None or (np.asarray(labels) < 0).any()):
        return None, "a conditional D needs each sample's label, and these samples have none"
    D = recipe.D
    was = D.training
    D.eval()
    out = []
    try:
        with torch.no_grad():
            for i in range(0, len(x), 1024):
                xb = torch.from_numpy(np.ascontiguousarray(x[i:i + 1024])).float().to(run.device)
                yb = None
                if recipe.num_classes:
                    yb = torch.from_numpy(np.clip(labels[i:i + 1024], 0, None)).long().to(run.device)
                # recipe.discriminate sees data-space inputs as D does in training (train.standardize)
                o = recipe.discriminate(xb, yb)
                if o.shape != (len(xb),):
                    return None, f"D returns shape {tuple(o.shape)} for {len(xb)} samples (packing?)"
                out.append(o.float().cpu())
    finally:
        D.train(was)
    return torch.cat(out).numpy().astype(np.float64), ""


Pool = tuple[np.ndarray, np.ndarray, np.ndarray]


def _pool(run: Any, n: int, seed: int, items: Items) -> tuple[Pool, HeldOut]:
    """The machine judges' samples (single images or single points, not items): up to ``n``
    real ones the run never trained on (:func:`held_out_real`; in the training-rows fallback
    none of them an item's) and as many generated, from seeds apart from the session's:
    ``(x, real, label)`` and where the real ones come from."""
    n_items_real = int(items.real.sum()) if items.kind == "images" else 0
    real = held_out_real(run, n, seed, skip=max(1, n_items_real))
    n = len(real.x)
    k = run.recipe.num_classes
    labels = (torch.arange(n) % k)[torch.randperm(n, generator=torch.Generator().manual_seed(seed + 7))] \
        if k and real.y is not None else None
    fake_x = run.recipe.generate(n, labels, seed=seed + 8)
    x = torch.cat([real.x.float().cpu(), fake_x.float().cpu()]).numpy()
    lab = np.full(2 * n, -1, dtype=np.int64)
    if labels is not None and real.y is not None:
        lab[:n], lab[n:] = real.y.numpy(), labels.numpy()
    return (x, np.array([True] * n + [False] * n), lab), real


def _pool_protocol(preal: np.ndarray, held: HeldOut | None) -> tuple[str, str]:
    """The held-out rows' protocol name and the sentence that says where they come from."""
    if held is None:
        return f"held-out samples ({len(preal)})", ""
    return f"{held.split} ({int(preal.sum())} real + {int((~preal).sum())} generated)", held.description


def discriminator_rows(run: Any, items: Items, pool: Pool, *, seed: int = 0,
                       held: HeldOut | None = None) -> list[dict[str, Any]]:
    px, preal, plab = pool
    pool_out, why = critic_outputs(run, px, plab)
    if pool_out is None:
        return [{"judge": "discriminator", "protocol": "-", "items": 0, "error": None, "note": why}]
    if run.recipe.objective.probability_outputs:
        threshold, rule = 0.0, "logit > 0 (D(x) > 1/2)"
    else:
        threshold, rule = float(np.median(pool_out)), "critic above its median on the held-out samples"
    if items.kind == "points":
        n, b, d = items.x.shape
        out, why_items = critic_outputs(run, items.x.reshape(n * b, d), None)
        item_scores = None if out is None else out.reshape(n, b).mean(axis=1)
        rule_items = f"mean over the item's {b} points: {rule}"
    else:
        item_scores, why_items = critic_outputs(run, items.x, items.label)
        rule_items = rule
    protocol, where = _pool_protocol(preal, held)
    item_row = {"judge": "discriminator", "protocol": "HYPE∞ (the session's items)", "items": 0, "error": None,
                "note": why_items} if item_scores is None else \
        error_row("discriminator", "HYPE∞ (the session's items)", items.real, item_scores > threshold,
                  labels=items.label, class_names=items.class_names, seed=seed, note=rule_items)
    return [
        item_row,
        _with_split(error_row("discriminator", protocol, preal, pool_out > threshold, labels=plab,
                              class_names=items.class_names, seed=seed, note=f"{rule}; real: {where}" if where else rule),
                    held)]


def _with_split(row: dict[str, Any], held: HeldOut | None) -> dict[str, Any]:
    if held is not None:
        row["held_out"] = held.protocol()
    return row


def make_classifier(kind: str, seed: int) -> tuple[Any, str]:
    """The fresh classifier and its description. Points: gradient-boosted trees on the
    coordinates (a handful of features, sharp modes: trees cut the plane finely and fit in
    a second; an MLP of this size measured 47 % CV error where trees had 14 % on the same
    samples). Images: an MLP with one hidden layer on standardised pixels, early stopping."""
    if kind == "points":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(random_state=seed), "gradient-boosted trees on the coordinates"
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(128,), alpha=1e-3, max_iter=200,
                                                        early_stopping=True, random_state=seed))
    return clf, "MLP (128 hidden) on standardised pixels"


def classifier_rows(items: Items, pool: Pool, *, seed: int = 0, folds: int = 5,
                    held: HeldOut | None = None) -> list[dict[str, Any]]:
    """A fresh classifier of real vs generated: its ``folds``-fold cross-validated error on the
    held-out pool, then, trained on the whole pool, its error on the session's items."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    px, preal, plab = pool
    feats = px.reshape(len(px), -1)
    clf, what = make_classifier(items.kind, seed)
    folds = max(2, min(folds, int(preal.sum()), int((~preal).sum())))  # a held-out split of a few rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        p_cv = cross_val_predict(clf, feats, preal, cv=cv, method="predict_proba")[:, 1]
        clf.fit(feats, preal)
    if items.kind == "points":
        n, b, d = items.x.shape
        p = np.clip(clf.predict_proba(items.x.reshape(n * b, d))[:, 1], 1e-6, 1 - 1e-6)
        said = np.log(p / (1 - p)).reshape(n, b).mean(axis=1) > 0
        rule = f"trained on the held-out samples; an item is real if its {b} points' mean log-odds > 0"
    else:
        said = clf.predict_proba(items.x.reshape(len(items), -1))[:, 1] > 0.5
        rule = "trained on the held-out samples"
    protocol, where = _pool_protocol(preal, held)
    return [
        error_row("classifier", "HYPE∞ (the session's items)", items.real, said, labels=items.label,
                  class_names=items.class_names, seed=seed, note=f"{what}, {rule}"),
        _with_split(error_row("classifier", f"{protocol}, {folds}-fold CV", preal, p_cv > 0.5, labels=plab,
                              class_names=items.class_names, seed=seed,
                              note=f"{what}; real: {where}" if where else what), held)]


def score_run(run: Any, run_dir: Path, session: Session, *, pool: int = 2000, seed: int = 0,
              machines: bool = True) -> dict[str, Any]:
    """Every judge's rows for ``run_dir``; written to ``RUN/judge/score.json``."""
    items = session.items
    rows = human_rows(run_dir, class_names=items.class_names, seed=seed)
    held = None
    if machines:
        p, held = _pool(run, pool, seed, items)
        rows += discriminator_rows(run, items, p, seed=seed, held=held)
        rows += classifier_rows(items, p, seed=seed, held=held)
    result = {"version": 1, "kind": items.kind, "session": session.name, "items": len(items),
              "class_names": items.class_names, "rows": rows}
    if held is not None:
        result["held_out"] = held.protocol()
    path = judge_dir(run_dir) / "score.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".score.json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_finite(result), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return result


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _pct(v: Any) -> str:
    return "    -" if not isinstance(v, (int, float)) or not math.isfinite(v) else f"{100 * v:5.1f}"


def format_rows(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a text table (error rates in %)."""
    width = max([38, *(len(str(r.get("protocol", ""))) for r in rows)])
    lines = [f"{'judge':<22} {'protocol (items)':<{width}} {'n':>5} {'error %':>7} {'95% CI':>13} {'gen->real':>9} {'real->gen':>9}"]
    for r in rows:
        ci = f"[{_pct(r.get('ci_low')).strip()}, {_pct(r.get('ci_high')).strip()}]" if r.get("ci_low") is not None else "-"
        lines.append(f"{r['judge']:<22} {r['protocol']:<{width}} {r.get('items', 0):>5} {_pct(r.get('error')):>7} {ci:>13} "
                     f"{_pct(r.get('fake_error')):>9} {_pct(r.get('real_error')):>9}" + (f"  {r['note']}" if r.get("note") and not r.get("items") else ""))
        per = r.get("per_class") or {}
        if per:
            lines.append(f"{'':<22}   per class (error %): " + ", ".join(
                f"{name} {_pct(c['error']).strip()} (n={c['items']})" for name, c in per.items()))
    splits = {r["held_out"]["description"] for r in rows if isinstance(r.get("held_out"), dict)}
    lines += [f"machine judges' real samples: {d}" for d in sorted(splits)]
    return "\n".join(lines)
