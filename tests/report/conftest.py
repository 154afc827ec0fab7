"""Runs and sessions the report and judge tests share: two tiny trained runs (module cost
a few seconds) and hand-made judge sessions that need no run at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import gankit
from gankit.config import load_preset
from gankit.report.judge import AnswerLog, Items, Session


@pytest.fixture(scope="session")
def point_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default recipe (ring, ns) for 60 steps: a checkpoint, metrics with a baseline."""
    d = tmp_path_factory.mktemp("runs") / "ring"
    gankit.train(overrides=["train.steps=60", "train.progress=false", "train.eval_every=30",
                            "eval.num_samples=400"], run_dir=d)
    return d


@pytest.fixture(scope="session")
def cond_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A conditional DCGAN on 8x8 digits for 20 steps, with sample grids and no metrics."""
    d = tmp_path_factory.mktemp("runs") / "cdigits"
    cfg = load_preset("dcgan-digits")
    gankit.train(cfg, overrides=["conditional=true", "train.steps=20", "train.sample_every=10",
                                 "train.progress=false", "eval.metrics=[]"], run_dir=d)
    return d


def make_session(tmp: Path, n: int = 6, kind: str = "images", exposure_ms: int | None = None) -> Session:
    """A session over hand-made items: images (1, 4, 4) or batches of 16 2-D points."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (n, 1, 4, 4)) if kind == "images" else rng.normal(size=(n, 16, 2))
    real = np.array([i % 2 == 0 for i in range(n)])
    items = Items(kind=kind, x=x.astype(np.float32), real=real, label=np.arange(n) % 3, class_names=["a", "b", "c"])
    header = {"version": 1, "session": "t", "n": n, "seed": 0, "exposure_ms": exposure_ms,
              "points": 16 if kind == "points" else None, "kind": kind, "items_sha256": items.digest()}
    return Session("t", items, AnswerLog(tmp / "judge" / "t.jsonl", header), exposure_ms)
