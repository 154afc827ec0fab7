"""Hostile input that used to end in a traceback: a full disk while a checkpoint is written,
images too small for a PatchGAN, JSON nested 100,000 deep, a busy judge port, Ctrl-C while
torch loads, a 100-megapixel PNG, a 10 x 1,000,000 points file, absurd numbers and damaged
checkpoints. Each is one line on stderr and the stated exit status, and nothing on disk is
created or changed (every file's size, mtime and hash, and every directory, before and after).
"""

from __future__ import annotations

import errno
import http.client
import os
import shutil
import socket
import subprocess
import sys
import threading
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import jsonio
from gankit.cli.main import main
from gankit.errors import DataError

from tests.cli.test_hostile import run_cli, snapshot

TOY = ["--set", "train.steps=5", "--set", "eval.num_samples=200", "--set", "train.progress=false"]
GUARD = ["--set", "train.steps=2", "--set", "train.progress=false", "--set", "eval.num_samples=50",
         "--set", "train.checkpoint_every=0"]


def _png_bomb(path: Path, side: int) -> None:
    """A PNG of a few hundred bytes whose header claims ``side x side`` grey pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + (zlib.crc32(kind + data) & 0xFFFFFFFF).to_bytes(4, "big")

    header = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * (side + 1)))
                     + chunk(b"IEND", b""))


def _images(d: Path, n: int, side: int, rng: np.random.Generator) -> None:
    d.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8)).save(d / f"{i}.png")


@pytest.fixture(scope="module")
def world(tmp_path_factory, module_cache_dir) -> dict[str, str]:
    base = tmp_path_factory.mktemp("world")
    ring = base / "runs" / "ring"
    assert main(["train", "--out", str(ring), *TOY]) == 0
    rng = np.random.default_rng(0)
    data = base / "data"
    for side in "AB":  # 16 px: below the 24 px a 3-layer PatchGAN needs
        _images(data / "small" / side, 8, 16, rng)
        _images(data / "bomb" / side, 4, 32, rng)
    _png_bomb(data / "bomb" / "A" / "big.png", 10_000)  # 100 megapixels: between Pillow's warning and its error
    Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(data / "bomb" / "B" / "big.png")
    np.save(data / "wide.npy", np.zeros((10, 1_000_000), dtype=np.float32))  # 40 MB: a 5 GB checkpoint before
    with open(data / "claim.npy", "wb") as f:  # a header claiming 2^30 x 4 float64 (32 GiB), no data
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (1 << 30, 4)})
    np.savez(data / "strimg.npz", x=np.full((20, 8, 8), "a"))
    state = torch.load(ring / "checkpoint.pt", weights_only=True)
    (base / "runs" / "cfgint").mkdir()
    torch.save({**state, "config": 5}, base / "runs" / "cfgint" / "checkpoint.pt")
    for sd in state["modules"].values():
        for v in sd.values():
            if v.is_floating_point():
                v.fill_(float("nan"))
    (base / "runs" / "nan").mkdir()
    torch.save(state, base / "runs" / "nan" / "checkpoint.pt")
    paths = {"base": base, "ring": ring, "data": data, "cfgint": base / "runs" / "cfgint",
             "nan": base / "runs" / "nan"}
    return {k: str(v) for k, v in paths.items()}


def one_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1 and err.startswith("gankit: "), err
    return err


def S(*pairs: str) -> list[str]:
    return ["train", "--out", "{tmp}/out", *GUARD, *[a for p in pairs for a in ("--set", p)]]


CASES = [
    ("pix2pix-16px", S("model=pix2pix", "data=pairs:{data}/small", "data.channels=1", "train.batch_size=4"),
     "model=pix2pix: images of 16x16 px are too small for its PatchGAN discriminator of 3 layers "
     "(model.d_layers), which needs at least 24x24"),
    ("cyclegan-16px", S("model=cyclegan", "data=domains:{data}/small", "data.channels=1", "train.batch_size=4"),
     "model=cyclegan: images of 16x16 px are too small"),
    ("pairs-100-megapixel", S("model=pix2pix", "data=pairs:{data}/bomb", "data.channels=1", "train.batch_size=2"),
     "big.png is too large to load: 10000 x 10000 = 100,000,000 pixels, over gankit's limit of 67,108,864"),
    ("pairs-100-megapixel-resized", S("model=pix2pix", "data=pairs:{data}/bomb", "data.size=32", "data.channels=1"),
     "big.png is too large to load: 10000 x 10000"),
    ("points-million-coordinates", S("data=points:{data}/wide.npy", "train.batch_size=2"),
     "wide.npy: points of 1,000,000 coordinates; gankit takes at most 16,384"),
    ("points-header-32-gib", S("data=points:{data}/claim.npy"),
     "claim.npy: an array of shape (1073741824, 4) holds 4,294,967,296 numbers; a points file may hold at most"),
    ("npz-strings", S("data=npz:{data}/strimg.npz", "train.batch_size=4"),
     "strimg.npz: images must be numbers (integers in 0..255, floats in [0, 1] or [-1, 1]), got dtype <U1"),
    ("batch-1e10", S("train.batch_size=1e10"), "train.batch_size must be <= 1048576, got 10000000000"),
    ("d-steps-1e10", S("train.d_steps=1e10"), "train.d_steps must be <= 1000, got 10000000000"),
    ("eval-samples-1e10", S("eval.num_samples=1e10"), "eval.num_samples must be <= 10000000, got 10000000000"),
    ("latent-dim-1e10", S("latent_dim=1e10"), "latent_dim must be <= 65536, got 10000000000"),
    ("checkpoint-config-int", ["sample", "{cfgint}", "--out", "{tmp}/s.npy"],
     "checkpoint.pt holds an invalid config: expected a mapping of config keys, got int"),
    ("sample-nan-weights", ["sample", "{nan}", "--out", "{tmp}/s.npy"],
     "checkpoint.pt: generator weights are not finite: network 'G', 'net.0.weight' holds NaN"),
    ("eval-nan-weights", ["eval", "{nan}"], "generator weights are not finite"),
    ("resume-nan-weights", ["resume", "{nan}"], "generator weights are not finite"),
]


@pytest.mark.parametrize("argv, message", [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_one_line_exit_2_nothing_written(argv, message, world, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = [a.format(tmp=tmp_path, **world) for a in argv]
    before = snapshot(Path(world["base"]), tmp_path)
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # no image is decoded to find out
        code = run_cli(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in one_line(err) and err.startswith("gankit: error: "), err
    assert snapshot(Path(world["base"]), tmp_path) == before


# --------------------------------------------------------------------------- a full disk

class _FullDisk:
    """A file whose writes fail with ENOSPC past ``room`` bytes, as a full disk's do."""

    def __init__(self, f, room: int) -> None:
        self.f, self.room = f, room

    def write(self, b) -> int:
        self.room -= len(b)
        if self.room < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.f.write(b)

    def __getattr__(self, name: str):
        return getattr(self.f, name)


