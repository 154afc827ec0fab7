"""The documentation, walked: every command README.md and docs/*.md show is run, and what
they say a command prints is what it prints.

The convention (for whoever writes the docs):

* A command is a line ``$ gankit ...`` inside a fenced ```` ```text ```` block; ``a ; b`` on one
  line is two commands, a trailing ``# ...`` is a comment. They run in the order of the docs,
  in-process (:func:`gankit.cli.main.main`), in one scratch directory shared by the whole walk
  (so ``runs/...`` written by one block is there for the next).
* The lines under a command, up to the next ``$`` line, are what it prints: lines starting with
  ``gankit: error:`` must be exactly its stderr (and the exit status 2), where ``...`` stands
  for any text (a list cut short); other lines must appear in its output in that order. With
  none, the command must exit 0.
* The fence's info string holds the block's marker, which renderers do not show:
  ```` ```text doctest:reduced ```` runs each command at the reduced size of :data:`REDUCE`
  (a few training steps, small evaluations: the tour's runs take minutes at full size);
  ```` ```text doctest:skip ```` runs nothing (commands that serve, or wait for a Ctrl-C). A
  command shown printing ``gankit: interrupted ...`` waits for a Ctrl-C: its block is not run.
  An unmarked block may train only to show an error (``gankit train`` shown with its
  ``gankit: error:`` line): a training run at full size takes minutes, so the walk refuses it.
* A run directory named ``runs/<name>-<time stamp>`` or ``runs/<name>-...`` is the newest
  run the walk made whose directory starts with ``<name>-``: the docs' commands must have
  made it first.
* Indented command lines (``    OMP_NUM_THREADS=1 gankit bench ...``) and ```` ```bash ````
  blocks record how a measurement was taken (minutes to hours): they are not run, but their
  arguments must still parse and their options validate (``train`` as ``--dry-run``, a
  ``bench`` through its registry).
* The README's ```` ```python ```` block runs with ``gankit.train``/``resume``/
  ``experiments.run`` at reduced size, and what its comments promise (the metric names, the
  sample array's shape and dtype, the result's attributes) is checked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import shlex
from pathlib import Path

import pytest

from gankit.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Blocks of docs whose commands cannot pass as written, with why: strict, so a fix shows up.
KNOWN_BROKEN: dict[tuple[str, str], str] = {}

# Whole documents whose blocks need files the reader makes first (a CSV, a plug-in): a block
# that fails there is an expected failure until the document marks it (doctest:skip).
NEEDS_READER_FILES = {"docs/your-data.md": "needs the reader's my_points.csv / my_data.py; mark such blocks "
                                           "```text doctest:skip"}

# doctest:reduced -- appended per sub-command (train: a few steps, small cheap evaluations).
TRAIN_REDUCED = ["--set", "train.steps=3", "--set", "train.log_every=1", "--set", "train.progress=false",
                 "--set", "train.checkpoint_every=0", "--set", "eval.num_samples=64", "--set", "train.sample_every=0"]
IMAGE_EVAL = ["--set", "eval.metrics=[twosample]"]  # no classifier to train for FID and cond. accuracy


@dataclasses.dataclass
class Command:
    argv: list[str]
    expected: list[str]
    line: int


@dataclasses.dataclass
class Block:
    path: Path
    line: int
    info: str
    commands: list[Command]

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def marker(self) -> str:
        m = re.search(r"doctest:(\w+)", self.info)
        return m.group(1) if m else "run"


def _split(line: str) -> list[list[str]]:
    """``gankit a ; gankit b  # comment`` -> two argvs (without ``gankit``)."""
    words = shlex.split(line, comments=True)
    out, cur = [], []
    for w in words + [";"]:
        if w == ";":
            if cur:
                assert cur[0] == "gankit", f"not a gankit command: {line!r}"
                out.append(cur[1:])
            cur = []
        else:
            cur.append(w)
    return out


def text_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = re.match(r"^```(\w*)(.*)$", lines[i])
        if not m:
            i += 1
            continue
        lang, info, start = m.group(1), m.group(2), i + 1
        j = start
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if lang == "text":
            cmds: list[Command] = []
            for k in range(start, j):
                if lines[k].startswith("$ gankit"):
                    cmds += [Command(argv, [], k + 1) for argv in _split(lines[k][2:])]
                elif cmds and lines[k].strip() and not lines[k].startswith("$"):
                    cmds[-1].expected.append(lines[k])
            if cmds:
                blocks.append(Block(path, start, info, cmds))
        i = j + 1
    return blocks


