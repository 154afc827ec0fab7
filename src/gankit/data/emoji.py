"""``emoji``: the colour glyphs of Google's Noto Color Emoji font as an RGB image data set.

The font (Debian's ``fonts-noto-color-emoji``) is a CBDT bitmap font: every glyph is a
136x128 RGBA PNG in its one strike (109 ppem). The images are those bitmaps, decoded with
Pillow, alpha-composited onto a plain ``background`` (white by default) on a centred
136x136 square and resized to ``size`` with Lanczos filtering: the pixels FreeType (and so
``ImageFont.truetype(font, 109)`` with ``embedded_color=True``) draws for the same glyph.

Which glyphs: one image per distinct bitmap the font maps a codepoint or a sequence to
(its ``cmap``, and the ligatures of its ``GSUB`` table for ZWJ sequences, skin tones, flags
and keycaps; read with fontTools, which matplotlib already depends on), in the font's glyph
order. Left out are glyphs only reachable from a lone component that is not an emoji by
itself: ASCII (keycap bases), U+20E3, the 26 regional indicators, the skin-tone and hair
components, private-use codepoints, and the unknown-flag glyph of an empty tag sequence.
fonts-noto-color-emoji 2.042 (Debian 12) gives 3,877 images.

Labels (``labels=group``): the nine groups of Unicode's ``emoji-test.txt`` (UTS #51; Debian's
``unicode-data``), matched on any sequence of the glyph with U+FE0F ignored. Glyphs that file
does not list (emoji newer than it: 230 with unicode-data 15.0 and the font above) are left
out of the labelled set, which then holds 3,647 images.

Rendering takes a few seconds, so the images are cached as a compressed uint8 ``.npz`` under
``$GANKIT_CACHE_DIR/emoji`` (default ``~/.cache/gankit/emoji``), keyed by the font file's
SHA-256, the size and the background.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from gankit.data.base import DATASETS, TensorSource
from gankit.data.images import to_unit_range
from gankit.errors import DataError

FONT_PATHS = ("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",)
EMOJI_TEST_PATHS = ("/usr/share/unicode/emoji/emoji-test.txt",)
FONT_ENV = "GANKIT_EMOJI_FONT"   # a font file to use instead of the system one
BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0)}
CACHE_FORMAT = 1                 # bump when the rendering or the choice of glyphs changes: old caches are ignored
VS16, ZWJ = 0xFE0F, 0x200D

Sequence = tuple[int, ...]


class EmojiSource(TensorSource):
    """A :class:`TensorSource` that also knows each image's codepoint sequences:
    ``sequences[i]`` lists them as hex, e.g. ``"1F1FA 1F1F2|1F1FA 1F1F8"`` (aliases split by ``|``)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, *, sequences: list[str], **kwargs: Any) -> None:
        super().__init__(x, y, **kwargs)
        self.sequences = sequences


# --------------------------------------------------------------------------- the font

def find_font(path: str | None = None) -> Path:
    """The font file: ``path``, else ``$GANKIT_EMOJI_FONT``, else Debian's; one-line error if absent."""
    explicit = path or os.environ.get(FONT_ENV)
    candidates = [Path(explicit).expanduser()] if explicit else [Path(p) for p in FONT_PATHS]
    for p in candidates:
        if p.is_file():
            return p
    searched = ", ".join(map(str, candidates))
    raise DataError(f"emoji font not found (searched {searched}): install it with "
                    "`apt-get install fonts-noto-color-emoji`")


def _open_font(path: Path) -> Any:
    try:
        from fontTools.ttLib import TTFont
    except ImportError:
        raise DataError("data set emoji reads the font with fontTools: `pip install fonttools`") from None
    try:
        font = TTFont(path, lazy=True)
        strikes = font["CBDT"].strikeData
    except Exception as e:  # fontTools raises TTLibError, KeyError, struct.error, ... on other files
        raise DataError(f"{path} is not a CBDT colour bitmap font such as Noto Color Emoji ({e})") from None
    if len(strikes) != 1:
        raise DataError(f"{path}: expected one bitmap strike, found {len(strikes)}")
    return font


