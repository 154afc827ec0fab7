"""Image loaders: digits, folder (files written with Pillow), npz; values checked exactly."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from gankit.data import DATASETS
from gankit.errors import ConfigError, DataError

# ----------------------------------------------------------------------------- digits


def test_digits_splits_counts_values_labels():
    d = load_digits()
    train, test, full = (DATASETS.build("digits", {"split": s}) for s in ("train", "test", "all"))
    assert (len(train), len(test), len(full)) == (1438, 359, 1797)   # 1797 // 5 = 359 test
    assert full.x.shape == (1797, 1, 8, 8) and full.num_classes == 10 and full.kind == "images"
    # 0 -> -1, 16 -> 1, linear in between: 2 v / 16 - 1 (exact in float32: v / 8 is a dyadic)
    np.testing.assert_array_equal(full.x[:, 0].numpy(), d.images / 8.0 - 1.0)
    assert float(full.x.min()) == -1.0 and float(full.x.max()) == 1.0
    assert full.y.tolist() == d.target.tolist()
    test_idx = np.arange(4, 1797, 5)
    train_idx = np.setdiff1d(np.arange(1797), test_idx)
    assert test.y.tolist() == d.target[test_idx].tolist() and train.y.tolist() == d.target[train_idx].tolist()
    np.testing.assert_array_equal(test.x[:, 0].numpy(), d.images[test_idx] / 8.0 - 1.0)
    assert set(test.y.tolist()) == set(range(10))                      # every class in the test split


def bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Half-pixel-centred linear interpolation as a matrix (np.interp), edges clamped."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    return np.stack([np.interp(pos, np.arange(n_in), np.eye(n_in)[k]) for k in range(n_in)], axis=1)


def test_digits_resize_is_bilinear_upsampling():
    d = load_digits()
    x16 = DATASETS.build("digits", {"split": "all", "size": 16}).x
    a = bilinear_matrix(8, 16)                                         # (16, 8), rows sum to 1
    expected = np.einsum("ij,njk,lk->nil", a, d.images / 8.0 - 1.0, a)
    assert x16.shape == (1797, 1, 16, 16)
    np.testing.assert_allclose(x16[:, 0].numpy(), expected, rtol=0, atol=1e-6)


def test_digits_pad_keeps_pixels():
    d = load_digits()
    x = DATASETS.build("digits", {"split": "all", "size": 12}).x       # gap 4 -> pad (fit=auto)
    np.testing.assert_array_equal(x[:, 0, 2:10, 2:10].numpy(), d.images / 8.0 - 1.0)
    assert (x[:, :, :2] == -1).all() and (x[:, :, 10:] == -1).all() and (x[..., :2] == -1).all()
    with pytest.raises(DataError, match="cannot pad 8x8 images down to size 4"):
        DATASETS.build("digits", {"size": 4, "fit": "pad"})
    with pytest.raises(ConfigError, match="split"):
        DATASETS.build("digits", {"split": "validation"})


# ----------------------------------------------------------------------------- folder

def expected_pixels(img: Image.Image, size: int) -> np.ndarray:
    """Shorter side to ``size`` with PIL's bicubic, then the centre ``size x size`` crop."""
    w, h = img.size
    nw, nh = (round(w * size / h), size) if w >= h else (size, round(h * size / w))
    r = img.resize((nw, nh), Image.Resampling.BICUBIC)
    left, top = (nw - size) // 2, (nh - size) // 2
    return np.asarray(r.crop((left, top, left + size, top + size)), dtype=np.float64)


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    (root / "cat").mkdir(parents=True)
    (root / "dog" / "deep").mkdir(parents=True)
    wide = Image.fromarray(rng.integers(0, 256, (20, 40, 3), dtype=np.uint8))   # 40 wide, 20 high
    tall = Image.fromarray(rng.integers(0, 256, (30, 10, 3), dtype=np.uint8))   # 10 wide, 30 high
    exact = Image.fromarray(np.full((10, 10, 3), (0, 128, 255), dtype=np.uint8))
    wide.save(root / "cat" / "a.png")
    tall.save(root / "dog" / "b.png")
    exact.save(root / "dog" / "deep" / "c.png")
    (root / "dog" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / ".hidden.png").write_bytes(b"ignored silently")
    return root, {"a": wide, "b": tall, "c": exact}


def test_folder_labels_values_and_one_warning(image_folder):
    root, imgs = image_folder
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        src = DATASETS.build("folder", {"path": str(root), "size": 10})
    mine = [w for w in caught if "skipped" in str(w.message)]
    assert len(mine) == 1 and "skipped 2 " in str(mine[0].message)
    assert src.class_names == ["cat", "dog"] and src.num_classes == 2
    # files in sorted order within each class: cat/a, dog/b, dog/deep/c
    assert src.y.tolist() == [0, 1, 1] and src.x.shape == (3, 3, 10, 10)
    for i, name in enumerate(["a", "b", "c"]):
        want = expected_pixels(imgs[name], 10).transpose(2, 0, 1) * 2 / 255 - 1
        np.testing.assert_allclose(src.x[i].numpy(), want, rtol=0, atol=2.4e-7)
    assert src.x[2, :, 0, 0].tolist() == pytest.approx([-1.0, 128 * 2 / 255 - 1, 1.0], abs=1e-7)


