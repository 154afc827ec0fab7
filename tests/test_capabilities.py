"""Declared capabilities (gankit.capabilities) match what each recipe and data source can do,
and the needs metrics declare where they are registered refuse what they must, in the words
the users see."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.capabilities import (Classifies, Discriminates, DrawsSampleGrid, Encodes, FiniteData, Generates,
                                 HasCodes, KnownModes, Translates)
from gankit.config import build_config, load_preset, merge
from gankit.data import DATASETS
from gankit.errors import ConfigError
from gankit.metrics import METRICS
from gankit.metrics.defaults import default_metrics
from gankit.metrics.needs import Need
from gankit.recipes import RECIPES as _RECIPES
from gankit.validate import check_eval

CPU = torch.device("cpu")
SMALL = {"generator": {"width": 8, "depth": 1}, "discriminator": {"width": 8, "depth": 1}}
CAPS = (Discriminates, Encodes, Classifies, HasCodes, Translates, DrawsSampleGrid)


def _domains(root: Path) -> Path:
    """Unpaired 8x8 domains: digits 0 as A, digits 1 as B, the last 6 of each held out."""
    from sklearn.datasets import load_digits

    d = load_digits()
    for side, k in (("A", 0), ("B", 1)):
        for i, img in enumerate(d.images[d.target == k][:24]):
            folder = root / (side if i < 18 else f"test/{side}")
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray((img * 255 / 16).astype(np.uint8), "L").save(folder / f"{i:03d}.png")
    return root


# recipe -> (its config, the capabilities it declares beside Generates)
RECIPES = {
    "gan": ({"data": "ring", **SMALL}, {Discriminates}),
    "aae": ({"model": "aae", "data": "ring", "prior": {"name": "mog", "components": 8, "sigma": 0.2}, **SMALL}, {Encodes}),
    "bigan": ({"model": "bigan", "data": "ring", "prior": {"name": "mog", "components": 8, "sigma": 0.2}, **SMALL},
              {Encodes}),
    "acgan": ({"model": "acgan", "data": "digits", "conditional": True}, {Discriminates}),
    "infogan": ({"model": {"name": "infogan", "categories": 4}, "latent_dim": 7, "data": "digits"},
                {Discriminates, HasCodes, DrawsSampleGrid}),
    "ssgan": ({"model": "ssgan", "loss": "feature-matching", "data": "digits"}, {Discriminates, Classifies}),
    "ssaae": ({"model": "ssaae", "data": "digits"}, {Classifies}),
    "pix2pix": ({"model": {"name": "pix2pix", "width": 8, "d_width": 8, "d_layers": 1}, "loss": "ns",
                 "data": {"name": "pair-task", "base": "digits", "task": "edges", "size": 16, "test_num": 0}},
                {Translates, DrawsSampleGrid}),
    "cyclegan": ({"model": {"name": "cyclegan", "net": "unet", "width": 4, "d_width": 4, "d_layers": 1, "pool": 4},
                  "loss": "lsgan", "data": {"name": "domains", "channels": 1}}, {Translates, DrawsSampleGrid}),
}


@pytest.fixture(scope="module")
def domains(tmp_path_factory) -> Path:
    return _domains(tmp_path_factory.mktemp("domains"))


def _config(name: str, domains: Path, **over):
    raw = merge(load_preset("base"), {**RECIPES[name][0], "train": {"batch_size": 8, "progress": False},
                                      "eval": {"num_samples": 64}})
    if name == "cyclegan":
        raw = merge(raw, {"data": {"path": str(domains)}})
    return build_config(merge(raw, over))


def _build(name: str, domains: Path, **over):
    cfg = _config(name, domains, **over)
    data = DATASETS.build(cfg.data.name, cfg.data.options)
    return cfg, data, _RECIPES.build(cfg.model.name, cfg.model.options, cfg=cfg, data=data, device=CPU, rank=0)


def test_every_registered_recipe_is_in_the_table() -> None:
    assert set(_RECIPES.names()) == set(RECIPES)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_declares_what_it_can_do(name: str, domains: Path) -> None:
    cfg, data, recipe = _build(name, domains)
    declared = {c for c in CAPS if isinstance(recipe, c)}
    assert isinstance(recipe, Generates)
    assert declared == RECIPES[name][1]
    assert recipe.supports_distributed is (name == "gan")
    # generating is seeded: the same seed gives the same samples, another seed others
    a, b, c = (recipe.generate(6, seed=s) for s in (3, 3, 4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    x = data.sample(6, torch.Generator().manual_seed(0))[0]
    if isinstance(recipe, Encodes):
        assert torch.equal(recipe.reconstruct(x), recipe.decode(recipe.encode(x)))
        assert recipe.prior.num_components == 8          # its mog prior
    if isinstance(recipe, Classifies):
        logits = recipe.class_logits(x).detach()
        assert torch.equal(recipe.classify(x), logits.argmax(1))
        assert recipe.test.y is not None and len(recipe.split.labelled) == 100
    if isinstance(recipe, Discriminates) and recipe.transform is None:
        recipe.D.eval()
        assert torch.equal(recipe.discriminate(x), recipe.D(x, None))
    if isinstance(recipe, HasCodes):
        grid = recipe.code_grid(3, seed=1)
        assert grid.shape[0] == 4 * 3
        assert torch.equal(grid, recipe.code_grid(3, seed=1))
    if isinstance(recipe, DrawsSampleGrid):
        imgs, cols = recipe.sample_grid(8, seed=0)
        again, _ = recipe.sample_grid(8, seed=0)
        assert torch.equal(imgs, again) and cols >= 1
    if isinstance(recipe, Translates):
        a = data.test_inputs[:4] if hasattr(data, "test_inputs") else data.test_a[:4]
        assert torch.equal(recipe.translate(a), recipe.apply(recipe.G, a))


def test_infogan_draws_its_grid_only_for_images() -> None:
    """The declaration holds for image runs; on points the recipe has no grid (a scatter plot
    instead), and the callers ask the data's kind too."""
    cfg = build_config({"model": {"name": "infogan", "categories": 4}, "latent_dim": 7, "data": "ring", **SMALL,
                        "train": {"batch_size": 8, "progress": False}})
    data = DATASETS.build(cfg.data.name, cfg.data.options)
    recipe = _RECIPES.build("infogan", cfg.model.options, cfg=cfg, data=data, device=CPU, rank=0)
    with pytest.raises(AttributeError):
        recipe.sample_grid  # noqa: B018


