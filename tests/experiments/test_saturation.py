"""saturation: autograd through gankit's generator losses vs the closed forms in D = D(G(z))."""

from __future__ import annotations

import numpy as np
import pytest

from gankit.errors import ConfigError
from gankit.experiments.saturation import saturation


@pytest.fixture(scope="module")
def result():
    return saturation(d_min=1e-6, d_max=0.5, points=41)


def test_gradients_match_the_closed_forms_in_d(result):
    d = result.series["d_fake"].numpy()
    auto = {k: v.numpy() for k, v in result.series["autograd"].items()}
    # written in D, not in the logit: dL/da = -D, -(1 - D), -D / (1 - D)
    np.testing.assert_allclose(auto["saturating"], -d, rtol=1e-12)
    np.testing.assert_allclose(auto["non-saturating"], -(1 - d), rtol=1e-12)
    np.testing.assert_allclose(auto["maximum-likelihood"], -d / (1 - d), rtol=1e-12)


def test_saturating_vanishes_where_non_saturating_does_not(result):
    s = result.summary
    assert s["|grad| saturating at smallest"] == pytest.approx(1e-6, rel=1e-9)
    assert s["|grad| non-saturating at smallest"] == pytest.approx(1 - 1e-6, rel=1e-12)
    # the ML loss saturates too when D rejects the fakes: D / (1 - D)
    assert s["|grad| maximum-likelihood at smallest"] == pytest.approx(1e-6 / (1 - 1e-6), rel=1e-9)
    # at D(G(z)) = 1/2 the two classic losses give the same gradient magnitude
    last = result.rows[-1]
    assert last[0] == pytest.approx(0.5) and last[1] == pytest.approx(0.5, rel=1e-12) and last[2] == pytest.approx(0.5, rel=1e-12)
    assert result.holds


def test_range_is_validated():
    with pytest.raises(ConfigError):
        saturation(d_min=0.5, d_max=0.1)
