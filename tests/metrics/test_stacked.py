"""Stacked MNIST (here on scikit-learn's digits): the data set stacks the images it says it
stacks, and the mode count behaves as the statistics of a K**3-bin histogram say it must."""

import math

import pytest
import torch

from gankit.data import DATASETS
from gankit.errors import DataError
from gankit.metrics import METRICS
from gankit.metrics.base import EvalContext
from gankit.metrics.image import evaluate_images, stacked_labels

pytestmark = pytest.mark.usefixtures("module_cache_dir")  # one digits classifier for the module


def test_stacked_images_are_three_base_images_and_their_label_is_the_triplet():
    base = DATASETS.build("digits", {})
    data = DATASETS.build("stacked", {"base": "digits", "num": 3000, "seed": 5})
    idx = torch.randint(base.x.shape[0], (3000, 3), generator=torch.Generator().manual_seed(5))
    assert data.x.shape == (3000, 3, 8, 8) and data.num_classes == 1000 and data.name == "stacked-digits"
    for j in range(3):
        assert torch.equal(data.x[:, j], base.x[idx[:, j], 0])
    assert torch.equal(data.y, 100 * base.y[idx[:, 0]] + 10 * base.y[idx[:, 1]] + base.y[idx[:, 2]])
    assert data.class_names[123] == "1 | 2 | 3" and len(data.class_names) == 1000
    assert torch.equal(DATASETS.build("stacked", {"base": "digits", "num": 3000, "seed": 5}).x, data.x)
    assert not torch.equal(DATASETS.build("stacked", {"base": "digits", "num": 3000, "seed": 6}).x, data.x)
    # defaults: as many images as the base set; size pads like the base set's own option
    assert DATASETS.build("stacked", {"base": "digits"}).x.shape[0] == base.x.shape[0]
    assert DATASETS.build("stacked", {"base": "digits", "num": 10, "size": 12}).x.shape == (10, 3, 12, 12)
    with pytest.raises(DataError, match="num must be >= 0"):
        DATASETS.build("stacked", {"base": "digits", "num": -1})


@pytest.mark.training
def test_real_stacked_images_cover_the_modes_a_sample_of_their_size_can(record):
    """Real stacked images from an independent draw score as the real subset does, and the
    plug-in KL of n samples over m equally likely bins is biased by (m - 1) / (2 n) (Miller 1955)."""
    data = DATASETS.build("stacked", {"base": "digits", "num": 20000, "seed": 0})
    other = DATASETS.build("stacked", {"base": "digits", "num": 5000, "seed": 1}).x
    out = evaluate_images(data, other, metrics=("stacked_modes",), num_real=5000, seed=3)
    # 5000 draws over 1000 near-uniform modes leave 1000 exp(-5) = 7 modes empty on average
    assert record("modes of real images", out["stacked_modes"], "985 <= x <= 1000")
    assert record("modes of the real subset", out["stacked_modes_real"], "985 <= x <= 1000")
    for k in ("stacked_kl", "stacked_kl_real"):
        assert record(f"|{k} - 999 / 10000|", abs(out[k] - 999 / (2 * 5000)), "<= 0.02"), (k, out[k])
    assert "gankit-classifier:digits" in str(out["feature_extractor"])


@pytest.mark.training
def test_a_collapsed_generator_has_one_mode_and_kl_minus_log_its_probability(record):
    data = DATASETS.build("stacked", {"base": "digits", "num": 5000, "seed": 0})
    one = data.x[7]
    ctx = EvalContext(data, lambda n, y: one.expand(n, *one.shape), num_samples=2000, seed=0)
    out = METRICS.get("stacked_modes")(ctx)
    mode = int(stacked_labels(ctx.cache["extractor.stacked_base"], one[None])[0])
    f = torch.bincount(data.base.y, minlength=10).double() / data.base.y.shape[0]
    a, b, c = mode // 100, mode // 10 % 10, mode % 10
    assert out["stacked_modes"] == 1.0
    assert out["stacked_kl"] == pytest.approx(-math.log(f[a] * f[b] * f[c]), rel=1e-9)
    assert record("modes of the real subset", out["stacked_modes_real"], "> 800")


def test_stacked_modes_on_other_data_is_a_one_line_error():
    data = DATASETS.build("digits", {})
    with pytest.raises(DataError, match="needs a stacked data set"):
        evaluate_images(data, data.x[:50], metrics=("stacked_modes",))
