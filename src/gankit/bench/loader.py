"""The image-folder loader: decoding speed, batch reading speed and peak memory.

For each side in ``sizes`` the bench writes ``images`` JPEGs of that side (smooth random colour
fields, quality 90) into ``out``, then, each in a fresh process so that its peak memory is its
own: decodes them into the uint8 archive (images/s, peak memory of the process and of its
decoding workers), reads ``batches`` random batches of ``batch`` images from the memory-mapped
archive as float32 (images/s, peak memory), and, with ``train_steps`` > 0, trains the ResNet
RpGAN recipe on the folder for that many steps (peak memory of the whole run).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import shutil
import time
from pathlib import Path
from typing import Any

from gankit.bench import BENCHMARKS
from gankit.bench.report import Column, command_from_options, environment, finish, machine_line, table

RUNTIME = ("6 min at the defaults on 2 cores at load 5 (writing 50,000 JPEGs: 22 s at 64, 82 s at 256; "
           "building the archives: 31 s and 179 s); docs/bench-loader.md")


def _write_jpegs(folder: str, start: int, stop: int, size: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(start)
    for i in range(start, stop):
        small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC).save(
            Path(folder) / f"{i:06d}.jpg", quality=90)


def make_folder(folder: Path, n: int, size: int, workers: int) -> float:
    """``n`` JPEGs of ``size x size`` in ``folder`` (kept if already complete); seconds taken."""
    if folder.is_dir() and len(list(folder.glob("*.jpg"))) == n:
        return 0.0
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    t = time.perf_counter()
    step = -(-n // workers)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers) as pool:
        pool.starmap(_write_jpegs, [(str(folder), i, min(n, i + step), size) for i in range(0, n, step)])
    return time.perf_counter() - t


def _peak_mb() -> tuple[float, float]:
    """Peak resident memory (MB) of this process and of its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, kids


def _decode(folder: str, size: int, workers: int, cache: str, queue: Any) -> None:
    os.environ["GANKIT_CACHE_DIR"] = cache
    from gankit.data.archive import prepare

    t = time.perf_counter()
    prepare(Path(folder), size=size, channels=3, workers=workers, progress=False)
    queue.put({"seconds": time.perf_counter() - t, "peak_mb": _peak_mb()})


def _read(folder: str, size: int, batch: int, batches: int, cache: str, queue: Any) -> None:
    os.environ["GANKIT_CACHE_DIR"] = cache
    import torch

    from gankit.data.archive import folder_source

    t = time.perf_counter()
    src = folder_source(folder, size=size, channels=3, flip=True)
    opened = time.perf_counter() - t
    g = torch.Generator().manual_seed(0)
    t = time.perf_counter()
    for _ in range(batches):
        x, _ = src.sample(batch, g)
    queue.put({"open_s": opened, "seconds": time.perf_counter() - t, "peak_mb": _peak_mb(), "dtype": str(x.dtype)})


def _train(folder: str, size: int, steps: int, cache: str, queue: Any) -> None:
    os.environ["GANKIT_CACHE_DIR"] = cache
    import tempfile

    from gankit.session import train

    cfg = {"data": {"name": "folder", "path": folder, "size": size}, "loss": "rpgan",
           "penalty": {"name": "r1r2", "gamma": 0.05}, "prior": "normal", "latent_dim": 64,
           "generator": {"name": "resnet", "width": 32}, "discriminator": {"name": "resnet", "width": 32},
           "train": {"steps": steps, "batch_size": 32, "progress": False, "log_every": steps},
           "eval": {"metrics": [], "num_samples": 64}}
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        train(cfg, run_dir=Path(d) / "run")
    queue.put({"seconds": time.perf_counter() - t, "peak_mb": _peak_mb()})


def _in_fresh_process(fn: Any, *args: Any) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    p = ctx.Process(target=fn, args=(*args, queue))
    p.start()
    result = queue.get()
    p.join()
    return result


@BENCHMARKS.register("loader", summary="image-folder loader: decode and batch images/s, peak memory",
                     runtime=RUNTIME)
def loader_bench(*, images: int = 50_000, sizes: list[int] = (64, 256), batch: int = 64, batches: int = 200,
                 workers: int = 0, train_steps: int = 0, out: str = "runs/bench/loader") -> list[dict[str, Any]]:
    """Decode ``images`` generated JPEGs per side in ``sizes`` into the uint8 archive, read
    ``batches`` random batches of ``batch``, and (``train_steps`` > 0) train on the folder;
    images/s and peak memory of each, every measurement in a fresh process."""
    root = Path(out)
    workers = workers or min(os.cpu_count() or 1, 8)
    env = environment(workers=workers)
    rows = []
    for size in sizes:
        folder = root / f"jpeg-{size}"
        cache = str(root / f"cache-{size}")
        shutil.rmtree(cache, ignore_errors=True)
        written = make_folder(folder, images, size, workers)
        dec = _in_fresh_process(_decode, str(folder), size, workers, cache)
        rd = _in_fresh_process(_read, str(folder), size, batch, batches, cache)
        row = {"size": size, "images": images, "write_s": round(written, 1),
               "decode_img_s": round(images / dec["seconds"], 1), "decode_peak_mb": round(dec["peak_mb"][0]),
               "decode_worker_peak_mb": round(dec["peak_mb"][1]), "open_cached_s": round(rd["open_s"], 2),
               "read_img_s": round(batch * batches / rd["seconds"], 1), "read_peak_mb": round(rd["peak_mb"][0]),
               "archive_mb": round(sum(p.stat().st_size for p in Path(cache).rglob("*.npy")) / 2**20)}
        if train_steps:
            tr = _in_fresh_process(_train, str(folder), size, train_steps, cache)
            row.update(train_steps=train_steps, train_s=round(tr["seconds"], 1), train_peak_mb=round(tr["peak_mb"][0]))
        rows.append(row)
        print(json.dumps(row))
    _write(root, rows, images, batch, batches, finish(env), train_steps)
    return rows


def _write(root: Path, rows: list[dict[str, Any]], images: int, batch: int, batches: int, env: dict[str, Any],
           train_steps: int) -> None:
    options = {"images": images, "batch": batch, "batches": batches, "train_steps": train_steps}
    columns = [Column(c, lambda r, c=c: str(r.get(c, ""))) for c in (rows[0] if rows else [])]
    lines = [f"`{command_from_options('loader', options)}`", "", f"machine: {machine_line(env)}", "",
             *table(columns, rows)]
    root.mkdir(parents=True, exist_ok=True)
    (root / "loader.md").write_text("\n".join(lines) + "\n")
    (root / "loader.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(lines))
