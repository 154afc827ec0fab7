"""What a trained model or a data source can do, declared by the class that does it.

Recipes and data sources inherit the classes below for each thing they can do, and code
that needs one asks ``isinstance(recipe, Encodes)`` instead of probing for a method. The
classes are :class:`abc.ABC` s with abstract methods, not ``typing.Protocol`` s: a
protocol's ``isinstance`` is itself a ``hasattr`` probe, and would call AC-GAN's
``classify`` a semi-supervised classifier or a recipe's inherited method a capability of its
own. An ABC is nominal: a class can do what it says it can do, and a class that says so
but lacks a method fails when it is built, not when a metric first asks.

Attributes a capability reads that its classes set per instance (``prior``, ``codes``,
``objective``, ``test``) are declared as annotations; methods are abstract.

This module is low in the package: it imports nothing of gankit.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from torch import Tensor


# --------------------------------------------------------------------------- trained models

class Generates(ABC):
    """A trained model that draws samples: every recipe.

    It also carries what a run reads of every model: ``num_classes`` (labels that
    ``generate`` accepts; 0: none), ``supports_distributed`` (the recipe trains under
    torchrun) and ``default_metrics`` (the metrics its evaluation computes unless
    ``eval.metrics`` names some; None: the data set's defaults,
    :func:`gankit.metrics.defaults.default_metrics`)."""

    num_classes: int = 0
    supports_distributed: ClassVar[bool] = False
    default_metrics: tuple[str, ...] | list[str] | None = None

    @abstractmethod
    def generate(self, n: int, labels: Tensor | None = None, *, seed: int | None = None) -> Tensor:
        """``n`` samples ``(n, *shape)`` on the CPU, for ``labels (n,)`` when given."""


class DrawsSampleGrid(ABC):
    """A model that draws its own picture of its samples (translation: input | output |
    target; InfoGAN: a row per code value). Image runs only: a run of point data draws
    its scatter plot instead."""

    @abstractmethod
    def sample_grid(self, n: int, *, seed: int | None = None) -> tuple[Tensor, int]:
        """``(images (m, C, H, W), columns)`` for a picture of about ``n`` samples."""

    def sample_grid_labels(self, m: int, columns: int) -> tuple[list[str] | None, list[str] | None]:
        """``(row labels, column labels)`` of that picture of ``m`` images in rows of
        ``columns`` (None: unlabelled), written beside it."""
        return None, None


class Encodes(ABC):
    """An autoencoder with a latent prior (the adversarial autoencoder)."""

    prior: Any  # gankit.networks.aae_priors.LatentPrior: sample, log_prob, num_components, assign

    @abstractmethod
    def encode(self, x: Tensor) -> Tensor:
        """Codes ``(n, latent_dim)`` of data ``x (n, *shape)`` on the CPU."""

    @abstractmethod
    def reconstruct(self, x: Tensor) -> Tensor:
        """Decoded codes of ``x``, ``(n, *shape)`` on the CPU."""

    @abstractmethod
    def heldout(self) -> Any:
        """The data set's test split (a data source), or None."""


class Translates(DrawsSampleGrid):
    """An image-to-image translator (pix2pix, CycleGAN)."""

    @abstractmethod
    def translate(self, x: Tensor, *args: Any) -> Tensor:
        """Translated images ``(n, C, H, W)`` of ``x`` on the CPU."""


class Classifies(ABC):
    """A semi-supervised classifier scored on the data set's labelled test split ``test``,
    trained on the labelled examples of ``split`` (``split.labelled``)."""

    test: Any   # gankit.data.base.TensorSource with labels
    split: Any  # gankit.data.labelled.LabelledSplit

    @abstractmethod
    def classify(self, x: Tensor) -> Tensor:
        """Predicted classes ``(n,)`` on the CPU of ``x (n, *shape)``."""


class HasCodes(ABC):
    """A generator with InfoGAN's latent codes ``codes`` (categorical and continuous)."""

    codes: Any  # gankit.networks.codes.LatentCodes

    @abstractmethod
    def generate_codes(self, c: Tensor | None, u: Tensor | None = None, *, seed: int | None = None) -> Tensor:
        """Samples for chosen categorical codes ``c (n,)`` and continuous codes ``u (n, M)``."""

    @abstractmethod
    def code_grid(self, columns: int, *, rows: list[int] | None = None, vary: int | None = None,
                  seed: int = 0) -> Tensor:
        """Samples in a grid, a row per categorical code value."""


class Discriminates(ABC):
    """A model whose critic judges data-space samples: ``discriminate(x, y)`` gives its raw
    outputs; ``objective`` (:class:`gankit.losses.base.Objective`) says how to read them."""

    objective: Any

    @abstractmethod
    def discriminate(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The critic's raw outputs on samples ``x (n, *shape)``."""


# --------------------------------------------------------------------------- data sources

class KnownModes(ABC):
    """A distribution with known modes: a mixture of Gaussians ``sum_k w_k N(mu_k, sigma_k^2 I)``
    with means ``(K, d)``, sigmas ``(K,)``, weights ``(K,)`` (float64) and an exact density."""

    means: Tensor
    sigmas: Tensor
    weights: Tensor

    @property
    @abstractmethod
    def dim(self) -> int:
        """``d``, the dimension of the space."""

    @property
    @abstractmethod
    def sigma(self) -> float:
        """The largest component sigma (one number for the metrics that take one)."""

    @abstractmethod
    def log_prob(self, x: Tensor) -> Tensor:
        """Exact ``log p(x)`` ``(n,)`` of ``x (n, d)``."""


class FiniteData(ABC):
    """A finite data set held in memory: rows ``x (N, *shape)``, labels ``y (N,)`` or None,
    drawn by :meth:`indices` (an epoch permutation; ``shard = (rank, world)`` is this
    process's part of a global batch); ``test_x`` / ``test_y`` a held-out split or None."""

    x: Tensor
    y: Tensor | None
    test_x: Tensor | None
    test_y: Tensor | None
    shard: tuple[int, int]

    @abstractmethod
    def __len__(self) -> int:
        """``N``, the number of rows."""

    @abstractmethod
    def indices(self, n: int, generator: torch.Generator) -> Tensor:
        """Row indices ``(n,)`` of this process's part of the next global batch."""


__all__ = ["Classifies", "Discriminates", "DrawsSampleGrid", "Encodes", "FiniteData", "Generates", "HasCodes",
           "KnownModes", "Translates"]
