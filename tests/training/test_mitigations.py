"""Mechanics of each mode-collapse mitigation, with numbers at small size."""

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gankit.recipes.base import build_recipe
from gankit.config import build_config
from gankit.data import DATASETS
from gankit.errors import ConfigError
from gankit.mitigations.features import minibatch_features, minibatch_stddev
from gankit.mitigations.packing import pack
from gankit.mitigations.unrolled import _adam_step
from gankit.recipes.gan import GANRecipe


def _recipe(mitigations=None, **extra):
    raw = {"discriminator": {"width": 8, "depth": 1}, "generator": {"width": 8, "depth": 1},
           "train": {"batch_size": 12, "steps": 100, "progress": False}, "device": "cpu",
           "mitigations": mitigations or {}, **extra}
    cfg = build_config(raw)
    return build_recipe(cfg, DATASETS.build(cfg.data.name, cfg.data.options), torch.device("cpu"))


# --------------------------------------------------------------------------- packing

def test_packing_d_sees_m_samples_concatenated():
    torch.manual_seed(0)
    r = _recipe({"pack": {"m": 3}})
    inner = r.D.inner
    assert inner.features[0].in_features == 6          # 3 samples of dimension 2
    x = torch.randn(12, 2)
    out = r.D(x)
    manual = torch.stack([torch.cat([x[3 * i], x[3 * i + 1], x[3 * i + 2]]) for i in range(4)])  # (4, 6)
    torch.testing.assert_close(out, inner(manual), rtol=0, atol=0)
    assert out.shape == (4,)
    # eval mode (decision-surface plots): one output per input, D of a pack of m copies of it
    r.D.eval()
    torch.testing.assert_close(r.D(x[:2]), inner(torch.stack([x[0].repeat(3), x[1].repeat(3)])), rtol=0, atol=0)


def test_pack_images_along_channels_and_batch_multiple():
    x = torch.arange(4 * 2 * 3 * 3, dtype=torch.float32).reshape(4, 2, 3, 3)
    p = pack(x, 2)
    assert p.shape == (2, 4, 3, 3)
    torch.testing.assert_close(p[1], torch.cat([x[2], x[3]], dim=0), rtol=0, atol=0)
    with pytest.raises(ConfigError, match="multiple of 4"):
        _recipe({"pack": {"m": 4}}, train={"batch_size": 10})


# --------------------------------------------------------------------------- minibatch features

def _numpy_minibatch(f, T, kernels):
    M = (f @ T).reshape(f.shape[0], kernels, -1)
    o = np.zeros((f.shape[0], kernels))
    for i in range(f.shape[0]):
        for j in range(f.shape[0]):
            o[i] += np.exp(-np.abs(M[i] - M[j]).sum(axis=1))
    return o


def test_minibatch_features_collapsed_vs_diverse():
    g = torch.Generator().manual_seed(1)
    T = torch.randn(6, 4 * 3, generator=g, dtype=torch.float64)
    collapsed = torch.randn(1, 6, generator=g, dtype=torch.float64).expand(5, 6)
    diverse = torch.randn(5, 6, generator=g, dtype=torch.float64)
    # all identical: every L1 distance is 0, o = sum_j exp(0) = B
    torch.testing.assert_close(minibatch_features(collapsed, T, 4), torch.full((5, 4), 5.0, dtype=torch.float64))
    o = minibatch_features(diverse, T, 4)
    np.testing.assert_allclose(o.numpy(), _numpy_minibatch(diverse.numpy(), T.numpy(), 4), rtol=1e-12)
    assert float(o.max()) < 5.0 - 0.5  # distinct samples are told apart from the collapsed value


