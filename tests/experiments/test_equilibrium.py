"""equilibrium: with p_g = p_data the trained D approaches 1/2 and V(D, G) approaches -log 4
(Goodfellow et al. 2014, Thm. 1)."""

from __future__ import annotations

import math

import pytest

from gankit.experiments.optimal_discriminator import equilibrium


@pytest.fixture(scope="module")
def result():
    return equilibrium(cases=["1d", "2d"], steps=600, batch_size=512, lr=1e-2, width=64, depth=2,
                       mc_samples=200_000, record_every=200, seed=0)


def rows(result):
    return {r[0].split(":")[0]: dict(zip(["label", "max", "mean", "v_quad", "v_mc", "se", "ok"], r))
            for r in result.rows}


@pytest.mark.parametrize("case", ["1d", "2d"])
def test_d_is_one_half_on_the_mass_region(result, case):
    r = rows(result)[case]
    assert 0.0 < r["mean"] <= r["max"] < 0.01


@pytest.mark.parametrize("case", ["1d", "2d"])
def test_value_is_minus_log4(result, case):
    r = rows(result)[case]
    # V(D, G) + log 4 = -E[(a²)/4 + O(a⁴)] <= 0 for a D with small logits a when p_g = p_data:
    # both estimates lie below -log 4, by less than 1e-3
    assert -1e-3 < r["v_quad"] <= 0.0
    assert -1e-3 < r["v_mc"] <= 0.0
    assert r["ok"] and result.holds


def test_history_starts_far_from_one_half_and_ends_close(result):
    h = result.series["cases"]["1d"]["history"]
    assert h["step"] == [0, 200, 400, 600]
    assert h["max_error"][0] > 0.02 and h["max_error"][-1] < 0.01     # the untrained D vs the trained one
    assert h["v_quad"][-1] == pytest.approx(-math.log(4), abs=1e-3)
