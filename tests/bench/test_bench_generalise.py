"""bench generalise: whole recipes on a seeded random family of mixtures; the table is its runs."""

from __future__ import annotations

import json

import pytest

from gankit import jsonio
from gankit.bench import load_all
from gankit.bench.generalise import METHODS, at_goal, run_config, setups, summarise
from gankit.config import build_config
from gankit.errors import ConfigError


def test_every_method_is_a_valid_recipe_that_sets_nothing_per_data():
    data = setups(3, 1000, True)
    assert list(data) == ["mix-1000", "mix-1001", "mix-1002", "ring", "grid"]
    for method in METHODS:
        cfgs = [run_config(method, d, 0) for d in data.values()]
        for c, d in zip(cfgs, data.values()):
            build_config(c)
            assert c["data"] == d
        # apart from data, the recipe is the same whatever the data
        strip = [{k: v for k, v in c.items() if k != "data"} for c in cfgs]
        assert all(s == strip[0] for s in strip), method


def test_goal_and_summary_follow_their_definitions():
    rows = [{"method": "m", "setup": "grid", "seed": 0, "modes": 25, "modes_total": 25, "hq_percent": 95.0,
             "reverse_kl": 0.01, "energy": 0.002, "energy_baseline": 0.001, "train_s": 10.0},
            {"method": "m", "setup": "mix-1", "seed": 0, "modes": 9, "modes_total": 10, "hq_percent": 97.0,
             "reverse_kl": 0.05, "energy": 0.004, "energy_baseline": 0.0, "train_s": 30.0},
            {"method": "m", "setup": "mix-1", "seed": 1, "modes": 10, "modes_total": 10, "hq_percent": 99.5,
             "reverse_kl": 0.02, "energy": 0.001, "energy_baseline": 0.0, "train_s": 20.0}]
    assert [at_goal(r) for r in rows] == [True, False, False]  # 99.5 % HQ: squeezed modes
    (s,) = summarise(rows)
    assert s["at_goal"] == 1 and s["all_modes"] == 2 and s["grid_at_goal"] == "1/1"
    assert s["coverage"] == pytest.approx((1 + 0.9 + 1) / 3)
    assert s["energy_excess"] == pytest.approx((0.001 + 0.004 + 0.001) / 3)
    assert s["train_s_max"] == 30.0


def test_the_bench_table_is_its_runs(tmp_path):
    bench = load_all().get("generalise")
    summary = bench(methods=["default"], mixtures=2, family_seed=5, pacgan=False, seeds=1, workers=1,
                    overrides=["train.steps=40", "train.batch_size=64", "generator.width=16",
                               "discriminator.width=16"], out=str(tmp_path))
    report = json.loads((tmp_path / "generalise.json").read_text())
    assert [r["setup"] for r in report["runs"]] == ["mix-5", "mix-6"]
    assert report["summary"] == jsonio.strict(summary)
    assert "gankit bench generalise" in (tmp_path / "generalise.md").read_text()
    assert report["meta"]["data"]["mix-5"]["name"] == "mixture"


def test_listed_members_run_instead_of_the_first_ones(tmp_path):
    from gankit.bench.generalise import setups
    from gankit.data.toy import random_mixture

    data = setups(20, 0, False, members=[3, 29])
    assert list(data) == ["mix-3", "mix-29"] and data["mix-29"] == random_mixture(29)
    bench = load_all().get("generalise")
    bench(methods=["default"], members=[7], family_seed=0, pacgan=False, seeds=1, workers=1,
          overrides=["train.steps=5", "train.batch_size=64", "mitigations.drs.steps=5"], out=str(tmp_path))
    report = json.loads((tmp_path / "generalise.json").read_text())
    assert [r["setup"] for r in report["runs"]] == ["mix-7"] and report["meta"]["members"] == [7]
    md = (tmp_path / "generalise.md").read_text()
    assert "--set members=[7]" in md and "members 7 of family seed 0" in md
    for bad in ([], [-1], [2, 2]):
        with pytest.raises(ConfigError, match="members"):
            bench(methods=["default"], members=bad, seeds=1, workers=1, out=str(tmp_path / "bad"))


