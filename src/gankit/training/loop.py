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
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

LossFn = Callable[[], tuple[Tensor, dict[str, float]]]


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
                 grad_scaler: Any | None = None, lr_factor: Callable[[int], float] | None = None) -> None:
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

    def _only(self, phase: Phase) -> None:
        # Freeze everything but this phase's parameters: no wasted gradient work for the
        # other networks, and no stale gradients leaking across phases.
        mine = {id(p) for p in phase.parameters()}
        for pid, p in self._all.items():
            p.requires_grad_(pid in mine)

    def _backward(self, phase: Phase) -> dict[str, float]:
        self._only(phase)
        phase.optimizer.zero_grad(set_to_none=True)
        loss, logs = phase.loss_fn()
        if not torch.isfinite(loss.detach()):
            raise FloatingPointError(f"phase {phase.name}: loss is {loss.item()} at step {self.step}")
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

    def train_step(self) -> dict[str, float]:
        """One training step: every due phase, ``repeats`` times each. Returns merged logs."""
        logs: dict[str, float] = {}
        if self.lr_factor is not None:
            f = self.lr_factor(self.step)
            for ph, base in zip(self.phases, self._base_lr):
                for g, lr in zip(ph.optimizer.param_groups, base):
                    g["lr"] = lr * f
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
        self.step = int(state["step"])
        for ph in self.phases:
            ph.optimizer.load_state_dict(state["optimizers"][ph.name])
        if self.scaler is not None and state.get("scaler") is not None:
            self.scaler.load_state_dict(state["scaler"])


def lr_factor(kind: str, total: int) -> Callable[[int], float] | None:
    """Learning-rate multiplier at a step: constant, linear decay to 0, or cosine decay to 0."""
    import math

    if kind == "none":
        return None
    if kind == "linear":
        return lambda s: max(0.0, 1.0 - s / total)
    if kind == "cosine":
        return lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, total) / total))
    raise ValueError(f"unknown lr decay {kind!r}")


def make_optimizer(params: Any, name: str, lr: float, betas: tuple[float, float] = (0.5, 0.999),
                   momentum: float = 0.0, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam (Kingma & Ba 2015), SGD or RMSprop by name."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    from gankit.errors import ConfigError
    raise ConfigError(f"unknown optimizer {name!r}; choose one of: adam, sgd, rmsprop")


class EMA:
    """Exponential moving average of a module's weights (Karras et al. 2018; Yazici et al. 2019).

    Buffers (batch-norm statistics) are copied, not averaged.
    """

    def __init__(self, model: nn.Module, ema_model: nn.Module, decay: float, start: int = 0) -> None:
        self.model, self.ema_model, self.decay, self.start = model, ema_model, decay, start
        self.updates = 0
        for p in self.ema_model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, step: int) -> None:
        d = 0.0 if step < self.start else self.decay
        for pe, p in zip(self.ema_model.parameters(), self.model.parameters()):
            pe.lerp_(p.detach(), 1.0 - d)
        for be, b in zip(self.ema_model.buffers(), self.model.buffers()):
            be.copy_(b)
        self.updates += 1
