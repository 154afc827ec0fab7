"""The run's figures read on their own: axes named by the data's columns, D's colour scale on
a fixed, stated range, equal aspect only for data of similar spreads, labelled grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import build_config
from gankit.plotting.grid import LABEL_FONT_PX, image_grid, label_margins, save_image_grid
from gankit.plotting.runs import CRITIC_MIN_HALF_SPAN, critic_scale, point_window, points_2d_figure
from gankit.session import Run


def _run(tmp_path: Path, data: dict, loss: str = "ns") -> Run:
    cfg = build_config({"data": data, "loss": loss, "device": "cpu", "latent_dim": 2,
                        "generator": {"name": "mlp", "width": 8}, "discriminator": {"name": "mlp", "width": 8}})
    return Run(cfg, tmp_path / "run")


def _colorbar(fig) -> object:
    (bar_ax,) = [a for a in fig.axes if a.get_label() == "<colorbar>"]
    return bar_ax


def test_points_figure_names_axes_by_columns_and_fixes_the_probability_scale(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = np.stack([rng.normal(170, 10, 300), rng.normal(70, 1.5, 300)], 1)   # spreads 40 vs 6 units
    csv = tmp_path / "people.csv"
    csv.write_text("height_cm,weight_kg\n" + "\n".join(f"{a:.3f},{b:.3f}" for a, b in rows))
    fig = points_2d_figure(_run(tmp_path, {"name": "points", "path": str(csv)}), n=400)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("height_cm", "weight_kg")
    bar = _colorbar(fig)
    assert bar.get_ylim() == pytest.approx((0.0, 1.0))                   # D(x) on [0, 1], whatever D says
    assert bar.get_ylabel().startswith("D(x) = P(real)") and "[0, 1]" in bar.get_ylabel()
    assert ax.get_aspect() == "auto"                                     # elongated: each axis its own range
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    sx, sy = np.ptp(rows[:, 0]), np.ptp(rows[:, 1])
    # the real points (n=400 drawn) span about the whole window less its 15 % margins
    assert (x1 - x0) / (y1 - y0) == pytest.approx(sx / sy, rel=0.35)


def test_ring_figure_keeps_equal_aspect_and_default_names(tmp_path: Path) -> None:
    fig = points_2d_figure(_run(tmp_path, {"name": "ring"}), n=400)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
    assert ax.get_aspect() == 1.0
    assert ax.get_xlim() == pytest.approx(ax.get_ylim())


def test_critic_scale_is_symmetric_with_a_minimum_span() -> None:
    assert critic_scale(np.array([0.48, 0.5025]), True)[:2] == (0.0, 1.0)
    lo, hi, label = critic_scale(np.array([0.01, -0.02, 0.03]), False)
    assert (lo, hi) == (-CRITIC_MIN_HALF_SPAN, CRITIC_MIN_HALF_SPAN) and "[-1, 1]" in label
    lo, hi, _ = critic_scale(np.linspace(-0.5, 4.04, 1001), False)        # 99th percentile of |D|: 3.9946
    assert (lo, hi) == (-4.0, 4.0)


def test_point_window_pads_and_decides_the_aspect() -> None:
    win, equal = point_window(np.array([0.0, 0.0]), np.array([10.0, 6.0]))
    assert equal and win.tolist() == [[-1.5, 11.5], [-3.5, 9.5]]          # both 13 wide: the wider spread
    win, equal = point_window(np.array([0.0, 0.0]), np.array([10.0, 2.0]))
    assert not equal and np.allclose(win, [[-1.5, 11.5], [-0.3, 2.3]], rtol=0, atol=1e-12)


def test_labelled_grid_keeps_the_images_and_writes_each_label(tmp_path: Path) -> None:
    imgs = torch.linspace(-1, 1, 6 * 64).reshape(6, 1, 8, 8)
    path = save_image_grid(imgs, tmp_path / "g.png", nrow=3, row_labels=["zero", "one"],
                           col_labels=["input", "output", "target"])
    got = np.asarray(Image.open(path))
    from PIL import ImageFont

    left, top = label_margins(["zero", "one"], ["input"], ImageFont.load_default(size=LABEL_FONT_PX))
    plain = np.kron(image_grid(imgs, 3)[..., 0], np.ones((4, 4), dtype=np.uint8))
    assert got.shape == (plain.shape[0] + top, plain.shape[1] + left)
    np.testing.assert_array_equal(got[top:, left:], plain)                # the grid itself untouched
    cell = 8 * 4 + 2 * 4
    for r in range(2):   # ink in the margin beside each row, centred on it
        band = got[top + r * cell + 8: top + (r + 1) * cell, :left]
        assert (band < 128).sum() > 10
    for c in range(3):   # ink above each column
        assert (got[:top, left + c * cell: left + (c + 1) * cell] < 128).sum() > 10
