"""benchmarks/authors_setups.py: the BourGAN and D2GAN code setups stay the code's (not the
default run's) and every run of the script trains, so that the script cannot rot."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("authors_setups", ROOT / "benchmarks" / "authors_setups.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_setup_is_the_code_s_and_not_the_default_run():
    from gankit.config import load_config

    script = _script()
    for setup, methods in script.SETUPS.items():
        for method, sets in methods.items():
            cfg = load_config(overrides=sets, preset="base")
            # nothing of the default run's recipe: no penalty, EMA, rejection or categorical code
            assert cfg.model["penalty"].name == "none" and cfg.train.ema == 0 and cfg.model["prior"].name == "normal", (setup, method)
            assert "drs" not in cfg.model["mitigations"]
            if setup == "bourgan-grid":   # a554b554/BourGAN's notebook
                assert (cfg.train.batch_size, cfg.train.steps, cfg.optim_g.lr) == (128, 5000, 1e-3)
                assert cfg.data.options["sigma"] == 0.1 and cfg.model["generator"].options["act"] == "leaky_relu"
                assert ("bourgan" in cfg.model["mitigations"]) == (method == "bourgan")
                assert cfg.model["latent_dim"] == (55 if method == "bourgan" else 25)
            else:                          # tund/D2GAN's 2-D code
                assert (cfg.train.batch_size, cfg.train.steps, cfg.model["latent_dim"]) == (512, 25000, 256)
                assert cfg.data.options["sigma"] == pytest.approx(math.sqrt(0.02), abs=1e-4)
                assert cfg.model["loss"].name == ("d2gan" if method == "d2gan" else "ns")
                assert cfg.model["generator"].options["init_std"] == cfg.model["discriminator"].options["init_std"] == 0.01


def test_each_run_trains_and_reports_the_bench_metrics(tmp_path):
    script = _script()
    for setup, methods in script.SETUPS.items():
        for method in methods:
            row = script.run_one(setup, method, 0, 3, str(tmp_path))
            assert row["steps"] == 3 and row["modes_total"] == (25 if setup == "bourgan-grid" else 8)
            assert 0 <= row["hq_percent"] <= 100 and row["energy_baseline"] < 0.01
    assert "| bourgan-grid | bourgan |" in script.table([row | {"setup": "bourgan-grid", "method": "bourgan"}])
