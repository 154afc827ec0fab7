"""Image folders and zips decoded once into a uint8 archive and read a batch at a time: pixel
values of every image mode, crop and pad, zip = folder, worker processes = one process, the
cache, flips, a resumable order, prepared .npy archives, and their one-line errors."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import DATASETS
from gankit.data import archive as arc
from gankit.errors import DataError


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def unit(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64) * 2 / 255 - 1


def build(path, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return DATASETS.build("folder", {"path": str(path), **options})


def test_every_image_mode_becomes_the_right_pixels(tmp_path):
    root = tmp_path / "modes"
    root.mkdir()
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[:2, :, 3] = 255                                      # top half opaque, bottom half transparent
    Image.fromarray(rgba, "RGBA").save(root / "a_rgba.png")
    pal = Image.fromarray(np.array([[0, 1], [1, 0]], dtype=np.uint8).repeat(2, 0).repeat(2, 1), "P")
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.save(root / "b_palette.png")
    deep = Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16))   # 16-bit white
    deep.save(root / "c_16bit.png")
    la = Image.fromarray(np.stack([np.full((4, 4), 90, np.uint8), np.full((4, 4), 255, np.uint8)], -1), "LA")
    la.save(root / "d_la.png")
    src = build(root, size=4)
    x = src.x[np.arange(4)].numpy()                           # (4, 3, 4, 4)
    assert np.allclose(x[0][:, :2], unit([200, 100, 50])[:, None, None], atol=1e-6)
    assert np.allclose(x[0][:, 2:], -1.0)                     # transparent -> black background
    assert np.allclose(x[1][:, 0, 0], unit([255, 0, 0])) and np.allclose(x[1][:, 0, 2], unit([0, 0, 255]))
    assert np.allclose(x[2], 1.0)                             # 65535 of 65535 -> 255
    assert np.allclose(x[3], unit(90))
    assert isinstance(src.x.array, np.memmap) and src.x.array.dtype == np.uint8


def test_crop_keeps_the_centre_pad_letterboxes(tmp_path):
    root = tmp_path / "wide"
    root.mkdir()
    a = np.zeros((10, 20, 3), dtype=np.uint8)
    a[:, 5:15] = 255                                          # a white centre band, 10 wide
    Image.fromarray(a).save(root / "w.png")
    cropped = build(root, size=10, crop="crop").x[0].numpy()
    assert np.allclose(cropped, 1.0)                          # the centre 10x10 is all white
    padded = build(root, size=10, crop="pad").x[0].numpy()    # 20x10 -> 10x5, centred on black
    assert np.allclose(padded[:, :2], -1.0) and np.allclose(padded[:, 8:], -1.0)
    assert padded[:, 2:8].max() > 0.9


def small_folder(root: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        (root / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(root / f"c{i % 2}" / f"{i:03d}.png")
    return root


def test_a_zip_reads_as_the_folder_and_workers_as_one_process(tmp_path, monkeypatch):
    root = small_folder(tmp_path / "f", 20)
    (root / "c0" / "broken.png").write_bytes(b"not a png")
    zpath = tmp_path / "f.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(root).as_posix())
        z.writestr("README.txt", "not an image")             # no image suffix: not listed
    one = build(root, size=8)
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "other"))
    two = build(root, size=8, workers=2)                      # two spawned decoding processes
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "third"))
    zipped = build(zpath, size=8)
    for src in (two, zipped):
        assert np.array_equal(np.asarray(src.x.array), np.asarray(one.x.array))
        assert torch.equal(src.y, one.y) and src.class_names == ["c0", "c1"]
    assert len(one) == 20


def test_the_archive_is_reused_and_rebuilt_when_a_file_changes(tmp_path, monkeypatch, cache):
    root = small_folder(tmp_path / "f", 6)
    first = build(root, size=8)
    monkeypatch.setattr(arc, "_decode_chunk", lambda *a: (_ for _ in ()).throw(AssertionError("decoded again")))
    again = build(root, size=8)
    assert np.array_equal(np.asarray(again.x.array), np.asarray(first.x.array))
    monkeypatch.undo()
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(cache))
    Image.fromarray(np.zeros((12, 12, 3), dtype=np.uint8)).save(root / "c0" / "000.png")
    changed = build(root, size=8)
    assert np.allclose(changed.x[0].numpy(), -1.0) and not np.array_equal(np.asarray(changed.x.array),
                                                                         np.asarray(first.x.array))
    assert len(list((cache / "archives").glob("*.npy"))) == 2 and not list((cache / "archives").glob("*tmp*"))


def test_flips_mirror_about_half_and_the_order_resumes(tmp_path):
    root = small_folder(tmp_path / "f", 40)
    plain, flipped = build(root, size=8), build(root, size=8, flip=True)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a, _ = plain.sample(32, g1)
    b, _ = flipped.sample(32, g2)
    mirrored = [torch.equal(b[i], a[i].flip(-1)) and not torch.equal(b[i], a[i]) for i in range(32)]
    kept = [torch.equal(b[i], a[i]) for i in range(32)]
    assert all(m or k for m, k in zip(mirrored, kept)) and 6 <= sum(mirrored) <= 26
    # resume: the source's position and the generator's state give the same next batches
    g = torch.Generator().manual_seed(9)
    for _ in range(3):
        flipped.sample(16, g)
    state, gstate = flipped.state_dict(), g.get_state()
    want = [flipped.sample(16, g) for _ in range(2)]
    fresh = build(root, size=8, flip=True)
    fresh.load_state_dict(state)
    g.set_state(gstate)
    for (x1, y1), (x2, y2) in zip(want, [fresh.sample(16, g) for _ in range(2)]):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_prepared_npy_archives(tmp_path):
    a = np.random.default_rng(1).integers(0, 256, (5, 3, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "y.npy", np.array([0, 2, 1, 2, 0]))
    src = DATASETS.build("archive", {"path": str(tmp_path / "a.npy"), "labels": str(tmp_path / "y.npy")})
    assert np.allclose(src.x[np.arange(5)].numpy(), unit(a), atol=1e-6) and src.num_classes == 3
    np.save(tmp_path / "f.npy", a.astype(np.float32))
    with pytest.raises(DataError, match="uint8"):
        DATASETS.build("archive", {"path": str(tmp_path / "f.npy")})
    np.save(tmp_path / "hwc.npy", a.transpose(0, 2, 3, 1))
    with pytest.raises(DataError, match="transpose"):
        DATASETS.build("archive", {"path": str(tmp_path / "hwc.npy")})


@pytest.mark.parametrize("make,message", [
    (lambda p: p.mkdir(), "holds no readable images"),
    (lambda p: (p.mkdir(), (p / "x.txt").write_text("hi")), r"no readable images \(1 file"),
    (lambda p: p.with_suffix(".zip").write_bytes(b"PK not a zip"), "not a readable zip"),
])
def test_bad_folders_are_one_line_errors(tmp_path, make, message):
    p = tmp_path / "d"
    make(p)
    with pytest.raises(DataError, match=message):
        build(p if p.exists() else p.with_suffix(".zip"), size=8)


def test_a_zip_of_non_images_is_refused(tmp_path):
    z = tmp_path / "junk.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("a.txt", "x")
        f.writestr("b.png", "not a png")
    with pytest.raises(DataError, match=r"holds no readable images \(1 file"):
        build(z, size=8)


# --------------------------------------------------------------------------- the command line

def _cli(tmp_path, monkeypatch, capsys, *sets: str) -> tuple[int, list[str]]:
    """``gankit train`` with ``sets`` in a fresh working directory: its exit status and its stderr lines."""
    from gankit.cli.main import main

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    argv = ["train", "--set", "train.steps=2", "--set", "train.progress=false"]
    try:
        status = main([*argv, *[a for s in sets for a in ("--set", s)]])
    except SystemExit as e:
        status = int(e.code or 0)
    return status, capsys.readouterr().err.strip().splitlines()


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def _junk_zip(p: Path) -> Path:
    with zipfile.ZipFile(p.with_suffix(".zip"), "w") as z:
        z.writestr("a.txt", "x")
        z.writestr("b.png", "not a png")
    return p.with_suffix(".zip")


@pytest.mark.parametrize("make,message", [
    (lambda p: (p.mkdir(), p)[1], "image folder {} holds no readable images (no files)"),
    (_junk_zip, "image folder {} holds no readable images (1 file(s) skipped)"),
])
def test_a_folder_without_images_is_one_line_exit_2_and_writes_nothing(tmp_path, monkeypatch, capsys, cache,
                                                                        make, message):
    data = make(tmp_path / "d")
    before = _tree(tmp_path)
    status, err = _cli(tmp_path, monkeypatch, capsys, f"data=folder:{data}")
    assert (status, err) == (2, [f"gankit: error: {message.format(data)}"])
    assert _tree(tmp_path) == [*before, "work"] and not cache.exists()     # not even the cache's folder


@pytest.mark.parametrize("sets,message", [
    (["mitigations=augment", "mitigations.augment.policy=[nope]"],
     "model.mitigations.augment.policy: expected one of 'color', 'translation', 'cutout', got 'nope'"),
    (["mitigations.augment.policy=nope"], "model.mitigations.augment.policy: expected a list, got 'nope'"),
    (["penalty=r1", "penalty.gamma=-1"], "model.penalty.gamma must be >= 0, got -1"),
])
def test_bad_options_on_a_folder_are_one_line_exit_2_and_write_nothing(tmp_path, monkeypatch, capsys, cache,
                                                                       sets, message):
    root = small_folder(tmp_path / "f", 6)
    before = _tree(tmp_path)
    status, err = _cli(tmp_path, monkeypatch, capsys, f"data=folder:{root}", "data.size=16", *sets)
    assert (status, err) == (2, [f"gankit: error: {message}"])
    assert _tree(tmp_path) == [*before, "work"] and not cache.exists()     # refused before any decoding


def test_a_resnet_at_48_pixels_is_one_line_exit_2_and_writes_no_run(tmp_path, monkeypatch, capsys, cache):
    root = small_folder(tmp_path / "f", 6)
    status, err = _cli(tmp_path, monkeypatch, capsys, f"data=folder:{root}", "generator=resnet", "data.size=48")
    assert (status, err) == (2, ["gankit: error: generator resnet needs a side that is a power of two >= 8 "
                                 "(8, 16, 32, 64, ...), got 48; resize the data (e.g. data.size=32)"])
    assert _tree(tmp_path / "work") == []
    # the networks are checked against the data's shape, so the folder was decoded first: its
    # archive is the one thing written, in the cache (a run at data.size=48 with a DCGAN reuses it)
    assert [np.load(p, mmap_mode="r").shape for p in (cache / "archives").glob("*.npy")] == [(6, 3, 48, 48)]


def test_batches_are_read_without_mapping_the_archive(tmp_path):
    root = small_folder(tmp_path / "f", 40)
    src = build(root, size=8)
    idx = np.array([39, 0, 7, 7, -1, 12])
    want = unit(np.asarray(src.x.array)[idx])                 # through the memory map
    assert np.allclose(src.x[torch.from_numpy(idx)].numpy(), want, atol=1e-6)
    with pytest.raises(IndexError, match="out of range for 40 images"):
        src.x[torch.tensor([40])]
