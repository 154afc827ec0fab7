"""Fast paths keep results: channels_last training equals NCHW training, compiled networks
keep their checkpoint keys, and compilation is refused where it cannot differentiate twice."""

import pytest
import torch

from gankit.recipes.base import build_recipe
from gankit.config import build_config
from gankit.data import DATASETS
from gankit.errors import ConfigError
from gankit.engine.fastpath import DeviceData, channels_last_batch, is_convolutional
from gankit.recipes.gan import GANRecipe

DCGAN = {"seed": 2, "device": "cpu", "data": {"name": "digits", "size": 16}, "latent_dim": 8,
         "generator": {"name": "dcgan", "width": 8}, "discriminator": {"name": "dcgan", "width": 8},
         "train": {"batch_size": 16, "progress": False}}


def _recipe(**train):
    cfg = build_config({**DCGAN, "train": {**DCGAN["train"], **train}})
    torch.manual_seed(0)
    return build_recipe(cfg, DATASETS.build("digits", {"size": 16}), torch.device("cpu"))


@pytest.mark.training
def test_channels_last_training_equals_nchw_training(record):
    runs = {}
    for cl in (False, True):
        r = _recipe(channels_last=cl)
        torch.manual_seed(4)
        for _ in range(3):
            r.trainer.train_step()
        runs[cl] = r
    conv = runs[True].D.features[2].weight  # (2w, w, 4, 4)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    init = _recipe().state_dict()["modules"]
    a, b = runs[False].state_dict()["modules"], runs[True].state_dict()["modules"]
    # convolution algorithms differ by layout: float32 rounding only (measured 1.5e-8)
    diff = max(float((b[net][k] - v).abs().max()) for net in ("G", "D") for k, v in a[net].items())
    assert record("max |channels_last - NCHW|", diff, "<= 1e-6")
    # the comparison is not vacuous: three Adam steps (lr 2e-4) moved G's weights by ~6e-4
    moved = float((a["G"]["convs.0.weight"] - init["G"]["convs.0.weight"]).abs().max())
    assert record("max change of G's first weights", moved, "> 4e-4")


def test_compiled_networks_keep_their_state_dict_keys():
    eager, compiled = _recipe(), _recipe(compile=True)
    assert compiled.G._compiled_call_impl is not None and compiled.D._compiled_call_impl is not None
    assert list(compiled.G.state_dict()) == list(eager.G.state_dict())
    assert list(compiled.D.state_dict()) == list(eager.D.state_dict())
    assert not any("_orig_mod" in k for k in compiled.state_dict()["modules"]["G"])


@pytest.mark.parametrize("extra, what", [({"loss": "wgan", "penalty": "r1"}, "penalty r1"),
                                         ({"mitigations": {"unrolled": {"k": 2}}}, "mitigation unrolled")])
def test_compile_is_refused_where_gradients_are_differentiated(extra, what):
    cfg = build_config({**DCGAN, **extra, "train": {**DCGAN["train"], "compile": True}})
    with pytest.raises(ConfigError, match=f"cannot train with {what}: .* no double backward"):
        build_recipe(cfg, DATASETS.build("digits", {"size": 16}), torch.device("cpu"))


def test_layout_helpers():
    assert is_convolutional(_recipe().G) and not is_convolutional(torch.nn.Linear(2, 2))
    x = torch.arange(2 * 3 * 4 * 5.0).view(2, 3, 4, 5)
    y = channels_last_batch(x)
    assert torch.equal(y, x) and y.stride() == (60, 1, 15, 3)  # NHWC strides: C fastest
    d = DeviceData(x, torch.tensor([7, 9]), torch.device("cpu"), channels_last=True)
    xs, ys = d.take(torch.tensor([1]))
    assert torch.equal(xs, x[1:]) and ys.tolist() == [9]
