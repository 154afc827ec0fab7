"""Labels of a points file as users write them: strings become named classes, the key is
spelled alike by ``gankit train`` and ``gankit data info``, and an unconditional run that
names a label column says that G and D do not see it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import gankit
from gankit.cli.main import main
from gankit.data import DATASETS
from gankit.data.points import read_points_table

KINDS = ["well", "pump", "spring", "pump", "well", "well"]


def _wells(tmp_path: Path, n: int = 60) -> Path:
    """A CSV ``depth,flow,kind`` whose row i has depth i, flow -i and kind KINDS[i % 6]."""
    rows = [f"{i},{-i},{KINDS[i % 6]}" for i in range(n)]
    path = tmp_path / "wells.csv"
    path.write_text("depth,flow,kind\n" + "\n".join(rows) + "\n")
    return path


def test_string_labels_become_sorted_class_names_that_round_trip(tmp_path: Path) -> None:
    path = _wells(tmp_path)
    table = read_points_table(str(path), labels="kind")
    assert table.class_names == ["pump", "spring", "well"]     # sorted unique strings -> 0, 1, 2
    assert table.columns == ["depth", "flow"]                  # the label column is not a coordinate
    np.testing.assert_array_equal(table.x, np.c_[np.arange(60), -np.arange(60)])
    # each row's class name is the string written in its row
    assert [table.class_names[c] for c in table.y] == [KINDS[i % 6] for i in range(60)]

    src = DATASETS.build("points", {"path": str(path), "labels": "kind"})
    assert src.num_classes == 3 and src.class_names == ["pump", "spring", "well"] and src.columns == ["depth", "flow"]
    for x, y in ((src.x, src.y), (src.test_x, src.test_y)):   # row i (depth i) keeps its kind in both splits
        assert [src.class_names[c] for c in y.tolist()] == [KINDS[int(d) % 6] for d in x[:, 0].tolist()]


def test_string_labels_without_a_header_and_in_an_npz(tmp_path: Path) -> None:
    # no header: a text column in every row is labels, not a header row
    (tmp_path / "p.csv").write_text("1.5,2,well\n3,4,pump\n5,6,well\n7,8,pump\n")
    t = read_points_table(str(tmp_path / "p.csv"), labels="last")
    assert t.columns is None and t.class_names == ["pump", "well"] and t.y.tolist() == [1, 0, 1, 0]
    np.testing.assert_array_equal(t.x, [[1.5, 2], [3, 4], [5, 6], [7, 8]])
    np.savez(tmp_path / "p.npz", x=np.zeros((4, 2)), y=np.array(["b", "a", "b", "c"]))
    t = read_points_table(str(tmp_path / "p.npz"))
    assert t.class_names == ["a", "b", "c"] and t.y.tolist() == [1, 0, 1, 2]
    # numbers in a text label column stay integer classes, sorted as numbers (10 after 9)
    (tmp_path / "n.csv").write_text("x,y,k\n0,0,10\n1,1,9\n2,2,10\n3,3,9\n")
    t = read_points_table(str(tmp_path / "n.csv"), labels="k")
    assert t.class_names == ["9", "10"] and t.y.tolist() == [1, 0, 1, 0]


def test_data_info_accepts_the_key_as_train_spells_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _wells(tmp_path)
    outs = []
    for key in ("labels", "data.labels"):
        code = main(["data", "info", f"points:{path}", "--set", f"{key}=kind"])
        out, err = capsys.readouterr()
        assert code == 0, err
        outs.append(out)
    assert outs[0] == outs[1]
    # 54 training rows (6 held out); classes named by their strings, with the training split's counts
    src = DATASETS.build("points", {"path": str(path), "labels": "kind"})
    counts = torch.bincount(src.y, minlength=3).tolist()
    assert "classes      3: " + ", ".join(f"{n} ({c})" for n, c in zip(["pump", "spring", "well"], counts)) in outs[0]
    assert sum(counts) == 54


def test_an_unconditional_run_that_names_labels_says_so_once(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = _wells(tmp_path)
    base = ["train.steps=2", "train.batch_size=16", "train.progress=false", "eval.metrics=[]",
            "mitigations={}", f"data=points:{path}", "data.labels=kind"]
    gankit.train(overrides=base, run_dir=tmp_path / "plain")
    err = capsys.readouterr().err
    assert err.count("data.labels=kind") == 1
    assert "3 classes (pump, spring, well)" in err and "add conditional=true" in err
    gankit.train(overrides=[*base, "conditional=true"], run_dir=tmp_path / "cond")
    assert "data.labels" not in capsys.readouterr().err
    np.savez(tmp_path / "auto.npz", x=np.random.default_rng(0).normal(size=(60, 2)), y=np.arange(60) % 3)
    auto = [*base[:-2], f"data=points:{tmp_path / 'auto.npz'}"]
    gankit.train(overrides=auto, run_dir=tmp_path / "auto")   # labels found, not named: nothing to say
    assert "data.labels" not in capsys.readouterr().err
