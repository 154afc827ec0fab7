"""Lower packages never import higher ones, and no two files import each other in a circle
(STYLE.md practice 11). Every module under src/gankit is parsed with ``ast``; imports at
module level and inside functions both count (a deferred import is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path


SRC = Path(__file__).parent.parent / "src"

# The layers, lowest first: a module may import its own layer and the ones below it.
LAYERS: list[set[str]] = [
    # __init__: statically imports only errors (the API loads lazily through importlib);
    # plugins: imports user modules into the registries, itself importing only errors;
    # capabilities: what models and data sets declare they can do, read by every layer above
    {"errors", "registry", "jsonio", "lockfile", "capabilities", "__init__", "plugins"},
    # integrate: numerical integration beside the divergences; imports no gankit module
    {"losses", "networks", "data", "integrate"},
    {"metrics"},
    {"mitigations"},
    # engine: the one loop, checkpoints, precision, torchrun; knows no GAN
    {"engine"},
    # recipes: what a run trains, each a module; the config validates model: against them
    {"recipes"},
    # config: the typed config and its layers; image_default: a layer derived from the data
    {"config", "image_default"},
    # validate: a resolved config against the recipe, the data and the metrics' declared needs
    {"validate"},
    # plotting: figures of a run's numbers; report: the pages, written from a run directory
    {"plotting", "report"},
    # session: a run, its directory and the callbacks that write its outputs (plots, report)
    {"session"},
    {"experiments", "bench"},
    # components: every registry with everything that registers (gankit list, the docs tables)
    {"components"},
    {"cli", "__main__"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, name: str, modules: set[str] | frozenset[str] = frozenset()) -> set[str]:
    """The gankit modules ``path`` imports, anywhere in the file, resolved to existing modules.
    ``from pkg import module`` depends on that module, not on ``pkg``'s ``__init__`` (which
    every import of a submodule runs first anyway); ``from pkg import name`` on ``pkg``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):  # names imported for type checkers only are no dependency at run time
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
    return {m for m in found if m.split(".")[0] == "gankit"}


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in (SRC / "gankit").rglob("*.py")}
    names = set(files)
    return {name: {m for m in imports(path, name, names) if m in files and m != name} for name, path in files.items()}


def layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top not in LAYER:
        raise AssertionError(f"{module}: its package {top!r} has no layer in LAYERS (tests/test_layering.py)")
    return LAYER[top]


def upward_imports(g: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, deps in g.items() for b in deps if layer(b) > layer(a))


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one file (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_module_level_and_deferred_imports():
    g = graph()
    assert "gankit.registry" in g["gankit.data.base"]             # module level
    assert "gankit.report" in g["gankit.session.outputs"]        # inside a method (write_report)
    assert layer("gankit.errors") == 0 and layer("gankit.cli.main") == len(LAYERS) - 1


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_between_files():
    found = cycles(graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_module_imports_a_higher_layer():
    found = upward_imports(graph())
    assert not found, f"{len(found)} upward imports:\n" + "\n".join(found)
