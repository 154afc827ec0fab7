"""The semi-supervised recipes' mathematics and plumbing: the K+1-class discriminator against
an explicit K+1-way softmax and its optimum, the labelled-subset selection, bad input (exit 2,
one line, before training); exact resume is in tests/contracts/. The training claims are in test_semisup_training.py."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.cli.main import main
from gankit.data import DATASETS
from gankit.data.labelled import labelled_indices, split_labelled
from gankit.errors import DataError
from gankit.losses.semisup import real_logit, supervised_loss, unsupervised_loss
from gankit.session import train


def _explicit(l: torch.Tensor) -> torch.Tensor:
    """log p(y = 1..K+1 | x) of the K+1-way softmax with the fake class's logit 0 appended."""
    return torch.log_softmax(torch.cat([l, torch.zeros(l.shape[0], 1, dtype=l.dtype)], 1), 1)


def test_implied_real_probability_is_z_over_z_plus_1():
    l = torch.randn(64, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3
    z = l.exp().sum(1)
    assert torch.allclose(torch.sigmoid(real_logit(l)), z / (z + 1), rtol=1e-13)
    assert torch.allclose(torch.sigmoid(real_logit(l)), 1 - _explicit(l)[:, -1].exp(), rtol=1e-12)


def test_losses_against_the_explicit_k_plus_1_softmax():
    g = torch.Generator().manual_seed(1)
    lr, lf = torch.randn(32, 10, dtype=torch.float64, generator=g), torch.randn(48, 10, dtype=torch.float64, generator=g)
    y = torch.randint(10, (32,), generator=g)
    lpr, lpf = _explicit(lr), _explicit(lf)
    # -E_real log(1 - p(K+1|x)) - E_fake log p(K+1|G(z))
    unsup = -torch.log1p(-lpr[:, -1].exp()).mean() - lpf[:, -1].mean()
    assert unsupervised_loss(lr, lf).item() == pytest.approx(unsup.item(), rel=1e-12)
    # -log p(y | x, y <= K) = -log p(y|x) + log(1 - p(K+1|x))
    sup = (-lpr[torch.arange(32), y] + torch.log1p(-lpr[:, -1].exp())).mean()
    assert supervised_loss(lr, y).item() == pytest.approx(sup.item(), rel=1e-12)
    # hand value: K = 2, l = (0, 0): Z = 2, D = 2/3; fake l = (log 0.5, log 0.5): Z = 1, 1 - D = 1/2
    hand = unsupervised_loss(torch.zeros(1, 2), torch.full((1, 2), math.log(0.5)))
    assert hand.item() == pytest.approx(-math.log(2 / 3) - math.log(1 / 2), rel=1e-6)


def test_stable_for_huge_logits():
    l = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    out = unsupervised_loss(l, l)
    assert math.isfinite(out.item())
    # real row 1: log Z = 1e4 -> cost 0; row 2: log Z = -1e4 + log 3 -> cost 1e4 - log 3; fakes the mirror
    assert out.item() == pytest.approx(((1e4 - math.log(3)) + 1e4) / 2, rel=1e-6)


def test_unsupervised_optimum_is_the_classic_one():
    """Minimised over D (K logits per bin of 1-D samples), D(x) = Z/(Z+1) reaches
    c_data / (c_data + c_g) per bin, whatever the split of Z between the K classes."""
    g = torch.Generator().manual_seed(2)
    n, edges = 100_000, torch.linspace(-2.0, 3.0, 11)
    real, fake = torch.randn(n, generator=g, dtype=torch.float64), 1.0 + torch.randn(n, generator=g, dtype=torch.float64)
    rb, fb = torch.bucketize(real, edges) - 1, torch.bucketize(fake, edges) - 1
    kr, kf = (rb >= 0) & (rb < 10), (fb >= 0) & (fb < 10)
    rb, fb = rb[kr], fb[kf]
    logits = torch.randn(10, 3, dtype=torch.float64, generator=g).requires_grad_()
    opt = torch.optim.LBFGS([logits], lr=1.0, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = unsupervised_loss(logits[rb], logits[fb])
        loss.backward()
        return loss

    opt.step(closure)
    d = torch.sigmoid(real_logit(logits.detach()))
    cr, cf = torch.bincount(rb, minlength=10).double(), torch.bincount(fb, minlength=10).double()
    # the two sums run over the in-range samples: their means weigh bins by count / n_in
    wr, wf = cr / len(rb), cf / len(fb)
    assert torch.allclose(d, wr / (wr + wf), atol=1e-6)


def test_labelled_subset_is_balanced_deterministic_and_disjoint():
    src = DATASETS.build("digits", {})
    idx = labelled_indices(src.y, 105, 10, seed=7)
    counts = torch.bincount(src.y[idx], minlength=10)
    assert counts.tolist() == [11] * 5 + [10] * 5                   # 105 = 10 x 10 + 5: classes 0-4 get one more
    assert len(set(idx.tolist())) == 105
    assert torch.equal(idx, labelled_indices(src.y, 105, 10, seed=7))
    assert not torch.equal(idx, labelled_indices(src.y, 105, 10, seed=8))
    split = split_labelled(src, 105, seed=7)
    assert len(split.labelled) + len(split.unlabelled) == len(src) and split.unlabelled.y is None
    assert torch.equal(split.labelled.x, src.x[idx]) and torch.equal(split.labelled.y, src.y[idx])
    rest = torch.ones(len(src), dtype=torch.bool)
    rest[idx] = False
    assert torch.equal(split.unlabelled.x, src.x[rest])             # the rest, in the data set's order
    with pytest.raises(DataError, match="fewer than one"):
        labelled_indices(src.y, 9, 10, seed=0)
    with pytest.raises(DataError, match="only 3"):
        labelled_indices(torch.tensor([0, 1, 1]), 4, 2, seed=0)
    with pytest.raises(DataError, match="class 0, which has only 1"):
        labelled_indices(torch.tensor([0, 1, 1, 1]), 4, 2, seed=0)


@pytest.mark.parametrize("sets,words", [
    (["model=ssgan", "data=digits", "model.labels=5000"], "only 1438 examples"),
    (["model=ssaae", "data=digits", "model.labels=5"], "fewer than one labelled example per class"),
    (["model=ssgan", "data=ring"], "needs a finite data set with class labels"),
    (["model=ssaae", "data=digits", "data.split=test"], "uses the train split"),
    (["model=ssgan", "data=digits", "conditional=true"], "conditional=false"),
    (["model=ssgan", "data=digits", "loss=wgan"], "Z/(Z+1)"),
    (["model=ssaae", "data=digits", "loss=feature-matching"], "one-logit latent discriminators"),
    (["model=ssgan", "data=digits", "model.labels=0"], "model.labels"),
])
def test_bad_input_exits_2_with_one_line_before_training(tmp_path, capsys, sets, words):
    args = ["train", "--set", "train.steps=2", "--set", "train.progress=false", "--set", f"out_dir={tmp_path}"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err
    assert not any(tmp_path.iterdir())


SMALL = {"data": "digits", "latent_dim": 4, "device": "cpu", "generator": {"name": "mlp", "width": 32, "output": "tanh"},
         "discriminator": {"name": "mlp", "width": 32},
         "train": {"steps": 20, "batch_size": 32, "progress": False, "log_every": 10},
         "eval": {"metrics": ["test_error"]}}


ENCODER = {"ssaae": {"encoder": {"name": "mlp", "width": 32}}}  # the GAN recipe has none: ssgan refuses the key


@pytest.mark.parametrize("model,phases", [("ssgan", ["D"]), ("ssaae", ["sup"])])
def test_labels_alone_baseline_trains_only_the_classifier(tmp_path, model, phases):
    run = train({**SMALL, "model": {"name": model, "labels": 30, "unlabelled": False, **ENCODER.get(model, {})}, "train": {**SMALL["train"], "steps": 2}},
                run_dir=tmp_path / "r")
    assert [p.name for p in run.recipe.trainer.phases] == phases
    assert run.metrics["labels"] == 30 and run.metrics["test_examples"] == 359