def _excluded(seq: Sequence) -> bool:
    """A lone codepoint that is only a component of emoji, or an empty tag sequence (module docstring)."""
    if len(seq) == 2 and 0xE007F in seq:  # a tag sequence without tags (either order): the unknown-flag glyph
        return True
    if len(seq) != 1:
        return False
    c = seq[0]
    return (c < 0x80 or c == 0x20E3 or 0x1F1E6 <= c <= 0x1F1FF or 0x1F3FB <= c <= 0x1F3FF
            or 0x1F9B0 <= c <= 0x1F9B3 or 0xE000 <= c <= 0xF8FF or c >= 0xF0000)


def glyph_sequences(font: Any) -> dict[str, list[Sequence]]:
    """Bitmap glyph name -> the codepoint sequences that select it, sorted, in glyph order,
    for the glyphs the data set holds (excluded components left out)."""
    cmap = font.getBestCmap()
    first_cp: dict[str, Sequence] = {}
    for cp, glyph in sorted(cmap.items()):
        first_cp.setdefault(glyph, (cp,))
    reach: dict[str, set[Sequence]] = {}
    for cp, glyph in cmap.items():
        reach.setdefault(glyph, set()).add((cp,))
    for lookup in font["GSUB"].table.LookupList.Lookup:
        for sub in lookup.SubTable:
            for first, ligatures in (getattr(sub, "ligatures", None) or {}).items():
                for lig in ligatures:
                    parts = [first, *lig.Component]
                    if all(p in first_cp for p in parts):
                        reach.setdefault(lig.LigGlyph, set()).add(sum((first_cp[p] for p in parts), ()))
    strike = font["CBDT"].strikeData[0]
    return {g: sorted(reach[g]) for g in font.getGlyphOrder()
            if g in strike and g in reach and not all(_excluded(s) for s in reach[g])}


def _render_one(png: bytes, size: int, background: tuple[int, int, int]) -> np.ndarray:
    """One glyph bitmap -> uint8 ``(size, size, 3)``: composited, centred on a square, resized."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        glyph = im.convert("RGBA")
    side = max(glyph.size)
    canvas = Image.new("RGBA", (side, side), (*background, 255))
    canvas.alpha_composite(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    rgb = canvas.convert("RGB")
    if side != size:
        rgb = rgb.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(rgb, dtype=np.uint8)


def render(font_path: Path, size: int, background: str) -> tuple[np.ndarray, list[str]]:
    """All glyphs of the font: uint8 ``(N, size, size, 3)`` and each one's sequences (hex)."""
    font = _open_font(font_path)
    strike = font["CBDT"].strikeData[0]
    glyphs = glyph_sequences(font)
    bg = BACKGROUNDS[background]
    x = np.stack([_render_one(strike[g].imageData, size, bg) for g in glyphs])   # (N, size, size, 3)
    names = ["|".join(" ".join(f"{c:04X}" for c in s) for s in seqs) for seqs in glyphs.values()]
    return x, names


# --------------------------------------------------------------------------- the cache

