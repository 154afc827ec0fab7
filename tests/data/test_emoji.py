"""``emoji``: Noto Color Emoji's glyphs as images, checked against Pillow's own rendering of the
font (FreeType, an independent path from fontTools' bitmaps), against Unicode's emoji-test.txt,
and the cache and the one-line error where the font is not installed."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from gankit.cli.main import main
from gankit.data import DATASETS
from gankit.data import emoji as mod
from gankit.errors import DataError


def _missing() -> str | None:
    try:
        mod.find_font()
    except DataError as e:
        return str(e)
    return None


needs_font = pytest.mark.skipif(_missing() is not None, reason=f"{_missing()}")
# fonts-noto-color-emoji 2.042-0+deb12u1 (Debian 12): the counts the docs quote are for this file.
DEBIAN12_FONT_SHA256 = "e5899ed38b8ed83e08bd3ac5de09791e9d19d288333a796de1d35ad17396f1ec"


@pytest.fixture(scope="module")
def cache(module_cache_dir):
    return module_cache_dir


@pytest.fixture(scope="module")
def rendered(cache) -> tuple[np.ndarray, list[str]]:
    return mod.load_rendered(mod.find_font(), 32, "white")


def _index(names: list[str], seq: str) -> int:
    return next(i for i, n in enumerate(names) if seq in n.split("|"))


def _pillow(text: str, size: int, background: tuple[int, int, int]) -> np.ndarray:
    """The brief's route: FreeType draws the glyph at its 109 ppem strike (136x128) on a centred
    136x136 canvas of the background; Lanczos down to ``size``."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(mod.find_font()), 109)
    canvas = Image.new("RGB", (136, 136), background)
    ImageDraw.Draw(canvas).text((0, 4), text, font=font, embedded_color=True)
    return np.asarray(canvas.resize((size, size), Image.Resampling.LANCZOS), dtype=np.int64)


@needs_font
@pytest.mark.parametrize("seq", ["2764", "1F600", "1F1EB 1F1F7", "1F469 200D 1F52C"])
def test_images_are_what_pillow_draws_for_the_font(rendered, seq):
    from PIL import features

    if " " in seq and not features.check("raqm"):
        pytest.skip("Pillow without libraqm draws a sequence as separate glyphs")
    x, names = rendered
    text = "".join(chr(int(c, 16)) for c in seq.split())
    diff = np.abs(_pillow(text, 32, (255, 255, 255)) - x[_index(names, seq)].astype(np.int64))
    assert diff.max() <= 2  # compositing rounds differently by a level or so


@needs_font
def test_heavy_black_heart_is_material_red_on_white(rendered):
    x, names = rendered
    heart = x[_index(names, "2764")].astype(np.int64)                    # (32, 32, 3)
    # Noto's heart is filled with Material Design's red 500, #F44336 = (244, 67, 54).
    assert np.abs(heart[12:20, 12:20] - [244, 67, 54]).max() <= 2
    ink = (heart != 255).any(-1)
    red = (heart[..., 0] > 150) & (heart[..., 1] < 110) & (heart[..., 2] < 110)
    assert red.sum() > 0.6 * ink.sum()
    # every glyph sits inside the canvas: the corner pixels are the background
    corners = x[:, [0, 0, -1, -1], [0, -1, 0, -1]]                     # (N, 4, 3)
    assert (corners == 255).all()


@needs_font
def test_black_background_and_other_sizes(cache):
    src = DATASETS.build("emoji", {"size": 16, "background": "black"})
    assert src.shape == (3, 16, 16) and src.num_classes == 0 and src.y is None
    heart = src.x[_index(src.sequences, "2764")]
    assert (heart[:, [0, 0, -1, -1], [0, -1, 0, -1]] == -1).all()
    # at 16 px, ink near the edge of a glyph's 136 px box (a quarter of the glyphs) tints a corner
    # by up to 21 levels of 255: downscaling 136 -> 16, the Lanczos kernel reaches 25 source pixels
    assert (src.x[:, :, [0, 0, -1, -1], [0, -1, 0, -1]] <= -1 + 2 * 24 / 255).all()
    expected = torch.from_numpy(_pillow("\u2764", 16, (0, 0, 0))).permute(2, 0, 1).float() * (2 / 255) - 1
    assert (heart - expected).abs().max() <= 2 * 2 / 255


