"""How well an InfoGAN's categorical code separates the data's classes or modes.

Samples are generated for each code value in turn; each is labelled by gankit's classifier
(labelled images) or by its nearest mode (mixtures with known means). Codes carry no names,
so codes and classes are matched one-to-one by the Hungarian algorithm on the confusion
counts (scipy's ``linear_sum_assignment``), as in Chen et al. 2016's "5 % error on MNIST"
for the categorical code; ``code_accuracy`` is the fraction of samples whose label is the
class matched to their code.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.capabilities import HasCodes, KnownModes
from gankit.errors import ConfigError, DataError
from gankit.metrics.base import METRICS, EvalContext
from gankit.metrics.needs import HAS_CODES


def confusion(codes: Tensor, labels: Tensor, num_codes: int, num_labels: int) -> Tensor:
    """``(num_codes, num_labels)`` counts of (code, label) pairs."""
    idx = codes.long() * num_labels + labels.long()
    return torch.bincount(idx, minlength=num_codes * num_labels).reshape(num_codes, num_labels)


def matched_accuracy(codes: Tensor, labels: Tensor, num_codes: int, num_labels: int) -> tuple[float, dict[int, int]]:
    """The largest fraction of samples whose label is their code's under a one-to-one map
    of codes to labels, and that map ``{code: label}`` (codes beyond ``num_labels`` unmatched)."""
    from scipy.optimize import linear_sum_assignment

    counts = confusion(codes, labels, num_codes, num_labels).double()
    rows, cols = linear_sum_assignment(counts.numpy(), maximize=True)
    hits = float(counts[rows, cols].sum())
    return hits / max(codes.shape[0], 1), {int(r): int(c) for r, c in zip(rows, cols)}


def label_samples(ctx: EvalContext, x: Tensor) -> tuple[Tensor, int]:
    """Labels of samples ``x``: gankit's classifier's for labelled images, the nearest mode's
    (in the modes' sigmas) for mixtures; and the number of labels."""
    data = ctx.data
    if data.kind == "images":
        from gankit.metrics.image import classifier

        clf = classifier(ctx)
        return clf.features_and_logits(x)[1].argmax(1), clf.num_classes
    if not isinstance(data, KnownModes):
        raise DataError(f"metric 'codes' needs labelled images or a mixture with known modes, not {data.name!r}")
    means = data.means
    sig = torch.as_tensor(data.sigmas, dtype=torch.float64).reshape(-1).expand(means.shape[0])
    d = torch.cdist(x.double().reshape(x.shape[0], -1), means.double()) / sig
    return d.argmin(1), int(means.shape[0])


@METRICS.register("codes", paper="Chen et al. 2016 (InfoGAN): categorical code vs classes, Hungarian matching",
                  needs=(HAS_CODES,))
def codes_metric(ctx: EvalContext) -> dict[str, float]:
    """``code_accuracy``: samples labelled as the class matched to their categorical code
    (one-to-one, Hungarian); ``code_accuracy_worst``: the lowest per-code accuracy."""
    model = ctx.model
    if not isinstance(model, HasCodes) or not model.codes.categories:
        raise ConfigError("metric 'codes' needs an InfoGAN run with a categorical code (model=infogan)")
    k = model.codes.categories
    c = torch.arange(ctx.num_samples) % k
    x = model.generate_codes(c, seed=ctx.seed)
    labels, num_labels = label_samples(ctx, x)
    acc, match = matched_accuracy(c, labels, k, num_labels)
    per_code = [float((labels[c == j] == match[j]).double().mean()) if j in match else 0.0 for j in range(k)]
    return {"code_accuracy": acc, "code_accuracy_worst": min(per_code)}
