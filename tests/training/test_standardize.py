"""Point data of any range trains standardised; samples come back in the data's units."""

import pytest
import torch

from gankit.recipes.base import build_recipe
from gankit.data import DATASETS
from gankit.data.base import TensorSource
from gankit.session import load_run, train
from gankit.engine.transform import Standardize


def test_fit_is_exact_on_a_finite_data_set_and_inverts():
    x = torch.randn(500, 3, dtype=torch.float64) * torch.tensor([1e3, 1e-3, 5.0]) + torch.tensor([7e3, -2.0, 0.0])
    data = TensorSource(x.float(), None, name="pts", kind="points")
    t = Standardize.fit(data)
    torch.testing.assert_close(t.mean, x.mean(0).float())
    torch.testing.assert_close(t.std, x.std(0).float())
    z = t(data.x)
    torch.testing.assert_close(z.mean(0), torch.zeros(3), atol=1e-3, rtol=0)
    torch.testing.assert_close(t.inverse(z), data.x, rtol=1e-5, atol=1e-3)


@pytest.mark.training
def test_a_run_on_data_far_from_unit_scale_samples_in_its_units(tmp_path):
    means = [[5000.0, -3000.0], [5020.0, -2980.0]]
    run = train({"data": {"name": "mixture", "means": means, "sigmas": 1.0}, "train": {
        "steps": 30, "standardize": True, "progress": False, "batch_size": 64},
        "generator": {"width": 16}, "discriminator": {"width": 16}, "eval": {"num_samples": 200}},
        run_dir=tmp_path / "r")
    x = run.recipe.generate(500, seed=0)
    assert (x.mean(0) - torch.tensor([5010.0, -2990.0])).abs().max() < 50  # in data units, not near 0
    t = run.recipe.transform
    torch.testing.assert_close(t.mean, torch.tensor([5010.0, -2990.0]), atol=1.0, rtol=0)
    again = load_run(tmp_path / "r")                                     # the transform is saved and restored
    assert torch.equal(again.recipe.transform.mean, t.mean)
    assert torch.equal(again.recipe.generate(50, seed=1), run.recipe.generate(50, seed=1))
    # D sees standardised points: discriminate() on data-space points equals D on the standardised ones
    pts = torch.tensor([[5000.0, -3000.0]])
    torch.testing.assert_close(run.recipe.discriminate(pts), run.recipe.D(t(pts)))


def test_standardisation_is_off_for_images_and_by_default():
    run_cfg = {"train": {"standardize": True, "steps": 1}}
    from gankit.config import build_config
    from gankit.recipes.gan import GANRecipe

    data = DATASETS.build("digits", {"size": 8})
    cfg = build_config({**run_cfg, "data": {"name": "digits", "size": 8}, "generator": "dcgan",
                        "discriminator": "dcgan", "latent_dim": 8})
    assert build_recipe(cfg, data, torch.device("cpu")).transform is None
    assert build_config({}).train.standardize is False
