"""Metrics of image-to-image translation runs, on the data's held-out split.

* ``l1`` and ``psnr`` (pix2pix, Isola et al. 2017): mean absolute error of ``G(a)`` to the
  target ``b`` (pixels in [-1, 1]) and peak signal-to-noise ratio ``10 log10(1 / MSE)`` with
  pixels in [0, 1], per image then averaged (the usual convention), next to two trivial
  translators: the input itself (``_identity``, when both sides have the same channels) and
  the mean training target whatever the input (``_mean_image``).
* ``cycle`` (CycleGAN, Zhu et al. 2017): ``mean |F(G(a)) - a|`` on held-out A and
  ``mean |G(F(b)) - b|`` on held-out B, next to a translator that forgets its input (the mean
  training image of the domain).
* ``translated_classes``: the fraction of held-out A images whose translation G(a) gankit's
  Fashion-MNIST classifier labels as B's class (and F(b) as A's), next to that fraction for
  the untranslated images (what the identity would score) and for real images of the target
  class (the classifier's own accuracy there: what a perfect translation would score).

They need the run's model (``ctx.model``, a :class:`~gankit.capabilities.Translates`) and a data set of
pairs (:class:`~gankit.data.pairs.PairedSource`) or domains (:class:`~gankit.data.pairs.DomainsSource`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from gankit.capabilities import Translates
from gankit.data.pairs import DomainsSource, PairedSource
from gankit.errors import DataError
from gankit.metrics.base import METRICS, EvalContext
from gankit.metrics.needs import Need, Planned

MAX_PSNR = 100.0  # dB for an exact reproduction (MSE 0): finite, so means stay numbers


def _translation_run(kind: type, model: str) -> Need:
    """The need of a translation run: model ``model`` on data of ``kind``."""
    def problem(p: Planned) -> str | None:
        if isinstance(p.data, kind) and isinstance(p.model, Translates):
            return None
        return f"needs model={model} on {'paired data' if kind is PairedSource else 'two image domains'}"
    return Need(f"a translation run (model={model})", problem)


def _class_domains(p: Planned) -> str | None:
    if isinstance(p.data, DomainsSource) and p.data.classes is not None:
        return None
    return f"needs domains that are classes of a labelled set (data=fashion-domains), not {p.data.name!r}"


PAIRED = _translation_run(PairedSource, "pix2pix")
DOMAINS = _translation_run(DomainsSource, "cyclegan")
CLASS_DOMAINS = Need("domains that are classes of a labelled set", _class_domains)


def l1_error(x: Tensor, y: Tensor) -> float:
    """``mean |x - y|`` over every element, float64."""
    return float((x.double() - y.double()).abs().mean())


def psnr(x: Tensor, y: Tensor) -> float:
    """Mean over images of ``10 log10(1 / MSE_i)``, MSE of pixels mapped from [-1, 1] to [0, 1];
    an image reproduced exactly counts :data:`MAX_PSNR`."""
    d = (x.double() - y.double()) / 2.0
    mse = d.pow(2).flatten(1).mean(1)                                    # (n,)
    db = torch.where(mse > 0, -10.0 * torch.log10(mse.clamp_min(1e-300)), torch.full_like(mse, MAX_PSNR))
    return float(db.clamp(max=MAX_PSNR).mean())


def _model(ctx: EvalContext, metric: str, kind: type) -> Translates:
    model = ctx.model
    if not isinstance(model, Translates) or not isinstance(ctx.data, kind):
        need = "model=pix2pix on paired data" if kind is PairedSource else "model=cyclegan on two domains"
        raise DataError(f"the {metric!r} metric needs a translation run ({need})")
    return model


def _heldout_pairs(ctx: EvalContext, metric: str) -> dict[str, Tensor]:
    """Held-out inputs, targets and translations (at most ``num_samples``), once per evaluation."""
    model = _model(ctx, metric, PairedSource)
    if "translate.pairs" not in ctx.cache:
        data: PairedSource = ctx.data  # type: ignore[assignment]
        m = data.test_inputs.shape[0]
        idx = torch.randperm(m, generator=ctx.generator(31))[:min(m, ctx.num_samples)]
        a, b = data.test_inputs[idx], data.test_x[idx]
        ctx.cache["translate.pairs"] = {"a": a, "b": b, "out": model.translate(a),
                                        "mean": data.x.double().mean(0, keepdim=True).float().expand_as(b)}
    return ctx.cache["translate.pairs"]


def _paired(ctx: EvalContext, name: str, fn: Any) -> dict[str, float]:
    p = _heldout_pairs(ctx, name)
    out = {name: fn(p["out"], p["b"]), f"{name}_mean_image": fn(p["mean"], p["b"])}
    if p["a"].shape == p["b"].shape:
        out[f"{name}_identity"] = fn(p["a"], p["b"])
    return out


@METRICS.register("l1", paper="Isola et al. 2017", needs=(PAIRED,))
def l1_metric(ctx: EvalContext) -> dict[str, float]:
    """Held-out mean |G(a) - b| (pixels in [-1, 1]) beside the identity and mean-image translators."""
    return _paired(ctx, "l1", l1_error)


@METRICS.register("psnr", paper="Isola et al. 2017", needs=(PAIRED,))
def psnr_metric(ctx: EvalContext) -> dict[str, float]:
    """Held-out PSNR of G(a) against b (dB, pixels in [0, 1]) beside the identity and mean-image translators."""
    return _paired(ctx, "psnr", psnr)


def _heldout_domains(ctx: EvalContext, metric: str) -> tuple[Translates, DomainsSource, Tensor, Tensor]:
    model = _model(ctx, metric, DomainsSource)
    data: DomainsSource = ctx.data  # type: ignore[assignment]
    if "translate.domains" not in ctx.cache:
        ia = torch.randperm(data.test_a.shape[0], generator=ctx.generator(32))[:ctx.num_samples]
        ib = torch.randperm(data.test_b.shape[0], generator=ctx.generator(33))[:ctx.num_samples]
        ctx.cache["translate.domains"] = (data.test_a[ia], data.test_b[ib])
    a, b = ctx.cache["translate.domains"]
    return model, data, a, b


@METRICS.register("cycle", paper="Zhu et al. 2017", needs=(DOMAINS,))
def cycle_metric(ctx: EvalContext) -> dict[str, float]:
    """Held-out cycle errors mean|F(G(a)) - a| and mean|G(F(b)) - b| beside a translator that forgets its input."""
    model, data, a, b = _heldout_domains(ctx, "cycle")
    ga, fb = model.translate(a, "AB"), model.translate(b, "BA")
    mean_a = data.a.x.double().mean(0, keepdim=True).float().expand_as(a)
    mean_b = data.b.x.double().mean(0, keepdim=True).float().expand_as(b)
    return {"cycle_l1_A": l1_error(model.translate(ga, "BA"), a), "cycle_l1_B": l1_error(model.translate(fb, "AB"), b),
            "cycle_l1_A_mean_image": l1_error(mean_a, a), "cycle_l1_B_mean_image": l1_error(mean_b, b)}


def _classifier(ctx: EvalContext, data: DomainsSource) -> Any:
    from gankit.data import DATASETS
    from gankit.metrics.features import load_or_train_classifier
    from gankit.metrics.image import test_split

    if data.base_spec is None or data.classes is None:
        raise DataError(f"the 'translated_classes' metric needs domains that are classes of a labelled set "
                        f"(data=fashion-domains), not {data.name!r}")
    if "extractor.translate_base" not in ctx.cache:
        name, options = data.base_spec
        base = DATASETS.build(name, options)
        ctx.cache["extractor.translate_base"] = load_or_train_classifier(
            base.x, base.y, base.num_classes, name=base.name, test=test_split(name, options, shape=tuple(base.shape)),
            device=ctx.device, progress=ctx.cache.get("progress"))
    return ctx.cache["extractor.translate_base"]


def _share(clf: Any, x: Tensor, k: int) -> float:
    return float((clf.features_and_logits(x)[1].argmax(1) == k).double().mean()) if len(x) else math.nan


@METRICS.register("translated_classes", paper="Zhu et al. 2017 (translated-class accuracy with a classifier)",
                  needs=(DOMAINS, CLASS_DOMAINS))
def translated_classes(ctx: EvalContext) -> dict[str, float]:
    """Share of G(a) classified as B's class and of F(b) as A's (gankit's classifier), beside the
    untranslated images' share (the identity) and real target images' (the ceiling)."""
    model, data, a, b = _heldout_domains(ctx, "translated_classes")
    clf = _classifier(ctx, data)
    ka, kb = data.classes  # type: ignore[misc]
    ctx.cache["feature_extractor"] = clf.description
    return {"translated_acc_AB": _share(clf, model.translate(a, "AB"), kb),
            "translated_acc_BA": _share(clf, model.translate(b, "BA"), ka),
            "translated_acc_AB_identity": _share(clf, a, kb), "translated_acc_BA_identity": _share(clf, b, ka),
            "translated_acc_AB_real": _share(clf, b, kb), "translated_acc_BA_real": _share(clf, a, ka)}