def test_folder_grayscale_and_unlabelled(tmp_path):
    rng = np.random.default_rng(1)
    img = Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    img.save(tmp_path / "one.png")
    img.save(tmp_path / "two.jpg", quality=95)
    src = DATASETS.build("folder", {"path": str(tmp_path), "size": 8, "channels": 1})
    assert src.y is None and src.num_classes == 0 and src.x.shape == (2, 1, 8, 8)
    want = expected_pixels(img.convert("L"), 8) * 2 / 255 - 1
    np.testing.assert_allclose(src.x[0, 0].numpy(), want, rtol=0, atol=2.4e-7)


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        DATASETS.build("folder", {"path": str(tmp_path / "missing")})
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no readable images"):
        DATASETS.build("folder", {"path": str(tmp_path / "empty")})
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.txt").write_text("hello")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match=r"no readable images \(1 file\(s\) skipped\)"):
            DATASETS.build("folder", {"path": str(tmp_path / "junk")})
    with pytest.raises(ConfigError, match="needs option"):
        DATASETS.build("folder", {})


# ----------------------------------------------------------------------------- npz

def test_npz_uint8_nhwc_with_labels(tmp_path):
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (6, 5, 7, 3), dtype=np.uint8)
    a[0, 0, 0, 0], a[0, 0, 0, 1] = 0, 255
    y = np.array([0, 2, 1, 2, 0, 1])
    np.savez(tmp_path / "d.npz", x=a, y=y)
    src = DATASETS.build("npz", {"path": str(tmp_path / "d.npz")})
    assert src.x.shape == (6, 3, 5, 7) and src.num_classes == 3 and src.y.tolist() == y.tolist()
    np.testing.assert_allclose(src.x.numpy(), a.transpose(0, 3, 1, 2).astype(np.float64) * 2 / 255 - 1, rtol=0, atol=2.4e-7)
    assert float(src.x[0, 0, 0, 0]) == -1.0 and float(src.x[0, 1, 0, 0]) == 1.0


def test_npz_float_ranges_and_layouts(tmp_path):
    rng = np.random.default_rng(3)
    unit = rng.random((4, 1, 6, 6)).astype(np.float32)                # NCHW in [0, 1]
    signed = unit * 2 - 1                                              # already in [-1, 1]
    gray = rng.random((4, 6, 6))                                       # (N, H, W) float64
    np.savez(tmp_path / "f.npz", images=unit, signed=signed, gray=gray)
    p = str(tmp_path / "f.npz")
    x = DATASETS.build("npz", {"path": p, "key": "images"}).x
    np.testing.assert_allclose(x.numpy(), unit * 2 - 1, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(DATASETS.build("npz", {"path": p, "key": "signed"}).x.numpy(), signed)
    g = DATASETS.build("npz", {"path": p, "key": "gray", "size": 8})  # pad 6 -> 8
    assert g.x.shape == (4, 1, 8, 8) and g.y is None
    np.testing.assert_allclose(g.x[:, 0, 1:7, 1:7].numpy(), gray * 2 - 1, rtol=0, atol=1e-6)


def test_npz_errors_name_the_keys(tmp_path):
    np.savez(tmp_path / "k.npz", images=np.zeros((2, 4, 4), np.uint8), labels=np.array([0, 1]))
    p = str(tmp_path / "k.npz")
    with pytest.raises(DataError, match=r"no array 'x' \(arrays found: images, labels\)"):
        DATASETS.build("npz", {"path": p})
    with pytest.raises(DataError, match=r"no label array 'lab' \(arrays found: images, labels\)"):
        DATASETS.build("npz", {"path": p, "key": "images", "labels": "lab"})
    assert DATASETS.build("npz", {"path": p, "key": "images", "labels": "labels"}).y.tolist() == [0, 1]
    np.savez(tmp_path / "bad.npz", x=np.full((2, 4, 4), 2.0), flat=np.zeros((2, 16)),
             y=np.array([0.5, 1.0]), ambiguous=np.zeros((2, 5, 6, 7)))
    q = str(tmp_path / "bad.npz")
    with pytest.raises(DataError, match=r"float images must lie in \[0, 1\] or \[-1, 1\], found \[2, 2\]"):
        DATASETS.build("npz", {"path": q, "labels": ""})
    with pytest.raises(DataError, match=r"got shape \(2, 16\)"):
        DATASETS.build("npz", {"path": q, "key": "flat", "labels": ""})
    with pytest.raises(DataError, match="cannot tell the channel axis"):
        DATASETS.build("npz", {"path": q, "key": "ambiguous", "labels": ""})
    with pytest.raises(DataError, match="labels 'y' must be 2 non-negative integers"):
        DATASETS.build("npz", {"path": q, "key": "ambiguous", "layout": "nchw"})  # float labels
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(DataError, match="not a readable .npz file"):
        DATASETS.build("npz", {"path": str(tmp_path / "text.npz")})
    with pytest.raises(DataError, match="does not exist"):
        DATASETS.build("npz", {"path": str(tmp_path / "none.npz")})