def test_a_bad_override_fails_before_any_run(tmp_path):
    bench = load_all().get("generalise")
    with pytest.raises(ConfigError, match="train.stepz"):
        bench(methods=["default"], mixtures=1, seeds=1, workers=1, overrides=["train.stepz=3"],
              out=str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_the_data_row_scores_what_a_perfect_sampler_scores():
    # the data's own samples: every mode, HQ a binomial draw around the chi(2) mass within 3
    # sigma (1 - e^{-9/2} = 98.89 %), energy distance at its real-vs-real baseline
    import math

    from gankit.bench.generalise import run_reference

    p = 1 - math.exp(-4.5)
    for setup, data in setups(2, 1000, True).items():
        for seed in (0, 1):
            row = run_reference(setup, data, seed)
            assert row["method"] == "data" and row["modes"] == row["modes_total"]
            assert abs(row["hq_percent"] / 100 - p) < 4 * math.sqrt(p * (1 - p) / 2500), (setup, row)
            assert abs(row["energy"] - row["energy_baseline"]) < 0.05 * max(row["energy_baseline"], 1e-3) + 0.01


def test_the_users_family_draws_files_like_users_from_its_seed():
    # 2,000-7,000 rows, 2-10-D, 2-6 clusters of unequal weights, elongated and rotated spreads,
    # the first cluster never Gaussian, every column in its own units between 0.1 and 1000
    import numpy as np

    from gankit.data.families import users_member

    members = [users_member(s) for s in range(1000, 1012)]
    for m in members:
        n, d = m.x.shape
        assert 2000 <= n <= 7000 and 2 <= d <= 10 and 2 <= len(m.shapes) <= 6
        assert m.shapes[0] != "gaussian" and m.weights.sum() == pytest.approx(1.0)
        assert np.all((m.scales >= 0.1) & (m.scales <= 1000))
        z = (m.x - m.offsets) / m.scales  # the points before their units
        for j, shape in enumerate(m.shapes):
            assert np.mean(m.labels == j) == pytest.approx(m.weights[j])
            eig = np.linalg.eigvalsh(np.cov(z[m.labels == j].T))
            ratio = float(np.sqrt(eig[-1] / eig[0]))  # longest over shortest axis of the spread
            if shape in ("gaussian", "box"):
                assert ratio == pytest.approx(m.anisotropy[j], rel=0.15), (shape, ratio, m.anisotropy[j])
            assert ratio > 2.5, (shape, ratio)
            # rotated: the longest axis is not a coordinate axis
            vec = np.linalg.eigh(np.cov(z[m.labels == j].T))[1][:, -1]
            assert np.abs(vec).max() < 0.999
    assert max(m.weights.max() / m.weights.min() for m in members) > 3
    assert {s for m in members for s in m.shapes} == {"gaussian", "banana", "box", "student-t"}
    assert max(m.scales.max() / m.scales.min() for m in members) > 100
    assert len({m.x.shape[1] for m in members}) >= 4  # dimensions spread over 2-10


def test_the_users_files_are_read_as_points_files_and_the_seed_reproduces_them(tmp_path):
    import numpy as np

    from gankit.bench.generalise import setups
    from gankit.data import DATASETS
    from gankit.data.families import users_member

    data = setups(2, 1000, True, family="users", data_dir=tmp_path / "a")
    again = setups(2, 1000, True, family="users", data_dir=tmp_path / "b")
    assert list(data) == ["users-1000", "users-1001"]  # no ring or grid: they are not point files
    for name, d in data.items():
        a, b = tmp_path / "a" / d["path"].rsplit("/", 1)[1], tmp_path / "b" / again[name]["path"].rsplit("/", 1)[1]
        assert a.read_bytes() == b.read_bytes()
        m = users_member(int(name.split("-")[1]))
        n, dim = m.x.shape
        src = DATASETS.build("points", {"path": d["path"]})
        n_test = round(0.1 * n)  # data.test_fraction's default, as a user's file
        assert (len(src), len(src.test_x), src.x.shape[1]) == (n - n_test, n_test, dim)
        test = np.zeros(n, dtype=bool)
        test[np.random.default_rng(0).permutation(n)[:n_test]] = True
        np.testing.assert_allclose(src.x.numpy(), m.x[~test], rtol=1e-6)
        np.testing.assert_allclose(src.test_x.numpy(), m.x[test], rtol=1e-6)
    assert data["users-1000"]["path"].endswith(".npy") and data["users-1001"]["path"].endswith(".csv")
    assert not np.array_equal(users_member(1000).x[:5], users_member(1002).x[:5])
    with pytest.raises(ConfigError, match="family"):
        setups(1, 0, False, family="user", data_dir=tmp_path)


def test_the_classifier_two_sample_accuracy_is_a_half_for_equal_samples_and_one_for_apart():
    import numpy as np

    from gankit.bench.generalise import classifier_accuracy

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(600, 3)) * 500, rng.normal(size=(600, 3)) * 500
    assert abs(classifier_accuracy(a, b) - 0.5) < 0.06
    assert classifier_accuracy(a, b + np.array([1500.0, 0, 0])) > 0.9
    assert classifier_accuracy(a, b[:300]) == classifier_accuracy(a[:300], b[:300])  # balanced: the first rows
