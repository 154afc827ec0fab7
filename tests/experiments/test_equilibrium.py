"""equilibrium: with p_g = p_data the trained D approaches 1/2 and V(D, G) approaches -log 4
(Goodfellow et al. 2014, Thm. 1)."""

from __future__ import annotations

import math

import pytest

from gankit.experiments import ExperimentResult, run
from gankit.plotting.training_experiments import plot_discriminator

pytestmark = pytest.mark.training


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return run("equilibrium", out_dir=tmp_path_factory.mktemp("eq"), cases=["1d", "2d"], steps=600, batch_size=512,
               lr=1e-2, width=64, depth=2, mc_samples=200_000, record_every=200, seed=0)


def rows(result):
    return {r[0].split(":")[0]: dict(zip(["label", "max", "mean", "v_quad", "v_mc", "se", "ok"], r))
            for r in result.rows}


@pytest.mark.parametrize("case", ["1d", "2d"])
def test_d_is_one_half_on_the_mass_region(result, case, record):
    r = rows(result)[case]
    assert 0.0 < r["mean"] <= r["max"] and record("max |D - 1/2|", r["max"], "< 0.01")


@pytest.mark.parametrize("case", ["1d", "2d"])
def test_value_is_minus_log4(result, case, record):
    r = rows(result)[case]
    # with p_g = p_data, V(D, G) + log 4 = ∫ p (log D + log(1 - D) + log 4) <= 0 for every D, with
    # equality only at D = 1/2: the quadrature lies just below -log 4; the Monte Carlo estimate
    # (different samples in the two terms) within its sampling error of it
    assert record("V quadrature + log 4", r["v_quad"], "-1e-3 < x <= 0")
    assert record("|V Monte Carlo + log 4|", abs(r["v_mc"]), "< 1e-3")
    assert record("|V MC - V quad| / (4 se + 1e-6)", abs(r["v_mc"] - r["v_quad"]) / (4 * r["se"] + 1e-6), "< 1")
    assert r["ok"] and result.holds


def test_history_starts_far_from_one_half_and_ends_close(result, record):
    h = result.series["cases"]["1d"]["history"]
    assert h["step"] == [0, 200, 400, 600]
    # the untrained D vs the trained one
    assert record("untrained max |D - 1/2|", h["max_error"][0], "> 0.02")
    assert record("trained max |D - 1/2|", h["max_error"][-1], "< 0.01")
    assert record("|V quad + log 4| at the end", abs(h["v_quad"][-1] + math.log(4)), "<= 1e-3")


@pytest.mark.parametrize("name", ["equilibrium", "optimal-discriminator"])
def test_figure_redraws_from_json(result, tmp_path, name):
    r = result if name == "equilibrium" else run(name, out_dir=tmp_path / "od", steps=30, mc_samples=1000,
                                                   record_every=10)
    assert (r.run_dir / f"{name}.png").stat().st_size > 10_000
    loaded = ExperimentResult.load(r.run_dir)
    assert loaded.summary == pytest.approx(r.summary, rel=1e-12) and len(loaded.rows) == 2
    plot_discriminator(loaded, tmp_path / "again.png")
    assert (tmp_path / "again.png").stat().st_size > 10_000
