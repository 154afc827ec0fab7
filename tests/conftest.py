"""Shared test settings: deterministic, single-threaded torch (the suite runs on 2 cores)."""

import os

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """Isolate gankit's caches/data dir per test."""
    d = tmp_path / "cache"
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(d))
    return d


@pytest.fixture(scope="module")
def module_cache_dir(tmp_path_factory):
    """One gankit cache for a module: its feature classifier is trained once (10-30 s) and
    shared by the module's tests, away from the user's cache."""
    mp = pytest.MonkeyPatch()
    d = tmp_path_factory.mktemp("cache")
    mp.setenv("GANKIT_CACHE_DIR", str(d))
    yield d
    mp.undo()
