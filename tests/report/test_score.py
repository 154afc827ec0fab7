"""The judge's numbers: the bootstrap interval against the binomial it must reproduce, and the
machine judges against separators whose error is known (perfect: 0 %; no signal: 50 %)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.stats import binom, norm
from torch import nn

from gankit.capabilities import Discriminates
from gankit.report.judge import Items
from gankit.report.score import bootstrap_ci, classifier_rows, discriminator_rows, error_row, human_rows

from .conftest import make_session


def test_bootstrap_small_sample_is_the_binomial_quantiles() -> None:
    # For 0/1 outcomes, the mean of a resample is Binomial(n, p_hat) / n exactly, so the
    # percentile interval is that distribution's 2.5 % and 97.5 % quantiles. n = 20 with 6
    # errors: P(X <= 1) = 0.008, P(X <= 2) = 0.035, P(X <= 9) = 0.952, P(X <= 10) = 0.983,
    # so with 10,000 resamples both quantiles sit well inside one value: 2/20 and 10/20.
    errors = np.array([1] * 6 + [0] * 14)
    lo, hi = bootstrap_ci(errors, seed=3)
    assert (lo, hi) == (binom.ppf(0.025, 20, 0.3) / 20, binom.ppf(0.975, 20, 0.3) / 20) == (0.1, 0.5)


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_bootstrap_large_sample_matches_the_normal_approximation(p: float) -> None:
    n = 2000
    errors = np.zeros(n)
    errors[: int(p * n)] = 1
    lo, hi = bootstrap_ci(errors, seed=0)
    half = norm.ppf(0.975) * math.sqrt(p * (1 - p) / n)   # 0.013 .. 0.022
    # Monte Carlo error of a 10,000-resample quantile is ~3 % of the half-width; the
    # binomial's skew at p = 0.1 shifts each end by < 0.002.
    assert lo == pytest.approx(p - half, abs=0.003)
    assert hi == pytest.approx(p + half, abs=0.003)


def test_bootstrap_edge_cases_and_seed() -> None:
    assert bootstrap_ci(np.zeros(50)) == (0.0, 0.0)
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    e = np.random.default_rng(1).random(300) < 0.4
    assert bootstrap_ci(e, seed=5) == bootstrap_ci(e, seed=5)
    lo80, hi80 = bootstrap_ci(e, level=0.8, seed=5)
    lo95, hi95 = bootstrap_ci(e, level=0.95, seed=5)
    assert lo95 < lo80 < e.mean() < hi80 < hi95


def test_error_row_counts_both_kinds_of_error_and_classes() -> None:
    truth = np.array([True, True, False, False, False, True])
    said = np.array([True, False, True, False, False, True])   # one real called fake, one fake called real
    row = error_row("x", "HYPE∞", truth, said, labels=np.array([0, 0, 0, 1, 1, 1]), class_names=["zero", "one"])
    assert row["error"] == pytest.approx(2 / 6)
    assert row["real_error"] == pytest.approx(1 / 3) and row["fake_error"] == pytest.approx(1 / 3)
    assert row["per_class"]["0 zero"] == {"items": 3, "error": pytest.approx(2 / 3), "ci_low": 0.0, "ci_high": 1.0}
    assert row["per_class"]["1 one"]["error"] == 0.0


def test_human_rows_read_the_answers_file(tmp_path: Path) -> None:
    s = make_session(tmp_path, n=6)
    for i, said in enumerate(["real", "real", "generated", "real"]):   # truth: real, generated, real, generated
        truth = "real" if s.items.real[i] else "generated"
        s.log.answer(i, said, truth, int(s.items.label[i]), 500.0, None)
    (row,) = human_rows(tmp_path, class_names=["a", "b", "c"])
    assert row["items"] == 4 and row["error"] == pytest.approx(3 / 4)   # items 1, 2 and 3 wrong
    assert row["note"] == "4 of 6 answered" and row["protocol"] == "HYPE∞"
    assert set(row["per_class"]) == {"0 a", "1 b", "2 c"}


# -- machine judges on separators of known error ----------------------------------------------
class _Linear(nn.Module):
    """D(x) = w . x + b for points (B, 2) or flattened images."""

    def __init__(self, w: list[float], b: float) -> None:
        super().__init__()
        self.w, self.b = torch.tensor(w), b

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return x.reshape(len(x), -1) @ self.w + self.b


class _Critic(Discriminates):
    """A model whose critic is ``D``: all the discriminator rows read of a run's recipe."""

    num_classes = 0

    def __init__(self, D: nn.Module, objective: SimpleNamespace) -> None:
        self.D, self.objective = D, objective

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.D(x, y)


