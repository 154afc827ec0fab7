"""Data-parallel training on PyTorch's own engine: process groups from torchrun, DDP wrappers.

``torchrun --nproc_per_node N -m gankit train ...`` starts N copies of gankit with the
environment variables ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``; :func:`setup` joins that process group (NCCL on CUDA, gloo on the CPU).
With one process everything here is a no-op, so the same code trains on one or many.

The conventions gankit follows (and :mod:`gankit.recipes.gan` relies on):

* ``train.batch_size`` is the GLOBAL batch: each of the ``world`` ranks trains on
  ``batch_size / world`` examples, its slice of the global batch. Noise and toy data are
  drawn for the whole global batch on every rank from identically seeded generators and
  sliced (:func:`rank_slice`); finite data sets sample only the rank's rows
  (:class:`gankit.data.base.TensorSource` ``shard``). The union of the ranks' batches is
  therefore exactly the one-process batch, and an N-process run equals a one-process run
  with the same global batch up to the order of floating-point sums.
* Every rank seeds torch's global RNG identically, so networks are initialised identically
  (DDP would broadcast rank 0's weights anyway, but the EMA copy and optimiser states must
  agree too) and all per-rank state (RNG, data position) is the same on every rank: rank 0's
  checkpoint resumes every rank. A consequence: per-sample randomness drawn per rank
  (dropout masks, WGAN-GP's interpolation weights) repeats across ranks.
* A network is called through its DDP wrapper only in the phase that trains it; the other
  phase uses the plain module (its parameters are frozen there, and a DDP forward whose
  backward reaches no parameter would leave DDP waiting for gradients that never come).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from gankit.capabilities import FiniteData
from gankit.errors import ConfigError

_OWNED = False  # True when gankit (not the caller) initialised the process group


@dataclasses.dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def info() -> DistInfo:
    """Rank, world size and local rank of the current process group (``DistInfo()`` if none)."""
    if not initialized():
        return DistInfo()
    local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    return DistInfo(dist.get_rank(), dist.get_world_size(), local)


def choose_backend(device: str | torch.device) -> str:
    """NCCL when this process trains on CUDA and NCCL exists, gloo otherwise (the CPU)."""
    name = str(device)
    wants_cuda = name.startswith("cuda") or (name == "auto" and torch.cuda.is_available())
    return "nccl" if wants_cuda and torch.cuda.is_available() and dist.is_nccl_available() else "gloo"


def setup(device: str | torch.device = "auto") -> DistInfo:
    """Join the process group described by torchrun's environment; idempotent.

    Without ``WORLD_SIZE > 1`` in the environment (a plain ``gankit train``) nothing happens.
    A process group the caller initialised itself (tests, notebooks) is used as it is.
    """
    global _OWNED
    if initialized():
        return info()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_available():
        raise ConfigError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed")
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise ConfigError(f"WORLD_SIZE={world} but {', '.join(missing)} unset; launch with torchrun")
    backend = choose_backend(device)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if backend == "nccl":
        torch.cuda.set_device(local)
    dist.init_process_group(backend, init_method="env://")
    _OWNED = True
    if dist.get_rank() == 0:  # the one line that tells a user the job is data-parallel
        print(f"gankit: {world} processes ({backend}); train.batch_size is the global batch, split over them",
              file=sys.stderr, flush=True)
    return info()


def cleanup() -> None:
    """Leave the process group if :func:`setup` created it."""
    global _OWNED
    if _OWNED and initialized():
        dist.destroy_process_group()
    _OWNED = False


def device_for(device: torch.device, ctx: DistInfo) -> torch.device:
    """One GPU per process: ``cuda`` becomes ``cuda:LOCAL_RANK`` in a multi-process job."""
    if device.type == "cuda" and device.index is None and ctx.active:
        return torch.device("cuda", ctx.local_rank)
    return device


def rank_slice(n_global: int, ctx: DistInfo) -> slice:
    """This rank's rows ``[r n/W, (r+1) n/W)`` of a global batch of ``n_global``."""
    if n_global % ctx.world:
        raise ConfigError(f"a global batch of {n_global} does not split over {ctx.world} processes")
    n = n_global // ctx.world
    return slice(ctx.rank * n, (ctx.rank + 1) * n)


def has_trainable(module: nn.Module) -> bool:
    return any(p.requires_grad for p in module.parameters())


