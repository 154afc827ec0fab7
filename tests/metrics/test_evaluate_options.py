"""`Run.evaluate(metrics, options)`: per-metric options reach the metric (a caller picks the
feature extractor), bad ones are refused by name, and evaluating in training leaves the RNG as it was."""

from __future__ import annotations

import pytest
import torch

from gankit.config import load_config
from gankit.errors import ConfigError, DataError
from gankit.session import train


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cfg = load_config(preset="dcgan-digits", overrides=["train.steps=2", "train.progress=false", "eval.metrics=[]",
                                                        "eval.num_samples=64", "train.sample_every=0"])
    return train(cfg, run_dir=tmp_path_factory.mktemp("run"))


def test_an_option_picks_the_extractor(run):
    out = run.evaluate(["fid"], {"fid": {"extractor": "classifier"}})
    assert out["feature_extractor"].startswith("gankit-classifier:digits") and out["fid"] > 0
    with pytest.raises(DataError, match="unknown feature extractor 'nonsense'"):
        run.evaluate(["fid"], {"fid": {"extractor": "nonsense"}})
    with pytest.raises(ConfigError, match="bogus"):
        run.evaluate(["kid"], {"kid": {"bogus": 1}})


def test_evaluating_in_training_leaves_the_random_state(run):
    before = torch.get_rng_state()
    run.evaluate_in_training(["kid"], {"kid": {"extractor": "classifier", "subset_size": 32}})
    assert torch.equal(torch.get_rng_state(), before)