@pytest.mark.parametrize("name, known, finite", [("ring", True, False), ("mixture1d", True, False),
                                                 ("digits", False, True), ("moons", False, True)])
def test_data_sources_declare_modes_and_rows(name: str, known: bool, finite: bool) -> None:
    data = DATASETS.build(name, {})
    assert isinstance(data, KnownModes) is known and isinstance(data, FiniteData) is finite
    assert (data.x is not None) is finite
    if known:
        assert float(data.weights.sum()) == pytest.approx(1.0)
        assert data.sigma == pytest.approx(float(data.sigmas.max()))
        assert data.dim == data.means.shape[1]
    if finite:
        assert len(data) == data.x.shape[0]
    # the optional facts are declared with defaults, so reading them never needs a probe
    assert isinstance(list(data.class_names), list) and (data.columns is None or len(data.columns) == data.shape[0])


# --------------------------------------------------------------------------- metrics' needs

def test_every_metric_declares_needs_and_defaults_as_registry_metadata() -> None:
    for entry in METRICS:
        assert all(isinstance(n, Need) for n in entry.meta.get("needs", ())), entry.name
        assert set(entry.meta.get("default_for", {})) <= {"images", "1d", "modes", "points"}, entry.name


def _old_defaults(data, inception=None, num_samples=None) -> list[str]:
    """The defaults as they were written out by hand before the metrics declared them."""
    if data.kind == "images":
        return ["fid", "kid", "pr", "classes"] if data.num_classes else []   # no Inception weights in tests
    if isinstance(data, KnownModes) and data.dim == 1:
        return ["jsd1d", "energy"]
    if isinstance(data, KnownModes):
        return ["modes", "energy"]
    return ["twosample"]


