"""What the contract tests share: the resume check every recipe and mitigation must pass.

The claim (docs/ARCHITECTURE.md, STYLE.md practice 9): a run trained to step ``k``, closed,
reopened from its run directory and trained on to ``N`` ends exactly where the run trained
to ``N`` in one go ends: every parameter and buffer, every optimiser moment, the data order,
the RNG streams and the final evaluation, compared with ``torch.equal``, not a tolerance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch

from gankit.engine.checkpoint import load_checkpoint
from gankit.session.run import Run, resume, train

# what legitimately differs between two runs of the same config: the clock
UNTIMED = ("wall_time", "wall_time_s")


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """``a`` and ``b`` equal all the way down: tensors with ``torch.equal``, the rest with ``==``."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor), where
        assert a.dtype == b.dtype and torch.equal(a, b), f"{where} differs"
    elif isinstance(a, Mapping):
        assert isinstance(b, Mapping), where
        # torch's optimisers add defaulted flags (``fused: None``) to param_groups on
        # load_state_dict: a flag that is None on one side and absent on the other is the same
        keys = {k for k in set(a) | set(b) if not (a.get(k) is None and b.get(k) is None)}
        assert keys <= set(a) and keys <= set(b), f"{where}: keys {sorted(map(str, keys ^ (set(a) & set(b))))}"
        for k in keys:
            if k not in UNTIMED:
                assert_same(a[k], b[k], f"{where}.{k}" if where else str(k))
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def optimizer_states(run: Run) -> dict[str, Any]:
    return {ph.name: ph.optimizer.state_dict() for ph in run.recipe.trainer.phases}


def check_resume(raw: Mapping[str, Any], tmp_path: Path, stop: int) -> Run:
    """Train ``raw`` straight to its ``train.steps``; train it again to ``stop``, reopen it from
    disk (as a new process would) and continue to the end; assert the two ends are identical
    and return the straight run."""
    straight = train(dict(raw), run_dir=tmp_path / "straight")
    assert 0 < stop < straight.step
    train(dict(raw), run_dir=tmp_path / "stopped", steps=stop)
    resumed = resume(tmp_path / "stopped")
    assert resumed.step == straight.step
    # in memory: every module's parameters and buffers, every optimiser's moments
    assert_same({k: m.state_dict() for k, m in straight.recipe.modules().items()},
                {k: m.state_dict() for k, m in resumed.recipe.modules().items()}, "modules")
    assert_same(optimizer_states(straight), optimizer_states(resumed), "optimizers")
    # on disk: the whole checkpoint (modules, trainer, data order, RNG streams, config)
    assert_same(load_checkpoint(straight.dir / "checkpoint.pt"), load_checkpoint(resumed.dir / "checkpoint.pt"),
                "checkpoint")
    assert_same(straight.metrics, resumed.metrics, "metrics")
    return straight


@pytest.fixture
def resumes_exactly(tmp_path: Path) -> Callable[[Mapping[str, Any], int], Run]:
    """``resumes_exactly(raw_config, stop_step)``: :func:`check_resume` in this test's tmp_path."""
    return lambda raw, stop: check_resume(raw, tmp_path, stop)
