"""``gankit interpolate`` / ``gankit arithmetic``: the PNGs hold exactly the API's images, and
bad input gives one line and exit status 2."""

import numpy as np
import pytest
from PIL import Image

from gankit.cli.main import main
from gankit.config import build_config
from gankit.plotting.grid import image_grid
from gankit.plotting.latent import arithmetic, interpolate
from gankit.session import Run, load_run


def _save_run(path, conditional):
    cfg = build_config({"data": {"name": "digits"}, "conditional": conditional, "latent_dim": 8, "device": "cpu",
                        "generator": {"name": "dcgan", "width": 8}, "discriminator": {"name": "dcgan", "width": 8}})
    run = Run(cfg, path)
    path.mkdir(parents=True)
    run.save_checkpoint()  # an untrained generator is enough: the commands only draw from it
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    return {"cond": _save_run(base / "cond", True), "plain": _save_run(base / "plain", False)}


def _png(path):
    return np.asarray(Image.open(path))


def _expected(images, nrow, scale=4):
    """The grid PNG of ``images`` as save_image_grid writes it (8 px digits upscaled)."""
    arr = image_grid(images, nrow)[..., 0]
    return np.kron(arr, np.ones((scale, scale), dtype=arr.dtype))


def _grid_part(got, want):
    """The grid itself: labels sit in margins left of and above it."""
    return got[got.shape[0] - want.shape[0]:, got.shape[1] - want.shape[1]:]


def test_interpolate_writes_the_api_grid(runs, tmp_path, capsys):
    out = tmp_path / "interp.png"
    argv = ["interpolate", str(runs["cond"]), "--out", str(out), "--steps", "6", "--pairs", "3",
            "--seed", "5", "--spherical", "--class", "2"]
    assert main(argv) == 0
    assert "3 x 6 slerp" in capsys.readouterr().out
    res = interpolate(load_run(runs["cond"]).recipe, pairs=3, steps=6, seed=5, spherical=True, label=2)
    assert res.labels.tolist() == [2, 2, 2]
    got, want = _png(out), _expected(res.images.flatten(0, 1), 6)
    assert want.shape == ((3 * 10 + 2) * 4, (6 * 10 + 2) * 4)              # rows/cols of 8+2 px, 4x
    np.testing.assert_array_equal(_grid_part(got, want), want)
    assert got.shape[0] > want.shape[0] and got.shape[1] > want.shape[1]  # row labels left, t= above


def test_arithmetic_grid_then_result(runs, tmp_path, capsys):
    grid = tmp_path / "cand.png"
    assert main(["arithmetic", str(runs["plain"]), "--grid", str(grid), "-n", "16", "--seed", "3"]) == 0
    assert "candidates 0..15 of seed 3" in capsys.readouterr().out
    assert Image.open(grid).size == (4 + 8 * 52, 4 + 2 * 64)
    out = tmp_path / "res.png"
    assert main(["arithmetic", str(runs["plain"]), "--seed", "3", "--a", "3,7,12", "--b", "1,2,9",
                 "--c", "0,5,15", "--out", str(out)]) == 0
    res = arithmetic(load_run(runs["plain"]).recipe, [3, 7, 12], [1, 2, 9], [0, 5, 15], seed=3)
    got, want = _png(out), _expected(res.images.flatten(0, 1), 4, scale=8)
    np.testing.assert_array_equal(_grid_part(got, want), want)
    assert got.shape[1] > want.shape[1]  # the A, B, C and result rows are named on the left


@pytest.mark.parametrize("argv, message", [
    (["interpolate", "RUN", "--out", "x.jpg"], "output must be a .png file"),
    (["interpolate", "RUN", "--out", "x.png", "--steps", "1"], "--steps must be >= 2, got 1"),
    (["interpolate", "PLAIN", "--out", "x.png", "--class", "1"], "needs a conditional run"),
    (["interpolate", "RUN", "--out", "x.png", "--class", "10"], "class must be in 0..9"),
    (["interpolate", "/nonexistent-run", "--out", "x.png"], "run directory not found"),
    (["arithmetic", "RUN", "--a", "1,x", "--b", "1", "--c", "2", "--out", "x.png"], "--a must be comma-separated"),
    (["arithmetic", "RUN", "--a", "1,2,3", "--c", "2", "--out", "x.png"], "--b is needed"),
    (["arithmetic", "RUN", "--a", "1", "--b", "-3", "--c", "2", "--out", "x.png"], "--b must list latent indices >= 0"),
    (["arithmetic", "RUN", "--grid", "g.png", "--a", "1"], "--grid writes the candidates only"),
    (["arithmetic", "RUN"], "give --grid FILE.png"),
])
def test_bad_input_exit_2(runs, tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    argv = [str(runs["cond"]) if a == "RUN" else str(runs["plain"]) if a == "PLAIN" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not list(tmp_path.glob("*.png"))
