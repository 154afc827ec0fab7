"""The contract every data set (``gankit.data.DATASETS``) meets: it builds from its defaults,
draws batches of its declared shape (images in [-1, 1], points finite; labels in
[0, num_classes) exactly when it has classes), an unknown option is a one-line ConfigError
naming it, and its ``state_dict`` brings back the draw order exactly, across an epoch's end.

An entry that needs a file (an option without a default) or data that is not installed here
is skipped with the reason; tests/data/ covers those with files of their own.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch

from gankit.config import build_config
from gankit.data import DATASETS, DataSource
from gankit.errors import ConfigError, DataError

NAMES = DATASETS.names()
# cross-option rules that no default satisfies: the smallest input that does
NEEDS = {"mixture": {"means": [[0.0, 0.0], [1.0, 1.0]]}}

_built: dict[str, DataSource] = {}


def build(name: str) -> DataSource:
    """The entry built from its defaults, once per session (pair-task renders 70,000 edge maps)."""
    required = [k for k in DATASETS.entry(name).options() if k not in DATASETS.entry(name).defaults()]
    if required:
        pytest.skip(f"{name} needs {', '.join(required)} (a file); tests/data/ covers it")
    if name not in _built:
        try:
            _built[name] = DATASETS.build(name, NEEDS.get(name, {}))
        except DataError as e:  # optional data not installed here: gankit's own one-line reason
            pytest.skip(str(e))
    return _built[name]


def batch_size(data: DataSource) -> int:
    """Just over half a finite set (the third draw crosses an epoch's end), else 64."""
    return len(data) // 2 + 1 if hasattr(data, "__len__") else 64


@pytest.mark.parametrize("name", NAMES)
def test_batches_have_the_declared_shape_and_range(name):
    data = build(name)
    n = 32
    x, y = data.sample(n, torch.Generator().manual_seed(0))
    assert x.dtype == torch.float32 and tuple(x.shape) == (n, *data.shape)
    assert data.kind in ("points", "images") and torch.isfinite(x).all()
    if data.kind == "images":
        assert len(data.shape) == 3 and -1.0 <= float(x.min()) < float(x.max()) <= 1.0
    if data.num_classes:
        assert y is not None and y.dtype == torch.int64 and y.shape == (n,)
        assert 0 <= int(y.min()) and int(y.max()) < data.num_classes
    else:
        assert y is None


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_option_is_one_line_naming_it(name):
    with pytest.raises(ConfigError) as e:
        build_config({"data": {"name": name, "no_such_option": 1}})
    text = str(e.value)
    assert "\n" not in text and "data.no_such_option" in text, text


def draws(data: DataSource, gen: torch.Generator, n: int, k: int = 3) -> list[tuple[Any, Any]]:
    return [data.sample(n, gen) for _ in range(k)]


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_brings_back_the_draw_order(name):
    data = build(name)
    n = batch_size(data)
    gen = torch.Generator().manual_seed(5)
    data.sample(n, gen)  # somewhere inside an epoch
    buf = io.BytesIO()  # the state as a checkpoint holds it
    torch.save({"source": data.state_dict(), "rng": gen.get_state()}, buf)
    first = draws(data, gen, n)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    data.load_state_dict(state["source"])
    gen.set_state(state["rng"])
    again = draws(data, gen, n)
    for (x1, y1), (x2, y2) in zip(first, again):
        assert torch.equal(x1, x2)
        assert (y1 is None and y2 is None) or torch.equal(y1, y2)