@needs_font
def test_every_unicode_emoji_has_an_image_and_the_counts(rendered):
    x, names = rendered
    try:
        groups, order = mod.emoji_groups(mod.find_emoji_test())
    except DataError as e:
        pytest.skip(str(e))
    aliases = {tuple(int(c, 16) for c in a.split() if int(c, 16) != mod.VS16)
               for n in names for a in n.split("|")}
    assert set(groups) <= aliases            # each fully-qualified emoji of the file is drawn
    assert order == ["Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink", "Travel & Places",
                     "Activities", "Objects", "Symbols", "Flags"]
    if hashlib.sha256(mod.find_font().read_bytes()).hexdigest() == DEBIAN12_FONT_SHA256:
        assert len(x) == 3877


@needs_font
def test_group_labels(cache):
    try:
        mod.find_emoji_test()
    except DataError as e:
        pytest.skip(str(e))
    src = DATASETS.build("emoji", {"labels": "group"})
    assert src.num_classes == 9 and src.y is not None and len(src.y) == len(src.x) == len(src.sequences)
    named = {seq: src.class_names[int(src.y[_index(src.sequences, seq)])]
             for seq in ("2764", "1F600", "1F1EB 1F1F7", "1F469 200D 1F52C", "1F355")}
    assert named == {"2764": "Smileys & Emotion", "1F600": "Smileys & Emotion", "1F1EB 1F1F7": "Flags",
                     "1F469 200D 1F52C": "People & Body", "1F355": "Food & Drink"}


def test_group_labels_without_emoji_test_is_one_line(monkeypatch):
    monkeypatch.setattr(mod, "EMOJI_TEST_PATHS", ("/nonexistent/emoji-test.txt",))
    with pytest.raises(DataError, match=r"emoji-test\.txt .*`apt-get install unicode-data`"):
        mod.find_emoji_test()


@needs_font
def test_cache_round_trip(rendered, cache, monkeypatch):
    x, names = rendered
    path = mod.cache_file(mod.find_font(), 32, "white")
    assert path.parent == cache / "emoji" and path.is_file()
    monkeypatch.setattr(mod, "render", _no_render)
    again, again_names = mod.load_rendered(mod.find_font(), 32, "white")
    assert again.dtype == np.uint8 and np.array_equal(again, x) and again_names == names


def _no_render(*args):
    raise AssertionError("rendered although cached")


@needs_font
def test_a_corrupt_cache_is_rendered_again_and_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path))
    path = mod.cache_file(mod.find_font(), 32, "white")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an npz")
    fake = np.arange(2 * 32 * 32 * 3, dtype=np.uint8).reshape(2, 32, 32, 3), ["2764", "1F600"]
    calls = []
    monkeypatch.setattr(mod, "render", lambda *args: calls.append(args) or fake)
    got, got_names = mod.load_rendered(mod.find_font(), 32, "white")
    assert len(calls) == 1 and np.array_equal(got, fake[0]) and got_names == fake[1]
    with np.load(path, allow_pickle=False) as f:   # the cache is whole again, and nothing else was left
        assert np.array_equal(f["x"], fake[0]) and f["sequences"].tolist() == fake[1]
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_font_not_installed_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(mod.FONT_ENV, str(tmp_path / "absent.ttf"))
    capsys.readouterr()
    try:
        code = main(["data", "info", "emoji"])
    except SystemExit as e:
        code = int(e.code or 0)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("gankit: error: "), err
    assert "emoji font not found" in err and "`apt-get install fonts-noto-color-emoji`" in err, err
    assert str(tmp_path / "absent.ttf") in err
    assert list(tmp_path.iterdir()) == []


def test_a_font_without_colour_bitmaps_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    bad = tmp_path / "plain.ttf"
    bad.write_bytes(b"\x00\x01\x00\x00" + bytes(64))
    with pytest.raises(DataError, match="is not a CBDT colour bitmap font"):
        DATASETS.build("emoji", {"path": str(bad)})
    assert not (tmp_path / "cache").exists()
