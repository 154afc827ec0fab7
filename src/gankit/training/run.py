"""Run directories: train, resume, load, evaluate. The public API the CLI uses.

``runs/<name>/`` holds ``config.yaml`` (resolved), ``metrics.jsonl`` (logged during
training), ``metrics.json`` (final evaluation), plots, and ``checkpoint.pt`` with
everything needed to continue exactly: networks, EMA, optimisers, step, RNG states, data
position and the config.
"""

from __future__ import annotations

import contextlib
import json

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from gankit.config import Config, build_config, load_config
from gankit.data import DATASETS, DataSource
from gankit.errors import CheckpointError, ConfigError
from gankit.metrics import METRICS, EvalContext
from gankit.registry import Registry
from gankit.training import distributed
from gankit.training.checkpoint import load_checkpoint, rng_state, save_atomic, set_rng_state

RECIPES: Registry[Callable[..., Any]] = Registry("model", context=("cfg", "data", "device", "rank"))


def _register_recipes() -> None:
    from gankit.training.gan import GANRecipe

    if "gan" not in RECIPES:
        RECIPES.register("gan", summary="generator vs discriminator (every loss, network, mitigation)")(GANRecipe)
    from gankit.training.aae import AAERecipe

    if "aae" not in RECIPES:
        RECIPES.register("aae", summary="adversarial autoencoder: encoder vs a latent discriminator",
                         paper="Makhzani et al. 2015")(AAERecipe)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device {name!r} is not a torch device (auto, cpu, cuda, cuda:1, ...)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but no CUDA device is available (use device=auto or cpu)")
    return dev


def default_metrics(data: DataSource, inception: str | None = None) -> list[str]:
    if data.kind == "images":
        # Without labels there is no classifier to extract features: only Inception features remain.
        if not data.num_classes and inception is None:
            return []
        names = ("fid", "kid", "pr", "classes") if data.num_classes else ("fid", "kid", "pr")
        return [m for m in names if m in METRICS]
    if getattr(data, "dim", None) == 1:
        return ["jsd1d", "energy"]
    if hasattr(data, "means"):
        return ["modes", "energy"]
    return ["energy"]


