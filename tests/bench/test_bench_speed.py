"""``gankit bench speed``: the counted FLOPs of a training step against the hand count."""

import json

import pytest
import torch

from gankit.bench.speed import count_flops, speed_bench, step_flops


def _linear_flops(batch: int, dims: list[tuple[int, int]]) -> list[int]:
    return [2 * batch * i * o for i, o in dims]  # (B, i) @ (i, o): B*o dot products of length i


def mlp_gan_step_flops(batch: int, width: int = 256, depth: int = 3, latent: int = 2, data: int = 2) -> int:
    """Matrix-product FLOPs of one non-saturating GAN step (one D update, one G update).

    D update: G forward without grad; D forward on real and on fake; each D backward takes
    weight gradients of every layer and input gradients of every layer but the first (the
    inputs need none). G update: G and D forward; D backward for input gradients only (its
    weights are frozen), G backward for every weight and every input but z's.
    """
    g = _linear_flops(batch, [(latent, width)] + [(width, width)] * (depth - 1) + [(width, data)])
    d = _linear_flops(batch, [(data, width)] + [(width, width)] * (depth - 1) + [(width, 1)])
    fg, fd = sum(g), sum(d)
    d_update = fg + 2 * fd + 2 * (fd + fd - d[0])
    g_update = fg + fd + fd + (fg + fg - g[0])
    return d_update + g_update


def test_mlp_step_flops_equal_the_hand_count():
    assert step_flops("mlp-ring", mlp_batch=8) == mlp_gan_step_flops(8) == 25_305_088
    # autocast changes the kernels' dtype, not how many products they compute
    assert step_flops("mlp-ring", mlp_batch=8, precision="bf16") == mlp_gan_step_flops(8)


def test_flop_counter_on_a_matmul():
    a, b = torch.randn(3, 5), torch.randn(5, 7)
    assert count_flops(lambda: a @ b) == 2 * 3 * 5 * 7


def test_report_rows_are_consistent(tmp_path):
    rows = speed_bench(models=["mlp-ring"], precisions=["fp32"], compile=[False], steps=2, warmup=1, mlp_batch=16,
                       matmul_size=256, data_path=False, out=str(tmp_path))
    saved = json.loads((tmp_path / "speed.json").read_text())
    assert saved["rows"] == rows and len(rows) == 1
    meta = saved["meta"]
    r, peak = rows[0], max(meta["peak_gflops"]["fp32"], meta["peak_gflops_after"]["fp32"])
    assert r["flops"] == mlp_gan_step_flops(16)
    assert r["items_per_s"] == pytest.approx(16 / (r["ms_per_step"] / 1000), rel=1e-9)
    assert r["gflops"] == pytest.approx(r["flops"] / 1e9 / (r["ms_per_step"] / 1000), rel=1e-9)
    assert r["peak_fraction"] == r["fp32_peak_fraction"] == pytest.approx(r["gflops"] / peak, rel=1e-9)
    assert "| mlp-ring | fp32 | no | no | 16 |" in (tmp_path / "speed.md").read_text()


def test_the_gpu_script_dry_runs_on_the_cpu(tmp_path):
    """benchmarks/gpu.sh --dry-run: the prepared GPU benchmark at tiny sizes on the CPU, so the
    script that a GPU session runs once cannot rot."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    gankit = Path(sys.executable).with_name("gankit")
    env = dict(os.environ, OUT=str(tmp_path), GANKIT=str(gankit), OMP_NUM_THREADS="1")
    subprocess.run(["bash", str(root / "benchmarks" / "gpu.sh"), "--dry-run"], check=True, env=env, cwd=root,
                   stdout=subprocess.DEVNULL, timeout=300)
    rows = json.loads((tmp_path / "speed" / "speed.json").read_text())["rows"]
    assert {(r["batch"], r["precision"]) for r in rows} == {(b, p) for b in (2, 4) for p in ("fp32", "tf32", "bf16")}
    assert all(r["ms_per_step"] > 0 and r["gflops"] > 0 for r in rows)
