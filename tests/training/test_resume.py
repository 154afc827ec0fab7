"""Checkpoints: what they hold; atomic write; weights-only load; clear errors. That resume
equals the uninterrupted run is tests/contracts/test_recipe_contract.py."""

import pytest
import torch

from gankit.errors import CheckpointError
from gankit.session import load_run, train
from gankit.engine.checkpoint import load_checkpoint, save_atomic

SMALL = {"train": {"steps": 40, "batch_size": 64, "progress": False, "log_every": 10, "ema": 0.9},
         "generator": {"width": 32, "depth": 2}, "discriminator": {"width": 32, "depth": 2},
         "eval": {"num_samples": 200}, "seed": 3}


class Arbitrary:
    """Any pickled class instance: refused by weights_only loading."""


def _params(run):
    return {f"{m}.{k}": v.clone() for m, mod in run.recipe.modules().items() for k, v in mod.state_dict().items()}


def test_checkpoint_holds_everything_and_loads_weights_only(tmp_path):
    run = train(SMALL, run_dir=tmp_path / "r")
    state = load_checkpoint(run.dir / "checkpoint.pt")
    assert set(state["modules"]) == {"G", "D", "G_ema"}
    assert state["trainer"]["step"] == 40 and set(state["trainer"]["optimizers"]) == {"D", "G"}
    assert state["config"]["seed"] == 3 and "torch" in state["rng"]
    assert (run.dir / "config.yaml").is_file() and (run.dir / "metrics.json").is_file()
    assert (run.dir / "samples.png").stat().st_size > 1000 and (run.dir / "losses.png").is_file()
    lines = (run.dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4  # steps 10, 20, 30, 40
    reloaded = load_run(run.dir)
    x1 = reloaded.recipe.generate(16, seed=1)
    x2 = run.recipe.generate(16, seed=1)
    assert torch.equal(x1, x2)


def test_atomic_save_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "c.pt"
    save_atomic({"config": {}, "modules": {}, "x": torch.ones(3)}, path)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        save_atomic({"config": {}, "modules": {}, "x": Boom()}, path)
    assert torch.equal(load_checkpoint(path)["x"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temp file left behind


def test_corrupt_and_foreign_checkpoints_give_clear_errors(tmp_path):
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(bad)
    torch.save({"a": 1}, bad)
    with pytest.raises(CheckpointError, match="not a gankit checkpoint"):
        load_checkpoint(bad)
    # arbitrary pickled objects are refused by weights_only loading
    torch.save({"config": {}, "modules": {}, "evil": Arbitrary()}, bad)
    with pytest.raises(CheckpointError, match="Unpickling|weights_only|Weights only"):
        load_checkpoint(bad)