class Run:
    """A training run bound to its directory.

    Under torchrun (:mod:`gankit.training.distributed`) every rank builds the same Run; only
    rank 0 (``is_main``) writes the directory, training logs are averaged over ranks and
    evaluations run on rank 0 and are broadcast.
    """

    def __init__(self, cfg: Config, run_dir: Path) -> None:
        _register_recipes()
        ctx = distributed.setup(cfg.device)
        self.cfg, self.dir, self.rank, self.world = cfg, Path(run_dir), ctx.rank, ctx.world
        self.device = distributed.device_for(pick_device(cfg.device), ctx)
        # The same seed on every rank: identical initial networks, EMA and RNG streams, so
        # rank 0's checkpoint restores every rank (gankit.training.distributed).
        torch.manual_seed(cfg.seed * 1000)
        self.data: DataSource = DATASETS.build(cfg.data.name, cfg.data.options)
        self.recipe = RECIPES.build(cfg.model, {}, cfg=cfg, data=self.data, device=self.device, rank=ctx.rank)
        if ctx.active and not getattr(self.recipe, "supports_distributed", False):
            raise ConfigError(f"model={cfg.model} does not support multi-process training yet; run one process")
        from gankit.validate import check_run

        check_run(cfg, self.data, self.recipe)
        self.history: list[dict[str, float]] = []
        self.metrics: dict[str, Any] = {}
        self.wall_time = 0.0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def step(self) -> int:
        return self.recipe.trainer.step

    # -- persistence ----------------------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        return {"format": 1, "config": self.cfg.to_dict(), **self.recipe.state_dict(),
                "rng": rng_state(), "wall_time": self.wall_time}

    def save_checkpoint(self) -> Path:
        """Rank 0 writes; every rank waits until the file is complete."""
        path = self.dir / "checkpoint.pt"
        if self.is_main:
            save_atomic(self.checkpoint_state(), path)
        distributed.barrier()
        return path

    def restore(self, state: Mapping[str, Any]) -> None:
        self.recipe.load_state_dict(state)
        set_rng_state(state["rng"])
        self.wall_time = float(state.get("wall_time", 0.0))

    # -- training -------------------------------------------------------------------------
    def fit(self, steps: int | None = None, *, callbacks: Iterable[Callable[[Run, dict[str, float]], None]] = ()) -> Run:
        """Train until ``steps`` total training steps (default: ``train.steps``)."""
        total = steps if steps is not None else self.cfg.train.steps
        t = self.cfg.train
        if self.is_main:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / "config.yaml").write_text(yaml.safe_dump(self.cfg.to_dict(), sort_keys=False))
        bar = _progress(self, total)
        writer = _tensorboard(self) if t.tensorboard and self.is_main else None
        log_path = self.dir / "metrics.jsonl"
        trainer = self.recipe.trainer
        start = time.perf_counter() - self.wall_time
        with contextlib.ExitStack() as stack:
            jsonl = stack.enter_context(open(log_path, "a")) if self.is_main else None
            while trainer.step < total:
                logs = trainer.train_step()
                step = trainer.step
                if step % t.log_every == 0 or step == total:
                    logs = distributed.mean_logs(logs)
                    row = {"step": step, **{k: round(v, 6) for k, v in logs.items()}}
                    self.history.append(row)
                    if jsonl is not None:
                        jsonl.write(json.dumps(row) + "\n")
                    if writer is not None:
                        for k, v in logs.items():
                            writer.add_scalar(f"train/{k}", v, step)
                    if bar is not None:
                        bar.set_postfix({k: f"{v:.3g}" for k, v in logs.items() if k in ("d_loss", "g_loss", "D(x)", "D(G(z))", "recon_mse")}, refresh=False)
                if bar is not None:
                    bar.update(1)
                for cb in callbacks:
                    cb(self, logs)
                if t.eval_every and step % t.eval_every == 0 and step < total:
                    m = self.evaluate_in_training()
                    if jsonl is not None:
                        jsonl.write(json.dumps({"step": step, "eval": m}) + "\n")
                    if writer is not None:
                        for k, v in m.items():
                            if isinstance(v, (int, float)):
                                writer.add_scalar(f"eval/{k}", v, step)
                if t.sample_every and step % t.sample_every == 0 and self.is_main:
                    self.save_samples(writer)
                if t.checkpoint_every and step % t.checkpoint_every == 0 and step < total:
                    self.wall_time = time.perf_counter() - start
                    self.save_checkpoint()
            self.wall_time = time.perf_counter() - start
        if bar is not None:
            bar.close()
        self.save_checkpoint()
        self.metrics = self.evaluate_in_training()
        self.metrics["step"] = trainer.step
        self.metrics["wall_time_s"] = round(self.wall_time, 3)
        if self.is_main:
            (self.dir / "metrics.json").write_text(json.dumps(self.metrics, indent=2) + "\n")
            self.plot()
        if writer is not None:
            for k, v in self.metrics.items():
                if isinstance(v, (int, float)):
                    writer.add_scalar(f"eval/{k}", v, trainer.step)
            writer.close()
        return self

    # -- evaluation -----------------------------------------------------------------------
    def eval_context(self) -> EvalContext:
        ev = self.cfg.eval
        seed = ev.seed

        def generate(n: int, labels: torch.Tensor | None) -> torch.Tensor:
            return self.recipe.generate(n, labels, seed=seed)

        return EvalContext(self.data, generate, num_samples=ev.num_samples, seed=seed, device=self.device,
                           cache={"inception": ev.inception, "conditional": bool(self.recipe.num_classes),
                                  "model": self.recipe,
                                  # the classifier trains on this data set's own train split, tests on its test split
                                  "dataset": {"name": self.cfg.data.name, "options": dict(self.cfg.data.options)}})

    def evaluate(self, metrics: Iterable[str] | None = None) -> dict[str, Any]:
        names = list(metrics) if metrics is not None else (self.cfg.eval.metrics or getattr(
            self.recipe, "default_metrics", None) or default_metrics(self.data, self.cfg.eval.inception))
        ctx = self.eval_context()
        out: dict[str, Any] = {}
        for name in names:
            out.update(METRICS.get(name)(ctx))
        for k, v in ctx.cache.items():
            if k == "feature_extractor":
                out[k] = v
        return out

    def save_samples(self, writer: Any = None) -> Path | None:
        """Grid of the fixed noise batch (same z every time, one row per class for conditional
        models) as ``samples/step_NNNNNN.png`` and, if enabled, in TensorBoard."""
        if self.data.kind != "images":
            return None
        from gankit.plotting.grid import image_grid, save_image_grid

        k = self.recipe.num_classes
        labels = torch.arange(k).repeat_interleave(10) if k else None
        n = 10 * k if k else 64
        imgs = self.recipe.generate(n, labels, seed=self.cfg.eval.seed)
        path = save_image_grid(imgs, self.dir / "samples" / f"step_{self.step:06d}.png", nrow=10 if k else 8)
        if writer is not None:
            writer.add_image("samples", image_grid(imgs, 10 if k else 8), self.step, dataformats="HWC")
        return path

    def evaluate_in_training(self) -> dict[str, Any]:
        """:meth:`evaluate` on rank 0, broadcast to every rank, leaving training's RNG
        streams and data position exactly as they were (so evaluating never changes the
        trajectory, and ranks stay in step)."""
        out: dict[str, Any] | None = None
        if self.is_main:
            data_state = self.data.state_dict()
            shard = getattr(self.data, "shard", None)
            if shard is not None:
                self.data.shard = (0, 1)  # metrics draw real data as one process
            devices = [self.device] if self.device.type == "cuda" else []
            try:
                with torch.random.fork_rng(devices=devices):
                    out = self.evaluate()
            finally:
                self.data.load_state_dict(data_state)
                if shard is not None:
                    self.data.shard = shard
        return distributed.broadcast_object(out)

    def plot(self) -> None:
        from gankit.plotting import runs as plots

        plots.plot_run(self)


