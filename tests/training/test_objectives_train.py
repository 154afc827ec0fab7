"""Every objective trains the default ring without NaN/inf, and `gankit bench objectives` reports them.

Parametrised over :func:`gankit.bench.objectives.objective_table`, which reads the registries:
every loss, ``fgan`` x every registered f-divergence, ``wgan`` x {gradient penalty, clipping},
GMMN and MMD-GAN (+ gp), each with the bench's settings (n_critic 5 for WGAN and MMD-GAN, the
papers' optimisers). Short runs (150 steps) with small networks: a numerical smoke test of every
objective's whole training path (critic loss, penalty, generator loss, evaluation).
"""

from __future__ import annotations

import json
import math
import statistics

import pytest

from gankit.bench.objectives import objective_table, objectives_bench, run_config
from gankit.config import load_preset
from gankit.losses import DIVERGENCES, LOSSES, WGAN_PRESETS
from gankit.session import train

SMALL = ["generator.width=32", "generator.depth=2", "discriminator.width=32", "discriminator.depth=2",
         "train.batch_size=64", "train.log_every=10", "eval.num_samples=500"]
TABLE = objective_table()


def test_the_table_covers_every_registry_entry():
    expected = {f"fgan-{d}" for d in DIVERGENCES.names()} | {"wgan-gp", "wgan-gp-toy", "wgan-clip"}
    expected |= {e.name for e in LOSSES if e.name not in ("fgan", "wgan")}
    assert set(TABLE) == expected
    assert TABLE["wgan-gp"]["train"]["d_steps"] == 5 and TABLE["wgan-clip"]["train"]["d_steps"] == 5
    assert TABLE["wgan-gp"]["penalty"] == {"name": "gp", "weight": 10.0, "center": 1.0}
    assert TABLE["wgan-gp-toy"]["penalty"]["weight"] == 0.1
    assert TABLE["wgan-clip"]["penalty"] == {"name": "clip", "value": 0.01}
    assert TABLE["mmd-gan"]["penalty"]["name"] == "gp"


@pytest.mark.parametrize("preset,paper", [("wgan-gp", "wgan-gp"), ("wgan-clip", "wgan")])
def test_wgan_presets_are_the_papers_settings(preset, paper):
    p, ref = load_preset(preset), WGAN_PRESETS[paper]
    assert p["model"]["loss"] == ref["loss"]["name"] and p["model"]["penalty"] == ref["penalty"]
    assert p["train"]["d_steps"] == ref["n_critic"] == 5
    for which in ("optim_g", "optim_d"):
        assert p[which]["name"] == ref["optimizer"]["name"] and p[which]["lr"] == ref["optimizer"]["lr"]
        assert tuple(p[which].get("betas", ref["optimizer"].get("betas", ()))) == tuple(ref["optimizer"].get("betas", ()))
    assert p["train"].get("batch_size") == ref.get("batch_size")


@pytest.mark.training
@pytest.mark.parametrize("objective", list(TABLE))
def test_objective_trains_the_ring_without_nan(objective, tmp_path, record):
    cfg = run_config(objective, seed=0, steps=150, overrides=SMALL)
    run = train(cfg, run_dir=tmp_path / objective)   # the loop raises FloatingPointError on a NaN/inf loss
    assert run.step == 150
    assert run.cfg.data.name == "ring"
    logged = [(row["step"], k, v) for row in run.history for k, v in row.items()]
    assert len(run.history) == 15 and {"g_loss"} <= set(run.history[-1])
    bad = [(s, k, v) for s, k, v in logged if not math.isfinite(v)]
    assert not bad, bad
    m = run.metrics
    for k in ("modes", "hq_percent", "energy", "energy_baseline"):
        assert math.isfinite(m[k]), (k, m[k])
    assert 0 <= m["modes"] <= m["modes_total"] == 8
    assert 0.0 <= m["hq_percent"] <= 100.0
    assert math.isfinite(m["reverse_kl"]) == (m["hq_percent"] > 0)   # inf exactly when no sample is HQ
    # the energy distance's U-statistic is unbiased: two samples of the data score ~0 (either sign),
    # a generator 150 steps into training is still far from the ring
    assert record("|energy baseline|", abs(m["energy_baseline"]), "< 0.01")
    assert record("energy distance", m["energy"], "> 0.01")


def test_bench_tables_are_the_runs_mean_and_standard_error(tmp_path):
    summary = objectives_bench(objectives=["ns", "gmmn"], seeds=2, steps=10, workers=1, overrides=SMALL,
                               out=str(tmp_path))
    data = json.loads((tmp_path / "objectives.json").read_text())   # strict JSON (no NaN)
    assert [s["objective"] for s in summary] == ["ns", "gmmn"]
    for s in summary:
        runs = [r for r in data["runs"] if r["objective"] == s["objective"]]
        assert [r["seed"] for r in runs] == [0, 1] and all(r["steps"] == 10 for r in runs)
        for k in ("hq_percent", "energy", "train_s"):
            values = [r[k] for r in runs]
            assert s[k] == pytest.approx(statistics.fmean(values), rel=1e-12)
            assert s[k + "_se"] == pytest.approx(statistics.stdev(values) / math.sqrt(2), rel=1e-9)
    text = (tmp_path / "objectives.md").read_text()
    assert "gankit bench objectives --set objectives=[ns,gmmn] --set seeds=2" in text
    assert "| gmmn |" in text and "steps=10" in text and "data=ring" in text
