"""IDX reader and the MNIST-format loaders, on files the tests write byte by byte."""

from __future__ import annotations

import dataclasses
import gzip
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from gankit.data import DATASETS
from gankit.data.fetch import IDX_SETS
from gankit.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from gankit.errors import DataError

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(type_code: int, fmt: str, dims: tuple[int, ...], values: list) -> bytes:
    """The IDX layout written independently of the reader: magic, big-endian dims, values."""
    head = bytes([0, 0, type_code, len(dims)]) + struct.pack(f">{len(dims)}i", *dims)
    return head + struct.pack(f">{len(values)}{fmt}", *values)


def write(path: Path, data: bytes, gz: bool) -> Path:
    path = path.with_name(path.name + ".gz") if gz else path
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


RNG = np.random.default_rng(7)
IMAGES = RNG.integers(0, 256, size=(5, 28, 28)).astype(np.uint8)
IMAGES[0, 0, 0], IMAGES[0, 0, 1] = 0, 255
LABELS = np.array([3, 0, 9, 1, 9], dtype=np.uint8)


def write_mnist_dir(d: Path, gz: bool, split_stem: str = "train") -> None:
    d.mkdir(parents=True, exist_ok=True)
    write(d / f"{split_stem}-images-idx3-ubyte",
          idx_bytes(0x08, "B", IMAGES.shape, IMAGES.ravel().tolist()), gz)
    write(d / f"{split_stem}-labels-idx1-ubyte", idx_bytes(0x08, "B", (5,), LABELS.tolist()), gz)


# ----------------------------------------------------------------------------- the reader

@pytest.mark.parametrize("gz", [False, True])
def test_uint8_round_trip(tmp_path, gz):
    p = write(tmp_path / "img", idx_bytes(0x08, "B", IMAGES.shape, IMAGES.ravel().tolist()), gz)
    a = read_idx(p, IMAGES_MAGIC)
    assert a.dtype == np.uint8 and a.shape == (5, 28, 28)
    np.testing.assert_array_equal(a, IMAGES)


@pytest.mark.parametrize("code,fmt,values", [
    (0x0C, "i", [1, 256, -2, 2**31 - 1, -(2**31), 65536]),      # big-endian int32
    (0x0B, "h", [1, 256, -2, 32767, -32768, 0]),                 # big-endian int16
    (0x0D, "f", [0.5, -1.25, 3.0, 1e-3, -7.5, 0.0]),             # big-endian float32
])
def test_multibyte_types_are_big_endian(tmp_path, code, fmt, values):
    p = write(tmp_path / "a", idx_bytes(code, fmt, (2, 3), values), gz=False)
    a = read_idx(p)
    np.testing.assert_allclose(a.ravel(), np.array(values, dtype=np.float64), rtol=1e-7)
    assert a.shape == (2, 3)


def test_wrong_magic_names_the_file(tmp_path):
    p = write(tmp_path / "labels", idx_bytes(0x08, "B", (5,), LABELS.tolist()), gz=True)
    with pytest.raises(DataError, match=r"labels\.gz.*magic number 2049, expected 2051"):
        read_idx(p, IMAGES_MAGIC)
    assert IMAGES_MAGIC == 2051 and LABELS_MAGIC == 2049


def test_not_idx_at_all(tmp_path):
    p = tmp_path / "junk"
    p.write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(DataError, match="junk is not an IDX file"):
        read_idx(p)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_payload(tmp_path, gz):
    data = idx_bytes(0x08, "B", IMAGES.shape, IMAGES.ravel().tolist())[:-100]
    p = write(tmp_path / "short", data, gz)
    with pytest.raises(DataError, match=r"short.*truncated.*need 3936 bytes, file has 3836"):
        read_idx(p)


def test_truncated_gzip_stream(tmp_path):
    full = gzip.compress(idx_bytes(0x08, "B", IMAGES.shape, IMAGES.ravel().tolist()))
    p = tmp_path / "cut.gz"
    p.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataError, match=r"cut\.gz is a corrupt or truncated gzip file"):
        read_idx(p)


def test_trailing_bytes(tmp_path):
    p = write(tmp_path / "long", idx_bytes(0x08, "B", (5,), LABELS.tolist()) + b"\x00", gz=False)
    with pytest.raises(DataError, match="longer than its header says"):
        read_idx(p)


def test_truncated_header(tmp_path):
    p = tmp_path / "hdr"
    p.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">i", 5))
    with pytest.raises(DataError, match="truncated"):
        read_idx(p)


# ----------------------------------------------------------------------------- the mnist loader

