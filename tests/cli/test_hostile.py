"""Hostile input, every command and every data source: one line on stderr starting
``gankit: error: `` that names the offending key or file, exit status 2, no exception, and
nothing on disk created or changed (every file's path, size, mtime and contents hash, and
every directory, compared before and after).

The CLI runs in-process (``gankit.cli.main.main``); two cases go through the real entry
point in a subprocess. The runs the commands read are built once per module: a 5-step ring
run trained by ``gankit train``, and untrained DCGAN (digits, plain and conditional) and
AAE runs saved from :class:`~gankit.session.Run` (the commands only draw from them).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import inspect as cli_inspect
from gankit.cli.main import main
from gankit.config import build_config
from gankit.session import Run

TOY_TRAIN = ["--set", "train.steps=5", "--set", "eval.num_samples=200", "--set", "train.progress=false"]
# Put before every train case's own --set's: should a case slip through validation it trains
# two steps and evaluates 50 samples instead of the default run's 5,000 steps.
GUARD = ["--set", "train.steps=2", "--set", "train.progress=false", "--set", "eval.num_samples=50",
         "--set", "train.checkpoint_every=0"]


# --------------------------------------------------------------------------- the world

def _png_bomb(path: Path, side: int = 20_000) -> None:
    """A PNG of a few hundred bytes whose header claims ``side x side`` pixels (over Pillow's limit)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + (zlib.crc32(kind + data) & 0xFFFFFFFF).to_bytes(4, "big")

    header = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])  # 8-bit greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * (side + 1)))
                     + chunk(b"IEND", b""))


