"""``gankit interpolate`` and ``gankit arithmetic``: walking a trained generator's latent space.

Arithmetic is a two-step workflow. ``--grid FILE.png`` writes numbered candidate samples
(latent ``i`` of ``--seed`` is the same in every call); pick three indices per concept and
run ``--a i,j,k --b ... --c ... --out FILE.png`` for ``mean(z_A) - mean(z_B) + mean(z_C)``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Annotated

from gankit.errors import ConfigError
from gankit.registry import Bounds, Count, NonNegative, Seed, coerce
from gankit.validate import check_output_file

# Latent i of seed s is drawn from seed 1_000_003 s + i (gankit.plotting.latent), so indices
# below the stride keep every seed's latents apart; grids hold at most MAX_IMAGES images.
MAX_INDEX = 999_999
MAX_IMAGES = 10_000
Index = Annotated[int, Bounds(ge=0, le=MAX_INDEX)]


INTERPOLATE_EPILOG = """\
examples:
  gankit interpolate runs/dcgan-ns-digits-20261122-090000 --out interp.png
  gankit interpolate RUN --out interp.png --spherical --steps 10 --pairs 6
  gankit interpolate RUN --out dresses.png --class Dress      # conditional runs: a class index or name
"""

ARITHMETIC_EPILOG = """\
examples:
  gankit arithmetic RUN --grid cands.png                      # step 1: numbered candidates
  gankit arithmetic RUN --a 3,7,12 --b 1,4,9 --c 2,5,8 --out result.png
  gankit arithmetic RUN --class Sneaker --grid cands.png --seed 2 -n 100
"""


def register(sub: argparse._SubParsersAction) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    i = sub.add_parser("interpolate", help="latent interpolation grid of a trained image GAN",
                       description="Rows of images along paths between pairs of seeded latents "
                                   "(first/last column: the two endpoints).",
                       epilog=INTERPOLATE_EPILOG, formatter_class=raw)
    i.add_argument("run_dir", metavar="RUN_DIR", help="a run directory of an image GAN")
    i.add_argument("--out", "-o", required=True, help="PNG file to write")
    i.add_argument("--steps", type=int, default=8, help="images per row, endpoints included (default 8)")
    i.add_argument("--pairs", type=int, default=4, help="rows, one pair of latents each (default 4)")
    i.add_argument("--class", dest="cls", metavar="CLASS",
                   help="class of every row, an index or a class name (conditional runs; default: row p uses "
                        "class p mod K)")
    i.add_argument("--seed", type=int, default=0, help="which latents (default 0)")
    i.add_argument("--spherical", action="store_true", help="slerp along the great circle instead of a line")
    i.set_defaults(func=run_interpolate)

    a = sub.add_parser("arithmetic", help="latent vector arithmetic: mean(z_A) - mean(z_B) + mean(z_C)",
                       description="Step 1: --grid FILE.png writes numbered candidates. Step 2: --a, --b, --c "
                                   "(three indices each, e.g. --a 3,7,12) and --out FILE.png write the result: "
                                   "rows A, B, C (exemplars and the image of their mean latent) and the result "
                                   "with noisy variations (Radford et al. 2016).",
                       epilog=ARITHMETIC_EPILOG, formatter_class=raw)
    a.add_argument("run_dir", metavar="RUN_DIR", help="a run directory of an image GAN")
    a.add_argument("--grid", help="write a numbered grid of candidate samples to this PNG and stop")
    a.add_argument("-n", type=int, default=64, help="number of candidates in --grid (default 64)")
    a.add_argument("--a", help="indices of concept A, comma-separated (e.g. 3,7,12)")
    a.add_argument("--b", help="indices of concept B (subtracted)")
    a.add_argument("--c", help="indices of concept C (added)")
    a.add_argument("--out", "-o", help="PNG file for the result")
    a.add_argument("--class", dest="cls", metavar="CLASS",
                   help="class of every sample, an index or a class name (conditional runs; default 0)")
    a.add_argument("--seed", type=int, default=0, help="which numbered latents (use the grid's seed)")
    a.add_argument("--noise", type=float, default=0.25, help="scale of the uniform noise of the variations")
    a.set_defaults(func=run_arithmetic)


def _png(path: str, option: str = "--out") -> Path:
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise ConfigError(f"output must be a .png file, got {p.name!r}")
    return check_output_file(p, option, (".png",))


def _grid_size(option: str, n: int) -> None:
    if n > MAX_IMAGES:
        raise ConfigError(f"{option} asks for {n} images; a grid holds at most {MAX_IMAGES}")


def _indices(text: str | None, name: str) -> list[int]:
    if text is None:
        raise ConfigError(f"--{name} is needed (comma-separated latent indices from --grid, e.g. 3,7,12)")
    try:
        out = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--{name} must be comma-separated integers, got {text!r}") from None
    if not out or min(out) < 0:
        raise ConfigError(f"--{name} must list latent indices >= 0, got {text!r}")
    if len(out) > MAX_IMAGES:
        raise ConfigError(f"--{name} lists {len(out)} indices; at most {MAX_IMAGES}")
    return [coerce(i, Index, f"--{name}") for i in out]


def _model(run_dir: str, cls: str | None = None):
    """The run's recipe, and ``--class`` as a label (an index or a class name)."""
    from gankit.cli.inspect import class_label
    from gankit.session.run import load_run

    run = load_run(run_dir)
    if run.data.kind != "images":
        raise ConfigError(f"{run_dir} was trained on {run.data.name!r}, not on images")
    return run.recipe, class_label(cls, run.data, run.recipe.num_classes)