def test_minibatch_stddev_closed_form():
    collapsed = torch.ones(8, 3)
    torch.testing.assert_close(minibatch_stddev(collapsed, 0), torch.full((8, 1), 1e-4))
    f = torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 5.0], [6.0, 9.0]])
    # whole batch: std of column 0 = sqrt(5), column 1 = sqrt(11) (biased); mean of the two
    want = (math.sqrt(5 + 1e-8) + math.sqrt(11 + 1e-8)) / 2
    torch.testing.assert_close(minibatch_stddev(f, 0), torch.full((4, 1), want))
    # groups of 2 take samples {0, 2} and {1, 3} (Karras's reshape): stds (2, 2) and (2, 4)
    torch.testing.assert_close(minibatch_stddev(f, 2).squeeze(1), torch.tensor([2.0, 3.0, 2.0, 3.0]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["minibatch", "mbstd"])
def test_batch_features_change_d_on_collapse(name):
    torch.manual_seed(0)
    r = _recipe({name: {"group_size": 0} if name == "mbstd" else {}})
    D = r.D
    one = torch.randn(1, 2)
    x = torch.cat([one, torch.randn(11, 2)])
    # the same first sample, judged within a collapsed batch vs a diverse one
    a, b = D(one.expand(12, 2))[0], D(x)[0]
    assert abs(float((a - b).detach())) > 1e-4
    head = D.head.layer
    assert head.in_features == 8 + (50 if name == "minibatch" else 1)


def test_batch_feature_mitigation_needs_a_head():
    from gankit.mitigations.features import MinibatchDiscrimination

    with pytest.raises(ConfigError, match="Linear has none"):
        MinibatchDiscrimination(2, 2, 0.05).wrap_discriminator(torch.nn.Linear(2, 1), None)


# --------------------------------------------------------------------------- unrolled GAN

def _g_grads(r):
    r.trainer._only(r.trainer.phases[1])
    r.G.zero_grad(set_to_none=True)
    loss, _ = r.g_loss()
    loss.backward()
    return [p.grad.clone() for p in r.G.parameters()]


def _twin(mitigations, seed=0):
    torch.manual_seed(seed)
    return _recipe(mitigations)


def test_unrolled_k0_equals_plain_and_k1_differs():
    plain, k0, k1 = _twin({}), _twin({"unrolled": {"k": 0}}), _twin({"unrolled": {"k": 1, "optimizer": "sgd", "lr": 0.5}})
    for r in (k0, k1):  # identical networks
        for a, b in zip(r.G.parameters(), plain.G.parameters()):
            assert torch.equal(a, b)
    torch.manual_seed(5)
    g_plain = _g_grads(plain)
    torch.manual_seed(5)
    g_k0 = _g_grads(k0)
    torch.manual_seed(5)
    g_k1 = _g_grads(k1)
    for a, b in zip(g_plain, g_k0):
        assert torch.equal(a, b)
    diff = max(float((a - b).abs().max()) for a, b in zip(g_plain, g_k1))
    assert diff > 1e-3


def test_unrolled_k1_equals_hand_computed_sgd_unroll():
    eta = 0.5
    r = _twin({"unrolled": {"k": 1, "optimizer": "sgd", "lr": eta}})
    # D = head(leaky_relu(W1 x + b1)) written out by hand from its weights
    W1, b1 = r.D.features[0].weight.detach(), r.D.features[0].bias.detach()
    w2, b2 = r.D.head.weight.detach(), r.D.head.bias.detach()
    slope = r.D.features[1].negative_slope
    data_state = r.data_rng.get_state()
    torch.manual_seed(7)
    got = _g_grads(r)

    torch.manual_seed(7)
    r.data_rng.set_state(data_state)
    n = r.batch_size
    z_g = r.prior.sample(n)                           # g_loss draws its z first,
    real, _ = r.real_batch()                          # then the unroll its real batch
    z_u = r.prior.sample(n)                           # and its fake batch
    params = [t.clone().requires_grad_(True) for t in (W1, b1, w2, b2)]

    def d(x, p):
        return (F.leaky_relu(x @ p[0].T + p[1], slope) @ p[2].T + p[3]).squeeze(1)

    d_loss = F.softplus(-d(real, params)).mean() + F.softplus(d(r.G(z_u), params)).mean()
    grads = torch.autograd.grad(d_loss, params, create_graph=True)
    unrolled = [p - eta * g for p, g in zip(params, grads)]
    g_loss = F.softplus(-d(r.G(z_g), unrolled)).mean()  # non-saturating: -log sigmoid(D(G(z)))
    want = torch.autograd.grad(g_loss, list(r.G.parameters()))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_unrolled_adam_update_matches_torch_adam():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(5))
    opt = torch.optim.Adam([w], lr=0.01, betas=(0.5, 0.9))
    for _ in range(3):  # build up moments
        opt.zero_grad()
        (w ** 3).sum().backward()
        opt.step()
    st = opt.state[w]
    moments = {"w": [st["exp_avg"].clone(), st["exp_avg_sq"].clone(), float(st["step"])]}
    g = 3 * w.detach() ** 2
    new = _adam_step({"w": w.detach().clone()}, (g,), moments, 0.01, opt.param_groups[0])
    opt.zero_grad()
    (w ** 3).sum().backward()
    opt.step()
    torch.testing.assert_close(new["w"], w.detach(), rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- instance noise

def test_instance_noise_schedule_and_std():
    r = _recipe({"instance_noise": {"sigma": 0.5}})   # anneal over train.steps = 100
    m = r.mitigations[0]
    assert [m.sigma(t) for t in (0, 25, 50, 100, 150)] == pytest.approx([0.5, 0.375, 0.25, 0.0, 0.0], abs=1e-15)
    torch.manual_seed(3)
    x = torch.zeros(200_000, 2)
    noise = m.discriminator_input(x, 25)
    assert float(noise.std()) == pytest.approx(0.375, rel=0.01)
    assert float(noise.mean()) == pytest.approx(0.0, abs=0.005)
    assert torch.equal(m.discriminator_input(x, 100), x)
    const = _recipe({"instance_noise": {"sigma": 0.2, "schedule": "constant"}}).mitigations[0]
    assert const.sigma(0) == const.sigma(10_000) == 0.2
    # the recipe feeds noisy inputs to D for real and fake alike: at step 0, sigma = 0.5
    torch.manual_seed(4)
    assert float(r.d_input(torch.zeros(100_000, 2)).std()) == pytest.approx(0.5, rel=0.01)


# --------------------------------------------------------------------------- spectral norm

def test_spectral_norm_mitigation_bounds_every_layer():
    torch.manual_seed(0)
    r = _recipe({"spectral_norm": {}}, discriminator={"width": 16, "depth": 2})
    x = torch.randn(12, 2)
    for _ in range(50):  # power iterations converge
        r.D(x)
    r.D.eval()
    layers = [m for m in r.D.modules() if isinstance(m, torch.nn.Linear)]
    assert len(layers) == 3
    for m in layers:
        assert float(torch.linalg.matrix_norm(m.weight.detach(), ord=2)) == pytest.approx(1.0, abs=1e-3)


# --------------------------------------------------------------------------- presets

@pytest.mark.parametrize("preset, paper", [("wgan-gp", "wgan-gp"), ("wgan-clip", "wgan")])
def test_wgan_presets_follow_the_papers(preset, paper):
    from gankit.config import load_config
    from gankit.losses.wasserstein import PRESETS

    ref, cfg = PRESETS[paper], load_config(preset=preset)
    assert cfg.model["loss"].name == ref["loss"]["name"] and cfg.model["penalty"].name == ref["penalty"]["name"]
    assert {k: cfg.model["penalty"].options[k] for k in ref["penalty"] if k != "name"} == {k: v for k, v in ref["penalty"].items() if k != "name"}
    assert cfg.train.d_steps == ref["n_critic"]
    for opt in (cfg.optim_g, cfg.optim_d):
        assert opt.name == ref["optimizer"]["name"] and opt.lr == ref["optimizer"]["lr"]
        assert tuple(opt.betas) == tuple(ref["optimizer"].get("betas", opt.betas))
    assert cfg.train.batch_size == ref.get("batch_size", cfg.train.batch_size)


# --------------------------------------------------------------------------- categorical latent code

def test_categorical_code_prior():
    from scipy import stats

    from gankit.networks import PRIORS

    p = PRIORS.build("categorical", {"components": 5, "scale": 2.0}, dim=8)
    z = p.sample(50_000, torch.Generator().manual_seed(0)).double()
    code, eps = z[:, :5], z[:, 5:]
    assert torch.equal(code.sum(1), torch.full((50_000,), 2.0, dtype=torch.float64))   # one code of value 2 per row
    assert torch.equal((code > 0).sum(1), torch.ones(50_000, dtype=torch.long))
    counts = (code > 0).sum(0).numpy()
    assert stats.chisquare(counts).pvalue > 0.01                                        # uniform over the K codes
    assert float(eps.std()) == pytest.approx(1.0, abs=0.01) and float(eps.mean()) == pytest.approx(0.0, abs=0.01)
    with pytest.raises(ConfigError, match="latent_dim > 5"):
        PRIORS.build("categorical", {"components": 5}, dim=5)


def test_minibatch_features_twice_differentiable_form_equals_cdist():
    # a gradient penalty (R1, GP) differentiates D's input gradient; the explicit L1 form must
    # give cdist's values and gradients, and a second derivative cdist cannot give
    torch.manual_seed(0)
    f = torch.randn(7, 6, dtype=torch.float64, requires_grad=True)
    T = torch.randn(6, 4 * 3, dtype=torch.float64)
    a, b = minibatch_features(f, T, 4), minibatch_features(f, T, 4, double_backward=True)
    torch.testing.assert_close(a, b)
    (ga,) = torch.autograd.grad(a.sum(), f)
    (gb,) = torch.autograd.grad(b.sum(), f, create_graph=True)
    torch.testing.assert_close(ga, gb)
    (hb,) = torch.autograd.grad(gb.pow(2).sum(), f)   # the penalty's second derivative exists
    assert torch.isfinite(hb).all() and hb.abs().sum() > 0
