"""``gankit.data.fetch``: downloads through a fake ``urlopen`` (no network), checksums, atomicity."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import struct
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest

from gankit.data import DATASETS
from gankit.data import fetch as fetch_mod
from gankit.data.fetch import FILES, IDX_SETS, fetch, verify
from gankit.errors import DataError

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def tiny_files() -> dict[str, bytes]:
    """Four small gzipped IDX files: 3 train / 2 test images of 4x4 and their labels."""
    out = {}
    for stem, n in (("train", 3), ("t10k", 2)):
        pix = list(range(n * 16))
        out[f"{stem}-images-idx3-ubyte"] = gzip.compress(
            bytes([0, 0, 8, 3]) + struct.pack(">3i", n, 4, 4) + bytes(pix), mtime=0)
        out[f"{stem}-labels-idx1-ubyte"] = gzip.compress(
            bytes([0, 0, 8, 1]) + struct.pack(">i", n) + bytes(range(n)), mtime=0)
    return out


class FakeWeb:
    """Serves ``{url: bytes}``; any other URL fails like a machine without network."""

    def __init__(self, pages: dict[str, bytes]) -> None:
        self.pages, self.requests = pages, []

    def __call__(self, url: str, timeout: float = 0):
        self.requests.append(url)
        if url not in self.pages:
            raise URLError("[Errno -3] Temporary failure in name resolution")
        return io.BytesIO(self.pages[url])


@pytest.fixture
def tiny_set(monkeypatch):
    files = tiny_files()
    spec = dataclasses.replace(
        IDX_SETS["mnist"], mirrors=("https://a.example/", "https://b.example/"),
        md5={k: hashlib.md5(v).hexdigest() for k, v in files.items()}, sha256={k: "" for k in files})
    monkeypatch.setitem(IDX_SETS, "mnist", spec)
    return files


def test_fetch_downloads_verifies_and_loads(tmp_path, monkeypatch, tiny_set):
    web = FakeWeb({f"https://a.example/{k}.gz": v for k, v in tiny_set.items()})
    monkeypatch.setattr(fetch_mod, "urlopen", web)
    monkeypatch.setenv("GANKIT_DATA_DIR", str(tmp_path))
    out = fetch("mnist", log=lambda m: None)
    assert out == tmp_path / "mnist"
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{f}.gz" for f in FILES)
    for k, v in tiny_set.items():
        assert (out / f"{k}.gz").read_bytes() == v
    src = DATASETS.build("mnist", {"split": "test", "size": 4})  # found in $GANKIT_DATA_DIR/mnist
    assert src.y.tolist() == [0, 1] and float(src.x.min()) == -1.0
    np.testing.assert_allclose(src.x[1, 0].numpy().ravel(), np.arange(16, 32) * 2 / 255 - 1, atol=2.4e-7)
    # Second run: every file present and valid -> no request at all, even offline.
    offline = FakeWeb({})
    monkeypatch.setattr(fetch_mod, "urlopen", offline)
    fetch("mnist", log=lambda m: None)
    assert offline.requests == []


def test_second_mirror_used_when_first_is_corrupt(tmp_path, monkeypatch, tiny_set):
    pages = {f"https://a.example/{k}.gz": v[:-1] + b"!" for k, v in tiny_set.items()}
    pages |= {f"https://b.example/{k}.gz": v for k, v in tiny_set.items()}
    monkeypatch.setattr(fetch_mod, "urlopen", FakeWeb(pages))
    out = fetch("mnist", tmp_path / "d", log=lambda m: None)
    assert all((out / f"{k}.gz").read_bytes() == v for k, v in tiny_set.items())


def test_checksum_mismatch_leaves_nothing_behind(tmp_path, monkeypatch, tiny_set):
    bad = {f"https://a.example/{k}.gz": b"\x1f\x8b tampered" for k in tiny_set}
    monkeypatch.setattr(fetch_mod, "urlopen", FakeWeb(bad))
    with pytest.raises(DataError) as e:
        fetch("mnist", tmp_path / "d", log=lambda m: None)
    msg = str(e.value)
    expected = hashlib.md5(b"\x1f\x8b tampered").hexdigest()
    assert "checksum mismatch" in msg and f"md5 {expected}" in msg
    assert IDX_SETS["mnist"].md5["train-images-idx3-ubyte"] in msg and "\n" not in msg
    assert not (tmp_path / "d").exists() or list((tmp_path / "d").iterdir()) == []  # no partial or temporary file


def test_offline_says_what_to_install(tmp_path, monkeypatch):
    import dataclasses

    monkeypatch.setattr(fetch_mod, "urlopen", FakeWeb({}))
    # a machine without Debian's copy (this one may have it installed)
    spec = dataclasses.replace(IDX_SETS["fashion-mnist"], system_dirs=(str(tmp_path / "no-system-copy"),))
    monkeypatch.setitem(IDX_SETS, "fashion-mnist", spec)
    with pytest.raises(DataError) as e:
        fetch("fashion-mnist", tmp_path, log=lambda m: None)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("cannot download fashion-mnist (offline?")
    assert "apt-get install dataset-fashion-mnist" in msg and str(tmp_path) in msg
    assert "train-images-idx3-ubyte.gz" in msg
    assert list(tmp_path.iterdir()) == []


def test_unknown_name():
    with pytest.raises(DataError, match="fetchable data sets: mnist, fashion-mnist"):
        fetch("cifar10")


def test_official_checksum_table_is_complete():
    for spec in IDX_SETS.values():
        assert set(spec.md5) == set(FILES) and set(spec.sha256) == set(FILES)
        assert all(len(h) == 32 and int(h, 16) >= 0 for h in spec.md5.values())
    # MD5s published by the MNIST site / torchvision and the Fashion-MNIST README.
    assert IDX_SETS["mnist"].md5["train-images-idx3-ubyte"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert IDX_SETS["fashion-mnist"].md5["t10k-labels-idx1-ubyte"] == "bb300cfdad3c16e7a12a480ee83cd310"


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist not installed")
def test_debian_files_carry_the_official_content():
    """Debian recompressed the .gz files (other MD5) but their content is the official one."""
    spec = IDX_SETS["fashion-mnist"]
    for base in FILES:
        assert verify(spec, base, DEBIAN_FASHION / f"{base}.gz")
    tampered = hashlib.sha256(b"x").hexdigest()
    assert not verify(dataclasses.replace(spec, sha256={**spec.sha256, FILES[1]: tampered}), FILES[1],
                      DEBIAN_FASHION / f"{FILES[1]}.gz")