def run_interpolate(args: argparse.Namespace) -> int:
    from gankit.plotting.latent import interpolate

    pairs, steps = coerce(args.pairs, Count, "--pairs"), coerce(args.steps, Annotated[int, Bounds(ge=2)], "--steps")
    _grid_size("--pairs x --steps", pairs * steps)
    coerce(args.seed, Seed, "--seed")
    out = _png(args.out)
    model, label = _model(args.run_dir, args.cls)
    res = interpolate(model, pairs=args.pairs, steps=args.steps, seed=args.seed, spherical=args.spherical,
                      label=label, out=out, labelled=True)
    how = "slerp" if args.spherical else "lerp"
    classes = "" if res.labels is None else f", classes {res.labels.tolist()}"
    print(f"wrote {args.pairs} x {args.steps} {how} interpolation (latents 2p -> 2p+1 of seed {args.seed}"
          f"{classes}) to {res.path}")
    return 0


def run_arithmetic(args: argparse.Namespace) -> int:
    from gankit.plotting.latent import arithmetic, candidates

    if args.grid is not None:
        if any(v is not None for v in (args.a, args.b, args.c, args.out)):
            raise ConfigError("--grid writes the candidates only; run again with --a/--b/--c/--out")
        coerce(args.n, Count, "-n")
        _grid_size("-n", args.n)
        coerce(args.seed, Seed, "--seed")
        path = _png(args.grid, "--grid")
        model, label = _model(args.run_dir, args.cls)
        candidates(model, args.n, seed=args.seed, label=label, out=path)
        print(f"wrote candidates 0..{args.n - 1} of seed {args.seed} to {path} (row-major, 8 per row); "
              f"next: gankit arithmetic {args.run_dir} --seed {args.seed} --a i,j,k --b ... --c ... --out FILE.png")
        return 0
    if args.out is None:
        raise ConfigError("give --grid FILE.png (candidates) or --a/--b/--c with --out FILE.png (result)")
    out = _png(args.out)
    a, b, c = _indices(args.a, "a"), _indices(args.b, "b"), _indices(args.c, "c")
    coerce(args.noise, NonNegative, "--noise")
    coerce(args.seed, Seed, "--seed")
    model, label = _model(args.run_dir, args.cls)
    res = arithmetic(model, a, b, c, seed=args.seed, label=label, noise=args.noise, out=out, labelled=True)
    print(f"wrote mean(z{a}) - mean(z{b}) + mean(z{c}) of seed {args.seed} to {res.path} "
          f"(rows A, B, C: exemplars then G(mean); last row: result, then noise +-{args.noise})")
    return 0