@pytest.mark.parametrize("name", ["ring", "grid", "mixture1d", "moons", "digits"])
def test_declared_defaults_are_the_old_defaults(name: str, monkeypatch) -> None:
    monkeypatch.setenv("GANKIT_INCEPTION", "off")
    data = DATASETS.build(name, {})
    assert default_metrics(data, None, 500) == _old_defaults(data)


# metric -> (recipe whose run refuses it, the message's end); every registered metric is here
REFUSED = {
    "modes": ("ssaae", "needs a mixture data set with known modes (ring, grid, mixture1d), not 'digits'"),
    "jsd1d": ("gan", "needs a 1-D mixture data set (mixture1d), not 'ring'"),
    "energy": ("ssgan", "draws eval.num_samples=5000 examples without replacement, but data set "
                        "'digits' has 1438; lower eval.num_samples"),
    "mmd": ("ssaae", "draws eval.num_samples=5000 examples without replacement, but data set "
                     "'digits' has 1438; lower eval.num_samples"),
    "twosample": (None, ""),
    "fid": ("gan", "needs image data, not 'ring' (points)"),
    "kid": ("aae", "needs image data, not 'ring' (points)"),
    "pr": ("cyclegan", "needs class labels to train gankit's feature classifier"),
    "dc": ("infogan", "needs more than its k=5 nearest neighbours: eval.num_samples gives 4 images"),
    "classes": ("cyclegan", "needs class labels to train gankit's feature classifier, and data set "),
    "stacked_modes": ("acgan", "needs data=stacked, not 'digits'"),
    "recon": ("gan", "needs a model that encodes x into z (model=aae, bigan), not model=gan"),
    "latent_mmd": ("ssaae", "needs a model that encodes x into z (model=aae, bigan), not model=ssaae"),
    "latent_components": ("aae", "needs 8 labelled classes, one per prior component; data set 'ring' has 0"),
    "codes": ("acgan", "needs an InfoGAN run with a categorical code (model=infogan), not model=acgan"),
    "test_error": ("acgan", "needs a semi-supervised run (model=ssgan or ssaae), not model=acgan"),
    "l1": ("cyclegan", "needs model=pix2pix on paired data"),
    "psnr": ("gan", "needs model=pix2pix on paired data"),
    "cycle": ("pix2pix", "needs model=cyclegan on two image domains"),
    "translated_classes": ("cyclegan", "needs domains that are classes of a labelled set (data=fashion-domains), "
                                       "not 'domains:"),
}
# metric -> a recipe whose run computes it
ACCEPTED = {"modes": "gan", "jsd1d": None, "energy": "aae", "mmd": "gan", "twosample": "ssgan", "fid": "acgan",
            "kid": "ssgan", "pr": "infogan", "dc": "acgan", "classes": "ssaae", "stacked_modes": None, "recon": "aae",
            "latent_mmd": "aae", "latent_components": None, "codes": "infogan", "test_error": "ssaae",
            "l1": "pix2pix", "psnr": "pix2pix", "cycle": "cyclegan", "translated_classes": None}


def test_the_tables_cover_every_metric() -> None:
    assert set(REFUSED) == set(ACCEPTED) == set(METRICS.names())


@pytest.mark.parametrize("metric", sorted(REFUSED))
def test_declared_needs_refuse_in_the_old_words(metric: str, domains: Path, monkeypatch) -> None:
    monkeypatch.setenv("GANKIT_INCEPTION", "off")
    name, words = REFUSED[metric]
    if name is not None:
        n = {"energy": 5000, "mmd": 5000, "dc": 4}.get(metric, 64)
        cfg, data, recipe = _build(name, domains, eval={"num_samples": n})
        with pytest.raises(ConfigError) as e:
            check_eval(cfg, data, recipe, [metric])
        assert str(e.value).startswith(f"eval.metrics: metric {metric!r} {words}")
    if ACCEPTED[metric] is not None:
        cfg, data, recipe = _build(ACCEPTED[metric], domains)
        check_eval(cfg, data, recipe, [metric])