def wrap(module: nn.Module, device: torch.device, ctx: DistInfo, *, sync_batchnorm: bool = False) -> nn.Module:
    """The module DDP trains: ``DistributedDataParallel(module)``, or ``module`` itself in a
    one-process run (or when it has no parameters, e.g. GMMN's identity critic).

    ``sync_batchnorm`` converts batch norm layers in place (the parameters and buffers are
    the same tensors, so optimisers and checkpoints are unaffected) to SyncBatchNorm, whose
    statistics span the global batch; PyTorch implements it for GPUs only.
    """
    if not ctx.active or not has_trainable(module):
        return module
    if sync_batchnorm:
        if device.type != "cuda":
            raise ConfigError("train.sync_batchnorm needs CUDA: PyTorch's SyncBatchNorm does not run on the CPU")
        _convert_sync_batchnorm(module)
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    return DDP(module, device_ids=ids, output_device=None if ids is None else ids[0])


def _convert_sync_batchnorm(module: nn.Module) -> None:
    # convert_sync_batchnorm returns a new object only for a bare BatchNorm; ours are children.
    for name, child in list(module.named_children()):
        converted = nn.SyncBatchNorm.convert_sync_batchnorm(child)
        if converted is not child:
            setattr(module, name, converted)


# --------------------------------------------------------------------------- the sampler

class RankBatches:
    """This rank's share of every global batch: real data, noise and class labels.

    A finite data set with a ``shard`` attribute gathers only this rank's rows (from a
    device-resident copy when ``data_on_device``); any other source (toy mixtures) draws
    the global batch and keeps this rank's slice. Noise and labels come from torch's global
    RNG, identically seeded on every rank, drawn for the global batch and sliced.
    """

    def __init__(self, data: Any, device: torch.device, ctx: DistInfo, *, data_on_device: bool = True,
                 channels_last: bool = False) -> None:
        from gankit.engine.fastpath import DeviceData

        self.data, self.device, self.ctx, self.channels_last = data, device, ctx, channels_last
        self.sharded = isinstance(data, FiniteData)
        if self.sharded:
            data.shard = (ctx.rank, ctx.world)
        self.resident = None
        if self.sharded and data_on_device and device.type != "cpu":
            self.resident = DeviceData(data.x, data.y, device, channels_last=channels_last)

    def _slice(self, n: int) -> slice:
        return rank_slice(n * self.ctx.world, self.ctx)

    def real(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
        """``x (n, *shape)`` on the device and labels ``(n,)`` (or None): rows of this rank."""
        if self.resident is not None:
            x, y = self.resident.take(self.data.indices(n, generator))
        elif self.sharded:
            x, y = self.data.sample(n, generator)
        else:
            x, y = self.data.sample(n * self.ctx.world, generator)
            s = self._slice(n)
            x, y = x[s], (None if y is None else y[s])
        x = x.to(self.device, non_blocking=True)
        if self.channels_last:
            from gankit.engine.fastpath import channels_last_batch

            x = channels_last_batch(x)
        return x, (None if y is None else y.to(self.device))

    def noise(self, prior: Any, n: int) -> Tensor:
        """``z (n, latent_dim)``: this rank's rows of the global batch's latents."""
        return prior.sample(n * self.ctx.world)[self._slice(n)].to(self.device)

    def labels(self, num_classes: int, n: int) -> Tensor:
        """Uniform class labels ``(n,)`` for generated samples, sliced like :meth:`noise`."""
        return torch.randint(num_classes, (n * self.ctx.world,))[self._slice(n)].to(self.device)


# --------------------------------------------------------------------------- collectives

def barrier() -> None:
    if initialized() and dist.get_world_size() > 1:
        dist.barrier()


def mean_logs(logs: Mapping[str, float]) -> dict[str, float]:
    """Average scalar logs over ranks (every rank must pass the same keys).

    Per-rank batch means averaged over equal shards are the global-batch means.
    """
    if not initialized() or dist.get_world_size() == 1 or not logs:
        return dict(logs)
    keys = sorted(logs)  # the same order on every rank, whatever each inserted first
    t = torch.tensor([float(logs[k]) for k in keys], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t)
    t /= dist.get_world_size()
    mean = dict(zip(keys, t.tolist()))
    return {k: mean[k] for k in logs}


def any_rank(flag: bool) -> bool:
    """True on every rank if ``flag`` is true on any (one collective; False outside a job)."""
    if not initialized() or dist.get_world_size() == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank (picklable objects, e.g. a metrics dict)."""
    if not initialized() or dist.get_world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src, device=_comm_device())
    return box[0]


def all_reduce_mean(t: Tensor) -> Tensor:
    """Differentiable mean over ranks (``torch.distributed.nn``): the gradient of an
    inner-loop step (e.g. an unrolled discriminator) taken on the global batch."""
    if not initialized() or dist.get_world_size() == 1:
        return t
    from torch.distributed.nn.functional import all_reduce

    return all_reduce(t) / dist.get_world_size()


def gather_tensor(t: Tensor) -> Tensor:
    """Concatenate every rank's ``(n, ...)`` tensor along dim 0 (same shape on all ranks)."""
    if not initialized() or dist.get_world_size() == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


def _comm_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
