"""The command a benchmark prints must rerun the same benchmark: parse it back and compare."""

import shlex

from gankit.bench import load_all
from gankit.bench.report import command_line
from gankit.config import parse_overrides


def _parse(cmd: str) -> tuple[str, dict]:
    words = shlex.split(cmd)
    assert words[:2] == ["gankit", "bench"]
    sets = [words[i + 1] for i, w in enumerate(words) if w == "--set"]
    return words[2], load_all().resolve(words[2], parse_overrides(sets), where="bench")


def test_the_printed_modes_command_parses_back_to_the_same_options():
    cmd = command_line("modes", {"methods": ["gan", "code"], "setups": ["grid"]}, [0, 3], workers=2, threads=1,
                       steps=800, overrides=["train.batch_size=128", "optim_g.lr=0.001"])
    name, opts = _parse(cmd)
    assert name == "modes"
    assert opts["methods"] == ["gan", "code"] and opts["setups"] == ["grid"]
    assert opts["seeds"] == [0, 3] and opts["steps"] == 800
    assert opts["overrides"] == ["train.batch_size=128", "optim_g.lr=0.001"]


def test_default_lists_and_a_seed_count_stay_short():
    cmd = command_line("objectives", {"objectives": None}, [0, 1, 2, 3, 4], workers=1, threads=1, steps=None,
                       overrides=[])
    assert cmd == "gankit bench objectives --set seeds=5 --set workers=1 --set threads=1"
    assert _parse(cmd)[1]["seeds"] == 5
