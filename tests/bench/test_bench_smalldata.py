"""`gankit bench smalldata`'s pieces: the subsets it trains on are images of the data set, drawn
without repeats, stored losslessly; its three recipes are what the report says they are."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit.bench import smalldata
from gankit.data import DATASETS


def _digits_as(monkeypatch):
    # the bench's data sets need optional files; digits (in scikit-learn) stands in for them here
    monkeypatch.setitem(smalldata.DATA, "emoji", {"name": "digits", "size": 8})


def test_a_subset_is_distinct_images_of_the_set_stored_losslessly(tmp_path, monkeypatch):
    _digits_as(monkeypatch)
    full = DATASETS.build("digits", {"size": 8}).x                         # (N, 1, 8, 8) in [-1, 1]
    path = smalldata.write_subset("emoji", 100, tmp_path)
    x = np.load(path)["x"]
    assert x.dtype == np.uint8 and x.shape == (100, 1, 8, 8)
    back = torch.from_numpy(x).double() / 127.5 - 1                         # what data=npz:PATH reads
    dist = torch.cdist(back.flatten(1), full.double().flatten(1))            # (100, N)
    nearest = dist.min(1)
    assert float(nearest.values.max()) <= 0.5 / 127.5 * 8 + 1e-9             # each is an image of the set, to rounding
    assert len(set(nearest.indices.tolist())) == 100                         # no image twice
    assert np.array_equal(np.load(smalldata.write_subset("emoji", 100, tmp_path))["x"], x)  # written once
    assert np.load(smalldata.write_subset("emoji", 0, tmp_path))["x"].shape[0] == full.shape[0]


def test_the_three_recipes(tmp_path, monkeypatch):
    _digits_as(monkeypatch)
    npz = smalldata.write_subset("emoji", 200, tmp_path)
    ada, none, dcgan = (smalldata.config(m, npz, 3, 17) for m in ("ada", "none", "dcgan"))
    for cfg in (ada, none, dcgan):
        assert cfg.train.steps == 17 and cfg.seed == 3 and cfg.data.name == "npz"
    assert ada.model["mitigations"]["augment"]["adaptive"] is True and ada.model["mitigations"]["augment"]["p"] == 0
    assert none.model["mitigations"]["augment"]["adaptive"] is False and none.model["mitigations"]["augment"]["p"] == 0
    assert ada.model["generator"].options["width"] == none.model["generator"].options["width"] == 32   # the image default
    assert dcgan.model["generator"].options["width"] == 16 and dcgan.train.lr_decay == "linear"      # the DCGAN preset
    assert "augment" not in dcgan.model["mitigations"]


def test_unknown_names_are_refused_before_anything_runs(tmp_path):
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown method 'ada2'"):
        smalldata.smalldata(methods=["ada2"], out=str(tmp_path))
    with pytest.raises(ConfigError, match="unknown data set 'cifar'"):
        smalldata.smalldata(data=["cifar"], out=str(tmp_path))
    assert not any(tmp_path.iterdir())
