"""``gankit bench speed``: training-step throughput against this machine's matmul peak.

Times one training step (one D update then one G update, the recipe's phases as
``gankit train`` runs them) of

* ``mlp-ring``: the default MLP GAN (width 256, depth 3) on the 8-mode ring, batch 256 points;
* ``dcgan-32`` / ``dcgan-64``: DCGAN (Radford et al. 2016, width 64, latent 100) on
  ``channels x S x S`` images, batch 64 (random images held in memory: timing only);

for every combination of ``precisions`` x ``compile`` (x ``channels_last`` for the
convolutional models). Per row: median milliseconds per step, images (points) per second,
the step's FLOPs counted by :class:`torch.utils.flop_counter.FlopCounterMode` (matrix
products and convolutions, forward and backward; counted eagerly: compilation changes
the kernels, not the arithmetic), the achieved GFLOP/s, and that as a fraction of the
peak of a large ``torch.mm`` in the row's dtype and in fp32, measured in the same run (on a
CPU without bf16 units a bf16 ``mm`` is slower than the bf16 convolutions, so the fp32
peak is the meaningful ceiling there). A second table
times the data path: a batch gathered from the device-resident tensor against a
``torch.utils.data.DataLoader`` over the same tensor.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from gankit.recipes.base import build_recipe as recipe_from_config
from gankit.bench import BENCHMARKS
from gankit.bench.report import Column, cpu_name, load_average, table, write
from gankit.errors import ConfigError

MODELS = ("mlp-ring", "dcgan-32", "dcgan-64")


# --------------------------------------------------------------------------- measuring

def matmul_peak(dtype: torch.dtype, *, n: int = 2048, repeats: int = 5, device: str = "cpu") -> float:
    """GFLOP/s of the fastest of ``repeats`` ``(n, n) @ (n, n)`` products: ``2 n^3 / t``."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device, dtype)
    b = torch.randn(n, n, generator=g).to(device, dtype)
    torch.mm(a, b)  # warm-up: thread pool, packing buffers
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of the matrix products and convolutions ``fn`` runs (forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def time_steps(step: Callable[[], Any], *, steps: int, warmup: int, device: str = "cpu") -> list[float]:
    """Seconds of each of ``steps`` calls after ``warmup`` untimed ones (compilation happens there)."""
    for _ in range(warmup):
        step()
    _sync(device)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def _sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


# --------------------------------------------------------------------------- the models

def model_config(model: str, *, precision: str = "fp32", compile: bool = False, channels_last: bool = False,
                 device: str = "cpu", mlp_batch: int = 256, dcgan_batch: int = 64) -> dict[str, Any]:
    """The training config of a benchmark model (a plain non-saturating GAN, one D step)."""
    train = {"precision": precision, "compile": compile, "channels_last": channels_last, "progress": False,
             "d_steps": 1, "ema": 0.0}
    if model == "mlp-ring":
        return {"device": device, "latent_dim": 2, "data": "ring",
                "generator": {"name": "mlp", "width": 256, "depth": 3},
                "discriminator": {"name": "mlp", "width": 256, "depth": 3},
                "train": {**train, "batch_size": mlp_batch}}
    if model in ("dcgan-32", "dcgan-64"):
        return {"device": device, "latent_dim": 100, "generator": {"name": "dcgan", "width": 64},
                "discriminator": {"name": "dcgan", "width": 64}, "train": {**train, "batch_size": dcgan_batch}}
    raise ConfigError(f"unknown speed model {model!r}; choose from {', '.join(MODELS)}")


def build_recipe(model: str, *, channels: int = 3, seed: int = 0, **options: Any) -> Any:
    """A :class:`~gankit.recipes.gan.GANRecipe` for ``model`` (random in-memory images for DCGAN)."""
    from gankit.config import build_config
    from gankit.data import DATASETS
    from gankit.data.base import TensorSource
    from gankit.recipes.gan import GANRecipe
    from gankit.session.run import pick_device

    cfg = build_config(model_config(model, **options))
    torch.manual_seed(seed)
    if model == "mlp-ring":
        data = DATASETS.build("ring", {})
    else:
        size = int(model.split("-")[1])
        x = torch.rand(4 * cfg.train.batch_size, channels, size, size, generator=torch.Generator().manual_seed(seed))
        data = TensorSource(x * 2 - 1, None, name=f"random{size}")
    return recipe_from_config(cfg, data, pick_device(cfg.device))


def step_flops(model: str, *, precision: str = "fp32", **options: Any) -> int:
    """FLOPs of one eager training step of ``model`` (the same whatever the layout or compilation)."""
    recipe = build_recipe(model, precision=precision, **options)
    return count_flops(recipe.trainer.train_step)


def measure(model: str, *, precision: str, compile: bool, channels_last: bool, steps: int, warmup: int,
            flops: int, tf32: bool = False, **options: Any) -> dict[str, Any]:
    """One table row: ms per step, items per second, FLOPs and GFLOP/s. ``tf32``: fp32 matmuls
    and convolutions on TF32 tensor cores (CUDA, Ampere and newer; no effect elsewhere)."""
    if compile:
        torch._dynamo.reset()  # a fresh recompile budget for each configuration
    from gankit.engine.fastpath import configure_backends

    configure_backends(torch.device(options.get("device", "cpu")), tf32=tf32)
    recipe = build_recipe(model, precision=precision, compile=compile, channels_last=channels_last, **options)
    times = time_steps(recipe.trainer.train_step, steps=steps, warmup=warmup, device=str(recipe.device))
    sec = statistics.median(times)
    gflops = flops / sec / 1e9
    batch = recipe.batch_size
    return {"model": model, "precision": precision if not (tf32 and precision == "fp32") else "tf32",
            "compile": compile, "channels_last": channels_last,
            "batch": batch, "ms_per_step": 1000 * sec, "ms_min": 1000 * min(times),
            "items_per_s": batch / sec, "flops": flops, "gflop_per_step": flops / 1e9, "gflops": gflops}


# --------------------------------------------------------------------------- the data path

def data_path_rows(*, size: int = 64, channels: int = 3, n: int = 4096, batch: int = 64, batches: int = 50) -> list[dict[str, Any]]:
    """Milliseconds per batch: gather from the resident tensor vs. DataLoader (0 and 2 workers)."""
    from torch.utils.data import DataLoader, TensorDataset

    from gankit.data.base import TensorSource

    x = torch.rand(n, channels, size, size)
    src = TensorSource(x, None, name="random")
    g = torch.Generator().manual_seed(0)
    rows = []
    t0 = time.perf_counter()
    for _ in range(batches):
        src.sample(batch, g)
    rows.append({"path": "resident tensor (gankit)", "ms_per_batch": 1000 * (time.perf_counter() - t0) / batches})
    for workers in (0, 2):
        loader = DataLoader(TensorDataset(x), batch_size=batch, shuffle=True, num_workers=workers, drop_last=True)
        t0 = time.perf_counter()
        it, k = iter(loader), 0
        while k < batches:
            try:
                next(it)
                k += 1
            except StopIteration:
                it = iter(loader)
        rows.append({"path": f"DataLoader, {workers} workers", "ms_per_batch": 1000 * (time.perf_counter() - t0) / batches})
    return rows


# --------------------------------------------------------------------------- the benchmark

# How long the benchmark runs at its defaults (`gankit bench NAME --help` says it).
RUNTIME = ('20 model x precision x compile x layout combinations of 7 steps at the defaults; a DCGAN-64 step'
           ' takes 1-14 s on one thread: about 15 min on a 2-core CPU at load 7 (estimated from '
           'docs/bench-speed.md)')


@BENCHMARKS.register("speed", summary="training-step throughput and FLOP/s vs the measured matmul peak",
                     runtime=RUNTIME)
def speed_bench(*, models: list[str] = MODELS, precisions: list[str] = ("fp32", "bf16"),
                compile: list[bool] = (False, True), channels_last: list[bool] = (False, True),
                steps: int = 5, warmup: int = 2, mlp_batch: int = 256, dcgan_batch: int = 64, channels: int = 3,
                matmul_size: int = 2048, device: str = "cpu", threads: int = 0, data_path: bool = True,
                tf32: bool = False, dcgan_batches: list[int] | None = None,
                out: str = "runs/bench/speed") -> list[dict[str, Any]]:
    """Time training steps of the MLP GAN and DCGAN-32/64 for each precision x compile x layout.

    ``threads`` > 0 sets torch's intra-op threads (0: torch's default). ``channels_last``
    applies to the convolutional models only. ``tf32``: also time fp32 with TF32 tensor
    cores (a ``tf32`` row; CUDA only). ``dcgan_batches``: several DCGAN batch sizes (default:
    ``dcgan_batch`` alone). Writes ``speed.md`` and ``speed.json`` to ``out``.
    """
    for m in models:
        model_config(m)  # unknown names fail before anything is timed
    if steps < 1 or warmup < 0:
        raise ConfigError("bench speed needs steps >= 1 and warmup >= 0")
    if threads > 0:
        torch.set_num_threads(threads)
    from gankit.engine.precision import DTYPES

    meta: dict[str, Any] = {"torch": torch.__version__, "threads": torch.get_num_threads(), "device": device,
                            "cpu": cpu_name(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                            "load_before": _load(), "steps": steps, "warmup": warmup}
    # fp32's peak always: without native bf16 units the fp32 FMA rate is the real ceiling
    measured = sorted(set(precisions) | {"fp32"}, key=list(DTYPES).index)
    peaks = {p: matmul_peak(DTYPES[p], n=matmul_size, device=device) for p in measured}
    rows = []
    for model in models:
        conv = model != "mlp-ring"
        for batch in (dcgan_batches or [dcgan_batch]) if conv else [dcgan_batch]:
            sizes = {"channels": channels, "device": device, "mlp_batch": mlp_batch, "dcgan_batch": batch}
            for prec in precisions:
                flops = step_flops(model, precision=prec, **sizes)
                for t32 in ((False, True) if tf32 and prec == "fp32" else (False,)):
                    for comp in compile:
                        for cl in (channels_last if conv else (False,)):
                            row = measure(model, precision=prec, compile=comp, channels_last=cl, steps=steps,
                                          warmup=warmup, flops=flops, tf32=t32, **sizes)
                            rows.append(row)
                            print(_row_line(row), flush=True)
    # Peaks again at the end: on a shared machine the spread shows how much the load moved,
    # and the better of the two is the machine's capacity the rows are compared with.
    peaks_after = {p: matmul_peak(DTYPES[p], n=matmul_size, device=device) for p in measured}
    best = {p: max(peaks[p], peaks_after[p]) for p in measured}
    for row in rows:
        row["peak_fraction"] = row["gflops"] / best["fp32" if row["precision"] == "tf32" else row["precision"]]
        row["fp32_peak_fraction"] = row["gflops"] / best["fp32"]
    meta.update(peak_gflops=peaks, peak_gflops_after=peaks_after, peak_gflops_best=best, load_after=_load())
    data = data_path_rows(channels=channels) if data_path else []
    meta["data_path_images"] = f"64 x {channels}x64x64"
    out_dir = Path(out)
    write(out_dir, "speed", {"meta": meta, "rows": rows, "data_path": data}, markdown(rows, data, meta))
    print(f"written: {out_dir / 'speed.md'}, {out_dir / 'speed.json'}")
    return rows


def _row_line(r: Mapping[str, Any]) -> str:
    return (f"{r['model']:<9} {r['precision']:<5} compile={int(r['compile'])} channels_last={int(r['channels_last'])} "
            f"{r['ms_per_step']:9.1f} ms/step {r['items_per_s']:9.0f}/s {r['gflops']:7.1f} GFLOP/s")


def _yes(key: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda r: "yes" if r[key] else "no"


ROWS = [Column("model", "model"), Column("precision", "precision"), Column("compile", _yes("compile")),
        Column("channels_last", _yes("channels_last")), Column("batch", "batch", align="right"),
        Column("ms/step", "ms_per_step", ".1f", "right"), Column("items/s", "items_per_s", ".0f", "right"),
        Column("GFLOP/step", "gflop_per_step", ".3f", "right"), Column("GFLOP/s", "gflops", ".1f", "right"),
        Column("% of own-dtype mm peak", lambda r: f"{100 * r['peak_fraction']:.1f}", align="right"),
        Column("% of fp32 mm peak", lambda r: f"{100 * r['fp32_peak_fraction']:.1f}", align="right")]


def markdown(rows: Sequence[Mapping[str, Any]], data: Sequence[Mapping[str, Any]], meta: Mapping[str, Any]) -> str:
    peaks, after = meta["peak_gflops"], meta["peak_gflops_after"]
    lines = [f"torch {meta['torch']}, {meta['cpu']} ({meta['cpu_capability']}), {meta['threads']} threads, "
             f"device {meta['device']}; load average {meta['load_before']} before, {meta['load_after']} after.",
             "",
             "Matmul peak (GFLOP/s, best of 5 square products), start / end of the run: "
             + ", ".join(f"{p} {peaks[p]:.1f} / {after[p]:.1f}" for p in peaks)
             + "; the rows' fractions use the better of the two.",
             "", *table(ROWS, rows)]
    if data:
        path = [Column(f"data path ({meta['data_path_images']} per batch)", "path"),
                Column("ms/batch", "ms_per_batch", ".2f", "right")]
        lines += ["", *table(path, data)]
    return "\n".join(lines) + "\n"


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in load_average()) or "n/a"
