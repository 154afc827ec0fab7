"""MGAN: K generators, a classifier that tells them apart, and a discriminator (Hoang et al.
2018, "MGAN: Training Generative Adversarial Nets with Multiple Generators").

The generators share every parameter but their input layer. The classifier C shares the
discriminator's body and adds a K-way head; D and C are trained together, and C and the
generators minimise the cross-entropy of C's guess of which generator made a sample:

    min_{G_1..K, C} max_D  E_data log D(x) + E_{x ~ p_model} log(1 - D(x))
                           - β Σ_k π_k E_{x ~ p_Gk} log C_k(x),       p_model = Σ_k π_k p_Gk.

For fixed generators the optimal classifier is C*_k(x) = π_k p_Gk(x) / p_model(x), and at D*
and C* the objective is

    -log 4 + 2 JSD(p_data || p_model) - β JSD_π(p_G1, ..., p_GK) + β H(π):

the generators are pushed onto the data *and* apart from each other, which is what fights
mode collapse. Here π is uniform and the batch is split evenly: row i of every generated
batch comes from generator ``i mod K`` (a stratified draw of the uniform mixture).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.registry import Count, NonNegative
from gankit.mitigations.base import MITIGATIONS, Mitigation

HOANG = "Hoang et al. 2018, 'MGAN: Training Generative Adversarial Nets with Multiple Generators'"


def generator_index(n: int, k: int, device: torch.device | str = "cpu") -> Tensor:
    """Which generator made each row of a batch of ``n``: ``i mod k``."""
    return torch.arange(n, device=device) % k


class PerGeneratorInput(nn.Module):
    """K copies of a generator's input layer; row i goes through copy ``i mod K``."""

    def __init__(self, layer: nn.Module, k: int) -> None:
        super().__init__()
        self.k = k
        self.layers = nn.ModuleList([layer] + [_fresh_copy(layer) for _ in range(k - 1)])

    def forward(self, h: Tensor) -> Tensor:
        idx = generator_index(h.shape[0], self.k, h.device)
        parts = [self.layers[j](h[idx == j]) for j in range(self.k)]
        out = h.new_empty((h.shape[0], *parts[0].shape[1:]))
        for j, part in enumerate(parts):
            out[idx == j] = part
        return out


def _fresh_copy(layer: nn.Module) -> nn.Module:
    """An independently initialised copy of a Linear / ConvTranspose2d input layer."""
    import copy

    c = copy.deepcopy(layer)
    if isinstance(c, nn.ConvTranspose2d):  # DCGAN's N(0, 0.02) initialisation
        nn.init.normal_(c.weight, 0.0, 0.02)
        if c.bias is not None:
            nn.init.zeros_(c.bias)
    elif hasattr(c, "reset_parameters"):
        c.reset_parameters()
    return c


class MGANCritic(nn.Module):
    """D (its own head) and C (a K-way head) on D's shared body ``phi``."""

    def __init__(self, D: nn.Module, k: int) -> None:
        super().__init__()
        if not hasattr(D, "phi") or not hasattr(D, "feature_dim"):
            raise ConfigError(f"mitigation 'mgan' needs a discriminator with a shared body (mlp, dcgan); "
                              f"{type(D).__name__} has none")
        self.inner, self.k = D, k
        self.classifier = nn.Linear(int(D.feature_dim), k)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.inner(x, y)

    def classify(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """C's logits ``(B, K)``: which generator made each sample."""
        return self.classifier(self.inner.phi(x, y).reshape(x.shape[0], -1))


def classifier_loss(logits: Tensor, index: Tensor) -> Tensor:
    """``-Σ_k π_k E_{p_Gk} log C_k`` for a batch split evenly among the generators: the mean
    cross-entropy of C's logits ``(B, K)`` against the generator index ``(B,)``."""
    return F.cross_entropy(logits, index)


def optimal_objective(jsd_data_model: float, jsd_generators: float, beta: float, k: int) -> float:
    """The MGAN objective at D* and C* with uniform π (Hoang et al. 2018, Theorem 2)."""
    return -math.log(4.0) + 2.0 * jsd_data_model - beta * jsd_generators + beta * math.log(k)


class MGAN(Mitigation):
    name = "mgan"

    def __init__(self, generators: int, beta: float) -> None:
        if generators < 2:
            raise ConfigError(f"mitigations.mgan.generators must be >= 2, got {generators}")
        self.k, self.beta = generators, beta

    def wrap_generator(self, G: nn.Module, recipe: Any) -> nn.Module:
        if hasattr(G, "net") and isinstance(G.net[0], nn.Linear):       # MLP
            G.net[0] = PerGeneratorInput(G.net[0], self.k)
        elif hasattr(G, "convs") and isinstance(G.convs[0], nn.ConvTranspose2d):  # DCGAN
            G.convs[0] = PerGeneratorInput(G.convs[0], self.k)
        else:
            raise ConfigError(f"mitigation 'mgan' needs an mlp or dcgan generator, not {type(G).__name__}")
        return G

    def wrap_discriminator(self, D: nn.Module, recipe: Any) -> nn.Module:
        return MGANCritic(D, self.k)

    def _loss(self, recipe: Any, fake: Tensor, y: Tensor | None) -> Tensor:
        critic: MGANCritic = recipe.D
        logits = critic.classify(recipe.d_input(fake), y).float()
        return self.beta * classifier_loss(logits, generator_index(fake.shape[0], self.k, fake.device))

    def d_extra_loss(self, recipe: Any, real: Tensor, fake: Tensor, y: Tensor | None) -> Tensor:
        return self._loss(recipe, fake, y)   # C learns to tell the generators apart

    def g_extra_loss(self, recipe: Any, fake: Tensor, y: Tensor | None, z: Tensor) -> Tensor:
        return self._loss(recipe, fake, y)   # ... and the generators to be told apart


@MITIGATIONS.register("mgan", paper=HOANG)
def mgan(*, generators: Count = 10, beta: NonNegative = 0.125) -> MGAN:
    """K generators sharing all but their input layer, a classifier head on D that tells them
    apart, and beta times its cross-entropy in D's and G's losses."""
    return MGAN(generators, beta)