def _progress(run: Run, total: int) -> Any:
    if not (run.cfg.train.progress and run.is_main):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=run.step, desc=run.dir.name, unit="step", dynamic_ncols=True, mininterval=0.5)


def _tensorboard(run: Run) -> Any:
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(run.dir / "tensorboard"))


def _new_run_dir(cfg: Config) -> Path:
    base = Path(cfg.out_dir)
    name = cfg.name or f"{cfg.data.name}-{cfg.loss.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path = base / name
    i = 2
    while path.exists() and cfg.name is None:
        path = base / f"{name}-{i}"
        i += 1
    return path


def train(config: Config | Mapping[str, Any] | None = None, *, overrides: Iterable[str] = (),
          run_dir: str | Path | None = None, **fit_kwargs: Any) -> Run:
    """Train a GAN. ``config``: a Config, a nested dict, or None for the default; ``overrides``:
    ``["loss=wgan", "train.steps=500"]``. Returns the finished :class:`Run`."""
    if isinstance(config, Config):
        cfg = config
    else:
        from gankit.config import load_preset, merge, parse_overrides

        base = load_preset("default") if config is None else dict(config)
        cfg = build_config(merge(base, parse_overrides(overrides)))
    if run_dir is None:  # one name for all ranks (the time stamp could differ between them)
        distributed.setup(cfg.device)
        run_dir = distributed.broadcast_object(str(_new_run_dir(cfg)))
    run = Run(cfg, Path(run_dir))
    if (run.dir / "checkpoint.pt").exists():
        raise ConfigError(f"{run.dir} already holds a run; use `gankit resume {run.dir}` or another name")
    return run.fit(**fit_kwargs)


def load_run(run_dir: str | Path) -> Run:
    """Rebuild a run from ``RUN_DIR/checkpoint.pt`` (for resume, sample, eval)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory not found: {run_dir}")
    state = load_checkpoint(run_dir / "checkpoint.pt")
    try:
        cfg = build_config(state["config"])
    except ConfigError as e:
        raise CheckpointError(f"{run_dir}/checkpoint.pt holds an invalid config: {e}") from None
    run = Run(cfg, run_dir)
    run.restore(state)
    return run


def resume(run_dir: str | Path, steps: int | None = None, **fit_kwargs: Any) -> Run:
    """Continue a run exactly where it stopped; ``steps`` is the new total (default: the config's)."""
    run = load_run(run_dir)
    if steps is not None:
        if steps < run.step:
            raise ConfigError(f"--steps {steps} is below the run's current step {run.step}")
        run.cfg.train.steps = steps
        # The learning-rate schedule spans the new total.
        from gankit.training.loop import lr_factor

        run.recipe.trainer.lr_factor = lr_factor(run.cfg.train.lr_decay, steps)
    return run.fit(steps, **fit_kwargs)


__all__ = ["RECIPES", "Run", "load_config", "load_run", "resume", "train"]
