"""The one training loop. It knows phases, not GANs.

A :class:`Phase` names the modules it updates, their optimiser, a function returning the
scalar to minimise, how many times it runs per training step (``repeats``: the k
discriminator steps of Goodfellow et al.'s Algorithm 1, WGAN's n_critic) and how often
(``every``: lazy regularisation). Every GAN variant in gankit, and the adversarial
autoencoder, is a list of phases built by a recipe; nothing else loops.

Updates are *alternating* (each phase sees the parameters the previous one produced) or
*simultaneous* (every phase's gradient is taken at the same parameters, then all step).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

# A phase's logs may be floats or 0-d tensors. Tensors stay on the device and are read back
# only when the run logs them (``train.log_every``): reading a CUDA tensor synchronises the
# host with the device, and doing that per phase per step stalls the queue.
Logs = dict[str, "Tensor | float"]
LossFn = Callable[[], tuple[Tensor, Logs]]

# A loss whose magnitude passes this is taken as divergence (Adam at lr 1e3 reaches ~1e35
# and stays finite); no objective in gankit comes near it in a healthy run.
EXPLODED = 1e10


def read_logs(logs: Logs) -> dict[str, float]:
    """Logs as plain floats (one host-device transfer for all the tensors)."""
    keys = [k for k, v in logs.items() if isinstance(v, Tensor)]
    out = {k: float(v) for k, v in logs.items() if not isinstance(v, Tensor)}
    if keys:
        values = torch.stack([logs[k].detach().float().reshape(()) for k in keys]).cpu().tolist()  # type: ignore[union-attr]
        out.update(zip(keys, values))
    return {k: out[k] for k in logs}


class Diverged(FloatingPointError):
    """A phase's loss became non-finite or exploded (|loss| > :data:`EXPLODED`)."""


@dataclasses.dataclass
class Phase:
    """One kind of update.

    Attributes:
        name: label used in logs ("D", "G", "recon", ...).
        modules: modules whose parameters this phase trains.
        optimizer: optimiser over exactly those parameters.
        loss_fn: draws its own batch and returns ``(loss, logs)``; ``loss`` is minimised.
        repeats: updates per training step.
        every: run only on steps divisible by this.
        after_step: callbacks after each optimiser step (weight clipping, EMA, ...).
    """

    name: str
    modules: Sequence[nn.Module]
    optimizer: torch.optim.Optimizer
    loss_fn: LossFn
    repeats: int = 1
    every: int = 1
    after_step: list[Callable[[], None]] = dataclasses.field(default_factory=list)

    def parameters(self) -> list[nn.Parameter]:
        return [p for m in self.modules for p in m.parameters()]