def recorded_commands(path: Path) -> list[tuple[int, list[str]]]:
    """Indented ``gankit ...`` lines and ```bash block lines: ``[(line, argv)]`` (env stripped)."""
    out, fence = [], None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            continue
        if (fence is None and line.startswith("    ")) or (fence or "").startswith("bash"):
            text = line.strip()
            if text.startswith("for ") or "gankit" not in text or "$" in text.split("gankit", 1)[0]:
                continue
            if fence is None and not re.match(r"([A-Z_]+=\S*\s+)*gankit\s", text):
                continue    # an indented line of prose (a nested list item), not a command
            words = shlex.split(text, comments=True)
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words.pop(0)
            if words[:1] == ["gankit"]:
                out.append((n, words[1:]))
    return out


ALL_BLOCKS = [b for p in DOCS for b in text_blocks(p)]


# ------------------------------------------------------------------------------------- the walk

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return tmp_path_factory.mktemp("docs-walk")


def _have_fashion_mnist() -> bool:
    from gankit.data.fetch import locate
    from gankit.errors import DataError

    try:
        locate("fashion-mnist", "train")
        return True
    except DataError:
        return False


_RUN_REF = re.compile(r"^runs/([a-z0-9][a-z0-9-]*?)-(?:\d{8}-\d{6}|\.\.\.)$")


def _resolve_runs(argv: list[str], world: Path) -> list[str]:
    out = []
    for w in argv:
        m = _RUN_REF.match(w)
        if m:
            made = sorted((world / "runs").glob(f"{m.group(1)}-2*"), key=lambda p: p.stat().st_mtime)
            assert made, f"the docs name {w}, but no command before it made a runs/{m.group(1)}-... directory"
            w = str(made[-1].relative_to(world))
        out.append(w)
    return out


def _reduce(argv: list[str]) -> list[str]:
    if argv[:1] == ["train"]:
        from gankit.config import load_config

        cfg = load_config(_opt(argv, "--config"), _sets(argv), preset=_opt(argv, "--preset"))
        image = cfg.data.name not in ("ring", "grid", "mixture1d", "mixture") and cfg.model.name == "gan"
        return argv + TRAIN_REDUCED + (IMAGE_EVAL if image else [])
    if argv[:1] == ["resume"] and "--steps" in argv:
        i = argv.index("--steps")
        return argv[:i + 1] + ["5"] + argv[i + 2:]  # past the reduced runs' 3 steps: an extension
    return argv


def _opt(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def _sets(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, w in enumerate(argv) if w in ("--set", "-s")]


def _matches(shown: str, printed: str) -> bool:
    """``shown`` is ``printed``, where a ``...`` in ``shown`` stands for any text (a list cut short)."""
    return re.fullmatch(".*".join(map(re.escape, shown.split("..."))), printed) is not None


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's --help and errors
            code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=[b.id for b in ALL_BLOCKS])
def test_doc_block(block: Block, world: Path, monkeypatch):
    rel = str(block.path.relative_to(ROOT))
    try:
        _walk_block(block, rel, world, monkeypatch)
    except AssertionError:
        if rel in NEEDS_READER_FILES:
            pytest.xfail(NEEDS_READER_FILES[rel])
        raise


def _walk_block(block: Block, rel: str, world: Path, monkeypatch) -> None:
    first = "gankit " + " ".join(block.commands[0].argv)
    broken = next((why for (f, cmd), why in KNOWN_BROKEN.items() if f == rel and first.startswith(cmd)), None)
    if broken:
        pytest.xfail(broken)
    if block.marker == "skip":
        pytest.skip("doctest:skip")
    if any(e.startswith("gankit: interrupted") for c in block.commands for e in c.expected):
        pytest.skip("shows a Ctrl-C: waits for one")
    for c in block.commands:
        shows_error = any(e.startswith("gankit: error:") for e in c.expected)
        assert block.marker == "reduced" or c.argv[:1] not in (["train"], ["resume"]) or shows_error, \
            f"{rel}:{c.line}: trains at full size; mark the block ```text doctest:reduced (or doctest:skip)"
    monkeypatch.chdir(world)
    monkeypatch.delenv("GANKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/root/.cache")  # the path the README's mnist message shows
    fashion = _have_fashion_mnist()
    for cmd in block.commands:
        text = " ".join(cmd.argv)
        if not fashion and ("fashion-mnist" in text):
            continue  # Debian's dataset-fashion-mnist is not installed here
        argv = _resolve_runs(cmd.argv, world)
        if block.marker == "reduced":
            argv = _reduce(argv)
        code, out, err = _run(argv)
        where = f"{rel}:{cmd.line}: gankit {text}"
        errors = [e for e in cmd.expected if e.startswith("gankit: error:")]
        if errors:
            assert code == 2, f"{where}: exit {code}, expected 2"
            got = err.splitlines()
            assert len(got) == len(errors) and all(_matches(e, g) for e, g in zip(errors, got)), \
                f"{where}: printed {err!r}"
            continue
        assert code == 0, f"{where}: exit {code}\n{err[-2000:]}"
        pos, both = 0, out + err
        for line in cmd.expected:
            m = re.compile(".*".join(map(re.escape, line.strip().split("...")))).search(both, pos)
            assert m, (f"{where}: {line.strip()!r} not in its output (after what came before); "
                       "show output that varies (timings) as ... or mark the block doctest:skip")
            pos = m.start()


