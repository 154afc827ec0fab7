"""The engine: the one loop over phases (:mod:`~gankit.engine.loop`), checkpoints written
atomically and loaded with ``weights_only=True``, mixed precision, torchrun processes, the
fast paths (``torch.compile``, channels-last, data on the device) and the standardising
transform of point data. Nothing here knows what a GAN is."""

from gankit.engine.loop import EMA, Phase, Trainer, make_optimizer

__all__ = ["EMA", "Phase", "Trainer", "make_optimizer"]