class Trainer:
    """Runs phases; owns the step counter and nothing else."""

    def __init__(self, phases: Sequence[Phase], *, update: str = "alternating",
                 grad_scaler: Any | None = None, lr_factor: Callable[[int], float] | None = None,
                 beta2_final: float | None = None, decay: Callable[[int], float] | None = None) -> None:
        if update not in ("alternating", "simultaneous"):
            raise ValueError(f"unknown update scheme {update!r}")
        self.phases = list(phases)
        self.update = update
        self.step = 0
        self._all = {id(p): p for ph in self.phases for p in ph.parameters()}
        self.scaler = grad_scaler
        # A pure function of the step (no scheduler state to checkpoint): lr = base_lr * factor(step).
        self.lr_factor = lr_factor
        self._base_lr = [[g["lr"] for g in ph.optimizer.param_groups] for ph in self.phases]
        # Adam's beta2 moves from each group's own value to beta2_final along ``decay`` (1 -> 0).
        self._beta2 = None if beta2_final is None or decay is None else [
            [ramp(decay, g["betas"][1], beta2_final) if "betas" in g else None for g in ph.optimizer.param_groups]
            for ph in self.phases]
        # The largest |loss| of each phase since the last check, kept on the device (NaN
        # propagates through torch.maximum); read by check_finite() at the logging cadence
        # and before every checkpoint, never inside a step.
        self._worst: dict[str, Tensor] = {}
        self._checked_step = 0

    def _only(self, phase: Phase) -> None:
        # Freeze everything but this phase's parameters: no wasted gradient work for the
        # other networks, and no stale gradients leaking across phases.
        mine = {id(p) for p in phase.parameters()}
        for pid, p in self._all.items():
            p.requires_grad_(pid in mine)

    def _backward(self, phase: Phase) -> Logs:
        self._only(phase)
        phase.optimizer.zero_grad(set_to_none=True)
        loss, logs = phase.loss_fn()
        size = loss.detach().abs().float()
        worst = self._worst.get(phase.name)
        self._worst[phase.name] = size if worst is None else torch.maximum(worst, size)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        return logs

    def _step(self, phase: Phase) -> None:
        if self.scaler is not None:
            self.scaler.step(phase.optimizer)  # unscales; skips the step on inf/nan gradients
        else:
            phase.optimizer.step()
        for cb in phase.after_step:
            cb()

    def _update_scale(self) -> None:
        # Once per set of gradients taken at one loss scale: after each alternating update,
        # after all simultaneous ones (their losses were scaled alike).
        if self.scaler is not None:
            self.scaler.update()

    def check_finite(self) -> None:
        """Raise :class:`Diverged` if any loss since the last check was non-finite or exploded.

        One host-device read for all phases; call it at the logging cadence and before a
        checkpoint is written, so no checkpoint ever holds a diverged state."""
        if not self._worst:
            return
        names = list(self._worst)
        worst = torch.stack([self._worst[n].reshape(()) for n in names]).cpu().tolist()
        self._worst.clear()
        since, self._checked_step = self._checked_step, self.step
        for name, w in zip(names, worst):
            if not math.isfinite(w) or w > EXPLODED:
                what = "non-finite" if not math.isfinite(w) else f"{w:.3g} (over {EXPLODED:.0e})"
                raise Diverged(f"phase {name}: loss {what} between steps {since} and {self.step}")

    def train_step(self) -> Logs:
        """One training step: every due phase, ``repeats`` times each. Returns merged logs
        (floats or device tensors: :func:`read_logs` turns them into floats)."""
        logs: Logs = {}
        if self.lr_factor is not None:
            f = self.lr_factor(self.step)
            for ph, base in zip(self.phases, self._base_lr):
                for g, lr in zip(ph.optimizer.param_groups, base):
                    g["lr"] = lr * f
        if self._beta2 is not None:
            for ph, ramps in zip(self.phases, self._beta2):
                for g, r in zip(ph.optimizer.param_groups, ramps):
                    if r is not None:
                        g["betas"] = (g["betas"][0], r(self.step))
        due = [ph for ph in self.phases if self.step % ph.every == 0]
        if self.update == "alternating":
            for ph in due:
                for _ in range(ph.repeats):
                    logs.update(self._backward(ph))
                    self._step(ph)
                    self._update_scale()
        else:
            grads: list[tuple[Phase, list[Tensor | None]]] = []
            for ph in due:
                logs.update(self._backward(ph))
                grads.append((ph, [None if p.grad is None else p.grad.clone() for p in ph.parameters()]))
            for ph, gs in grads:
                for p, g in zip(ph.parameters(), gs):
                    p.grad = g
                self._step(ph)
            self._update_scale()
        for p in self._all.values():
            p.requires_grad_(True)
        self.step += 1
        return logs

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step,
                "optimizers": {ph.name: ph.optimizer.state_dict() for ph in self.phases},
                "scaler": None if self.scaler is None else self.scaler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = self._checked_step = int(state["step"])
        for ph in self.phases:
            # how the update runs (fused, foreach) is this process's choice, not the checkpoint's:
            # a checkpoint written on a GPU with fused Adam resumes on a CPU and back
            how = [{k: g.get(k) for k in ("fused", "foreach", "capturable", "differentiable")}
                   for g in ph.optimizer.param_groups]
            ph.optimizer.load_state_dict(state["optimizers"][ph.name])
            for g, h in zip(ph.optimizer.param_groups, how):
                g.update(h)
        if self.scaler is not None and state.get("scaler") is not None:
            self.scaler.load_state_dict(state["scaler"])


