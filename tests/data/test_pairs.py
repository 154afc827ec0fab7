"""Paired and two-domain data (gankit.data.pairs): the folder layouts, their one-line errors,
the built-in tasks against hand computations, and exact resume of the data order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli.main import main
from gankit.data import DATASETS
from gankit.data.pairs import (
    DomainsSource,
    PairedSource,
    centre_masked,
    low_resolution,
    sobel_edges,
)
from gankit.errors import DataError


def write(path: Path, value: int, size: tuple[int, int] = (8, 8), mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((size[1], size[0]) + (() if mode == "L" else (3,)), value, dtype=np.uint8)
    Image.fromarray(arr, mode).save(path)


def pixel(v: int) -> float:
    return 2.0 * v / 255.0 - 1.0


def paired_folder(root: Path, names: list[str], *, test: list[str] | None = None) -> Path:
    """A/<name>.png of value 10 k and B/<name>.jpg... of value 10 k + 5: partners are recognisable."""
    for k, n in enumerate(names):
        write(root / "A" / f"{n}.png", 10 * k)
        write(root / "B" / f"{n}.png", 10 * k + 5)
    for k, n in enumerate(test or []):
        write(root / "test" / "A" / f"{n}.png", 200 + k)
        write(root / "test" / "B" / f"{n}.png", 200 + k + 5)
    return root


def test_pairs_are_matched_by_name_not_by_order(tmp_path: Path) -> None:
    # names sort differently from their creation order; each A must meet its own B (value + 5)
    root = paired_folder(tmp_path / "p", ["b", "a", "c", "10", "9"], test=["t1", "t2"])
    src = DATASETS.build("pairs", {"path": str(root), "channels": 1})
    assert isinstance(src, PairedSource)
    assert src.inputs.shape == (5, 1, 8, 8) and src.test_inputs.shape == (2, 1, 8, 8)
    a, b = src.inputs[:, 0, 0, 0], src.x[:, 0, 0, 0]
    torch.testing.assert_close(b - a, torch.full_like(a, 2 * 5 / 255), rtol=0, atol=1e-6)
    assert sorted(round((float(v) + 1) * 255 / 2) for v in a) == [0, 10, 20, 30, 40]
    # held out from DIR/test: values 200, 201 and their partners
    torch.testing.assert_close(src.test_x[:, 0, 0, 0] - src.test_inputs[:, 0, 0, 0],
                               torch.full((2,), 2 * 5 / 255), rtol=0, atol=1e-6)
    assert {round(float(v), 5) for v in src.test_inputs[:, 0, 0, 0]} == {round(pixel(200), 5), round(pixel(201), 5)}


def test_pairs_batches_stay_pairs(tmp_path: Path) -> None:
    root = paired_folder(tmp_path / "p", [f"{i:02d}" for i in range(12)])
    src = DATASETS.build("pairs", {"path": str(root), "channels": 1, "test_fraction": 0.25})
    assert len(src) == 9 and src.test_inputs.shape[0] == 3
    a, b = src.sample_pairs(4, torch.Generator().manual_seed(0))
    torch.testing.assert_close(b - a, torch.full_like(a, 2 * 5 / 255), rtol=0, atol=1e-6)


@pytest.mark.parametrize("make,message", [
    (lambda r: write(r / "A" / "x.png", 1), "has no B/ subfolder"),
    (lambda r: ((r / "A").mkdir(parents=True), write(r / "B" / "x.png", 1)), "holds no images"),
    (lambda r: (write(r / "A" / "x.png", 1), write(r / "A" / "y.png", 1), write(r / "B" / "x.png", 1)),
     "y.png has no partner of the same name"),
    (lambda r: (write(r / "A" / "x.png", 1), write(r / "A" / "y.png", 1, (6, 6)), write(r / "B" / "x.png", 1),
                write(r / "B" / "y.png", 1)), "images must have one size"),
    (lambda r: (write(r / "A" / "x.png", 1), write(r / "B" / "x.png", 1, (6, 6))), "both sides need one size"),
])
def test_paired_folder_errors_are_one_line(tmp_path: Path, make, message: str) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    make(root)
    with pytest.raises(DataError, match=message) as e:
        DATASETS.build("pairs", {"path": str(root), "channels": 1, "test_fraction": 0.0})
    assert "\n" not in str(e.value)


def test_a_wrong_folder_stops_the_cli_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "bad"
    write(root / "A" / "x.png", 1)
    out = tmp_path / "runs"
    rc = main(["train", "--set", "model=pix2pix", "--set", f"data=pairs:{root}", "--set", f"out_dir={out}"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "has no B/ subfolder" in err
    assert not out.exists()  # nothing was written


def test_size_option_makes_mixed_sizes_one(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write(root / "A" / "x.png", 50, (10, 10))
    write(root / "B" / "x.png", 60, (12, 12))
    src = DATASETS.build("pairs", {"path": str(root), "channels": 1, "size": 8, "test_fraction": 0.0})
    assert src.inputs.shape == src.x.shape == (1, 1, 8, 8)


def test_domains_folder_cyclegan_layout(tmp_path: Path) -> None:
    # CycleGAN's own data sets: trainA, trainB, testA, testB
    for side, v in (("trainA", 10), ("trainB", 20), ("testA", 30), ("testB", 40)):
        for i in range(3 if side.startswith("train") else 2):
            write(tmp_path / "d" / side / f"{i}.png", v + i, mode="RGB")
    src = DATASETS.build("domains", {"path": str(tmp_path / "d")})
    assert isinstance(src, DomainsSource) and src.shape == (3, 8, 8)
    assert len(src.a) == 3 and len(src.b) == 3 and src.test_a.shape[0] == 2
    assert {round(float(v), 5) for v in src.test_b[:, 0, 0, 0]} == {round(pixel(40), 5), round(pixel(41), 5)}


@pytest.mark.needs_fashion_mnist
def test_domains_resume_exactly() -> None:
    src = DATASETS.build("fashion-domains", {"num": 50})
    gen = torch.Generator().manual_seed(3)
    for _ in range(7):  # into the second epoch of the 50 images
        src.sample_domains(8, gen)
    state, rng = src.state_dict(), gen.get_state()
    want = [src.sample_domains(8, gen) for _ in range(5)]
    other = DATASETS.build("fashion-domains", {"num": 50})
    other.load_state_dict(state)
    gen2 = torch.Generator()
    gen2.set_state(rng)
    for (a, b), (a2, b2) in zip(want, (other.sample_domains(8, gen2) for _ in range(5))):
        assert torch.equal(a, a2) and torch.equal(b, b2)


@pytest.mark.needs_fashion_mnist
def test_fashion_domains_are_the_two_classes() -> None:
    from gankit.data.images import fashion_mnist

    src = DATASETS.build("fashion-domains", {"a": "trouser", "b": 3})
    assert src.classes == (1, 3)
    assert len(src.a) == 6000 and len(src.b) == 6000 and src.test_a.shape[0] == 1000 == src.test_b.shape[0]
    full = fashion_mnist(size=32, split="test")
    assert torch.equal(src.test_b, full.x[full.y == 3])
    with pytest.raises(DataError, match="same class"):
        DATASETS.build("fashion-domains", {"a": "Dress", "b": "dress"})
    with pytest.raises(DataError, match="not a Fashion-MNIST class"):
        DATASETS.build("fashion-domains", {"a": "hat"})


def test_sobel_edges_of_a_step() -> None:
    """A vertical step 0 -> 1 between columns 3 and 4: Sobel's d/dx is 1 + 2 + 1 = 4 on columns
    3 and 4 and 0 elsewhere (d/dy is 0 everywhere, borders replicated): after scaling by the
    maximum, 1 there and -1 elsewhere."""
    x = -torch.ones(1, 1, 6, 8)
    x[..., 4:] = 1.0
    e = sobel_edges(x)
    want = -torch.ones(1, 1, 6, 8)
    want[..., 3:5] = 1.0
    torch.testing.assert_close(e, want, rtol=0, atol=1e-6)


def test_lowres_and_masked_by_hand() -> None:
    x = torch.arange(16.0).reshape(1, 1, 4, 4) / 16
    lo = low_resolution(x, 2)
    # each 2x2 block becomes its mean: block (0, 0) holds 0, 1, 4, 5 -> 2.5 / 16
    assert float(lo[0, 0, 0, 0]) == float(lo[0, 0, 1, 1]) == pytest.approx(2.5 / 16)
    assert float(lo[0, 0, 3, 3]) == pytest.approx((10 + 11 + 14 + 15) / 4 / 16)
    m = centre_masked(torch.ones(1, 1, 8, 8))
    assert float(m.sum()) == 64 - 16 and bool((m[..., 2:6, 2:6] == 0).all())


def test_pair_task_uses_the_test_split_as_held_out() -> None:
    src = DATASETS.build("pair-task", {"task": "lowres", "base": "digits", "size": 8, "test_num": 0})
    assert isinstance(src, PairedSource)
    assert src.inputs.shape == (1438, 1, 8, 8) and src.test_inputs.shape == (359, 1, 8, 8)
    torch.testing.assert_close(src.inputs, low_resolution(src.x, 4))
    assert src.num_classes == 10 and src.y is not None