@pytest.mark.parametrize("how", ["write", "torch.save"])
def test_checkpoint_on_a_full_disk_names_the_intact_previous_one(how, tmp_path, monkeypatch, capsys):
    """The second checkpoint (step 4) meets a full disk: exit 1, one line naming the step-2
    checkpoint, which is still on disk byte for byte; no temporary file left. ``write``: the
    real torch.save writing through a file that runs out of room (torch then raises a
    RuntimeError whose context is the OSError); ``torch.save``: the OSError itself."""
    real, calls, kept = torch.save, [], {}

    def save(obj, f, *args, **kwargs):
        calls.append(obj["trainer"]["step"])
        if len(calls) == 1:
            real(obj, f, *args, **kwargs)
            return
        kept["bytes"] = (tmp_path / "run" / "checkpoint.pt").read_bytes()
        if how == "torch.save":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(obj, _FullDisk(f, 200), *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    capsys.readouterr()
    code = run_cli(["train", "--out", str(tmp_path / "run"), "--set", "train.steps=6", "--set", "train.checkpoint_every=2",
                    "--set", "eval.num_samples=50", "--set", "train.progress=false"])
    err = capsys.readouterr().err
    ckpt = tmp_path / "run" / "checkpoint.pt"
    assert code == 1, err
    assert calls == [2, 4]
    assert one_line(err) == (f"gankit: error: cannot write checkpoint {ckpt}: No space left on device; "
                             f"the previous checkpoint {ckpt} (step 2) is intact\n")
    assert ckpt.read_bytes() == kept["bytes"]
    assert torch.load(ckpt, weights_only=True)["trainer"]["step"] == 2
    assert not list((tmp_path / "run").glob(".checkpoint.pt.*"))


# --------------------------------------------------------------------------- JSON from anyone

@pytest.mark.parametrize("text", ["[" * 100_000, "{\"a\": " * 100_000, "[" * 65 + "]" * 65, "{", "\ud800", "NaN x"])
def test_jsonio_loads_refuses_as_one_error(text):
    with pytest.raises(jsonio.JSONError) as e:
        jsonio.loads(text)
    assert isinstance(e.value, ValueError) and isinstance(e.value, DataError)
    assert "\n" not in str(e.value)


def test_jsonio_loads_keeps_what_gankit_writes():
    row = {"step": 5, "eval": {"modes": 8.0, "per_class": {"a": {"error": 0.5, "items": [1, 2]}}}}
    assert jsonio.loads(jsonio.dumps(row)) == row
    assert jsonio.loads("[" * 64 + "]" * 64) == eval("[" * 64 + "]" * 64)  # noqa: S307 - the depth bound itself


def test_report_skips_a_deeply_nested_line_and_damaged_files(world, tmp_path, capsys):
    run = tmp_path / "ring"
    shutil.copytree(world["ring"], run)
    (run / "report.html").unlink()
    assert main(["report", str(run)]) == 0
    good = (run / "report.html").read_text()
    (run / "report.html").unlink()
    with open(run / "metrics.jsonl", "a") as f:
        f.write("[" * 100_000 + "\n")
    (run / "judge").mkdir()
    (run / "judge" / "score.json").write_text("{\"rows\": " + "[" * 100_000)
    capsys.readouterr()
    assert main(["report", str(run)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out == f"wrote {run / 'report.html'}\n"
    assert (run / "report.html").read_text() == good  # the line and the file are skipped, nothing else changes


def test_resume_trims_a_deeply_nested_line(world, tmp_path, capsys):
    run = tmp_path / "ring"
    shutil.copytree(world["ring"], run)
    rows = (run / "metrics.jsonl").read_text()
    with open(run / "metrics.jsonl", "a") as f:
        f.write("[" * 100_000 + "\n")
    assert main(["resume", str(run), "--steps", "6"]) == 0
    assert (run / "metrics.jsonl").read_text().startswith(rows)
    assert "[[" not in (run / "metrics.jsonl").read_text()


def _serve(world: dict[str, str], tmp_path: Path):
    from gankit.report.judge import open_session
    from gankit.report.server import JudgeApp, make_server
    from gankit.session import load_run

    run = tmp_path / "ring"
    shutil.copytree(world["ring"], run)
    session = open_session(load_run(run), run, name="t", n=4, seed=0, exposure_ms=None, points=16)
    server = make_server(JudgeApp(session, "ring"), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, session


def test_judge_server_answers_400_to_deeply_nested_json(world, tmp_path, capfd):
    server, session = _serve(world, tmp_path)
    try:
        log = session.log.path.read_bytes()
        for body in (b"[" * 4000, b"{\"i\": " * 500 + b"0" + b"}" * 500):  # under MAX_BODY (4096)
            conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
            conn.request("POST", "/api/answer", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            assert (r.status, r.read()) == (400, b'{"error": "malformed JSON"}\n')
            conn.close()
        assert session.log.path.read_bytes() == log
    finally:
        server.shutdown()
        server.server_close()
    assert "internal error" not in capfd.readouterr().err


def test_judge_on_a_busy_port_writes_nothing(world, tmp_path, capsys):
    run = tmp_path / "ring"
    shutil.copytree(world["ring"], run)
    before = snapshot(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        capsys.readouterr()
        code = run_cli(["judge", str(run), "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 2
    assert one_line(err) == f"gankit: error: port {port} on 127.0.0.1 is in use; pass --port N (0 picks a free one)\n"
    assert snapshot(tmp_path) == before and not (run / "judge").exists()


# --------------------------------------------------------------------------- Ctrl-C while torch loads

def test_importing_the_entry_point_leaves_torch_unloaded():
    """The console script imports gankit.cli.main before entry() runs: torch must load later,
    inside entry()'s handler."""
    code = "import sys, gankit.cli.main; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout == "False\n", proc.stderr


def test_ctrl_c_while_torch_loads_is_one_line(tmp_path):
    """A KeyboardInterrupt raised by the import of torch (where a Ctrl-C in the first second
    lands): status 130, one line, no traceback."""
    code = ("import builtins, sys\n"
            "real = builtins.__import__\n"
            "def imp(name, *a, **k):\n"
            "    if name == 'torch' or name.startswith('torch.'):\n"
            "        raise KeyboardInterrupt\n"
            "    return real(name, *a, **k)\n"
            "builtins.__import__ = imp\n"
            "sys.argv = ['gankit', 'list']\n"
            "from gankit.cli.main import entry\n"
            "entry()\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stderr, proc.stdout) == (130, "gankit: interrupted\n", "")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- checkpoints hold no data

def test_checkpoint_holds_no_row_sized_tensor_and_resume_is_exact(tmp_path):
    """A finite data set's checkpoint holds the generator state that drew its epoch's
    permutation, not the permutation: nothing in it grows with the rows. Resuming mid-epoch
    (step 6 of 4-batch epochs), across two epoch boundaries, equals the uninterrupted run."""
    from gankit.session import resume, train

    rows = np.random.default_rng(1).normal(size=(3000, 2))
    np.save(tmp_path / "p.npy", rows)
    cfg = {"data": {"name": "points", "path": str(tmp_path / "p.npy"), "test_fraction": 0.91},
           "train": {"steps": 12, "batch_size": 64, "progress": False, "log_every": 6, "checkpoint_every": 0},
           "generator": {"width": 16, "depth": 1}, "discriminator": {"width": 16, "depth": 1},
           "eval": {"num_samples": 50, "metrics": []}, "seed": 2}
    full = train(cfg, run_dir=tmp_path / "full")
    train(cfg, run_dir=tmp_path / "half", steps=6)
    state = torch.load(tmp_path / "half" / "checkpoint.pt", weights_only=True)
    source = state["data"]["source"]
    n_train = len(full.data)
    assert n_train == 270 and source["pos"] == 128  # 6 steps of 64 over 270 rows: 4 batches an epoch
    assert "perm" not in source and source["perm_rng"].numel() < 6000
    resumed = resume(tmp_path / "half")
    for name, module in full.recipe.modules().items():
        for k, v in module.state_dict().items():
            assert torch.equal(v, resumed.recipe.modules()[name].state_dict()[k]), (name, k)


def test_checkpoints_with_a_saved_permutation_still_resume():
    """Checkpoints written before the generator state: their permutation is used as it is."""
    from gankit.data.base import TensorSource

    src = TensorSource(torch.arange(10.0)[:, None], None, name="t", kind="points")
    perm = torch.tensor([3, 1, 4, 0, 5, 9, 2, 6, 8, 7])
    src.load_state_dict({"perm": perm, "pos": 4, "epoch": 1})
    x, _ = src.sample(3, torch.Generator().manual_seed(0))
    assert x[:, 0].tolist() == [5.0, 9.0, 2.0]