def _fake_run(D: nn.Module, probability_outputs: bool = True) -> SimpleNamespace:
    obj = SimpleNamespace(learned_critic=True, critic_dim=1, probability_outputs=probability_outputs)
    return SimpleNamespace(recipe=_Critic(D, obj), device=torch.device("cpu"))


def _points(separated: bool, n_items: int = 40, per: int = 16, pool: int = 2000, seed: int = 0):
    """Real N(0, I); generated N((6, 6), I) when separated, else the same N(0, I)."""
    rng = np.random.default_rng(seed)
    shift = 6.0 if separated else 0.0
    real = np.arange(n_items) % 2 == 0
    x = rng.normal(size=(n_items, per, 2)) + np.where(real, 0.0, shift)[:, None, None]
    items = Items(kind="points", x=x.astype(np.float32), real=real, label=np.full(n_items, -1))
    px = np.concatenate([rng.normal(size=(pool, 2)), rng.normal(size=(pool, 2)) + shift]).astype(np.float32)
    return items, (px, np.array([True] * pool + [False] * pool), np.full(2 * pool, -1))


def test_discriminator_that_separates_perfectly_scores_zero() -> None:
    items, pool = _points(separated=True)
    D = _Linear([-1.0, -1.0], 6.0)   # logit > 0 below the line x + y = 6, between the two means
    rows = discriminator_rows(_fake_run(D), items, pool)
    assert [r["error"] for r in rows] == [0.0, pytest.approx(0.0, abs=0.002)]   # pool: 2 x P(N(0,2) > 4.24) ~ 0.0013
    assert rows[0]["ci_low"] == rows[0]["ci_high"] == 0.0


def test_discriminator_without_signal_scores_one_half() -> None:
    items, pool = _points(separated=False)
    rows = discriminator_rows(_fake_run(_Linear([1.0, -0.5], 0.0)), items, pool)
    # 4,000 held-out samples: the error of a coin is 0.5 +- 0.008 (sd); 4 sd = 0.032
    assert abs(rows[1]["error"] - 0.5) < 0.032
    assert abs(rows[0]["error"] - 0.5) <= 0.3   # 40 items: sd 0.079; a third of the way to 0 or 1 is 3.8 sd


def test_critic_without_probabilities_is_thresholded_at_its_median() -> None:
    items, pool = _points(separated=True)
    D = _Linear([-1.0, -1.0], 100.0)   # every output > 0: logit 0 would call everything real
    rows = discriminator_rows(_fake_run(D, probability_outputs=False), items, pool)
    assert rows[1]["error"] == pytest.approx(0.0, abs=0.002)
    assert "median" in rows[1]["note"]


def test_classifier_that_can_separate_scores_zero() -> None:
    items, pool = _points(separated=True, pool=500)
    rows = classifier_rows(items, pool)
    assert rows[0]["error"] == 0.0
    assert rows[1]["error"] < 0.01   # overlap of N(0, I) and N((6, 6), I) is ~0.1 %


def test_classifier_on_identical_distributions_scores_one_half() -> None:
    items, pool = _points(separated=False, pool=1000)
    rows = classifier_rows(items, pool)
    # 2,000 held-out samples: a classifier with no signal errs 0.5 +- 0.011 (sd); 4 sd = 0.045
    assert abs(rows[1]["error"] - 0.5) < 0.045


def test_discriminator_sees_inputs_as_in_training() -> None:
    # A recipe with train.standardize scores data-space points through recipe.discriminate
    # (standardise, then D): here D alone would call every item real, discriminate separates.
    items, pool = _points(separated=True)
    D = _Linear([-1.0, -1.0], 100.0)
    run = _fake_run(D)
    run.recipe.discriminate = lambda x, y=None: D(x) - 94.0   # 6 - x1 - x2: > 0 for real, as above
    assert [r["error"] for r in discriminator_rows(run, items, pool)][0] == 0.0
    del run.recipe.discriminate
    assert discriminator_rows(run, items, pool)[0]["error"] == 0.5