@pytest.mark.parametrize("gz", [False, True])
def test_mnist_from_path_values_and_labels(tmp_path, gz):
    write_mnist_dir(tmp_path, gz)
    src = DATASETS.build("mnist", {"path": str(tmp_path)})
    assert src.x.shape == (5, 1, 28, 28) and src.x.dtype.is_floating_point
    # 2 v / 255 - 1 up to float32 rounding (1 ulp near 1 is 1.2e-7); the endpoints are exact.
    np.testing.assert_allclose(src.x[:, 0].numpy(), IMAGES.astype(np.float64) * 2 / 255 - 1, rtol=0, atol=2.4e-7)
    assert float(src.x[0, 0, 0, 0]) == -1.0 and float(src.x[0, 0, 0, 1]) == 1.0
    assert src.y.tolist() == LABELS.tolist() and src.num_classes == 10 and src.kind == "images"


def test_mnist_size32_pads_with_background(tmp_path):
    write_mnist_dir(tmp_path, gz=True)
    x28 = DATASETS.build("mnist", {"path": str(tmp_path)}).x
    x32 = DATASETS.build("mnist", {"path": str(tmp_path), "size": 32}).x
    assert x32.shape == (5, 1, 32, 32)
    assert (x32[:, :, 2:30, 2:30] == x28).all()
    inside = np.zeros((32, 32), dtype=bool)
    inside[2:30, 2:30] = True
    border = x32[:, :, ~inside]
    assert border.numel() == 5 * (32 * 32 - 28 * 28) and (border == -1).all()


def test_mnist_test_split_and_single_file_path(tmp_path):
    write_mnist_dir(tmp_path, gz=False, split_stem="t10k")
    src = DATASETS.build("mnist", {"path": str(tmp_path), "split": "test"})
    assert src.y.tolist() == LABELS.tolist()
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):   # no train files there
        DATASETS.build("mnist", {"path": str(tmp_path)})
    one = DATASETS.build("mnist", {"path": str(tmp_path / "t10k-images-idx3-ubyte")})
    assert one.y.tolist() == LABELS.tolist() and len(one) == 5


def test_count_mismatch_between_images_and_labels(tmp_path):
    write_mnist_dir(tmp_path, gz=False)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(0x08, "B", (4,), LABELS[:4].tolist()), gz=False)
    with pytest.raises(DataError, match="holds 4 labels but .* holds 5 images"):
        DATASETS.build("mnist", {"path": str(tmp_path)})


def test_search_order_env_then_cache(tmp_path, monkeypatch):
    env, cache = tmp_path / "env", tmp_path / "xdg"
    monkeypatch.setenv("GANKIT_DATA_DIR", str(env))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    write_mnist_dir(cache / "gankit" / "data" / "mnist", gz=True)
    assert DATASETS.build("mnist").y.tolist() == LABELS.tolist()           # found in the cache
    IMAGES_ENV = np.full_like(IMAGES, 255)
    d = env / "mnist"
    d.mkdir(parents=True)
    write(d / "train-images-idx3-ubyte", idx_bytes(0x08, "B", IMAGES.shape, IMAGES_ENV.ravel().tolist()), True)
    write(d / "train-labels-idx1-ubyte", idx_bytes(0x08, "B", (5,), LABELS.tolist()), True)
    assert float(DATASETS.build("mnist").x.min()) == 1.0                   # $GANKIT_DATA_DIR wins


def test_missing_data_is_one_line_saying_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_DATA_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "none2"))
    spec = IDX_SETS["fashion-mnist"]
    monkeypatch.setitem(IDX_SETS, "fashion-mnist", dataclasses.replace(spec, system_dirs=(str(tmp_path / "sys"),)))
    with pytest.raises(DataError) as e:
        DATASETS.build("fashion-mnist")
    msg = str(e.value)
    assert "\n" not in msg
    for part in ("fashion-mnist not found", "apt-get install dataset-fashion-mnist",
                 "gankit data fetch fashion-mnist", "data.path=DIR", "train-images-idx3-ubyte[.gz]"):
        assert part in msg
    with pytest.raises(DataError, match=r"^mnist not found.*gankit data fetch mnist"):
        DATASETS.build("mnist")
    with pytest.raises(DataError, match="does not exist"):
        DATASETS.build("mnist", {"path": str(tmp_path / "nowhere")})


# ----------------------------------------------------------------------------- the real files

@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist not installed")
def test_fashion_mnist_from_debian(monkeypatch, tmp_path):
    monkeypatch.setenv("GANKIT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    t = time.perf_counter()
    train = DATASETS.build("fashion-mnist")
    elapsed = time.perf_counter() - t
    test = DATASETS.build("fashion-mnist", {"split": "test", "size": 32})
    # Xiao et al. 2017: 60000 / 10000 examples, 6000 / 1000 of each of the 10 classes.
    assert train.x.shape == (60000, 1, 28, 28) and test.x.shape == (10000, 1, 32, 32)
    assert train.y.bincount().tolist() == [6000] * 10 and test.y.bincount().tolist() == [1000] * 10
    assert float(train.x.min()) == -1.0 and float(train.x.max()) == 1.0
    assert train.class_names[9] == "Ankle boot" and int(train.y[0]) == 9 and int(test.y[0]) == 9
    assert elapsed < 5.0  # ~0.6 s on this machine; generous for a loaded CI box
