"""Fast paths that leave the mathematics unchanged: device-resident data, channels_last,
``torch.compile``. Each is a ``train.*`` switch and each is timed by ``gankit bench speed``.

* ``train.data_on_device`` (default on): a finite data set (:class:`TensorSource`) is copied
  to the training device once; a batch is then one gather on the device instead of a
  host-to-device copy per step (or a worker DataLoader). On the CPU the data already is
  where the step runs, so this changes nothing there.
* ``train.channels_last``: convolution weights and image batches in NHWC memory order,
  the layout oneDNN (CPU) and cuDNN tensor cores (GPU) prefer. Values are identical; only
  the strides change, so checkpoints load either way.
* ``train.compile``: :meth:`torch.nn.Module.compile` compiles each network's ``__call__``
  in place. The module object and its ``state_dict`` keys stay the same (no
  ``_orig_mod.`` prefix), so checkpoints of compiled and eager runs are interchangeable.
  AOTAutograd has no double backward, so it is refused with gradient penalties.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError


def is_convolutional(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.conv._ConvNd) for m in module.modules())


def to_channels_last(module: nn.Module) -> bool:
    """Convert a convolutional network's 4-D parameters to channels_last; False if it has none."""
    if not is_convolutional(module):
        return False
    module.to(memory_format=torch.channels_last)
    return True


def channels_last_batch(x: Tensor) -> Tensor:
    """An image batch ``(B, C, H, W)`` in NHWC memory order (other tensors unchanged)."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def compile_networks(*modules: nn.Module, double_backward: list[str] = ()) -> None:
    """``module.compile()`` for every module with parameters (eager until the first call).

    ``double_backward``: the run's parts that differentiate through gradients (penalties,
    the unrolled discriminator); compilation is refused if there are any.
    """
    if double_backward:
        raise ConfigError(f"train.compile=true cannot train with {', '.join(double_backward)}: torch.compile "
                          "(AOTAutograd) has no double backward; use train.compile=false")
    for m in modules:
        if any(True for _ in m.parameters()):
            m.compile()


class DeviceData:
    """A finite data set's tensors, copied to ``device`` once."""

    def __init__(self, x: Tensor, y: Tensor | None, device: torch.device, *, channels_last: bool = False) -> None:
        x = x.to(device)
        self.x = channels_last_batch(x) if channels_last else x        # (N, *shape)
        self.y = None if y is None else y.to(device)                   # (N,)
        self.device = device

    def take(self, idx: Tensor) -> tuple[Tensor, Tensor | None]:
        idx = idx.to(self.device)
        return self.x[idx], (None if self.y is None else self.y[idx])


def configure_backends(device: torch.device, *, tf32: bool = True, deterministic: bool = False) -> None:
    """Backend switches for a run on ``device``.

    * ``tf32``: on CUDA, fp32 matmuls and convolutions use TF32 tensor cores (Ampere and
      newer; 10 mantissa bits for the products, fp32 accumulation), often several times
      faster. No effect on a CPU or on older GPUs.
    * ``deterministic``: deterministic kernels everywhere (``torch.use_deterministic_algorithms``,
      cuDNN without autotuning, a fixed cuBLAS workspace), so a GPU run resumes bit-exactly;
      costs speed (cuDNN's benchmark mode picks the fastest kernel per shape, and some
      deterministic kernels are slower). Otherwise cuDNN benchmarks its kernels per shape.
    """
    if deterministic:
        # cuBLAS reads this when it creates its handle: set before the first CUDA matmul
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cudnn.deterministic = deterministic
