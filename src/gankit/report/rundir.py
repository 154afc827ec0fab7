"""What a report reads from a run directory, read tolerantly: a run killed early has no
``metrics.json``, a damaged line in ``metrics.jsonl`` is skipped, and a missing file leaves
its section out instead of failing the report.

A run directory may come from someone else: a file in it that is a link to somewhere outside
it (``samples.png -> ~/.ssh/id_rsa``) is never read, only named in :attr:`RunFiles.skipped`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gankit import jsonio
from gankit.errors import CheckpointError

_STEP_PNG = re.compile(r"^step_(\d+)\.png$")
CLASS_KEY = re.compile(r"^cond_accuracy_(\d+)$")


@dataclass
class RunFiles:
    """The readable contents of one run directory."""

    dir: Path
    config: dict[str, Any] = field(default_factory=dict)
    config_text: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)   # training rows of metrics.jsonl
    evals: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # {"step", "eval"} rows
    samples: list[tuple[int, Path]] = field(default_factory=list)  # samples/step_*.png, by step
    picture: Path | None = None      # samples.png: the final grid, or points over density and D
    judge: dict[str, Any] | None = None  # judge/score.json, written by `gankit judge`
    class_names: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files not read: links to outside the run directory

    @property
    def name(self) -> str:
        return self.dir.resolve().name

    @property
    def model(self) -> str:
        """The recipe's name (``model: aae`` and ``model: {name: aae, ...}`` alike)."""
        m = self.config.get("model", "gan")
        return str(m.get("name", "gan")) if isinstance(m, dict) else str(m)

    @property
    def recipe_options(self) -> dict[str, Any]:
        """The recipe's options: in ``model`` (today) or at the top (runs written before)."""
        c = self.config
        return {**c, **(c["model"] if isinstance(c.get("model"), dict) else {})}

    @property
    def title(self) -> str:
        c = self.config
        recipe = self.recipe_options
        data = (c.get("data") or {}).get("name", "?") if isinstance(c.get("data"), dict) else c.get("data", "?")
        loss = recipe.get("loss", "?")
        loss = (loss or {}).get("name", "?") if isinstance(loss, dict) else loss
        cond = "conditional " if recipe.get("conditional") else ""
        model = self.model
        return f"{cond}{model}: {loss} on {data}"


def _finite_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def read_run(run_dir: str | Path, class_names: list[str] | None = None) -> RunFiles:
    """Read ``run_dir``; a directory holding none of a run's files is a :class:`CheckpointError`."""
    d = Path(run_dir)
    if not d.is_dir():
        raise CheckpointError(f"run directory not found: {d}")
    if not any((d / f).exists() for f in ("config.yaml", "metrics.json", "metrics.jsonl", "checkpoint.pt")):
        raise CheckpointError(f"{d} holds no gankit run (no config.yaml, metrics.json or metrics.jsonl)")
    rf = RunFiles(dir=d)
    cfg_path = d / "config.yaml"
    if _readable(rf, cfg_path):
        rf.config_text = cfg_path.read_text(errors="replace")
        try:
            loaded = yaml.safe_load(rf.config_text)
            rf.config = loaded if isinstance(loaded, dict) else {}
        except (yaml.YAMLError, RecursionError):  # RecursionError: a config.yaml nested thousands deep
            rf.config = {}
    rf.metrics = _read_json(rf, d / "metrics.json")
    jsonl = d / "metrics.jsonl"
    if _readable(rf, jsonl):
        for line in jsonl.read_text(errors="replace").splitlines():
            try:
                row = jsonio.loads(line)
            except ValueError:
                continue  # a partial last line of a killed run
            if not isinstance(row, dict) or not isinstance(row.get("step"), int):
                continue
            if isinstance(row.get("eval"), dict):
                rf.evals.append((row["step"], row["eval"]))
            else:
                rf.history.append({k: v for k, v in row.items() if k == "step" or _finite_number(v) or v is None})
    sdir = d / "samples"
    if sdir.is_dir() and _inside(d, sdir, rf):
        found = [(int(m.group(1)), p) for p in sdir.iterdir() if (m := _STEP_PNG.match(p.name)) and _readable(rf, p)]
        rf.samples = sorted(found)
    if _readable(rf, d / "samples.png"):
        rf.picture = d / "samples.png"
    judge = _read_json(rf, d / "judge" / "score.json")
    rf.judge = judge or None
    k = sum(1 for key in rf.metrics if CLASS_KEY.match(key))
    if k:
        rf.class_names = list(class_names) if class_names else dataset_class_names(rf.config, k)
    return rf


def _inside(run_dir: Path, path: Path, rf: RunFiles) -> bool:
    """Whether ``path``, links resolved, lies inside ``run_dir``; if not, it is named in
    ``rf.skipped`` (relative to the run directory) and never read."""
    try:
        path.resolve().relative_to(run_dir.resolve())
        return True
    except (ValueError, OSError, RuntimeError):  # outside, or a link loop
        name = path.relative_to(run_dir).as_posix() if path.is_relative_to(run_dir) else str(path)
        if name not in rf.skipped:
            rf.skipped.append(name)
        return False


def _readable(rf: RunFiles, path: Path) -> bool:
    """A regular file of the run directory that may be read (not a link out of it)."""
    return path.is_file() and _inside(rf.dir, path, rf)


def _read_json(rf: RunFiles, path: Path) -> dict[str, Any]:
    if not _readable(rf, path):
        return {}
    try:
        obj = jsonio.loads(path.read_text(errors="replace"))
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def dataset_class_names(config: dict[str, Any], k: int) -> list[str]:
    """The data set's class names, built from the run's config (``str(i)`` when it cannot be)."""
    data = config.get("data")
    names: list[str] = []
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        try:
            from gankit.data import DATASETS

            src = DATASETS.build(data["name"], {k2: v for k2, v in data.items() if k2 != "name"})
            names = [str(n) for n in getattr(src, "class_names", [])]
        except Exception:  # noqa: BLE001 - a report never fails for want of class names
            names = []
    return names if len(names) >= k else [str(i) for i in range(k)]
