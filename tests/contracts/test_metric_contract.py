"""The contract every metric (``gankit.metrics.METRICS``) meets: on a small run of a kind it
declares it can take (its registered ``needs`` are met: ``gankit.validate.check_eval``), it returns
finite numbers, the same ones when evaluated twice. Where an independent computation exists the
number itself is checked: mode counts of the modes' own centres, the JSD of disjoint supports.

A metric registered without a case in ``CASES`` fails here, so none goes untested.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from gankit.config import build_config
from gankit.data import DATASETS
from gankit.metrics import METRICS, EvalContext
from gankit.session.run import Run
from gankit.validate import check_eval

pytestmark = pytest.mark.usefixtures("module_cache_dir")  # one digits classifier for the module

DIGITS8 = {"name": "digits", "size": 8}
DCGAN8 = {"generator": {"name": "dcgan", "width": 8}, "discriminator": {"name": "dcgan", "width": 8}}
MLP16 = {"generator": {"width": 16, "depth": 2}, "discriminator": {"width": 16, "depth": 2}}
AAE = {"model": "aae", "data": DIGITS8, "latent_dim": 2, "encoder": {"name": "mlp", "width": 16, "depth": 2},
       "generator": {"name": "mlp", "width": 16, "depth": 2, "output": "tanh"},
       "discriminator": {"name": "mlp", "width": 16, "depth": 2},
       "prior": {"name": "mog", "components": 10, "radius": 4.0, "sigma": 0.5}, "aae": {"supervised": True}}
TRANSLATORS = {"width": 4, "d_width": 4, "d_layers": 1}

# a small run of each kind a metric can take
SETTINGS: dict[str, dict[str, Any]] = {
    "ring": {"data": "ring", "latent_dim": 2, "prior": "normal", **MLP16},
    "mixture1d": {"data": "mixture1d", "latent_dim": 1, "prior": "normal", **MLP16},
    "digits": {"data": DIGITS8, "latent_dim": 8, "prior": "normal", **DCGAN8},
    "stacked": {"data": {"name": "stacked", "size": 8, "num": 256}, "latent_dim": 8, "prior": "normal", **DCGAN8},
    "aae": AAE,
    "infogan": {"model": {"name": "infogan", "categories": 4, "continuous": 1}, "data": DIGITS8, "latent_dim": 9,
                **DCGAN8},
    "pix2pix": {"model": {"name": "pix2pix", **TRANSLATORS},
                "data": {"name": "pair-task", "base": "digits", "size": 8, "num": 64, "test_num": 32}},
    "cyclegan": {"model": {"name": "cyclegan", "net": "unet", "pool": 4, **TRANSLATORS},
                 "data": {"name": "fashion-domains", "size": 8, "num": 64}, "loss": "lsgan"},
    "ssgan": {"model": {"name": "ssgan", "labels": 30}, "data": "digits", "latent_dim": 4,
              "generator": {"name": "mlp", "width": 16, "output": "tanh"}, "discriminator": {"name": "mlp", "width": 16}},
}
RUN = {"train": {"steps": 2, "batch_size": 16, "progress": False, "checkpoint_every": 0},
       "eval": {"num_samples": 64, "metrics": []}}

CASES = {"modes": "ring", "energy": "ring", "mmd": "ring", "twosample": "ring", "jsd1d": "mixture1d",
         "fid": "digits", "kid": "digits", "pr": "digits", "dc": "digits", "classes": "digits",
         "stacked_modes": "stacked", "recon": "aae", "latent_mmd": "aae", "latent_components": "aae",
         "codes": "infogan", "l1": "pix2pix", "psnr": "pix2pix", "cycle": "cyclegan",
         "translated_classes": "cyclegan", "test_error": "ssgan"}
# infinite by definition: reverse KL to the modes when some mode has no sample (a 2-step G)
MAY_BE_INFINITE = {"reverse_kl"}
# options for a 64-sample case (KID's default subsets hold 1,000 samples)
OPTIONS: dict[str, dict[str, Any]] = {"kid": {"subset_size": 32, "num_subsets": 10}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    """Each setting trained 2 steps, built on first use (a skip names data not installed here)."""
    root, built = tmp_path_factory.mktemp("metric-runs"), {}

    def get(setting: str) -> Run:
        if setting not in built:
            raw = {**SETTINGS[setting], **RUN}
            try:
                built[setting] = Run(build_config(raw), root / setting).fit(2)
            except Exception as e:  # gankit's one-line DataError when optional data is absent
                if "not found" in str(e):
                    pytest.skip(str(e))
                raise
        return built[setting]

    return get  # type: ignore[return-value]


@pytest.mark.parametrize("name", METRICS.names())
def test_returns_finite_floats_on_a_case_it_declares_it_takes(name, runs):
    if name not in CASES:
        pytest.fail(f"metric {name!r} has no case in CASES (tests/contracts/test_metric_contract.py)")
    run = runs(CASES[name])
    check_eval(run.cfg, run.data, run.recipe, [name])  # its declared needs are met (else one-line ConfigError)
    ctx = run.eval_context()
    fn = METRICS.get(name)
    out = fn(ctx, **OPTIONS.get(name, {}))
    assert out and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in out.values()), out
    assert all(math.isfinite(v) for k, v in out.items() if k not in MAY_BE_INFINITE), out
    assert fn(run.eval_context(), **OPTIONS.get(name, {})) == out  # seeded: the same numbers again


def point_context(name: str, generate: Any, n: int = 400) -> EvalContext:
    return EvalContext(DATASETS.build(name, {}), generate, num_samples=n)


def test_modes_of_the_modes_own_centres_are_all_of_them_all_high_quality():
    data = DATASETS.build("ring", {})
    ctx = point_context("ring", lambda n, y: data.means.float().repeat(n // len(data.means), 1))
    out = METRICS.get("modes")(ctx)
    assert out["modes"] == 8.0 and out["modes_total"] == 8.0 and out["hq_percent"] == 100.0
    assert out["reverse_kl"] == pytest.approx(0.0, abs=1e-12)  # 50 samples in each of 8 modes: uniform


def test_jsd_of_disjoint_supports_is_log_2():
    # every generated sample lies outside the data's 6-sigma window: p and q share no bin
    ctx = point_context("mixture1d", lambda n, y: torch.full((n, 1), 100.0))
    assert METRICS.get("jsd1d")(ctx)["jsd"] == pytest.approx(math.log(2), rel=1e-12)


def test_energy_of_a_far_point_mass_is_twice_its_distance():
    # energy = 2 E|X - c| - E|X - X'| - E|c - c|; the ring has radius 1 (|X| <= 1.1 at 10 sigma),
    # so for c at distance 1000: 2 * 998.9 - 2.2 <= energy <= 2 * 1001.1
    ctx = point_context("ring", lambda n, y: torch.tensor([[1000.0, 0.0]]).repeat(n, 1))
    assert 2 * 998.9 - 2.2 <= METRICS.get("energy")(ctx)["energy"] <= 2 * 1001.1
