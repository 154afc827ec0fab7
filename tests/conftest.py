"""Shared test settings: deterministic torch on a fixed number of threads (the suite runs on 2
cores); ``record``: the numbers the training tests assert on, written out for
benchmarks/test_margins.py when GANKIT_RECORD names a file; and the ``needs_fashion_mnist``
marker: a test that reads Fashion-MNIST skips, with the reason, where the files are absent."""

import json
import os
import re

# Before torch is imported: the thread count the tests run on is OMP_NUM_THREADS (1 unless set),
# and gankit, which picks its own count unless this variable or one of its options is set,
# must see it too.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# gankit sets this too (src/gankit/__init__.py), but OpenMP reads it once, when torch is
# imported: here, before gankit. Spinning waiters stall 2-thread runs on shared cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MPLBACKEND", "Agg")
# extractor=auto would switch image metrics to Inception-v3 (0.4 s an image on a CPU) wherever
# the gankit[inception] extra is installed; tests that want it ask for it by path
os.environ.setdefault("GANKIT_INCEPTION", "off")

import pytest  # noqa: E402
import torch  # noqa: E402


def fashion_mnist_missing() -> str | None:
    """Why Fashion-MNIST cannot be read here (gankit's own message), or None where it can."""
    from gankit.data.fetch import locate
    from gankit.errors import DataError

    try:
        for split in ("train", "test"):
            locate("fashion-mnist", split)
    except DataError as e:
        return str(e)
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_fashion_mnist: reads Fashion-MNIST (Debian's dataset-fashion-mnist "
                                       "or `gankit data fetch fashion-mnist`); skipped where it is absent")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("needs_fashion_mnist")]
    why = fashion_mnist_missing() if marked else None
    if why:
        skip = pytest.mark.skip(reason=why)
        for item in marked:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def module_cache_dir(tmp_path_factory):
    """A fresh ``$GANKIT_CACHE_DIR`` for one test module, so that its tests share what they
    cache (a rendered data set, Inception features) and nothing outside it is touched."""
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("gankit-cache")
        mp.setenv("GANKIT_CACHE_DIR", str(root))
        yield root


def _threads() -> int:
    """The number of torch threads the tests run on: OMP_NUM_THREADS (default 1)."""
    return int(os.environ.get("OMP_NUM_THREADS", "1"))


@pytest.fixture(scope="session", autouse=True)
def _session_threads() -> None:
    # before any module-scoped fixture trains its runs
    torch.set_num_threads(_threads())


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(_threads())


_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_ONE_SIDED = re.compile(rf"^(<=|<|>=|>|==)\s*{_NUM}$")
_RANGE = re.compile(rf"^{_NUM}\s*(<=|<)\s*x\s*(<=|<)\s*{_NUM}$")


def parse_bound(bound: str) -> dict:
    """``"< 0.1"``, ``">= 8"``, ``"== 0"`` or ``"0.005 < x < 0.04"`` as lo/hi and their strictness."""
    text = bound.strip()
    if m := _ONE_SIDED.match(text):
        op, b = m.group(1), float(m.group(2))
        if op == "==":
            return {"lo": b, "hi": b, "lo_strict": False, "hi_strict": False}
        if op.startswith("<"):
            return {"lo": None, "hi": b, "lo_strict": False, "hi_strict": op == "<"}
        return {"lo": b, "hi": None, "lo_strict": op == ">", "hi_strict": False}
    if m := _RANGE.match(text):
        return {"lo": float(m.group(1)), "hi": float(m.group(4)), "lo_strict": m.group(2) == "<",
                "hi_strict": m.group(3) == "<"}
    raise ValueError(f"record: cannot read the bound {bound!r}")


def bound_holds(value: float, b: dict) -> bool:
    if value != value:  # NaN
        return False
    if b["lo"] is not None and not (value > b["lo"] if b["lo_strict"] else value >= b["lo"]):
        return False
    return b["hi"] is None or (value < b["hi"] if b["hi_strict"] else value <= b["hi"])


@pytest.fixture
def record(request):
    """``assert record(quantity, value, bound)``: check a number a test asserts on, noting it first.

    ``bound`` is the claim as text: ``"< 0.1"``, ``">= 8"``, ``"== 0"`` or a range
    ``"0.005 < x < 0.04"``; the call returns whether ``value`` satisfies it. When the
    environment variable GANKIT_RECORD names a file, one JSON line per call is appended to it
    (the test's id, the value, the bound, the CPU kernels and the thread count), so a failing
    claim is recorded too; otherwise only the check is made.
    """
    def _record(quantity: str, value, bound: str) -> bool:
        b = parse_bound(bound)
        value = float(value)
        holds = bound_holds(value, b)
        path = os.environ.get("GANKIT_RECORD")
        if path:
            line = {"test": request.node.nodeid, "quantity": quantity, "value": value, "bound": bound, **b,
                    "holds": holds, "capability": torch.backends.cpu.get_cpu_capability(),
                    "threads": torch.get_num_threads()}
            with open(path, "a") as f:
                f.write(json.dumps(line) + "\n")
        return holds

    return _record


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """Isolate gankit's caches/data dir per test."""
    d = tmp_path / "cache"
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(d))
    return d