def test_the_walk_covers_the_tour_and_the_errors():
    """The convention finds the README's tour (reduced) and error block (run as shown)."""
    readme = [b for b in ALL_BLOCKS if b.path.name == "README.md"]
    markers = [b.marker for b in readme]
    assert "reduced" in markers and markers.count("run") >= 1
    shown_errors = [c for b in readme for c in b.commands if c.expected]
    assert len(shown_errors) >= 5


RECORDED = [(p, n, argv) for p in DOCS for n, argv in recorded_commands(p)]


@pytest.mark.parametrize("path, line, argv", RECORDED, ids=[f"{p.relative_to(ROOT)}:{n}" for p, n, _ in RECORDED])
def test_recorded_commands_parse_and_validate(path: Path, line: int, argv: list[str], tmp_path, monkeypatch):
    """A measurement command beside a table still names options that exist (not run: minutes
    to hours), so the numbers stay reproducible with the command shown."""
    from gankit.cli.main import build_parser

    monkeypatch.chdir(tmp_path)
    argv = [w if w != "seed=S" else "seed=0" for w in argv]  # "S = 0, 1, 2" in the README
    if argv[:1] == ["train"]:
        argv = [w.replace("$s", "0") for w in argv]
        code, out, err = _run(argv + ["--dry-run"])
        assert code == 0, f"{path.name}:{line}: {err}"
        return
    args = build_parser().parse_args(argv)
    if argv[:1] == ["bench"] and args.name:
        from gankit.bench import load_all
        from gankit.config import parse_overrides

        load_all().resolve(args.name, parse_overrides(args.overrides), where="bench")


# ------------------------------------------------------------------------------- the Python API

def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_readme_python_snippet(tmp_path, monkeypatch):
    import gankit
    import gankit.experiments as experiments
    from gankit.config import Config

    (snippet,) = _python_blocks(ROOT / "README.md")
    monkeypatch.chdir(tmp_path)
    real_train, real_resume, real_run = gankit.train, gankit.resume, experiments.run

    def train(config=None, **kw):
        if isinstance(config, Config):
            config.train.steps, config.train.progress, config.eval.num_samples = 3, False, 64
        else:
            kw["overrides"] = [*kw.get("overrides", ()), "train.steps=3", "train.progress=false",
                               "eval.num_samples=64"]
        return real_train(config, **kw)

    def resume(run_dir, steps=None, **kw):
        return real_resume(run_dir, None if steps is None else 5, **kw)

    def run_experiment(name, **options):
        from gankit.experiments import EXPERIMENTS

        if "steps" in EXPERIMENTS.entry(name).options():
            options.setdefault("steps", 50)
        return real_run(name, **options)

    monkeypatch.setattr(gankit, "train", train)
    monkeypatch.setattr(gankit, "resume", resume)
    monkeypatch.setattr(experiments, "run", run_experiment)
    ns: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(snippet, "README.md:python", "exec"), ns)

    # what the comments promise
    keys = re.search(r"^run\.metrics\s+#\s*\{(.*)\}", snippet, re.M)
    assert keys, "the snippet shows run.metrics' keys"
    assert set(re.findall(r"'(\w+)':", keys.group(1))) <= set(ns["run"].metrics)
    shape = re.search(r"#\s*\((\d+), (\d+)\) (\w+)", snippet)
    x = ns["x"]
    assert tuple(x.shape) == (int(shape.group(1)), int(shape.group(2))) and str(x.dtype) == f"torch.{shape.group(3)}"
    attrs = re.search(r"ExperimentResult: ([\w, ]+)", snippet).group(1).split(", ")
    assert all(hasattr(ns["res"], a) for a in attrs), attrs
    named = re.search(r"PosixPath\('runs/([\w-]+?)-\.\.\.'\)", snippet)
    assert named and ns["run"].dir.name.startswith(named.group(1) + "-"), ns["run"].dir