def cache_dir() -> Path:
    """``$GANKIT_CACHE_DIR/emoji``, default ``~/.cache/gankit/emoji``."""
    root = os.environ.get("GANKIT_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "gankit")
    return Path(root) / "emoji"


def cache_file(font_path: Path, size: int, background: str) -> Path:
    digest = hashlib.sha256(font_path.read_bytes()).hexdigest()[:16]
    return cache_dir() / f"noto-{digest}-{size}px-{background}-v{CACHE_FORMAT}.npz"


def load_rendered(font_path: Path, size: int, background: str) -> tuple[np.ndarray, list[str]]:
    """:func:`render`'s result from the cache, rendering and caching it on a miss. A cache that
    cannot be read is rendered again; one that cannot be written is only warned about."""
    path = cache_file(font_path, size, background)
    try:
        with np.load(path, allow_pickle=False) as f:
            return f["x"], [str(s) for s in f["sequences"]]
    except (OSError, ValueError, KeyError):
        pass
    x, names = render(font_path, size, background)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez_compressed(f, x=x, sequences=np.array(names))
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as e:
        warnings.warn(f"emoji: cannot cache the rendered images in {path.parent} ({e.strerror or e}); "
                      "they will be rendered again next time", stacklevel=3)
    return x, names


# --------------------------------------------------------------------------- labels

def find_emoji_test() -> Path:
    for p in map(Path, EMOJI_TEST_PATHS):
        if p.is_file():
            return p
    raise DataError(f"emoji labels=group reads Unicode's emoji-test.txt (searched {', '.join(EMOJI_TEST_PATHS)}): "
                    "install it with `apt-get install unicode-data`")


def emoji_groups(path: Path) -> tuple[dict[Sequence, str], list[str]]:
    """``emoji-test.txt`` -> (sequence without U+FE0F -> group of its fully-qualified entry,
    groups in file order without "Component")."""
    groups: dict[Sequence, str] = {}
    order: list[str] = []
    group = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
            if group != "Component":
                order.append(group)
        if line.startswith("#") or ";" not in line:
            continue
        codes, rest = line.split(";", 1)
        if rest.split("#", 1)[0].strip() == "fully-qualified" and group != "Component":
            groups[tuple(int(c, 16) for c in codes.split() if int(c, 16) != VS16)] = group
    return groups, order


def group_labels(names: list[str], path: Path) -> tuple[np.ndarray, list[str]]:
    """Class index of each image (-1: not listed) and the class names."""
    groups, order = emoji_groups(path)
    index = {g: k for k, g in enumerate(order)}
    y = np.full(len(names), -1, dtype=np.int64)
    for i, aliases in enumerate(names):
        for alias in aliases.split("|"):
            seq = tuple(int(c, 16) for c in alias.split() if int(c, 16) != VS16)
            if seq in groups:
                y[i] = index[groups[seq]]
                break
    return y, order


@DATASETS.register("emoji", paper="Google Noto Color Emoji (SIL OFL 1.1); groups: Unicode emoji-test.txt (UTS #51)")
def emoji(*, path: str | None = None, size: Literal[8, 16, 32, 64, 128] = 32,
          background: Literal["white", "black"] = "white", labels: Literal["none", "group"] = "none") -> TensorSource:
    """Noto Color Emoji's glyphs as RGB images on a plain background: 3,877 with Debian 12's font
    (fonts-noto-color-emoji 2.042), no train/test split.

    ``size``: side in pixels, Lanczos from the 136 px bitmaps; ``background``: what shows through
    the glyphs' transparency; ``labels``: ``group`` for Unicode's 9 emoji groups (3,647 images,
    needs unicode-data); ``path``: a CBDT colour font other than the system's Noto Color Emoji."""
    font_path = find_font(path)
    emoji_test = find_emoji_test() if labels == "group" else None
    raw, names = load_rendered(font_path, size, background)
    y = None
    class_names: list[str] | None = None
    if emoji_test is not None:
        labelled, class_names = group_labels(names, emoji_test)
        keep = labelled >= 0
        if not keep.any():
            raise DataError(f"emoji labels=group: {emoji_test} lists none of the glyphs of {font_path}")
        raw, names, y = raw[keep], [n for n, k in zip(names, keep) if k], labelled[keep]
    x = to_unit_range(raw.transpose(0, 3, 1, 2), 255.0)                # (N, 3, size, size)
    return EmojiSource(x, None if y is None else torch.from_numpy(y), sequences=names, name="emoji",
                       num_classes=len(class_names or []), class_names=class_names)
