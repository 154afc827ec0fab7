"""data=points:PATH: a user's (N, d) points from .npy, .npz and text tables, any range,
optional integer labels, a seeded held-out split; every bad file one DataError line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit.config import build_config
from gankit.data import DATASETS, PointsSource
from gankit.data.points import read_points
from gankit.errors import ConfigError, DataError, GankitError
from gankit.session import Run


def _rows(t: torch.Tensor) -> np.ndarray:
    """Rows sorted lexicographically (a split is a permutation: compare as multisets)."""
    a = t.double().numpy()
    return a[np.lexsort(a.T[::-1])]


def _all(src: PointsSource) -> np.ndarray:
    return _rows(torch.cat([src.x, src.test_x]))


@pytest.fixture
def pts() -> np.ndarray:
    rng = np.random.default_rng(3)
    # a range a network would never see untransformed: thousands apart, 1e-3 spreads
    return np.c_[rng.normal(5000.0, 300.0, 200), rng.normal(-0.002, 0.001, 200), rng.uniform(0, 1, 200)]


def test_npy_npz_csv_hold_the_file_s_points(tmp_path, pts):
    np.save(tmp_path / "a.npy", pts)
    np.savez(tmp_path / "b.npz", x=pts)
    np.savez(tmp_path / "c.npz", coords=pts)  # a single array under another name
    np.savetxt(tmp_path / "d.csv", pts, delimiter=",", fmt="%.17g")
    np.savetxt(tmp_path / "e.csv", pts, delimiter=",", fmt="%.17g", header="u,v,w", comments="")
    np.savetxt(tmp_path / "f.txt", pts, fmt="%.17g")  # whitespace-separated
    ref = _rows(torch.tensor(pts).float())
    for f in ("a.npy", "b.npz", "c.npz", "d.csv", "e.csv", "f.txt"):
        src = DATASETS.build("points", {"path": str(tmp_path / f)})
        assert src.kind == "points" and src.shape == (3,) and src.num_classes == 0 and src.y is None
        np.testing.assert_array_equal(_all(src), ref)
        assert (len(src), len(src.test_x)) == (180, 20)  # 10 % held out


def test_text_tables_semicolons_tabs_comments_and_blank_lines(tmp_path):
    (tmp_path / "a.csv").write_text("# measured 2026\nx;y\n\n1.5;2\n-3e2;4.25\n# end\n7;8\n")
    (tmp_path / "b.tsv").write_text("1.5\t2\n-300\t4.25\n7\t8\n")
    for f in ("a.csv", "b.tsv"):
        x, y, names = read_points(str(tmp_path / f))
        np.testing.assert_array_equal(x, [[1.5, 2], [-300, 4.25], [7, 8]])
        assert y is None and names == []


def test_split_is_seeded_disjoint_and_the_training_rows_keep_their_order(tmp_path):
    x = np.arange(100, dtype=np.float64)[:, None] * [1.0, -1.0]
    np.save(tmp_path / "p.npy", x)
    a = DATASETS.build("points", {"path": str(tmp_path / "p.npy")})
    b = DATASETS.build("points", {"path": str(tmp_path / "p.npy")})
    c = DATASETS.build("points", {"path": str(tmp_path / "p.npy"), "split_seed": 1})
    torch.testing.assert_close(a.test_x, b.test_x)
    assert not torch.equal(a.test_x, c.test_x)
    train, test = set(a.x[:, 0].tolist()), set(a.test_x[:, 0].tolist())
    assert not train & test and len(train | test) == 100
    # the held-out rows are the first 10 of numpy's permutation with that seed
    assert test == {float(i) for i in np.random.default_rng(0).permutation(100)[:10]}
    assert a.x[:, 0].tolist() == sorted(train)
    whole = DATASETS.build("points", {"path": str(tmp_path / "p.npy"), "test_fraction": 0})
    assert len(whole) == 100 and len(whole.test_x) == 0


def test_labels_become_classes_named_by_their_values(tmp_path, pts):
    lab = np.array([7, -1, 3, 3] * 50)
    np.savetxt(tmp_path / "l.csv", np.c_[pts[:, :2], lab], delimiter=",", fmt="%.17g", header="a,b,kind",
               comments="")
    np.savez(tmp_path / "l.npz", x=pts[:, :2], y=lab)
    np.save(tmp_path / "l.npy", np.c_[lab, pts[:, :2]])
    codes = np.searchsorted([-1, 3, 7], lab)  # sorted values -> 0..K-1
    for opts in ({"path": str(tmp_path / "l.csv"), "labels": "last"},
                 {"path": str(tmp_path / "l.csv"), "labels": "kind"},
                 {"path": str(tmp_path / "l.csv"), "labels": -1},
                 {"path": str(tmp_path / "l.npz")},  # y found by default
                 {"path": str(tmp_path / "l.npy"), "labels": "first"},
                 {"path": str(tmp_path / "l.npy"), "labels": 0}):
        x, y, names = read_points(opts["path"], labels=opts.get("labels", "auto"))
        np.testing.assert_array_equal(x, pts[:, :2])
        np.testing.assert_array_equal(y, codes)
        assert names == ["-1", "3", "7"]
        src = DATASETS.build("points", opts)
        assert src.num_classes == 3 and src.class_names == ["-1", "3", "7"] and src.shape == (2,)
        assert len(src.y) == len(src) and len(src.test_y) == len(src.test_x)
    none = DATASETS.build("points", {"path": str(tmp_path / "l.npz"), "labels": "none"})
    assert none.y is None and none.num_classes == 0
    # float labels that are whole numbers are integers
    np.savez(tmp_path / "f.npz", x=pts[:, :2], y=lab.astype(np.float64))
    assert read_points(str(tmp_path / "f.npz"))[2] == ["-1", "3", "7"]


def test_sampling_more_rows_than_the_training_split_gives_every_row_once(tmp_path, pts):
    np.save(tmp_path / "p.npy", pts)
    src = DATASETS.build("points", {"path": str(tmp_path / "p.npy")})
    g = torch.Generator().manual_seed(0)
    x, _ = src.sample(1000, g)
    np.testing.assert_array_equal(_rows(x), _rows(src.x))
    state = src.state_dict()
    a, _ = src.sample(50, g)  # an ordinary batch: 50 distinct training rows
    assert len({tuple(r) for r in a.tolist()}) == 50 and state["pos"] == 0 and src.state_dict()["pos"] == 50


def _run(path, **raw) -> Run:
    cfg = {"device": "cpu", "data": {"name": "points", "path": str(path)}, "train": {"steps": 2, "batch_size": 32,
           "progress": False, "standardize": True}, "generator": {"width": 8}, "discriminator": {"width": 8}}
    cfg.update(raw)
    return Run(build_config(cfg), path.parent / "run")


def test_standardised_training_fits_the_training_split_and_samples_in_the_file_s_units(tmp_path, pts):
    np.save(tmp_path / "p.npy", pts)
    run = _run(tmp_path / "p.npy")
    train = run.data.x.double().numpy()
    t = run.recipe.transform
    np.testing.assert_allclose(t.mean.numpy(), train.mean(0), rtol=1e-6)
    np.testing.assert_allclose(t.std.numpy(), train.std(0, ddof=1), rtol=1e-5)
    x, _ = run.recipe.real_batch()
    assert abs(float(x.mean())) < 1 and 0.3 < float(x.std()) < 3  # the networks see unit spread
    # generate() = the inverse transform of G's output: G's standardised output in the file's units
    z = run.recipe.prior.sample(5, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        g = run.recipe.G.eval()(z).double().numpy()
    out = run.recipe.generate(5, seed=9).double().numpy()
    np.testing.assert_allclose(out, g * train.std(0, ddof=1) + train.mean(0), rtol=1e-5, atol=1e-7)


def test_labelled_points_train_conditionally(tmp_path, pts):
    np.savez(tmp_path / "l.npz", x=pts[:, :2], y=np.arange(200) % 4)
    run = _run(tmp_path / "l.npz", conditional=True)
    assert run.recipe.num_classes == 4
    run.recipe.trainer.train_step()
    assert run.recipe.generate(8, torch.arange(8) % 4, seed=0).shape == (8, 2)
    with pytest.raises(ConfigError, match="conditional=true needs a labelled data set"):
        _run(tmp_path / "l.npz", conditional=True, data={"name": "points", "path": str(tmp_path / "l.npz"),
                                                          "labels": "none"})


def test_the_shorthand_names_the_run_after_the_file(tmp_path, pts):
    from gankit.session.run import run_name

    np.save(tmp_path / "my-data.npy", pts)
    cfg = build_config({"data": f"points:{tmp_path / 'my-data.npy'}"})
    assert cfg.data.name == "points" and cfg.data.options["path"] == str(tmp_path / "my-data.npy")
    assert run_name(cfg) == "gan-ns-points-my-data"


# --------------------------------------------------------------------------- bad files

def _write(tmp_path, name, content) -> str:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    elif isinstance(content, str):
        p.write_text(content)
    elif name.endswith(".npz"):
        np.savez(p, **content)
    else:
        np.save(p, content, allow_pickle=True)
    return str(p)


BAD = [
    ("nan.csv", "a,b\n1,2\n3,nan\n5,6\n", {}, "nan.csv, line 3, column 2: NaN; 1 of 3 rows are not finite"),
    ("nanlab.csv", "0,1,2\n1,3,inf\n", {"labels": "first"}, "line 2, column 3: Inf"),
    ("inf.npy", np.array([[1.0, 2.0], [np.inf, 0], [3, 4]]), {}, "inf.npy, x[1, 0]: Inf; 1 of 3"),
    ("infz.npz", {"pts": np.array([[1.0, 2.0], [0, -np.inf]])}, {}, "infz.npz, pts[1, 1]: Inf"),
    ("big.npy", np.array([[1.0, 2.0], [1e300, 0]]), {}, "beyond float32's range"),
    ("flat.npy", np.arange(10.0), {}, "got shape (10,); one coordinate per row is shape (N, 1)"),
    ("cube.npy", np.zeros((4, 3, 2)), {}, "got shape (4, 3, 2); images belong to data=npz:PATH"),
    ("one.csv", "1,2\n", {}, "1 point; a data set needs at least 2"),
    ("none.npy", np.zeros((0, 2)), {}, "0 points; a data set needs at least 2"),
    ("nocols.npy", np.zeros((5, 0)), {}, "points have no coordinates"),
    ("obj.npy", np.array([[1, "a"], [2, None]], dtype=object), {}, "an object array (pickled Python objects)"),
    ("str.npy", np.array([["1", "2"], ["3", "4"]]), {}, "points must be numbers (float or int), got dtype <U1"),
    ("bool.npy", np.ones((3, 2), dtype=bool), {}, "got dtype bool"),
    ("cplx.npy", np.ones((3, 2), dtype=complex), {}, "got dtype complex128"),
    ("rec.npy", np.zeros(3, dtype=[("a", "f8"), ("b", "f8")]), {}, "a structured array (fields a, b)"),
    ("empty.csv", "", {}, "is empty: no rows of numbers"),
    ("comments.csv", "# nothing\n\n", {}, "is empty"),
    ("header.csv", "a,b\n", {}, "holds a header (a, b) but no rows of numbers"),
    ("empty.npy", b"", {}, "is not a readable .npy file"),
    ("junk.npz", b"PK\x03\x04 not really a zip", {}, "is not a readable .npz file"),
    ("junk.npy", b"\x93NUMPY garbage", {}, "is not a readable .npy file"),
    ("latin.csv", "1,2\ncaf\xe9,3\n".encode("latin-1"), {}, "is not UTF-8 text (byte 7)"),
    ("ragged.csv", "1,2\n3,4,5\n", {}, "line 2: 3 values where the first row has 2"),
    ("word.csv", "1,2\n3,abc\n", {}, "line 2, column 2: 'abc' is not a number"),
    ("gap.csv", "1,2\n3,\n", {}, "line 2, column 2: '' is not a number"),
    ("data.json", "[[1, 2]]", {}, "must end in .npy, .npz, .csv, .tsv, .txt, got '.json'"),
    ("lab.csv", "1,2,0\n3,4,0.5\n5,6,1\n", {"labels": "last"}, "labels must be integers, row 1 holds"),
    ("lab2.csv", "1,2\n3,4\n", {"labels": "kind"}, "no label column 'kind' (the file has no header row)"),
    ("lab3.csv", "a,b\n1,2\n3,4\n", {"labels": "kind"}, "no label column 'kind' (columns: a, b)"),
    ("lab4.csv", "1,2\n3,4\n", {"labels": 5}, "data.labels=5 is no column of 2"),
    ("lab5.csv", "1\n2\n3\n", {"labels": "last"}, "would leave no coordinates"),
    ("len.npz", {"x": np.zeros((5, 2)), "y": np.arange(4)}, {}, "labels must be one per point, shape (5,), got shape (4,)"),
    ("ylab.npz", {"x": np.zeros((5, 2)), "y": np.array(["a", " ", "b", "a", "b"])}, {}, "labels must not be empty, row 1"),
    ("ybool.npz", {"x": np.zeros((5, 2)), "y": np.ones(5, bool)}, {}, "labels must be integers or strings, got dtype bool"),
    ("emptylab.csv", "x,y,kind\n1,2,well\n3,4,\n", {"labels": "kind"}, "emptylab.csv, line 3, column 3: an empty label"),
    ("y2d.npz", {"x": np.zeros((5, 2)), "y": np.zeros((5, 2), int)}, {}, "labels must be one per point"),
    ("nolab.npz", {"x": np.zeros((5, 2))}, {"labels": "cls"}, "no label array 'cls' (arrays found: x)"),
    ("keys.npz", {"a": np.zeros((5, 2)), "b": np.zeros((5, 2))}, {}, "no array 'x' (arrays found: a, b); set data.key"),
    ("objz.npz", {"x": np.array([[1, None]] * 3, dtype=object)}, {}, "array 'x' is an object array"),
    ("few.npy", np.zeros((3, 2)), {}, "3 points are too few to hold out a test split of 2"),
]


@pytest.mark.parametrize("name, content, options, message", BAD, ids=[b[0] for b in BAD])
def test_a_bad_points_file_is_one_line_naming_it(tmp_path, name, content, options, message):
    path = _write(tmp_path, name, content)
    with pytest.raises(DataError) as e:
        DATASETS.build("points", {"path": path, **options})
    text = str(e.value)
    assert message in text and "\n" not in text and (name in text or "data.labels" in text), text


def test_missing_and_directory_paths(tmp_path):
    with pytest.raises(DataError, match="points file .*nowhere.csv does not exist"):
        DATASETS.build("points", {"path": str(tmp_path / "nowhere.csv")})
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(DataError, match="d.csv is not a file"):
        DATASETS.build("points", {"path": str(tmp_path / "d.csv")})


@pytest.mark.parametrize("options, message", [
    ({"test_fraction": 1.0}, "data.test_fraction must be in [0, 1), got 1"),
    ({"test_fraction": -0.1}, "data.test_fraction must be in [0, 1)"),
    ({"split_seed": -1}, "data.split_seed must be in [0, 4294967295]"),
    ({"labels": True}, "data.labels: expected str | int, got True"),
    ({"labels": 1.5}, "data.labels: expected str | int, got 1.5"),
])
def test_options_are_checked_like_every_option(tmp_path, options, message):
    np.save(tmp_path / "p.npy", np.zeros((50, 2)))
    with pytest.raises(GankitError) as e:
        build_config({"data": {"name": "points", "path": str(tmp_path / "p.npy"), **options}})
    assert message in str(e.value)
