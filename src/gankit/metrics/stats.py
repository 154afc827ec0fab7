"""Streaming float64 mean and covariance of feature vectors, mergeable across processes.

The torchmetrics ``Metric`` pattern (``update`` / ``compute`` / ``reset`` with a state that
merges across processes), with one change in the state: instead of the raw sums
``sum x`` and ``sum x x^T`` (whose ``sum x x^T - n mu mu^T`` cancels catastrophically when
the mean is large next to the spread, as for post-ReLU features), each chunk keeps its count,
mean and centred scatter ``M2 = sum (x - mu)(x - mu)^T`` and chunks combine with the pairwise
update of Chan, Golub & LeVeque (1979):

    n = na + nb,  delta = mu_b - mu_a,  mu = mu_a + delta nb / n,
    M2 = M2_a + M2_b + delta delta^T na nb / n.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor


class FeatureStats:
    """Count, mean ``(d,)`` and centred scatter ``(d, d)`` of the rows fed to :meth:`update`."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.mean: Tensor | None = None
        self.m2: Tensor | None = None

    @property
    def dim(self) -> int | None:
        return None if self.mean is None else int(self.mean.shape[0])

    def update(self, x: Tensor) -> FeatureStats:
        """Add a batch of feature rows ``x (B, d)``."""
        if x.ndim != 2:
            raise ValueError(f"features must be (B, d), got {tuple(x.shape)}")
        if x.shape[0] == 0:
            return self
        x = x.detach().to("cpu", torch.float64)
        mu = x.mean(0)
        xc = x - mu
        return self._combine(x.shape[0], mu, xc.T @ xc)

    def merge(self, other: FeatureStats) -> FeatureStats:
        """Fold another accumulator (e.g. another process's) into this one, in place."""
        if other.n == 0:
            return self
        assert other.mean is not None and other.m2 is not None
        return self._combine(other.n, other.mean, other.m2)

    def _combine(self, nb: int, mu_b: Tensor, m2_b: Tensor) -> FeatureStats:
        if self.n == 0:
            self.n, self.mean, self.m2 = nb, mu_b.clone(), m2_b.clone()
            return self
        assert self.mean is not None and self.m2 is not None
        if mu_b.shape != self.mean.shape:
            raise ValueError(f"feature dimension {mu_b.shape[0]} != {self.mean.shape[0]}")
        na, n = self.n, self.n + nb
        delta = mu_b - self.mean
        self.mean = self.mean + delta * (nb / n)
        self.m2 = self.m2 + m2_b + torch.outer(delta, delta) * (na * nb / n)
        self.n = n
        return self

    def compute(self) -> tuple[Tensor, Tensor]:
        """Mean ``(d,)`` and unbiased covariance ``M2 / (n - 1)`` ``(d, d)``, float64."""
        if self.n < 2:
            raise ValueError(f"need at least 2 feature vectors for a covariance, have {self.n}")
        assert self.mean is not None and self.m2 is not None
        return self.mean.clone(), self.m2 / (self.n - 1)

    def state_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "m2": self.m2}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.n, self.mean, self.m2 = int(state["n"]), state["mean"], state["m2"]

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FeatureStats:
        out = cls()
        out.load_state_dict(state)
        return out

    def sync(self, group: Any = None) -> FeatureStats:
        """Merge the accumulators of all ranks of ``torch.distributed`` (a no-op without it).

        Every rank ends with the same statistics; ranks are merged in rank order so the
        result is bitwise identical everywhere.
        """
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return self
        states: list[Any] = [None] * dist.get_world_size(group)
        dist.all_gather_object(states, self.state_dict(), group=group)
        merged = FeatureStats()
        for s in states:
            merged.merge(FeatureStats.from_state(s))
        self.load_state_dict(merged.state_dict())
        return self


# --------------------------------------------------------------------------- reference statistics files

def save_reference(path: str | os.PathLike[str], acc: FeatureStats, card: dict[str, Any],
                   source: dict[str, Any]) -> Path:
    """Write ``acc``'s mean and covariance (float64) with the protocol ``card`` that made the
    features and a description of the images (``source``) to an ``.npz`` file, atomically.
    The keys ``mu`` and ``sigma`` are those of pytorch-fid's and clean-fid's statistics files."""
    mu, sigma = acc.compute()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.name + ".", suffix=".tmp.npz")
    os.close(fd)
    try:
        np.savez(tmp, mu=mu.numpy(), sigma=sigma.numpy(), num_images=np.int64(acc.n),
                 protocol=np.array(json.dumps(card, sort_keys=True)),
                 source=np.array(json.dumps(source, sort_keys=True)))
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def load_reference(path: str | os.PathLike[str], expected: dict[str, Any],
                   same: Sequence[str] = ()) -> tuple[Tensor, Tensor, int, dict[str, Any]]:
    """``(mu (d,), sigma (d, d), num_images, source)`` of a file written by :func:`save_reference`.

    Raises :class:`DataError` (one line) when the file is missing or unreadable, or when its
    protocol differs from ``expected`` in any of the keys ``same``."""
    from gankit.errors import DataError

    p = Path(path).expanduser()
    try:
        with np.load(p, allow_pickle=False) as z:
            mu, sigma, n = z["mu"], z["sigma"], int(z["num_images"])
            card, source = json.loads(str(z["protocol"])), json.loads(str(z["source"]))
    except FileNotFoundError:
        raise DataError(f"reference statistics {p} not found (gankit data stats writes them)") from None
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"{p}: not a gankit reference statistics file ({type(e).__name__}: {e}; "
                        "gankit data stats writes them)") from None
    diff = [f"{k}={card.get(k)!r} (this evaluation: {expected.get(k)!r})"
            for k in same if card.get(k) != expected.get(k)]
    if diff:
        raise DataError(f"{p} was computed under another protocol: {'; '.join(diff)}; recompute it with "
                        "gankit data stats under this evaluation's protocol")
    return torch.from_numpy(mu).double(), torch.from_numpy(sigma).double(), n, source
