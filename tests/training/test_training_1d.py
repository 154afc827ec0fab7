"""A short run on the 1-D mixture lowers the exact JSD between data and generator."""

import pytest

from gankit.training import Run, train
from gankit.config import build_config


@pytest.mark.training
def test_training_lowers_jsd_on_1d_mixture(tmp_path, record):
    cfg = {"data": {"name": "mixture1d"}, "latent_dim": 1, "seed": 0,
           "generator": {"width": 64, "depth": 2}, "discriminator": {"width": 64, "depth": 2},
           "train": {"steps": 1500, "batch_size": 128, "progress": False, "log_every": 100, "lr_decay": "linear"},
           "optim_g": {"lr": 1e-3}, "optim_d": {"lr": 1e-3}, "eval": {"num_samples": 5000}}
    untrained = Run(build_config(cfg), tmp_path / "u").evaluate(["jsd1d"])["jsd"]
    run = train(cfg, run_dir=tmp_path / "t")
    trained = run.metrics["jsd"]
    # JSD is at most log 2 = 0.693; an untrained G (a blob near 0) sits near that bound.
    # Measured here: 0.692 -> 0.104 (seed 0); the factor asserted leaves room for BLAS differences.
    assert record("untrained JSD", untrained, "> 0.6")
    assert record("trained / untrained JSD", trained / untrained, "< 0.25"), (untrained, trained)
