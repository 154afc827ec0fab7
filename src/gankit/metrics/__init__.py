"""Metrics: mode coverage on the 2-D mixtures, two-sample distances, image metrics."""

from gankit.metrics.base import METRICS, EvalContext
from gankit.metrics import modes, twosample  # noqa: F401  (register point metrics)
from gankit.metrics import image  # noqa: F401  (registers fid, kid, pr, dc, classes)
from gankit.metrics import aae  # noqa: F401  (registers recon, latent_mmd, latent_components)
from gankit.metrics import codes  # noqa: F401  (registers codes: InfoGAN code accuracy)
from gankit.metrics import translate  # noqa: F401  (registers l1, psnr, cycle, translated_classes)
from gankit.metrics import semisup  # noqa: F401  (registers test_error)

__all__ = ["METRICS", "EvalContext"]
