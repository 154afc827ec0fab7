"""Every registry of gankit by kind, with everything that registers into it imported: the one
place that loads all built-in components (and the installed plug-ins' entry points), read by
``gankit list``, the docs tables and the registry-wide tests.

Each package registers its own entries when it is imported (``gankit.recipes`` imports every
recipe module, ``gankit.mitigations`` every mitigation, ...), so a run loads only what its
config names; this module is for the callers that need the whole catalogue.
"""

from __future__ import annotations

from typing import Any

from gankit.registry import Registry


def registries() -> dict[str, Registry[Any]]:
    """Every registry, by the plural ``gankit list`` uses (``models``, ``losses``, ...)."""
    from gankit import plugins
    from gankit.data import DATASETS
    from gankit.experiments import EXPERIMENTS
    from gankit.losses import LOSSES
    from gankit.losses.fdiv import DIVERGENCES
    from gankit.losses.penalties import PENALTIES
    from gankit.metrics import METRICS
    from gankit.mitigations.base import MITIGATIONS
    from gankit.networks import DISCRIMINATORS, ENCODERS, GENERATORS, PRIORS
    from gankit.networks.translation import PATCH_DISCRIMINATORS, TRANSLATORS
    from gankit.recipes import RECIPES

    plugins.load_entry_points()
    return {"models": RECIPES, "losses": LOSSES, "divergences": DIVERGENCES, "penalties": PENALTIES,
            "mitigations": MITIGATIONS, "generators": GENERATORS, "discriminators": DISCRIMINATORS,
            "encoders": ENCODERS, "priors": PRIORS, "datasets": DATASETS, "metrics": METRICS,
            # pix2pix / cyclegan's networks (model.net, model.d_...): image -> image, and a map of logits
            "translators": TRANSLATORS, "patch-discriminators": PATCH_DISCRIMINATORS,
            "experiments": EXPERIMENTS}
