"""Checkpoints: written atomically, read with ``weights_only=True``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from gankit.errors import CheckpointError, StorageError


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``:
    a crash mid-write leaves the previous checkpoint intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        cause = _os_error(e) if isinstance(e, Exception) else None
        if cause is None:
            raise
        kept = f"the previous checkpoint {path}{_step_of(path)} is intact" if path.is_file() else \
            "no checkpoint had been written"
        raise StorageError(f"cannot write checkpoint {path}: {cause.strerror or cause}; {kept}") from None


def _step_of(path: Path) -> str:
    """`` (step N)`` of the checkpoint at ``path``, read without copying its tensors; empty if unreadable."""
    try:
        step = torch.load(path, map_location="cpu", weights_only=True, mmap=True)["trainer"]["step"]
    except Exception:  # a message about the write must not fail on the read
        return ""
    return f" (step {step})" if isinstance(step, int) else ""


def _os_error(e: BaseException) -> OSError | None:
    """The OSError behind ``e``: torch.save reports a failed write (a full disk) as a
    RuntimeError ("unexpected pos ...") whose context is the file's OSError."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, OSError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a gankit checkpoint safely (tensors and plain containers only)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"cannot read checkpoint {path}: the file is empty")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types, some with empty messages, for truncated / foreign files
        first = (str(e).strip().splitlines() or ["(no message)"])[0][:200]
        raise CheckpointError(f"cannot read checkpoint {path}: {type(e).__name__}: {first}") from None
    if not isinstance(state, dict) or "config" not in state or "modules" not in state:
        raise CheckpointError(f"{path} is not a gankit checkpoint")
    return state


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise CheckpointError(f"{where}: {what}")


def check_state(state: Mapping[str, Any], recipe: Any, where: str = "checkpoint") -> None:
    """Check a checkpoint as a whole against the recipe it is loaded into, before anything
    is loaded: every key and type, and every network's parameter names and shapes. Raises
    :class:`CheckpointError` with one line naming the first thing that does not match."""
    _need(isinstance(state.get("modules"), Mapping), where, "'modules' is missing or not a mapping")
    for key in ("trainer", "data", "rng"):
        _need(isinstance(state.get(key), Mapping), where, f"{key!r} is missing or not a mapping")
    tr = state["trainer"]
    step = tr.get("step")
    _need(isinstance(step, int) and not isinstance(step, bool) and step >= 0, where,
          f"'trainer.step' must be a non-negative integer, got {step!r}")
    _need(isinstance(tr.get("optimizers"), Mapping), where, "'trainer.optimizers' is missing or not a mapping")
    _need(isinstance(state["rng"].get("torch"), torch.Tensor), where, "'rng.torch' is missing or not a tensor")
    _need(isinstance(state["data"].get("rng"), torch.Tensor), where, "'data.rng' is missing or not a tensor")
    _need(isinstance(state["data"].get("source"), Mapping), where, "'data.source' is missing or not a mapping")
    for name, module in recipe.modules().items():
        saved = state["modules"].get(name)
        _need(isinstance(saved, Mapping), where, f"network {name!r} is missing")
        own = module.state_dict()
        missing = [k for k in own if k not in saved]
        extra = [k for k in saved if k not in own]
        if missing:
            raise CheckpointError(f"{where}: network {name!r} lacks {missing[0]!r} of the config's architecture")
        if extra:
            raise CheckpointError(f"{where}: network {name!r} has {extra[0]!r}, which the config's architecture lacks")
        for k, v in own.items():
            sv = saved[k]
            _need(isinstance(sv, torch.Tensor), where, f"network {name!r}: {k!r} is not a tensor")
            _need(tuple(sv.shape) == tuple(v.shape), where,
                  f"network {name!r}: {k!r} has shape {tuple(sv.shape)} where the config's architecture has "
                  f"{tuple(v.shape)}")
        _check_finite(saved, name, where)
    phases = [ph.name for ph in recipe.trainer.phases]
    for ph in phases:
        _need(ph in tr["optimizers"], where, f"optimiser of phase {ph!r} is missing")


_ROLE = {"G": "generator", "G_ema": "generator", "D": "discriminator"}


def _check_finite(weights: Mapping[str, Any], name: str, where: str) -> None:
    """Refuse NaN or Inf in a network's saved weights: gankit never writes a diverged state (the
    last good checkpoint is kept), so such a file was damaged or edited, and samples from it
    would be NaN."""
    for k, v in weights.items():
        if isinstance(v, torch.Tensor) and (v.is_floating_point() or v.is_complex()) and not torch.isfinite(v).all():
            what = "NaN" if torch.isnan(v).any() else "Inf"
            raise CheckpointError(f"{where}: {_ROLE.get(name, 'network')} weights are not finite: network {name!r}, "
                                  f"{k!r} holds {what}")


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
