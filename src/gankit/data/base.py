"""Data sources: what the training loop draws batches from.

Every registered data set is a factory returning a :class:`DataSource`. Two families:

* toy distributions with known densities (:mod:`gankit.data.toy`): infinite, ``log_prob`` exact;
* finite tensors (images, arrays): held in memory as one tensor, shuffled per epoch.

Sampling always takes an explicit ``torch.Generator`` so a run is reproducible and its
position can be checkpointed and resumed exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from gankit.capabilities import FiniteData
from gankit.registry import Registry


class DataSource:
    """Interface of everything the trainer samples from.

    Besides ``sample``, a source declares the facts its consumers read, each with a default
    that says "none", so that reading one never needs a probe. What a source can do beyond
    sampling is declared by inheriting :class:`~gankit.capabilities.KnownModes` (toy
    mixtures) or :class:`~gankit.capabilities.FiniteData` (rows in memory)."""

    name: str = ""
    shape: tuple[int, ...] = ()
    num_classes: int = 0          # 0 = no labels
    kind: str = "points"          # "points" or "images"
    class_names: Sequence[str] = ()             # one name per class, or none
    columns: Sequence[str] | None = None        # the coordinates' names (a points file's header)
    label_column: str | None = None             # the label column the user named (data.labels)
    dim: int | None = None                      # the dimension of a mixture with known modes
    x: Tensor | None = None                     # rows held in memory (N, *shape) the metrics draw from
    y: Tensor | None = None                     # their labels (N,)
    test_x: Tensor | None = None                # held-out rows that only the metrics see
    test_y: Tensor | None = None

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
        """A batch ``x (n, *shape)`` and labels ``y (n,)`` (or None)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class TensorSource(DataSource, FiniteData):
    """A finite data set held as one tensor; batches are drawn without replacement per epoch.

    ``shard=(rank, world)`` is the distributed sampler: every rank walks the same epoch
    permutation (drawn from an identically seeded generator) in steps of the global batch
    ``n * world`` and takes its own ``n`` rows of each global batch, so the ranks' batches
    are disjoint and together are exactly the batch one process would draw.
    """

    def __init__(self, x: Tensor, y: Tensor | None, *, name: str, num_classes: int = 0,
                 kind: str = "images", class_names: list[str] | None = None) -> None:
        assert y is None or y.shape == (x.shape[0],), "labels must be (N,)"
        self.x, self.y = x, y
        self.name, self.num_classes, self.kind = name, num_classes, kind
        self.shape = tuple(x.shape[1:])
        self.class_names = class_names or [str(i) for i in range(num_classes)]
        self.shard = (0, 1)
        self._perm: Tensor | None = None
        self._perm_rng: Tensor | None = None  # the generator's state that drew _perm
        self._pos = 0
        self.epoch = 0

    def __len__(self) -> int:
        return self.x.shape[0]

    def indices(self, n: int, generator: torch.Generator) -> Tensor:
        """Row indices ``(n,)`` of this rank's part of the next global batch of ``n * world``."""
        rank, world = self.shard
        total = n * world
        if total > len(self):
            raise ValueError(f"global batch {total} exceeds the data set's {len(self)} examples")
        if self._perm is None or self._pos + total > len(self):
            self._perm_rng = generator.get_state()
            self._perm = torch.randperm(len(self), generator=generator)
            self._pos = 0
            self.epoch += 1
        idx = self._perm[self._pos + rank * n:self._pos + (rank + 1) * n]
        self._pos += total
        return idx

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
        idx = self.indices(n, generator)
        return self.x[idx], (None if self.y is None else self.y[idx])

    def state_dict(self) -> dict[str, Any]:
        """The epoch's position: the generator state that drew its permutation (a few KB), not
        the permutation itself (8 bytes a row: 80 MB for 10 million rows)."""
        return {"perm_rng": self._perm_rng, "pos": self._pos, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._perm_rng, self._pos = state.get("perm_rng"), int(state.get("pos", 0))
        self.epoch = int(state.get("epoch", 0))
        self._perm = state.get("perm")  # checkpoints written before perm_rng
        if self._perm_rng is not None:  # draw the same permutation again
            gen = torch.Generator()
            gen.set_state(self._perm_rng)
            self._perm = torch.randperm(len(self), generator=gen)


def sample_aside(data: DataSource, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
    """``n`` samples drawn with ``generator`` that leave the source's own position (its
    epoch permutation) as it was: for statistics taken once from the data (a standardisation,
    BourGAN's subsample) without changing the order training sees."""
    state = data.state_dict()
    try:
        return data.sample(n, generator)
    finally:
        data.load_state_dict(state)


# Factories return a DataSource; their keyword arguments are the data set's options.
DATASETS: Registry[Callable[..., DataSource]] = Registry("dataset")


def held_out(name: str, options: dict[str, Any]) -> DataSource | None:
    """The test split of registered data set ``name`` with the run's other ``options``, when its
    entry has a ``split`` option, the run trains on another split, and the split loads (MNIST's
    test files may be missing); else None."""
    from gankit.errors import GankitError

    if "split" not in DATASETS.entry(name).options() or options.get("split") == "test":
        return None
    try:
        return DATASETS.build(name, {**options, "split": "test"})
    except GankitError:
        return None
