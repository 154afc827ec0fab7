"""`gankit bench modes` end to end at toy size: its table is the runs' own samples, measured."""

import json
import math

import numpy as np
import pytest
import torch

from gankit.bench import load_all
from gankit.bench.modes import METHODS, SETUPS, run_config, summarise
from gankit.data import DATASETS
from gankit.errors import ConfigError
from gankit.metrics.modes import mode_statistics
from gankit.metrics.twosample import energy_distance


@pytest.mark.training
def test_bench_modes_table_equals_metrics_of_saved_samples(tmp_path, record):
    bench = load_all().get("modes")
    # wide modes (sigma 0.3) so that 50 steps of a small GAN already give non-trivial numbers
    summary = bench(methods=["gan"], setups=["ring"], seeds=[0, 1], steps=50, workers=1,
                    overrides=["generator.width=32", "discriminator.width=32", "train.batch_size=64",
                               "optim_g.lr=3e-3", "optim_d.lr=3e-3", "data.sigma=0.3"],
                    out=str(tmp_path))
    report = json.loads((tmp_path / "modes.json").read_text())
    assert (tmp_path / "modes.md").is_file() and (tmp_path / "modes.png").is_file()
    ring = DATASETS.build("ring", {"modes": 8, "radius": 1.0, "sigma": 0.3})
    runs = report["runs"]
    assert [(r["method"], r["setup"], r["seed"], r["steps"]) for r in runs] == [("gan", "ring", 0, 50), ("gan", "ring", 1, 50)]
    hq = []
    for r in runs:
        x = torch.from_numpy(np.load(r["samples"]))
        assert x.shape == (2500, 2)
        st = mode_statistics(x, ring.means, ring.sigma)
        assert r["modes"] == st["modes"]
        assert r["hq_percent"] == pytest.approx(st["hq_percent"], abs=1e-12)
        assert r["reverse_kl"] == pytest.approx(st["reverse_kl"], abs=1e-12)
        # the energy distance against the evaluation's real sample (eval seed 1234 + 1)
        real, _ = ring.sample(2500, torch.Generator().manual_seed(1234 + 1))
        assert r["energy"] == pytest.approx(energy_distance(x, real), rel=1e-9)
        hq.append(st["hq_percent"])
    assert record("lowest HQ %", min(hq), "> 0") and record("highest HQ %", max(hq), "< 100")  # non-trivial
    (s,) = summary
    assert s["seeds"] == 2
    assert s["hq_percent"] == pytest.approx(np.mean(hq), abs=1e-12)
    assert s["hq_percent_se"] == pytest.approx(np.std(hq, ddof=1) / math.sqrt(2), abs=1e-12)
    assert s == report["summary"][0]


def test_summary_mean_se_and_goal():
    rows = [{"method": "m", "setup": "ring", "seed": i, "modes": 8.0, "modes_total": 8.0, "hq_percent": h,
             "reverse_kl": k, "energy": 0.001, "energy_baseline": 0.0, "width": 0.9, "train_s": t, "total_s": t, "cpu_s": t}
            for i, (h, k, t) in enumerate([(99.0, 0.01, 30.0), (97.0, 0.01, 30.0), (98.5, 0.03, 30.0), (98.5, 0.01, 61.0)])]
    (s,) = summarise(rows)
    assert s["hq_percent"] == pytest.approx(98.25)
    assert s["hq_percent_se"] == pytest.approx(np.std([99, 97, 98.5, 98.5], ddof=1) / 2)
    assert s["at_goal"] == 1 and s["hq_percent_min"] == 97.0 and s["train_s_max"] == 61.0


def test_setups_and_methods_are_valid_configs():
    from gankit.config import build_config

    for m in METHODS:
        for setup in SETUPS:
            build_config(run_config(m, setup, 0))
    with pytest.raises(ConfigError, match="unknown method"):
        run_config("nope", "ring", 0)


def test_a_bad_override_fails_before_any_run(tmp_path):
    bench = load_all().get("modes")
    with pytest.raises(ConfigError, match="penalty.weight"):
        bench(methods=["gan"], setups=["ring"], seeds=1, overrides=["penalty=r1", "penalty.weight=0.1"],
              out=str(tmp_path))
    assert not (tmp_path / "runs").exists()                                  # nothing trained


def test_mode_width_of_the_data_and_of_points():
    from gankit.bench.modes import PERFECT_WIDTH, mode_width

    # E[r^2 | r < 3] of a Rayleigh(1) variable by quadrature, per coordinate
    from scipy import integrate

    num = integrate.quad(lambda r: r**3 * np.exp(-r**2 / 2), 0, 3)[0]
    den = integrate.quad(lambda r: r * np.exp(-r**2 / 2), 0, 3)[0]
    assert PERFECT_WIDTH == pytest.approx(math.sqrt(num / den / 2), rel=1e-9)
    grid = DATASETS.build("grid", {"n": 5, "spacing": 2.0, "sigma": 0.05})
    x, _ = grid.sample(40_000, torch.Generator().manual_seed(0))
    assert mode_width(x.numpy(), grid.means.numpy(), 0.05) == pytest.approx(PERFECT_WIDTH, abs=0.01)
    assert mode_width(grid.means.numpy().repeat(3, 0), grid.means.numpy(), 0.05) == 0.0
    half = grid.means.numpy() + np.array([0.05, 0.0])    # every point 1 sigma off in x: RMS per coordinate 1/sqrt(2)
    assert mode_width(half, grid.means.numpy(), 0.05) == pytest.approx(1 / math.sqrt(2), rel=1e-9)
