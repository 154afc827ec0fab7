"""Backend switches: deterministic kernels on request; how an optimiser runs its update is
the process's choice, so checkpoints of fused (GPU) runs load on a CPU."""

import torch

from gankit.config import load_config
from gankit.training.fastpath import configure_backends
from gankit.training.run import Run


def test_deterministic_switch():
    try:
        configure_backends(torch.device("cpu"), deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        configure_backends(torch.device("cpu"), deterministic=False)
    assert not torch.are_deterministic_algorithms_enabled()


def test_a_fused_checkpoint_loads_into_an_unfused_optimiser(tmp_path):
    cfg = load_config(None, ["train.steps=3", "train.progress=false", "generator.width=8", "discriminator.width=8"])
    run = Run(cfg, tmp_path / "r")
    run.recipe.trainer.train_step()
    state = run.recipe.trainer.state_dict()
    for opt in state["optimizers"].values():  # as written by a GPU run with fused Adam
        for g in opt["param_groups"]:
            g["fused"] = True
    other = Run(cfg, tmp_path / "s")
    other.recipe.trainer.load_state_dict(state)
    for ph in other.recipe.trainer.phases:
        assert all(not g.get("fused") for g in ph.optimizer.param_groups)
    other.recipe.trainer.train_step()  # and it steps on the CPU
    assert other.recipe.trainer.step == 2
