"""CUDA: every family trains on the GPU, mixed precision, exact resume with deterministic
kernels, NCCL, checkpoints across devices, device-resident data. Skipped without a GPU.

These run only where ``torch.cuda.is_available()``; on a CPU-only machine each test is
skipped with the reason, and the same code paths are covered on the CPU by the rest of
the suite.
"""

from __future__ import annotations

import os
import socket

import pytest
import torch

from gankit.config import load_config
from gankit.session import load_run, resume, train
from gankit.session.run import Run, pick_device

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")

TOY = ["train.steps=40", "train.batch_size=128", "generator.width=32", "discriminator.width=32",
       "train.progress=false", "eval.num_samples=500", "device=cuda"]
IMAGES = ["train.steps=20", "train.batch_size=32", "generator.width=8", "discriminator.width=8",
          "train.progress=false", "eval.metrics=[fid]", "eval.num_samples=300", "device=cuda", "train.sample_every=0"]
FAMILIES = {"toy": (None, TOY), "dcgan": ("dcgan-digits", IMAGES),
            "conditional": ("dcgan-digits", IMAGES + ["conditional=true"]),
            "aae": ("aae-digits", ["train.steps=30", "train.batch_size=64", "train.progress=false", "device=cuda"])}


def _state(run: Run) -> dict[str, torch.Tensor]:
    return {f"{m}.{k}": v.detach().cpu().clone() for m, mod in run.recipe.modules().items()
            for k, v in mod.state_dict().items()}


def test_device_selection():
    assert pick_device("auto").type == "cuda"
    assert pick_device("cuda:0") == torch.device("cuda:0")
    assert pick_device("cpu").type == "cpu"


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_trains_on_the_gpu(family, tmp_path):
    preset, overrides = FAMILIES[family]
    run = train(load_config(None, overrides, preset=preset), run_dir=tmp_path / "r")
    assert run.device.type == "cuda" and all(p.is_cuda for m in run.recipe.modules().values() for p in m.parameters())
    assert all(torch.isfinite(v).all() for v in _state(run).values())
    assert run.metrics  # the evaluation ran


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_mixed_precision_trains(precision, tmp_path):
    run = train(load_config(None, IMAGES + [f"train.precision={precision}"], preset="dcgan-digits"),
                run_dir=tmp_path / "r")
    assert all(torch.isfinite(v).all() for v in _state(run).values())
    if precision == "fp16":
        assert run.recipe.trainer.scaler is not None


def test_grad_scaler_skips_a_step_with_inf_gradients(tmp_path):
    run = Run(load_config(None, TOY + ["train.precision=fp16"]), tmp_path / "r")
    trainer = run.recipe.trainer
    before = _state(run)
    scale = trainer.scaler.get_scale()
    ph = trainer.phases[0]
    for p in ph.parameters():  # an inf gradient: the scaler must skip the step and lower the scale
        p.grad = torch.full_like(p, float("inf"))
    trainer.scaler.step(ph.optimizer)
    trainer.scaler.update()
    after = _state(run)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert trainer.scaler.get_scale() < scale


def test_resume_is_exact_on_the_gpu_with_deterministic_kernels(tmp_path):
    over = IMAGES + ["train.deterministic=true", "train.lr_decay=linear"]
    full = train(load_config(None, over, preset="dcgan-digits"), run_dir=tmp_path / "full")
    train(load_config(None, over, preset="dcgan-digits"), run_dir=tmp_path / "half", steps=10)
    resumed = resume(tmp_path / "half")
    a, b = _state(full), _state(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoints_move_between_gpu_and_cpu(tmp_path):
    gpu = train(load_config(None, TOY), run_dir=tmp_path / "g")
    cfg_path = tmp_path / "g" / "checkpoint.pt"
    state = torch.load(cfg_path, weights_only=True, map_location="cpu")
    state["config"]["device"] = "cpu"
    torch.save(state, cfg_path)
    cpu = load_run(tmp_path / "g")
    assert cpu.device.type == "cpu"
    x_cpu = cpu.recipe.generate(64, seed=0)
    x_gpu = gpu.recipe.generate(64, seed=0)
    torch.testing.assert_close(x_cpu, x_gpu, rtol=1e-4, atol=1e-4)
    resumed = resume(tmp_path / "g", steps=50)  # and it trains on from there on the CPU
    assert resumed.step == 50


def test_data_lives_on_the_device(tmp_path):
    run = Run(load_config(None, IMAGES, preset="dcgan-digits"), tmp_path / "r")
    x, _ = run.recipe.real_batch()
    assert x.is_cuda and run.recipe.batches.resident is not None and run.recipe.batches.resident.x.is_cuda


def test_one_process_nccl_job(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for k, v in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                 "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(k, v)
    from gankit.engine import distributed

    try:
        run = train(load_config(None, TOY), run_dir=tmp_path / "r")
        assert distributed.initialized() and torch.distributed.get_backend() == "nccl"
        assert run.step == 40
    finally:
        distributed.cleanup()
        os.environ.pop("RANK", None)
