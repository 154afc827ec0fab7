"""pix2pix and CycleGAN (gankit.recipes.translate) and their metrics (gankit.metrics.translate):
the losses at the identity and by hand, L1/PSNR by hand, the image pool (exact resume:
tests/contracts/), the CLI on translation runs, bad input refused before training, and short trainings that must beat trivial translators."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gankit.recipes.base import build_recipe
from gankit.cli.main import main
from gankit.config import build_config, load_preset, merge
from gankit.data import DATASETS
from gankit.metrics import METRICS, EvalContext
from gankit.metrics.translate import MAX_PSNR, l1_error, psnr
from gankit.session.run import Run, load_run, train
from gankit.recipes.translate import (
    CycleGANRecipe,
    ImagePool,
    Pix2PixRecipe,
    cycle_loss,
    identity_loss,
)

CPU = torch.device("cpu")


# --------------------------------------------------------------------------- losses and metrics by hand

def test_cycle_and_identity_losses_vanish_at_the_identity() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(4, 1, 8, 8, generator=g) * 2 - 1, torch.rand(4, 1, 8, 8, generator=g) * 2 - 1
    ident = nn.Identity()
    assert float(cycle_loss(ident, ident, a, b)) == 0.0
    assert float(identity_loss(ident, ident, a, b)) == 0.0


def test_cycle_and_identity_losses_by_hand() -> None:
    """G(x) = 2x, F = identity on a = [1, -2], b = [3]: F(G(a)) = 2a, so mean|2a - a| = mean|a| = 1.5;
    G(F(b)) = 2b, mean|b| = 3; cycle = 4.5. Identity: mean|G(b) - b| = 3, mean|F(a) - a| = 0."""
    G, F = (lambda x: 2 * x), (lambda x: x)
    a, b = torch.tensor([[1.0, -2.0]]), torch.tensor([[3.0]])
    assert float(cycle_loss(G, F, a, b)) == pytest.approx(4.5)
    assert float(identity_loss(G, F, a, b)) == pytest.approx(3.0)


def test_l1_and_psnr_by_hand() -> None:
    x = torch.zeros(2, 1, 4, 4)
    y = torch.full((2, 1, 4, 4), 0.2)       # 0.1 apart in [0, 1] pixels: MSE 0.01, PSNR 20 dB
    assert l1_error(x, y) == pytest.approx(0.2)
    assert psnr(x, y) == pytest.approx(20.0)
    y2 = y.clone()
    y2[1] = -1.0                             # second image 0.5 apart: MSE 0.25 -> 10 log10(4) dB
    assert psnr(x, y2) == pytest.approx((20.0 + 10 * math.log10(4.0)) / 2)
    assert psnr(x, x) == MAX_PSNR            # an exact copy: the cap, not infinity


def test_image_pool_keeps_history_and_resumes() -> None:
    pool = ImagePool(3, seed=0)
    first = torch.arange(3.0).reshape(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first)          # filling: every image passes through
    state = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in pool.state_dict().items()}
    new = torch.arange(10.0, 20.0).reshape(10, 1, 1, 1)
    out = pool.query(new)
    # each output is the new image or one of the history: {0, 1, 2} or its own value
    for o, n in zip(out.flatten().tolist(), new.flatten().tolist()):
        assert o == n or o in (0.0, 1.0, 2.0) or 10.0 <= o < n
    again = ImagePool(3, seed=99)
    again.load_state_dict(state, CPU)
    assert torch.equal(again.query(new), out)             # same history, same random choices
    assert torch.equal(ImagePool(0, seed=0).query(new), new)


# --------------------------------------------------------------------------- small data for recipes

def digits_pairs_cfg(**model) -> dict:
    return {"model": {"name": "pix2pix", "width": 8, "d_width": 8, "d_layers": 1, **model},
            "data": {"name": "pair-task", "base": "digits", "task": "edges", "size": 16, "test_num": 0},
            "loss": "ns", "optim_g": {"lr": 1e-3}, "optim_d": {"lr": 1e-3},
            "train": {"steps": 6, "batch_size": 16, "progress": False, "checkpoint_every": 0, "log_every": 2},
            "eval": {"num_samples": 64}}


def domains_folder(root: Path, n: int = 24) -> Path:
    """Unpaired 8x8 domains: digits 0 as A, digits 1 as B, the last 6 of each held out."""
    from sklearn.datasets import load_digits

    d = load_digits()
    for side, k in (("A", 0), ("B", 1)):
        imgs = d.images[d.target == k][:n]
        for i, img in enumerate(imgs):
            folder = root / (side if i < n - 6 else f"test/{side}")
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray((img * 255 / 16).astype(np.uint8), "L").save(folder / f"{i:03d}.png")
    return root


def domains_cfg(root: Path, **model) -> dict:
    return {"model": {"name": "cyclegan", "net": "unet", "width": 4, "d_width": 4, "d_layers": 1, "pool": 4, **model},
            "data": {"name": "domains", "path": str(root), "channels": 1},
            "loss": "lsgan", "optim_g": {"lr": 1e-3}, "optim_d": {"lr": 1e-3},
            "train": {"steps": 6, "batch_size": 4, "progress": False, "checkpoint_every": 0, "log_every": 2},
            "eval": {"num_samples": 64}}


def config(raw: dict):
    return build_config(merge(load_preset("base"), raw))


def test_cyclegan_recipe_losses_vanish_with_identity_translators(tmp_path: Path) -> None:
    cfg = config(domains_cfg(domains_folder(tmp_path / "d")))
    data = DATASETS.build(cfg.data.name, cfg.data.options)
    recipe = build_recipe(cfg, data, CPU)
    recipe.G, recipe.F = nn.Identity(), nn.Identity()
    _, logs = recipe.g_loss()
    assert float(logs["cycle"]) == 0.0 and float(logs["identity"]) == 0.0


def test_pix2pix_metrics_of_the_identity_translator_are_the_identity_baseline() -> None:
    cfg = config(digits_pairs_cfg())
    data = DATASETS.build(cfg.data.name, cfg.data.options)
    recipe = build_recipe(cfg, data, CPU)
    recipe.G = nn.Identity()
    ctx = EvalContext(data, recipe.generate, num_samples=100, model=recipe)
    m = {**METRICS.get("l1")(ctx), **METRICS.get("psnr")(ctx)}
    assert m["l1"] == m["l1_identity"] and m["psnr"] == m["psnr_identity"]
    # and by hand on the same 100 held-out pairs
    idx = torch.randperm(data.test_inputs.shape[0], generator=ctx.generator(31))[:100]
    assert m["l1"] == pytest.approx(float((data.test_inputs[idx] - data.test_x[idx]).abs().double().mean()))


# --------------------------------------------------------------------------- the Run machinery

def final_state(run: Run) -> dict:
    return {k: {n: t.clone() for n, t in m.state_dict().items()} for k, m in run.recipe.modules().items()}


def test_cli_sample_eval_on_a_translation_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = train(config(digits_pairs_cfg()), run_dir=tmp_path / "r")
    assert main(["sample", str(run.dir), "-n", "6", "--out", str(tmp_path / "g.png")]) == 0
    with Image.open(tmp_path / "g.png") as im:           # 6 triplets, 4 per row: 2 rows of 12 images
        w, h = im.size
    assert main(["sample", str(run.dir), "-n", "6", "--out", str(tmp_path / "g.npy")]) == 0
    x = np.load(tmp_path / "g.npy")
    assert x.shape == (6, 1, 16, 16)
    again = load_run(run.dir)
    # the samples are the translations of held-out inputs
    idx = again.recipe._pick(6, again.data.test_inputs.shape[0], 0)
    np.testing.assert_array_equal(x, again.recipe.translate(again.data.test_inputs[idx]).numpy())
    assert main(["eval", str(run.dir)]) == 0
    out = capsys.readouterr().out
    assert '"l1_mean_image"' in out and '"psnr"' in out
    # 12 columns of 16 px cells and 2 rows, 2 px padding, upscaled x2 (cells of at least 32 px)
    assert (w, h) == (2 * (12 * 18 + 2), 2 * (2 * 18 + 2))


@pytest.mark.parametrize("sets,message", [
    (["model=pix2pix", "data=ring"], "model=pix2pix needs paired data"),
    (["model=cyclegan", "data=pair-task", "data.base=digits", "data.size=8"], "model=cyclegan needs two image domains"),
    (["model=pix2pix", "data=pair-task", "data.base=digits", "data.size=8", "model.l1=0", "model.gan=0"],
     "nothing to minimise"),
    (["model=pix2pix", "data=pair-task", "data.base=digits", "data.size=8", "conditional=true"],
     "unknown option model.conditional for model"),
    (["model=cyclegan", "data=fashion-domains", "data.a=Shoe"], "not a Fashion-MNIST class"),
    (["model=pix2pix", "data=pair-task", "data.task=sketch"], "data.task"),
    (["model=cyclegan", "model.cycle=-1", "data=fashion-domains"], "model.cycle"),
    (["eval.metrics=[l1]"], "metric 'l1' needs model=pix2pix on paired data"),
    pytest.param(["model=cyclegan", "data=fashion-domains", "data.num=10", "train.batch_size=16"],
                 "exceeds the 10 images", marks=pytest.mark.needs_fashion_mnist),  # the check counts the images
    (["model=pix2pix", "data=pair-task", "data.base=digits", "data.size=8", "model.d_layers=1",
      "eval.metrics=[cycle]"],
     "metric 'cycle' needs model=cyclegan on two image domains"),
])
def test_bad_translation_configs_exit_2_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        sets: list[str], message: str) -> None:
    out = tmp_path / "runs"
    args = ["train", "--set", f"out_dir={out}"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_translated_classes_on_a_folder_is_refused_before_training(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    root = domains_folder(tmp_path / "d")
    args = ["train", "--set", "model=cyclegan", "--set", f"data=domains:{root}", "--set", "data.channels=1",
            "--set", "train.batch_size=4", "--set", "model.d_layers=1",  # 8 px images: a 1-layer PatchGAN
            "--set", "eval.metrics=[cycle,translated_classes]",
            "--set", f"out_dir={tmp_path / 'runs'}"]
    assert main(args) == 2
    assert "needs domains that are classes of a labelled set" in capsys.readouterr().err


@pytest.mark.needs_fashion_mnist
@pytest.mark.parametrize("name,extra", [("pix2pix-fashion-edges", ["data.num=64", "data.test_num=64"]),
                                        ("cyclegan-fashion", ["data.num=64", "eval.metrics=[cycle]"])])
def test_presets_train_and_the_bench_runs_them_unchanged(tmp_path: Path, name: str, extra: list[str]) -> None:
    import inspect

    from gankit.bench import translate as bench
    from gankit.config import load_config

    small = ["train.steps=3", "train.progress=false", "train.checkpoint_every=0", "eval.num_samples=64",
             "train.batch_size=8"]
    run = train(load_config(preset=name, overrides=small + extra), run_dir=tmp_path / name)
    assert run.step == 3 and {"cycle_l1_A", "l1"} & set(run.metrics)
    # the bench trains exactly the preset, but for its length, run name, checkpoints and evaluation size
    options = {k: p.default for k, p in inspect.signature(bench.translate).parameters.items()}
    model = "cyclegan" if "cyclegan" in name else "pix2pix"
    flat = lambda c: {f"{s}.{k}": v for s, d in c.to_dict().items() if isinstance(d, dict)
                      for k, v in d.items()} | {k: v for k, v in c.to_dict().items() if not isinstance(v, dict)}
    ours, preset = flat(bench._config(model, options)), flat(load_config(preset=name))
    differ = {k for k in ours.keys() | preset.keys() if ours.get(k) != preset.get(k)}
    assert differ <= {"name", "train.checkpoint_every", "train.progress", "eval.num_samples", "data.test_num"}
