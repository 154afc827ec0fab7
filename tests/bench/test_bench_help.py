"""Every benchmark says how long it runs, and writes nothing outside its --out folder."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from gankit.bench import load_all
from gankit.cli.main import main
from gankit.errors import ConfigError

DURATION = re.compile(r"\d[\d,.]*\s*(s|seconds?|min|minutes?|h|hours?)\b")


def _help(name: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["bench", name, "--help"]) == 0
    return out.getvalue()


@pytest.mark.parametrize("name", load_all().names())
def test_every_bench_help_states_its_run_time(name):
    runtime = load_all().entry(name).meta.get("runtime", "")
    assert DURATION.search(runtime), f"bench {name}: its registration gives no run time with a unit: {runtime!r}"
    assert f"run time: {runtime}" in _help(name)


def test_bench_translate_puts_its_grids_inside_out():
    from gankit.bench.translate import grid_path

    out = Path("some/where")
    for model in ("pix2pix", "l1", "cyclegan"):
        assert grid_path(out, model).parent == out
        assert grid_path(out, model).name == f"translate-{model}.png"


def test_bench_translate_refuses_a_grid_folder():
    """The old ``grids=docs/img`` wrote into the current directory's docs/; now it is a yes/no."""
    with pytest.raises(ConfigError, match="grids"):
        load_all().resolve("translate", {"grids": "docs/img"}, where="bench")


@pytest.mark.needs_fashion_mnist
def test_bench_translate_writes_nothing_outside_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["bench", "translate", "--set", "models=[pix2pix]", "--set", "pix2pix_steps=1",
            "--set", "eval_samples=4", "--out", "bench-out"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench-out"]
    assert (tmp_path / "bench-out" / "translate-pix2pix.png").is_file()
