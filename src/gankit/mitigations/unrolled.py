"""Unrolled GAN (Metz, Poole, Pfau & Sohl-Dickstein 2017, "Unrolled Generative Adversarial Networks").

The generator's loss is taken against ``D`` after ``k`` further discriminator updates,
``f_K(theta_G, theta_D) = f(theta_G, theta_D^k)`` with
``theta_D^{i+1} = theta_D^i - eta * update(grad_{theta_D} L_D(theta_G, theta_D^i))``, and G
differentiates *through* the updates (the second term of Metz et al.'s eq. 12), so it
anticipates how D would answer a collapse. The real discriminator is not changed: its
own phase trains it as usual.

The unrolled parameters are plain tensors passed to :func:`torch.func.functional_call`;
each update is built with ``create_graph=True``. ``adam`` repeats ``torch.optim.Adam``'s
update from the live optimiser's moments (read, never copied or stepped), as Metz et al.'s
code unrolls their Adam; ``sgd`` is ``theta - lr * grad``. With ``k = 0`` the generator sees
D itself, so its gradient is exactly the plain one.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor
from torch.func import functional_call

from gankit.errors import ConfigError
from gankit.mitigations.base import MITIGATIONS, CriticFn, Mitigation
from gankit.registry import NonNegativeInt, Positive

METZ = "Metz, Poole, Pfau & Sohl-Dickstein 2017, 'Unrolled Generative Adversarial Networks'"

Params = dict[str, Tensor]


def _d_optimizer(recipe: Any) -> torch.optim.Optimizer:
    for ph in recipe.trainer.phases:
        if ph.name == "D":
            return ph.optimizer
    raise ConfigError("mitigations.unrolled needs a learned discriminator")


class Unrolled(Mitigation):
    """The generator's critic is D after ``k`` differentiable discriminator updates."""

    name = "unrolled"

    def __init__(self, k: int, lr: float | None, optimizer: str) -> None:
        self.k, self.lr, self.optimizer = k, lr, optimizer

    def generator_critic(self, critic: CriticFn, recipe: Any) -> CriticFn:
        if self.k == 0:
            return critic
        D = recipe.D
        params = unroll(recipe, self.k, lr=self.lr, optimizer=self.optimizer)

        def unrolled(x: Tensor, y: Tensor | None) -> Tensor:
            return functional_call(D, params, (recipe.d_input(x), y))

        return unrolled


def unroll(recipe: Any, k: int, *, lr: float | None = None, optimizer: str = "auto") -> Params:
    """``theta_D^k`` as tensors that depend differentiably on G's parameters.

    Each step draws a fresh real batch and fake batch ``G(z)`` (kept in G's graph) and takes
    one update of D's loss (objective + penalty) at the current unrolled parameters.
    """
    D = recipe.D
    opt = _d_optimizer(recipe)
    group = opt.param_groups[0]
    eta = group["lr"] if lr is None else lr
    kind = optimizer if optimizer != "auto" else ("adam" if isinstance(opt, torch.optim.Adam) else "sgd")
    live = dict(D.named_parameters())
    params: Params = {n: p.detach().requires_grad_(True) for n, p in live.items()}
    moments = _adam_moments(opt, live) if kind == "adam" else None
    for _ in range(k):
        grads = _d_grads(recipe, params)
        if moments is None:
            params = {n: p - eta * g for (n, p), g in zip(params.items(), grads)}
        else:
            params = _adam_step(params, grads, moments, eta, group)
    return params


def _d_grads(recipe: Any, params: Params) -> tuple[Tensor, ...]:
    real, y = recipe.real_batch()
    z = recipe.prior.sample(real.shape[0], device=recipe.device)
    fake = recipe.G(z, y)                                             # in G's graph on purpose

    def critic(x: Tensor) -> Tensor:
        return functional_call(recipe.D, params, (recipe.d_input(x), y))

    loss = recipe.objective.d_loss(critic(real), critic(fake))
    if recipe.penalty.loss is not None:
        loss = loss + recipe.penalty.loss(critic, real, fake)
    return torch.autograd.grad(loss, list(params.values()), create_graph=True)


def _adam_moments(opt: torch.optim.Optimizer, live: dict[str, torch.nn.Parameter]) -> dict[str, list[Any]]:
    """``name -> [exp_avg, exp_avg_sq, step]`` read from the live optimiser (zeros before its first step)."""
    out = {}
    for n, p in live.items():
        st = opt.state.get(p, {})
        m = st.get("exp_avg", torch.zeros_like(p)).detach()
        v = st.get("exp_avg_sq", torch.zeros_like(p)).detach()
        out[n] = [m, v, float(st.get("step", 0))]
    return out


def _adam_step(params: Params, grads: tuple[Tensor, ...], moments: dict[str, list[Any]], lr: float,
               group: dict[str, Any]) -> Params:
    """One differentiable Adam update (Kingma & Ba 2015), as ``torch.optim.Adam`` computes it."""
    b1, b2 = group["betas"]
    eps = group["eps"]
    new = {}
    for (n, p), g in zip(params.items(), grads):
        m, v, t = moments[n]
        t += 1
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        # clamp keeps d sqrt(v)/dv finite where a gradient is exactly 0 (dead ReLU rows)
        denom = (v.clamp_min(1e-30).sqrt() / (1 - b2**t) ** 0.5) + eps
        new[n] = p - lr / (1 - b1**t) * m / denom
        moments[n] = [m, v, t]
    return new


@MITIGATIONS.register("unrolled", paper=METZ)
def unrolled(*, k: NonNegativeInt = 5, lr: Positive | None = None,
             optimizer: Literal["auto", "adam", "sgd"] = "auto") -> Mitigation:
    """Unrolled GAN: G's loss differentiates through k unrolled D updates (lr: D's by default)."""
    return Unrolled(k, lr, optimizer)
