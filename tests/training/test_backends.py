"""Backend switches: deterministic kernels on request; how an optimiser runs its update is
the process's choice, so checkpoints of fused (GPU) runs load on a CPU."""

import torch

from gankit.config import load_config
from gankit.engine.fastpath import configure_backends
from gankit.session.run import Run


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


def test_threads_for_convolutions_are_the_cores_that_are_free(tmp_path, monkeypatch):
    import os

    from gankit.session import threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cores = len(os.sched_getaffinity(0))
    cfg = load_config(None, ["train.steps=1", "generator.width=4", "discriminator.width=4", "latent_dim=4"],
                      preset="dcgan-digits")
    before = torch.get_num_threads()
    try:
        for busy, expected in ((0.0, cores), (float(cores), 1), (cores - 1.0, 1 if cores <= 2 else 1)):
            monkeypatch.setattr(threads, "others_busy_cores", lambda window=0.2, b=busy: b)
            r = Run(cfg, tmp_path / f"r{busy}")
            assert r.threads == expected and torch.get_num_threads() == expected, (busy, r.threads_reason)
        # small MLPs on points: one thread whatever the load
        r = Run(load_config(None, ["train.steps=1"]), tmp_path / "mlp")
        assert r.threads == 1
    finally:
        torch.set_num_threads(before)


def test_others_busy_cores_reads_the_machine():
    from gankit.session.threads import others_busy_cores

    v = others_busy_cores(0.05)
    assert 0.0 <= v <= os_cores() + 0.5


def os_cores() -> int:
    import os

    return os.cpu_count() or 1
