"""The point default: a GAN run on a points file with more than two columns and no preset gets a
latent with one Gaussian coordinate per column on top of the default preset; two-column data,
generated toy data and named presets keep the default preset as it is; the user's values win."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit import point_default
from gankit.config import config_layers, image_default_line, load_config


def _csv(path, d, n=300, seed=0):
    rng = np.random.default_rng(seed)
    rows = "\n".join(",".join(f"{v:.4f}" for v in r) for r in rng.normal(size=(n, d)) * 40 + 7)
    path.write_text(",".join(f"c{i}" for i in range(d)) + "\n" + rows + "\n")
    return path


def test_a_wide_file_gets_one_gaussian_coordinate_per_column(tmp_path):
    f = _csv(tmp_path / "wide.csv", 5)
    sets = [f"data=points:{f}"]
    assert [s for s, _ in config_layers(overrides=sets)] == ["base", "default", "point default", "--set"]
    cfg = load_config(overrides=sets)
    assert cfg.model["latent_dim"] == 32 + 5 and cfg.model["prior"].name == "categorical"
    assert "drs" in cfg.model["mitigations"] and cfg.train.batch_size == 256         # 270 rows: small batches
    assert cfg.model["penalty"].name == "r1" and cfg.train.steps == 5000             # the rest is the default preset
    rows = 300 - 30                                                                  # 10 % held out
    assert image_default_line(overrides=sets) == point_default.describe((rows, 5))
    assert f"{rows:,} rows of 5 columns" in point_default.describe((rows, 5))


def test_the_latent_it_gives_has_the_code_and_d_unit_gaussians(tmp_path):
    from gankit.mitigations.latent import PRIORS

    cfg = load_config(overrides=[f"data=points:{_csv(tmp_path / 'w.csv', 6)}"])
    prior = PRIORS.build(cfg.model["prior"].name, cfg.model["prior"].options, dim=cfg.model["latent_dim"])
    z = prior.sample(20_000, torch.Generator().manual_seed(0))
    code, noise = z[:, :32], z[:, 32:]
    assert noise.shape[1] == 6                                      # one per column
    assert torch.equal((code != 0).sum(1), torch.ones(20_000, dtype=torch.long))   # one piece of the code a row
    assert torch.allclose(noise.std(0), torch.ones(6), atol=0.03)    # N(0, 1): s.e. of the s.d. is 0.005


@pytest.mark.parametrize("sets", [["data=ring"], ["--two-columns--"]])
def test_two_columns_and_toy_data_keep_the_default_preset(tmp_path, sets):
    if sets == ["--two-columns--"]:
        sets = [f"data=points:{_csv(tmp_path / 'two.csv', 2)}"]
    assert "point default" not in [s for s, _ in config_layers(overrides=sets)]
    assert load_config(overrides=sets).model["latent_dim"] == 34
    assert image_default_line(overrides=sets) is None


def test_the_users_values_and_a_named_preset_win(tmp_path):
    f = _csv(tmp_path / "wide.csv", 4)
    assert load_config(overrides=[f"data=points:{f}", "model.latent_dim=40"]).model["latent_dim"] == 40
    assert load_config(overrides=[f"data=points:{f}"], preset="base").model["latent_dim"] != 36
    assert "point default" not in [s for s, _ in config_layers(overrides=[f"data=points:{f}"], preset="default")]


def test_many_rows_keep_the_default_batch():
    assert point_default.layer((19_999, 4)) == {"model": {"latent_dim": 36}, "train": {"batch_size": 256}}
    assert point_default.layer((20_000, 4)) == {"model": {"latent_dim": 36}}
    assert point_default.layer((500, 2)) is None
