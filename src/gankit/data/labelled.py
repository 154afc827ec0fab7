"""Semi-supervised splits: a few labelled training examples, the rest of the split unlabelled.

Any labelled finite data set (:class:`~gankit.data.base.TensorSource` with ``y``) can be used
semi-supervised: :func:`labelled_indices` picks ``labels`` examples balanced over the classes
(``labels // K`` per class, one more for the first ``labels % K`` classes) with a seeded
generator, so the same ``(labels, seed)`` always picks the same examples on any machine;
:func:`split_labelled` turns them into a :class:`LabelledSplit`: the labelled examples (with
their labels) and the rest of the training split (labels withheld) as two sources, each with
its own shuffled epoch order and checkpointable position. The data set's test split is what
a semi-supervised model classifies (:func:`test_split`).

Bad requests (more labels than the data has, fewer than one per class, a class too small, a
data set without labels or without a test split) are :class:`~gankit.errors.DataError` /
:class:`~gankit.errors.ConfigError` raised before training.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gankit.data.base import DATASETS, DataSource, TensorSource
from gankit.errors import ConfigError, DataError, GankitError


def labelled_indices(y: Tensor, labels: int, num_classes: int, seed: int) -> Tensor:
    """Sorted indices ``(labels,)`` into ``y (N,)``: ``labels // K`` examples of every class
    (one more for classes ``0 .. labels % K - 1``), each class's drawn uniformly without
    replacement by a generator seeded with ``seed``."""
    n = int(y.shape[0])
    if labels > n:
        raise DataError(f"labels={labels}: the training split has only {n} examples")
    if labels < num_classes:
        raise DataError(f"labels={labels}: fewer than one labelled example per class ({num_classes} classes)")
    gen = torch.Generator().manual_seed(seed)
    base, extra = divmod(labels, num_classes)
    picked = []
    for k in range(num_classes):
        members = torch.nonzero(y == k).flatten()                        # (N_k,)
        want = base + (1 if k < extra else 0)
        if members.numel() < want:
            raise DataError(f"labels={labels} asks for {want} examples of class {k}, which has only "
                            f"{members.numel()}")
        picked.append(members[torch.randperm(members.numel(), generator=gen)[:want]])
    return torch.cat(picked).sort().values


class LabelledSplit:
    """``labelled``: the chosen examples with labels; ``unlabelled``: the rest of the training
    split, labels withheld (``y`` None). Batches of the labelled set come from their own
    generator (``rng``), so the unlabelled order is the one the run would draw anyway."""

    def __init__(self, labelled: TensorSource, unlabelled: TensorSource, seed: int) -> None:
        self.labelled, self.unlabelled = labelled, unlabelled
        self.rng = torch.Generator().manual_seed(seed * 104729 + 3)

    def batch(self, n: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """A labelled batch ``x (m, *shape)``, ``y (m,)`` with ``m = min(n, labels)``."""
        x, y = self.labelled.sample(min(n, len(self.labelled)), self.rng)
        assert y is not None
        return x.to(device, non_blocking=True), y.to(device, non_blocking=True)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.get_state(), "labelled": self.labelled.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["rng"])
        self.labelled.load_state_dict(state["labelled"])


def split_labelled(data: DataSource, labels: int, seed: int) -> LabelledSplit:
    """:class:`LabelledSplit` of a labelled finite data set (module docstring)."""
    y = data.y
    if not isinstance(data, TensorSource) or y is None or data.num_classes < 2:
        raise DataError(f"semi-supervised training needs a finite data set with class labels; "
                        f"{data.name!r} has none")
    idx = labelled_indices(y, labels, data.num_classes, seed)
    rest = torch.ones(len(data), dtype=torch.bool)
    rest[idx] = False
    names = list(data.class_names) or None
    lab = TensorSource(data.x[idx], y[idx], name=f"{data.name}[{labels} labelled]", num_classes=data.num_classes,
                       kind=data.kind, class_names=names)
    unl = TensorSource(data.x[rest], None, name=f"{data.name}[unlabelled]", num_classes=0, kind=data.kind)
    return LabelledSplit(lab, unl, seed)


def test_split(name: str, options: dict[str, Any]) -> TensorSource:
    """The ``test`` split of registered data set ``name`` (with the run's other options): what a
    semi-supervised model is scored on. ConfigError when the data set has no such split."""
    if "split" not in DATASETS.entry(name).options():
        raise ConfigError(f"semi-supervised models are scored on the test split; data set {name!r} has none "
                          "(digits, mnist, fashion-mnist have one)")
    if options.get("split", "train") != "train":
        raise ConfigError(f"semi-supervised training uses the train split (data.split=train), got "
                          f"data.split={options.get('split')}")
    try:
        src = DATASETS.build(name, {**options, "split": "test"})
    except GankitError as e:
        raise DataError(f"the test split of {name!r}, which semi-supervised models are scored on, does not load: {e}") \
            from None
    if not isinstance(src, TensorSource) or src.y is None:
        raise DataError(f"the test split of {name!r} has no labels to score a classifier on")
    return src
