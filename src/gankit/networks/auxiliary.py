"""A second head on a discriminator's body: AC-GAN's class logits, InfoGAN's Q.

Both papers share every layer of D but the last: AC-GAN's discriminator ends in "a
sigmoid over the source and a softmax over the class labels" on the same features (Odena
et al. 2017, sec. 3), InfoGAN's Q "shares all convolutional layers with D" and adds one
hidden fully connected layer before its outputs (Chen et al. 2016, sec. 5 and appendix C).

:class:`AuxiliaryHead` wraps an unconditional discriminator that exposes its body
``phi(x) -> (B, F)`` and ``feature_dim`` (the mlp and dcgan discriminators):
``forward(x)`` is D's adversarial logits, ``auxiliary(x)`` the head's ``(B, out_dim)``.

While a phase runs inside :meth:`AuxiliaryHead.remember`, every forward pass also keeps its
head outputs, and ``auxiliary`` of the same input tensor returns them instead of running the
body again: the adversarial and the auxiliary losses then come from one pass, as in the
papers' single network with two outputs (one batch-norm pass, half the work). A call with
another tensor computes afresh, so the result never depends on the cache.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import Tensor, nn

from gankit.errors import ConfigError


def feature_head(feature_dim: int, out_dim: int, hidden: int = 0) -> nn.Module:
    """``(B, F) -> (B, out_dim)``: one linear layer (AC-GAN), or with ``hidden`` > 0 InfoGAN's
    FC(hidden) -> batch norm -> LeakyReLU(0.1) -> FC(out_dim) (Chen et al. 2016, table 1)."""
    if hidden <= 0:
        return nn.Linear(feature_dim, out_dim)
    return nn.Sequential(nn.Linear(feature_dim, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.1),
                         nn.Linear(hidden, out_dim))


class AuxiliaryHead(nn.Module):
    """``D(x) -> (B,)`` adversarial logits and ``auxiliary(x) -> (B, out_dim)`` on D's body.

    ``D`` must be unconditional (``num_classes == 0``): the labels ``y`` the GAN recipe
    passes to ``forward`` are ignored, since neither AC-GAN's nor InfoGAN's D sees them.
    """

    def __init__(self, D: nn.Module, out_dim: int, *, hidden: int = 0, who: str = "the auxiliary head") -> None:
        super().__init__()
        if not hasattr(D, "phi") or not hasattr(D, "feature_dim"):
            raise ConfigError(f"{who} needs a discriminator with a shared body (mlp, dcgan); "
                              f"{type(D).__name__} has none")
        if getattr(D, "num_classes", 0):
            raise ValueError("AuxiliaryHead wraps an unconditional discriminator")
        self.inner, self.out_dim = D, out_dim
        self.data_shape = getattr(D, "data_shape", None)
        self.feature_dim = int(D.feature_dim)
        self.head = feature_head(self.feature_dim, out_dim, hidden)
        self._kept: list[tuple[Tensor, Tensor]] | None = None

    def _adversarial(self, f: Tensor) -> Tensor:
        out = self.inner.psi(f) if hasattr(self.inner, "psi") else self.inner.head(f)   # (B, out_dim of D)
        return out.squeeze(1) if out.shape[1] == 1 else out

    def phi(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """D's body features ``(B, F)`` (what feature matching compares)."""
        return self.inner.phi(x).flatten(1)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        f = self.inner.phi(x).flatten(1)                                   # (B, F)
        if self._kept is not None:
            self._kept.append((x, self.head(f)))
        return self._adversarial(f)                                        # (B,) or (B, critic_dim)

    def auxiliary(self, x: Tensor) -> Tensor:
        """The head's outputs ``(B, out_dim)`` on ``x`` (kept from this phase's forward of ``x``
        when there was one)."""
        for seen, out in self._kept or ():
            if seen is x:
                return out
        return self.head(self.inner.phi(x).flatten(1))

    @contextlib.contextmanager
    def remember(self) -> Iterator[None]:
        """Keep the head outputs of every forward pass until the block ends (one phase)."""
        self._kept = []
        try:
            yield
        finally:
            self._kept = None