def ramp(decay: Callable[[int], float] | None, start: float, end: float) -> Callable[[int], float]:
    """A value moving from ``start`` to ``end`` along a decay schedule ``decay`` (1 -> 0, e.g.
    :func:`lr_factor`'s): ``end + (start - end) decay(s)``; ``start`` throughout without one."""
    if decay is None:
        return lambda s: start
    return lambda s: end + (start - end) * decay(s)


def ema_decay(half_life: float, rampup: float, batch: int, images_seen: int) -> float:
    """Per-update EMA decay for a half-life of ``half_life`` images (StyleGAN2's ``ema_kimg``):
    ``0.5 ** (batch / h)`` with ``h = min(half_life, rampup * images_seen)`` when ``rampup`` > 0, so
    the average forgets the random initialisation early in training."""
    h = min(half_life, rampup * images_seen) if rampup > 0 else half_life
    return 0.5 ** (batch / max(h, 1e-8))


def lr_factor(kind: str, total: int, extensions: Sequence[int] = ()) -> Callable[[int], float] | None:
    """Learning-rate multiplier at a step: constant, linear decay to 0, or cosine decay to 0.

    The schedule belongs to the run's planned length ``total`` (``train.steps``): stopping
    and resuming never changes it. A run extended past its plan (``gankit resume --steps``)
    appends a segment per extension, ``extensions`` being their end steps: each segment
    restarts the decay from the base learning rate over its own span, so the planned part of
    the run is exactly what it would have been without the extension.
    """
    if kind == "none":
        return None
    if kind not in ("linear", "cosine"):
        raise ValueError(f"unknown lr decay {kind!r}")
    bounds = [0, total, *extensions]
    if any(b <= a for a, b in zip(bounds, bounds[1:])):
        raise ValueError(f"schedule segments must increase: {bounds}")

    def factor(s: int) -> float:
        i = next((j for j in range(1, len(bounds)) if s < bounds[j]), len(bounds) - 1)
        a, b = bounds[i - 1], bounds[i]
        u = min(max(s - a, 0), b - a) / (b - a)
        return 1.0 - u if kind == "linear" else 0.5 * (1.0 + math.cos(math.pi * u))

    return factor


def lr_schedule(kind: str, total: int, extensions: Sequence[int] = (), final: float = 0.0
                ) -> Callable[[int], float] | None:
    """:func:`lr_factor`'s decay, ending at ``final`` (a fraction of the base rate) instead of 0."""
    decay = lr_factor(kind, total, extensions)
    return ramp(decay, 1.0, final) if decay is not None and final else decay


def make_optimizer(params: Any, name: str, lr: float, betas: tuple[float, float] = (0.5, 0.999),
                   momentum: float = 0.0, weight_decay: float = 0.0, *, fused: bool = False) -> torch.optim.Optimizer:
    """Adam (Kingma & Ba 2015), SGD or RMSprop by name. ``fused``: one kernel for the whole
    update (CUDA parameters), instead of a few per parameter tensor."""
    kw: dict[str, Any] = {"fused": True} if fused else {}
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay, **kw)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, **kw)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    from gankit.errors import ConfigError
    raise ConfigError(f"unknown optimizer {name!r}; choose one of: adam, sgd, rmsprop")


class EMA:
    """Exponential moving average of a module's weights (Karras et al. 2018; Yazici et al. 2019).

    Buffers (batch-norm statistics) are copied, not averaged.
    """

    def __init__(self, model: nn.Module, ema_model: nn.Module, decay: float, start: int = 0,
                 decay_at: Callable[[int], float] | None = None) -> None:
        self.model, self.ema_model, self.decay, self.start = model, ema_model, decay, start
        self.decay_at = decay_at   # a decay per step (a half-life in images), instead of ``decay``
        self.updates = 0
        for p in self.ema_model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, step: int) -> None:
        d = 0.0 if step < self.start else (self.decay if self.decay_at is None else self.decay_at(step))
        for pe, p in zip(self.ema_model.parameters(), self.model.parameters()):
            pe.lerp_(p.detach(), 1.0 - d)
        for be, b in zip(self.ema_model.buffers(), self.model.buffers()):
            be.copy_(b)
        self.updates += 1
