"""BourGAN (Xiao et al. 2018): the Bourgain embedding never stretches a distance and shrinks
none by more than O(log m) (Bourgain 1985), and the latent mixture is centred on embedded
data points, centred and scaled to the size of an N(0, I) latent."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.data import DATASETS
from gankit.mitigations.bourgan import (
    bourgain_embedding,
    build_prior,
    distortion,
    scales,
)


def _metrics(m: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(m, 5, generator=g, dtype=torch.float64)
    i = torch.arange(m)
    cyc = (i[:, None] - i[None, :]).abs().double()
    parent = torch.cat([torch.tensor([0]), torch.randint(0, m, (m - 1,), generator=g)])  # a random tree
    parent = torch.minimum(parent, torch.arange(m).clamp_min(1) - 1).clamp_min(0)
    w = 0.1 + torch.rand(m, generator=g, dtype=torch.float64)
    depth_path = [[0] for _ in range(m)]
    for v in range(1, m):
        depth_path[v] = depth_path[int(parent[v])] + [v]
    tree = torch.zeros(m, m, dtype=torch.float64)
    for a in range(m):
        for b in range(a + 1, m):
            pa, pb = depth_path[a], depth_path[b]
            k = 0
            while k < min(len(pa), len(pb)) and pa[k] == pb[k]:
                k += 1
            tree[a, b] = tree[b, a] = float(w[pa[k:]].sum() + w[pb[k:]].sum())
    return {"euclidean": torch.cdist(x, x), "cycle": torch.minimum(cyc, m - cyc), "tree": tree}


@pytest.mark.parametrize("m", [32, 128])
@pytest.mark.parametrize("seed", [0, 1])
def test_the_embedding_is_non_expansive_with_logarithmic_contraction(m, seed):
    L = scales(m)
    for name, dist in _metrics(m, seed).items():
        emb = bourgain_embedding(dist, L * L, torch.Generator().manual_seed(seed + 7))
        expansion, contraction = distortion(dist, emb)
        # each coordinate is a distance to a set: 1-Lipschitz, so scaled by 1/sqrt(dim) never stretches
        assert expansion <= 1.0 + 1e-12, name
        # Bourgain: O(log m) with L^2 coordinates; measured at most 0.97 log2 m on such metrics
        assert contraction <= 2.0 * math.log2(m), (name, contraction)


def test_the_latent_centres_are_embedded_data_points():
    data = DATASETS.build("digits", {"size": 8})
    before = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in data.state_dict().items()}
    prior = build_prior(data, dim=16, samples=64, sigma=0.1, seed=3)
    after = data.state_dict()
    assert after["pos"] == before["pos"] and after["epoch"] == before["epoch"]  # training order untouched
    pts = prior.points                                                  # (64, 64) flattened images
    rows = data.x.reshape(len(data), -1)
    assert all(bool((rows == p).all(dim=1).any()) for p in pts)         # every point is a data row
    dist = torch.cdist(pts.double(), pts.double())
    c = prior.centres.double()
    # centred, with the RMS norm of a standard normal latent in 16 dimensions
    assert c.mean(dim=0).abs().max() < 1e-5
    assert abs(float(c.pow(2).sum(dim=1).mean().sqrt()) - 4.0) < 1e-4
    # and otherwise Bourgain's coordinates, one common scale a and a shift per column: the
    # subset's own members are at distance 0, so r = (c - min c) / a is the distance of a point
    # to its subset, which must be one of its distances to the sampled points
    r = c - c.min(dim=0).values
    i = int(r[:, 0].argmax())
    candidates = r[i, 0] / dist[i][dist[i] > 0]                     # a, if d(x_i, S_0) is that distance
    fits = [a for a in candidates
            if all(float((dist[k] - r[k, j] / a).abs().min()) < 1e-4 * float(dist.max())
                   for k in range(64) for j in range(16))]
    assert fits, "the centres are not one affine image of a Bourgain embedding of the points"
    # the unit minimises the distance term's log gap over the sample's pairs (found here by a
    # numerical 1-D minimiser, not the closed form the code uses)
    from scipy.optimize import minimize_scalar

    iu = torch.triu_indices(64, 64, 1)
    ld, le = dist[iu[0], iu[1]].log().numpy(), torch.cdist(c, c)[iu[0], iu[1]].log().numpy()
    best = minimize_scalar(lambda t: float(((ld - le - t) ** 2).mean()), bracket=(-5, 5), tol=1e-12)
    assert abs(math.log(prior.unit) - best.x) < 1e-5, (prior.unit, math.exp(best.x))
    z = prior.sample(1000, generator=torch.Generator().manual_seed(0))
    nearest = torch.cdist(z, prior.centres).min(dim=1).values
    assert nearest.max() < 6 * prior.sigma * math.sqrt(16)               # samples sit around the centres
    gaps = torch.stack([torch.cat([(c[k] - c[:k]).norm(dim=1), (c[k] - c[k + 1:]).norm(dim=1)]).min()
                        for k in range(64)])                              # each centre's nearest other
    assert abs(prior.sigma - 0.1 * float(gaps[gaps > 0].median())) < 1e-5   # sigma: of the nearest gap


def test_bourgan_needs_a_latent_with_a_coordinate_per_scale(tmp_path):
    from gankit.errors import ConfigError
    from gankit.session import train

    with pytest.raises(ConfigError, match="needs latent_dim >= 8"):
        train(overrides=["mitigations.bourgan.samples=256", "prior=normal", "latent_dim=4", "train.steps=2"], run_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_more_bourgan_samples_than_training_examples_is_one_line_before_anything_is_written(
        tmp_path, monkeypatch, capsys):
    import numpy as np

    from gankit.cli.main import main

    monkeypatch.chdir(tmp_path)
    np.save("p.npy", np.random.default_rng(0).normal(size=(100, 2)))   # 90 training rows, 10 held out
    code = main(["train", "--preset", "base", "--set", "data=points:p.npy", "--set", "mitigations.bourgan.samples=256",
                 "--set", "prior=normal", "--set", "latent_dim=16"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "mitigations.bourgan.samples=256 exceeds the data set's 90 training examples" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npy"]


def test_the_distance_term_compares_latent_distances_in_the_data_s_units():
    from gankit.mitigations.bourgan import BourGAN

    m = BourGAN(64, 0.1, weight=0.5)
    m.unit = 0.37                                                      # as wrap_prior sets it
    z = torch.randn(64, 16, generator=torch.Generator().manual_seed(0))
    # a generator that maps latent distances to the data's exactly pays nothing
    assert float(m.g_extra_loss(None, z * 0.37, None, z)) < 1e-12
    # one that keeps the latent's own scale pays the log-distance gap, pair by pair
    dz = (z[:32] - z[32:]).norm(dim=1).double()
    want = 0.5 * ((torch.log1p(dz) - torch.log1p(0.37 * dz)) ** 2).mean()
    assert abs(float(m.g_extra_loss(None, z, None, z)) - float(want)) < 1e-5
