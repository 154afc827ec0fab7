"""Mixed precision: ``train.precision = fp32 | bf16 | fp16``.

Forward passes run under :func:`torch.autocast` (Micikevicius et al. 2018, "Mixed
Precision Training"): matrix products and convolutions in the low-precision type, with
float32 master weights and optimiser state. gankit's recipes cast critic outputs to
float32 before any loss, so the losses (softplus / logsumexp forms) and gradient-penalty
norms are computed in float32 whatever autocast did upstream. ``backward()`` runs outside
autocast, as PyTorch recommends.

* ``bf16``: same exponent range as float32, so no loss scaling; on CUDA and on the CPU.
* ``fp16``: 5 exponent bits, so small gradients underflow without dynamic loss scaling
  (:class:`torch.amp.GradScaler`); CUDA only here. Gradient penalties take their input
  gradient with ``autograd.grad`` on the unscaled critic output, which can underflow in
  fp16: prefer bf16 (or fp32) for gp / r1.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch

from gankit.errors import ConfigError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Precision:
    """The arithmetic of one run's forward passes."""

    name: str
    device_type: str

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.name]

    @property
    def mixed(self) -> bool:
        return self.name != "fp32"

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Autocast to ``dtype`` for the mixed precisions, nothing for fp32."""
        if not self.mixed:
            yield
            return
        with torch.autocast(self.device_type, dtype=self.dtype):
            yield

    def wrap(self, fn: Callable[[], T]) -> Callable[[], T]:
        """``fn`` run under :meth:`autocast` (a phase's loss function)."""
        if not self.mixed:
            return fn

        def run() -> T:
            with self.autocast():
                return fn()

        run.__name__ = getattr(fn, "__name__", "loss")
        return run

    def grad_scaler(self) -> Any | None:
        """Dynamic loss scaling for fp16 (None otherwise): scale up, unscale before the step,
        skip steps with inf/nan gradients and halve the scale (Micikevicius et al. 2018)."""
        if self.name != "fp16":
            return None
        return torch.amp.GradScaler(self.device_type)


def precision_for(name: str, device: torch.device) -> Precision:
    """Validate ``train.precision`` for ``device``."""
    if name not in DTYPES:
        raise ConfigError(f"train.precision must be one of {', '.join(DTYPES)}, got {name!r}")
    if name == "fp16" and device.type != "cuda":
        raise ConfigError(f"train.precision=fp16 needs CUDA (loss scaling); on {device.type} use bf16")
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("train.precision=bf16: this GPU has no bfloat16 support; use fp16")
    return Precision(name, device.type)