def _save_run(path: Path, raw: dict) -> Path:
    run = Run(build_config({"device": "cpu", **raw}), path)
    path.mkdir(parents=True)
    run.save_checkpoint()
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory, module_cache_dir) -> dict[str, str]:
    base = tmp_path_factory.mktemp("world")
    runs = base / "runs"
    assert main(["train", "--out", str(runs / "toy"), *TOY_TRAIN]) == 0
    dcgan = {"data": {"name": "digits"}, "latent_dim": 8, "generator": {"name": "dcgan", "width": 8},
             "discriminator": {"name": "dcgan", "width": 8}}
    _save_run(runs / "dc", dcgan)
    _save_run(runs / "cdc", {**dcgan, "conditional": True})
    _save_run(runs / "aae", {"model": "aae", "data": {"name": "ring"}, "latent_dim": 2})

    data = base / "data"
    rng = np.random.default_rng(0)
    (data / "flat").mkdir(parents=True)  # 80 unlabelled images: no class subfolders
    for i in range(80):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(data / "flat" / f"{i}.png")
    (data / "bomb" / "a").mkdir(parents=True)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(data / "bomb" / "a" / f"{i}.png")
    _png_bomb(data / "bomb" / "a" / "huge.png")
    np.savez(data / "small.npz", x=rng.integers(0, 256, (10, 8, 8), dtype=np.uint8))
    nan = rng.random((20, 8, 8)).astype(np.float32)
    nan[3, 2, 2] = np.nan
    np.savez(data / "nan.npz", x=nan)

    pts = data / "points"  # data=points:PATH files, one fault each
    pts.mkdir()
    (pts / "nan.csv").write_text("a,b\n1,2\nnan,3\n4,5\n")
    np.save(pts / "inf.npy", np.array([[1.0, 2.0], [np.inf, 0.0], [3.0, 4.0]]))
    np.save(pts / "flat.npy", np.arange(10.0))
    np.save(pts / "cube.npy", np.zeros((4, 3, 2)))
    (pts / "one.csv").write_text("1,2\n")
    np.save(pts / "obj.npy", np.array([[1, "a"], [2, None]], dtype=object), allow_pickle=True)
    np.save(pts / "str.npy", np.array([["1", "2"], ["3", "4"]]))
    (pts / "empty.csv").write_text("")
    (pts / "empty.npy").write_bytes(b"")
    (pts / "junk.npz").write_bytes(b"PK\x03\x04 not a zip")
    (pts / "labf.csv").write_text("1,2,0\n3,4,0.5\n5,6,1\n7,8,1\n")
    np.savez(pts / "lablen.npz", x=np.zeros((30, 2)), y=np.arange(29))
    (pts / "ragged.csv").write_text("1,2\n3,4,5\n")
    (pts / "data.json").write_text("[[1, 2]]")
    np.save(pts / "ok.npy", rng.normal(0, 1, (30, 2)))
    (pts / "ok.csv").write_text("a,b\n" + "".join(f"{i},{i * i}\n" for i in range(30)))
    plug = base / "plugins"  # plug-ins that cannot load
    plug.mkdir()
    (plug / "raise.py").write_text("raise RuntimeError('broken on purpose')\n")
    (plug / "syntax.py").write_text("x = 1\ndef f(:\n")
    (plug / "dup.py").write_text("from gankit.data import DATASETS\nDATASETS.register('ring')(lambda: None)\n")
    (plug / "deps.py").write_text("import no_such_dependency_zz\n")
    (plug / "plug.txt").write_text("x = 1\n")
    state = torch.load(runs / "toy" / "checkpoint.pt", weights_only=True)
    state["config"]["plugins"] = [str(base / "gone.py")]  # a run whose plug-in file was deleted
    (runs / "plugin-gone").mkdir()
    torch.save(state, runs / "plugin-gone" / "checkpoint.pt")

    cfg = base / "configs"
    cfg.mkdir()
    (cfg / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    (cfg / "train5.yaml").write_text("train: 5\n")
    (cfg / "list.yaml").write_text("- train\n- steps\n")
    (cfg / "broken.yaml").write_text("train: {steps: [1\n")
    (cfg / "nul.yaml").write_text('data: {name: folder, path: "/tmp/a\\0b"}\n')
    (cfg / "mitig.yaml").write_text("mitigations: [{pack: 2}]\n")
    (cfg / "nan.yaml").write_text("optim_g: {lr: .nan}\n")

    # Broken checkpoints: empty, not a gankit state, weights of another architecture.
    (runs / "empty").mkdir()
    (runs / "empty" / "checkpoint.pt").write_bytes(b"")
    (runs / "nokeys").mkdir()
    torch.save({"format": 1}, runs / "nokeys" / "checkpoint.pt")
    state = torch.load(runs / "dc" / "checkpoint.pt", weights_only=True)
    state["config"]["model"]["generator"]["width"] = 16  # the weights are width 8
    (runs / "mismatch").mkdir()
    torch.save(state, runs / "mismatch" / "checkpoint.pt")

    paths = {"base": base, "toy": runs / "toy", "dc": runs / "dc", "cdc": runs / "cdc", "aae": runs / "aae",
             "empty": runs / "empty", "nokeys": runs / "nokeys", "mismatch": runs / "mismatch",
             "flat": data / "flat", "bomb": data / "bomb", "small": data / "small.npz", "nanz": data / "nan.npz",
             "pts": pts, "plug": plug, "plugin_gone": runs / "plugin-gone",
             **{f"cfg_{p.stem}": p for p in cfg.iterdir()}}
    return {k: str(v) for k, v in paths.items()}


def snapshot(*roots: Path) -> dict[str, tuple]:
    """Every directory and file under ``roots``: files by (size, mtime_ns, sha256)."""
    out: dict[str, tuple] = {}
    for root in roots:
        for dirpath, dirs, files in os.walk(root):
            out[dirpath] = ("dir",)
            for f in files:
                p = Path(dirpath, f)
                st = p.stat()
                out[str(p)] = (st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def run_cli(argv: list[str]) -> int:
    """``main(argv)``'s status; argparse's own errors exit through SystemExit. Any other
    exception propagates and fails the test: none may escape."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code or 0)


# --------------------------------------------------------------------------- the cases

def T(*args: str) -> list[str]:
    """A train command: the guard, then the case's own arguments."""
    return ["train", *GUARD, *args]


def S(*pairs: str) -> list[str]:
    """A train command with ``--set`` pairs."""
    return T(*[a for p in pairs for a in ("--set", p)])


CASES = [
    # --- optimiser values
    ("lr-nan", S("optim_d.lr=.nan"), "optim_d.lr: expected a finite number, got nan"),
    ("lr-inf", S("optim_g.lr=.inf"), "optim_g.lr: expected a finite number, got inf"),
    ("lr-zero", S("optim_g.lr=0"), "optim_g.lr must be > 0, got 0"),
    ("betas-out-of-range", S("optim_g.betas=[2,3]"), "optim_g.betas must be in [0, 1), got 2"),
    ("betas-one-value", S("optim_g.betas=[0.5]"), "optim_g.betas: expected 2 values"),
    ("weight-decay-negative", S("optim_d.weight_decay=-1"), "optim_d.weight_decay must be >= 0, got -1"),
    ("momentum-one", S("optim_d.name=sgd", "optim_d.momentum=1"), "optim_d.momentum must be in [0, 1)"),
    # --- seeds and sizes of the run
    ("seed-huge", S("seed=1e23"), "seed: expected an integer of at most 64 bits"),
    ("seed-negative", S("seed=-1"), "seed must be in [0, 4294967295], got -1"),
    ("seed-past-32-bits", S("seed=4294967296"), "seed must be in [0, 4294967295]"),
    ("seed-fraction", S("seed=1.5"), "seed: expected an integer, got 1.5"),
    ("latent-dim-zero", S("latent_dim=0"), "latent_dim must be >= 1, got 0"),
    ("steps-zero", ["train", "--set", "train.steps=0"], "train.steps must be >= 1, got 0"),
    ("batch-negative", S("train.batch_size=-5"), "train.batch_size must be >= 1, got -5"),
    ("ema-one", S("train.ema=1"), "train.ema must be in [0, 1), got 1"),
    ("eval-every-negative", S("train.eval_every=-1"), "train.eval_every must be >= 0, got -1"),
    ("checkpoint-seconds-inf", S("train.checkpoint_seconds=.inf"), "train.checkpoint_seconds"),
    ("precision-unknown", S("train.precision=fp8"), "train.precision: expected one of"),
    ("progress-not-bool", S("train.progress=maybe"), "train.progress: expected true or false"),
    ("eval-samples-zero", S("eval.num_samples=0"), "eval.num_samples must be >= 2, got 0"),
    ("eval-seed-nan", S("eval.seed=.nan"), "eval.seed: expected an integer, got nan"),
    ("name-escapes", S("name=../../x", "out_dir={base}/runs/deep"), "name must be a plain directory name"),
    ("name-dotdot", S("name=..", "out_dir={base}/runs/deep"), "got '..'"),
    ("device-unknown", S("device=tpu"), "device 'tpu'"),
    # --- networks and priors
    ("generator-width-zero", S("generator.width=0"), "generator.width must be >= 1, got 0"),
    # 10^14 weights: past the 128 TiB address space, so refused even where memory is overcommitted
    ("generator-width-huge", S("generator.width=10000000"), "generator 'mlp' (width=10000000"),
    ("discriminator-depth-negative", S("discriminator.depth=-1"), "discriminator.depth must be >= 0, got -1"),
    ("dropout-above-one", S("discriminator.dropout=1.5"), "discriminator.dropout must be in [0, 1)"),
    ("maxout-pieces-zero", S("discriminator=maxout", "discriminator.pieces=0"), "discriminator.pieces must be >= 1"),
    ("gaussian-scale-zero", S("generator=gaussian", "generator.init_scale=0"), "generator.init_scale must be > 0"),
    ("mog-components-zero", S("prior=mog", "prior.components=0"), "prior.components must be >= 1, got 0"),
    ("swissroll-sigma-zero", S("prior=swissroll", "prior.sigma=0"), "prior.sigma must be > 0, got 0"),
    ("categorical-scale-nan", S("prior=categorical", "prior.scale=.nan"), "prior.scale: expected a finite number"),
    ("dcgan-on-points", S("generator=dcgan"), "dcgan needs square images"),
    # --- losses, penalties, mitigations
    ("penalty-weight-nan", S("penalty=gp", "penalty.weight=.nan"), "penalty.weight: expected a finite number, got nan"),
    ("r1-every-zero", S("penalty=r1", "penalty.every=0"), "penalty.every must be >= 1, got 0"),
    ("clip-zero", S("loss=wgan", "penalty=clip", "penalty.value=0"), "penalty.value must be > 0, got 0"),
    ("gmmn-bandwidth-nan", S("loss=gmmn", "loss.bandwidths=[1,.nan]"), "loss.bandwidths: expected a finite number"),
    ("mmd-gan-features-zero", S("loss=mmd-gan", "loss.features=0"), "loss.features must be >= 1, got 0"),
    ("loss-not-a-name", S("loss=5"), "loss must be a name or a mapping with 'name', got 5"),
    ("noise-sigma-nan", S("mitigations.instance_noise.sigma=.nan"),
     "mitigations.instance_noise.sigma: expected a finite number, got nan"),
    ("noise-anneal-zero", S("mitigations.instance_noise.anneal_steps=0"),
     "mitigations.instance_noise.anneal_steps must be >= 1, got 0"),
    ("pack-zero", S("mitigations.pack.m=0"), "mitigations.pack.m must be >= 1, got 0"),
    ("unrolled-lr-negative", S("mitigations.unrolled.lr=-1"), "mitigations.unrolled.lr must be > 0, got -1"),
    ("minibatch-kernels-zero", S("mitigations.minibatch.kernels=0"), "mitigations.minibatch.kernels must be >= 1"),
    ("mitigation-unknown", S("mitigations.nope.x=1"), "unknown mitigation 'nope'"),
    # --- toy data sources
    ("ring-sigma-nan", S("data.sigma=.nan"), "data.sigma: expected a finite number, got nan"),
    ("ring-modes-zero", S("data.modes=0"), "data.modes must be >= 1, got 0"),
    ("grid-spacing-negative", S("data=grid", "data.spacing=-1"), "data.spacing must be > 0, got -1"),
    ("mixture1d-sigma-negative", S("data=mixture1d", "data.sigmas=[0.5,-1]"), "data.sigmas must be > 0, got -1"),
    ("mixture1d-weights-zero", S("data=mixture1d", "data.weights=[0,0]"), "data.weights must not all be 0"),
    ("mixture1d-empty", S("data=mixture1d", "data.means=[]", "data.sigmas=[]"), "must be non-empty"),
    ("modes-on-1d", S("data=mixture1d", "eval.metrics=[jsd1d,modes,fid]"), "metric 'fid' needs image data"),
    # --- digits
    ("digits-batch-too-large", S("data=digits", "train.batch_size=5000"),
     "train.batch_size=5000 exceeds the 1438 examples of data set 'digits'"),
    ("digits-size-huge", S("data=digits", "data.size=100000"), "data.size must be in [0, 1024], got 100000"),
    ("digits-split-unknown", S("data=digits", "data.split=val"), "data.split: expected one of"),
    ("digits-modes", S("data=digits", "eval.metrics=[modes]"), "eval.metrics: metric 'modes' needs a mixture"),
    ("digits-energy-too-many", S("data=digits", "eval.num_samples=2000", "eval.metrics=[energy]"),
     "metric 'energy' draws eval.num_samples=2000 examples"),
    ("pr-too-few", S("data=digits", "eval.num_samples=3", "eval.metrics=[pr]"), "metric 'pr' needs more than its k=3"),
    ("ring-fid", S("eval.metrics=[fid]"), "metric 'fid' needs image data"),
    ("gan-codes", S("eval.metrics=[codes]"), "metric 'codes' needs an InfoGAN run"),
    ("gan-test-error", S("eval.metrics=[test_error]"), "metric 'test_error' needs a semi-supervised run"),
    ("recon-on-gan", S("eval.metrics=[recon]"), "metric 'recon' needs a model that encodes x into z"),
    ("metric-unknown", S("eval.metrics=[nope]"), "unknown metric 'nope'"),
    ("inception-missing", S("eval.inception={base}/none.pt"), "eval.inception: TorchScript Inception file"),
    # --- folder:, npz:, stacked, fashion-mnist
    ("folder-unlabelled-metrics", T("--preset", "dcgan-digits", "--set", "data=folder:{flat}", "--set", "data.size=8"),
     "metric 'fid' needs class labels"),
    ("folder-unlabelled-conditional", T("--preset", "dcgan-digits", "--set", "data=folder:{flat}",
                                        "--set", "data.size=8", "--set", "conditional=true"),
     "conditional=true needs a labelled data set"),
    ("folder-bomb", S("data=folder:{bomb}", "data.size=8"), "huge.png is too large to load"),
    ("folder-missing", S("data=folder:{base}/nowhere"), "nowhere does not exist"),
    ("folder-size-zero", S("data=folder:{flat}", "data.size=0"), "data.size must be in [1, 1024], got 0"),
    ("folder-channels-two", S("data=folder:{flat}", "data.channels=2"), "data.channels: expected one of 1, 3"),
    ("npz-batch-too-large", S("data=npz:{small}"), "train.batch_size=64 exceeds the 10 examples"),  # the image default
    ("npz-nan-pixels", S("data=npz:{nanz}"), "float images must lie in [0, 1] or [-1, 1]"),
    ("npz-missing", S("data=npz:{base}/none.npz"), "none.npz does not exist"),
    ("stacked-num-huge", S("data=stacked", "data.base=digits", "data.num=10000000"),
     "data.num must be <= 1000000, got 10000000"),
    ("stacked-base-missing", S("data=stacked", "data.base=fashion-mnist", "data.path={base}/nowhere"),
     "nowhere does not exist"),
    ("fashion-mnist-missing", S("data=fashion-mnist", "data.path={base}/nowhere"),
     "fashion-mnist: data.path"),
    # --- config files and presets
    ("config-not-utf8", T("--config", "{cfg_latin1}"), "latin1.yaml is not UTF-8 text"),
    ("config-train-scalar", T("--config", "{cfg_train5}", "--set", "train.steps=5"), "train must be a mapping, got 5"),
    ("config-list", T("--config", "{cfg_list}"), "must hold a mapping of keys to values"),
    ("config-broken", T("--config", "{cfg_broken}"), "is not valid YAML/JSON"),
    ("config-nul", T("--config", "{cfg_nul}"), "data.path: a string with a NUL character"),
    ("config-mitigations-list", T("--config", "{cfg_mitig}"), "mitigations must be a mapping"),
    ("config-lr-nan", T("--config", "{cfg_nan}"), "optim_g.lr: expected a finite number"),
    ("config-missing", T("--config", "{base}/none.yaml"), "config file not found"),
    ("preset-unknown", T("--preset", "nope"), "unknown preset 'nope'"),
    ("override-no-equals", T("--set", "train.steps"), "not of the form key=value"),
    # --- resume
    ("resume-steps-below", ["resume", "{toy}", "--steps", "2"], "--steps 2 is below the run's current step 5"),
    ("resume-missing", ["resume", "{base}/runs/none"], "run directory not found"),
    # --- sample
    ("sample-n-zero", ["sample", "{toy}", "-n", "0", "--out", "{tmp}/s.npy"], "-n must be >= 1, got 0"),
    ("sample-seed-negative", ["sample", "{toy}", "--seed", "-1", "--out", "{tmp}/s.npy"], "--seed must be in"),
    ("sample-suffix", ["sample", "{toy}", "--out", "{tmp}/s.txt"], "--out must end in .npy, .npz or .png"),
    ("sample-out-dir", ["sample", "{toy}", "--out", "{base}/runs/dir.npy"], "dir.npy is a directory"),
    ("sample-out-under-file", ["sample", "{toy}", "--out", "{toy}/checkpoint.pt/s.npy"], "is not a directory"),
    ("sample-class-range", ["sample", "{cdc}", "--class", "10", "--out", "{tmp}/s.npy"], "--class must be in 0..9"),
    ("sample-class-unconditional", ["sample", "{toy}", "--class", "1", "--out", "{tmp}/s.npy"],
     "--class needs a conditional run"),
    ("sample-png-2e9", ["sample", "{dc}", "-n", "2000000000", "--out", "{tmp}/s.png"], "too many for a PNG"),
    ("sample-npz-2e9", ["sample", "{dc}", "-n", "2000000000", "--out", "{tmp}/s.npz"], "write .npy (streamed"),
    ("sample-npy-no-disk", ["sample", "{dc}", "-n", "4000000000000000", "--out", "{tmp}/s.npy"], "on disk"),
    ("sample-n-not-int", ["sample", "{toy}", "-n", "1e3", "--out", "{tmp}/s.npy"], "argument -n: invalid int value"),
    ("sample-empty-checkpoint", ["sample", "{empty}", "--out", "{tmp}/s.npy"], "the file is empty"),
    ("sample-checkpoint-no-keys", ["sample", "{nokeys}", "--out", "{tmp}/s.npy"], "is not a gankit checkpoint"),
    ("sample-checkpoint-mismatch", ["sample", "{mismatch}", "--out", "{tmp}/s.npy"],
     "where the config's architecture has"),
    # --- eval
    ("eval-samples-zero", ["eval", "{toy}", "--samples", "0"], "--samples must be >= 2, got 0"),
    ("eval-fid-on-points", ["eval", "{toy}", "--metrics", "fid"], "--metrics: metric 'fid' needs image data"),
    ("eval-no-metric", ["eval", "{toy}", "--metrics", ","], "--metrics must name at least one metric"),
    ("eval-inception-missing", ["eval", "{toy}", "--inception", "{base}/none.pt"], "none.pt not found"),
    ("eval-modes-on-images", ["eval", "{dc}", "--metrics", "modes"], "metric 'modes' needs a mixture"),
    ("eval-checkpoint-mismatch", ["eval", "{mismatch}"], "network 'G': 'convs.0.weight' has shape"),
    ("resume-checkpoint-no-keys", ["resume", "{nokeys}"], "is not a gankit checkpoint"),
    # --- interpolate, arithmetic
    ("interpolate-steps-one", ["interpolate", "{dc}", "--out", "{tmp}/i.png", "--steps", "1"],
     "--steps must be >= 2, got 1"),
    ("interpolate-pairs-huge", ["interpolate", "{dc}", "--out", "{tmp}/i.png", "--pairs", "100000"],
     "a grid holds at most 10000"),
    ("interpolate-seed-huge", ["interpolate", "{dc}", "--out", "{tmp}/i.png", "--seed", "99999999999"],
     "--seed must be in"),
    ("interpolate-points", ["interpolate", "{toy}", "--out", "{tmp}/i.png"], "not on images"),
    ("interpolate-jpg", ["interpolate", "{dc}", "--out", "{tmp}/i.jpg"], "output must be a .png file"),
    ("arithmetic-noise-nan", ["arithmetic", "{dc}", "--a", "1,2", "--b", "3", "--c", "4", "--noise", "nan",
                              "--out", "{tmp}/a.png"], "--noise: expected a finite number, got nan"),
    ("arithmetic-noise-negative", ["arithmetic", "{dc}", "--a", "1", "--b", "3", "--c", "4", "--noise", "-1",
                                   "--out", "{tmp}/a.png"], "--noise must be >= 0"),
    ("arithmetic-index-huge", ["arithmetic", "{dc}", "--a", "1", "--b", "3", "--c", "1000000",
                               "--out", "{tmp}/a.png"], "--c must be in [0, 999999]"),
    ("arithmetic-grid-n-zero", ["arithmetic", "{dc}", "--grid", "{tmp}/g.png", "-n", "0"], "-n must be >= 1, got 0"),
    ("arithmetic-grid-huge", ["arithmetic", "{dc}", "--grid", "{tmp}/g.png", "-n", "10000000"],
     "a grid holds at most 10000"),
    # --- encode
    ("encode-gan-run", ["encode", "{toy}", "--out", "{tmp}/e.npy"], "encode needs a model that encodes (model=aae, bigan)"),
    ("encode-n-zero", ["encode", "{aae}", "--out", "{tmp}/e.npy", "-n", "0"], "-n must be >= 1, got 0"),
    ("encode-n-huge", ["encode", "{aae}", "--out", "{tmp}/e.npy", "-n", "1000000000000"], "in memory"),
    ("encode-suffix", ["encode", "{aae}", "--out", "{tmp}/e.txt"], "--out must end in .npy or .npz"),
    ("encode-split-toy", ["encode", "{aae}", "--out", "{tmp}/e.npy", "--split", "test"], "has no splits"),
    # --- experiment
    ("experiment-nan", ["experiment", "bilinear-game", "--set", "eta=.nan", "--out", "{tmp}/x"],
     "experiment.eta: expected a finite number, got nan"),
    ("experiment-overflow", ["experiment", "bilinear-game", "--set", "eta=1e400", "--out", "{tmp}/x"],
     "experiment.eta: expected a finite number, got inf"),
    ("experiment-steps-zero", ["experiment", "bilinear-game", "--set", "steps=0", "--out", "{tmp}/x/y"], "steps"),
    ("experiment-unknown", ["experiment", "nope"], "unknown experiment 'nope'"),
    ("experiment-set-no-value", ["experiment", "bilinear-game", "--set", "steps"], "--set expects KEY=VALUE"),
    # --- data, bench, list
    ("data-info-nan", ["data", "info", "ring", "--set", "sigma=.nan"], "sigma: expected a finite number"),
    ("data-info-size", ["data", "info", "digits", "--set", "size=-3"], "size must be in [0, 1024], got -3"),
    ("data-info-folder-missing", ["data", "info", "folder:{base}/nowhere"], "does not exist"),
    ("data-info-unknown", ["data", "info", "nope"], "unknown dataset 'nope'"),
    ("data-fetch-unknown", ["data", "fetch", "nope"], "invalid choice: 'nope'"),
    ("bench-seeds-zero", ["bench", "modes", "--set", "seeds=0", "--out", "{tmp}/b"], "seeds"),
    ("bench-steps-zero", ["bench", "modes", "--set", "steps=0", "--out", "{tmp}/b"], "steps must be >= 1"),
    ("bench-method-unknown", ["bench", "modes", "--set", "methods=[nope]", "--out", "{tmp}/b"], "unknown method 'nope'"),
    ("bench-speed-steps-zero", ["bench", "speed", "--set", "steps=0", "--out", "{tmp}/b"], "steps >= 1"),
    ("bench-unknown", ["bench", "nope"], "unknown benchmark 'nope'"),
    ("list-unknown", ["list", "gizmos"], "unknown kind 'gizmos'"),
    ("train-out-under-file", ["train", *GUARD, "--out", "{toy}/checkpoint.pt/run"], "checkpoint.pt is not a directory"),
    ("train-out-existing-run", ["train", *GUARD, "--out", "{toy}"], "already holds a run"),
    # --- data=points:PATH and the 2-D toy sets
    ("points-nan", S("data=points:{pts}/nan.csv"), "nan.csv, line 3, column 1: NaN; 1 of 3 rows"),
    ("points-inf", S("data=points:{pts}/inf.npy"), "inf.npy, x[1, 0]: Inf"),
    ("points-1d", S("data=points:{pts}/flat.npy"), "points must be an (N, d) array, got shape (10,)"),
    ("points-3d", S("data=points:{pts}/cube.npy"), "got shape (4, 3, 2); images belong to data=npz:PATH"),
    ("points-one-row", S("data=points:{pts}/one.csv"), "1 point; a data set needs at least 2"),
    ("points-object", S("data=points:{pts}/obj.npy"), "obj.npy: an object array (pickled Python objects)"),
    ("points-strings", S("data=points:{pts}/str.npy"), "points must be numbers (float or int), got dtype <U1"),
    ("points-empty-csv", S("data=points:{pts}/empty.csv"), "empty.csv is empty: no rows of numbers"),
    ("points-empty-npy", S("data=points:{pts}/empty.npy"), "empty.npy is not a readable .npy file"),
    ("points-junk-npz", S("data=points:{pts}/junk.npz"), "junk.npz is not a readable .npz file"),
    ("points-labels-float", S("data=points:{pts}/labf.csv", "data.labels=last"), "labels must be integers, row 1"),
    ("points-labels-length", S("data=points:{pts}/lablen.npz"), "labels must be one per point, shape (30,), got shape (29,)"),
    ("points-labels-unknown", S("data=points:{pts}/ok.csv", "data.labels=kind"), "no label column 'kind' (columns: a, b)"),
    ("points-ragged", S("data=points:{pts}/ragged.csv"), "ragged.csv, line 2: 3 values where the first row has 2"),
    ("points-suffix", S("data=points:{pts}/data.json"), "must end in .npy, .npz, .csv, .tsv, .txt"),
    ("points-missing", S("data=points:{base}/none.csv"), "points file {base}/none.csv does not exist"),
    ("points-directory", S("data=points:{pts}"), "points is not a file"),
    ("points-batch-too-large", S("data=points:{pts}/ok.npy"), "train.batch_size=1024 exceeds the 27 examples"),
    ("points-conditional-unlabelled", S("data=points:{pts}/ok.npy", "conditional=true", "train.batch_size=8"),
     "conditional=true needs a labelled data set"),
    ("points-test-fraction-one", S("data=points:{pts}/ok.npy", "data.test_fraction=1"),
     "data.test_fraction must be in [0, 1), got 1"),
    ("points-labels-bool", S("data=points:{pts}/ok.npy", "data.labels=true"), "data.labels: expected str | int"),
    ("data-info-points-nan", ["data", "info", "points:{pts}/nan.csv"], "line 3, column 1: NaN"),
    ("moons-n-small", S("data=moons", "data.n=3"), "data.n must be in [4, 10000000], got 3"),
    ("moons-n-huge", S("data=moons", "data.n=1e12"), "data.n must be in [4, 10000000]"),
    ("circles-factor-one", S("data=circles", "data.factor=1"), "data.factor must be in (0, 1), got 1"),
    ("swissroll-noise-nan", S("data=swissroll", "data.noise=.nan"), "data.noise: expected a finite number, got nan"),
    ("spiral-arms-zero", S("data=spiral", "data.arms=0"), "data.arms must be in [1, 100], got 0"),
    # --- plug-ins
    ("plugin-missing-file", ["--plugin", "{base}/nope.py", "train", *GUARD], "plug-in file {base}/nope.py does not exist"),
    ("plugin-missing-module", ["--plugin", "no_such_gankit_plugin_mod", "list"],
     "plug-in 'no_such_gankit_plugin_mod' not found: no module 'no_such_gankit_plugin_mod' on sys.path"),
    ("plugin-raises", ["--plugin", "{plug}/raise.py", "list"],
     "plug-in file {plug}/raise.py failed to load: RuntimeError: broken on purpose"),
    ("plugin-syntax", ["--plugin", "{plug}/syntax.py", "list"], "syntax.py (line 2) failed to load: SyntaxError"),
    ("plugin-duplicate-name", ["--plugin", "{plug}/dup.py", "list"], "ValueError: dataset 'ring' registered twice"),
    ("plugin-missing-dependency", ["--plugin", "{plug}/deps.py", "list"],
     "ModuleNotFoundError: No module named 'no_such_dependency_zz'"),
    ("plugin-not-python", ["--plugin", "{plug}/plug.txt", "list"], "must be a Python file ending in .py"),
    ("plugin-directory", ["--plugin", "{plug}", "list"], "plug-in file {plug} is not a file"),
    ("plugin-no-value", ["--plugin"], "argument --plugin: expected one argument"),
    ("plugin-config-missing", S("plugins=[{base}/nope.py]"), "plug-in file {base}/nope.py does not exist"),
    ("plugin-config-not-list", S("plugins=5"), "plugins: expected a list, got 5"),
    ("plugin-gone-sample", ["sample", "{plugin_gone}", "--out", "{tmp}/s.npy"],
     "holds an invalid config: plug-in file {base}/gone.py does not exist"),
    ("plugin-gone-eval", ["eval", "{plugin_gone}"], "holds an invalid config: plug-in file {base}/gone.py does not exist"),
    ("plugin-gone-resume", ["resume", "{plugin_gone}"], "holds an invalid config: plug-in file {base}/gone.py"),
]


def _case(c: tuple | object) -> object:
    """A case as a pytest param named by its first field (an xfail mark kept)."""
    values, marks = (c.values, c.marks) if hasattr(c, "values") else (c, ())
    return pytest.param(*values[1:], marks=marks, id=values[0])


@pytest.mark.parametrize("argv, message", [_case(c) for c in CASES])
def test_hostile_input_one_line_exit_2(argv, message, world, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # a default run directory (runs/...) would land here and be seen
    (Path(world["base"]) / "runs" / "dir.npy").mkdir(exist_ok=True)
    argv = [a.format(tmp=tmp_path, **world) for a in argv]
    message = message.format(tmp=tmp_path, **world)
    before = snapshot(Path(world["base"]), tmp_path)
    capsys.readouterr()
    code = run_cli(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.endswith("\n") and err.count("\n") == 1 and err.startswith("gankit: error: "), err
    assert message in err, err
    assert snapshot(Path(world["base"]), tmp_path) == before


def test_there_are_enough_cases():
    assert len(CASES) >= 60


# --------------------------------------------------------------------------- the real entry point

@pytest.mark.parametrize("argv, message", [
    (["train", "--set", "optim_d.lr=.nan"], "optim_d.lr: expected a finite number, got nan"),
    (["sample", "RUN", "-n", "0", "--out", "s.npy"], "-n must be >= 1, got 0"),
])
def test_console_entry_point(argv, message, world, tmp_path):
    argv = [world["toy"] if a == "RUN" else a for a in argv]
    before = snapshot(Path(world["base"]), tmp_path)
    proc = subprocess.run([sys.executable, "-m", "gankit", *argv], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"gankit: error: {message}"), proc.stderr
    assert snapshot(Path(world["base"]), tmp_path) == before


# --------------------------------------------------------------------------- what the checks allow

def test_large_samples_stream_to_npy(world, tmp_path, monkeypatch, capsys):
    """Past the in-memory bound, .npy is written chunk by chunk: the right shape, finite, the
    same file for the same seed, another for another seed, and no partial file left."""
    monkeypatch.setattr(cli_inspect, "IN_MEMORY_BYTES", 1024)
    monkeypatch.setattr(cli_inspect, "_CHUNK_BYTES", 600)  # 75 points or 2 digit images per chunk
    for seed, name in ((0, "a"), (0, "b"), (1, "c")):
        assert main(["sample", world["toy"], "-n", "1000", "--seed", str(seed), "--out", str(tmp_path / f"{name}.npy")]) == 0
    a, b, c = (np.load(tmp_path / f"{n}.npy") for n in "abc")
    assert a.shape == (1000, 2) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert main(["sample", world["cdc"], "-n", "50", "--class", "3", "--out", str(tmp_path / "d.npy")]) == 0
    assert np.load(tmp_path / "d.npy").shape == (50, 1, 8, 8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "b.npy", "c.npy", "d.npy"]
    assert "wrote 50 samples of shape (1, 8, 8)" in capsys.readouterr().out
