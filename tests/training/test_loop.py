"""The loop's update schemes against hand-computed updates on a bilinear game."""

import pytest
import torch

from gankit.engine.loop import Phase, Trainer, lr_factor


def _game(update: str, eta: float = 0.1, steps: int = 5):
    x = torch.nn.Linear(1, 1, bias=False)
    y = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        x.weight.fill_(1.0)
        y.weight.fill_(1.0)
    prod = lambda: (x.weight * y.weight).sum()  # noqa: E731
    phases = [Phase("x", [x], torch.optim.SGD(x.parameters(), lr=eta), lambda: (prod(), {})),
              Phase("y", [y], torch.optim.SGD(y.parameters(), lr=eta), lambda: (-prod(), {}))]
    tr = Trainer(phases, update=update)
    for _ in range(steps):
        tr.train_step()
    return x.weight.item(), y.weight.item()


def test_simultaneous_matches_hand_update():
    xs, ys, eta = 1.0, 1.0, 0.1
    for _ in range(5):
        xs, ys = xs - eta * ys, ys + eta * xs
    assert _game("simultaneous") == pytest.approx((xs, ys), rel=1e-6)


def test_alternating_matches_hand_update():
    xa, ya, eta = 1.0, 1.0, 0.1
    for _ in range(5):
        xa = xa - eta * ya
        ya = ya + eta * xa
    assert _game("alternating") == pytest.approx((xa, ya), rel=1e-6)


def test_repeats_and_every():
    w = torch.nn.Parameter(torch.zeros(1))
    m = torch.nn.Module()
    m.w = w
    counts = {"a": 0, "b": 0}

    def make(name):
        def fn():
            counts[name] += 1
            return (w * 0).sum() + w.sum(), {}
        return fn

    tr = Trainer([Phase("a", [m], torch.optim.SGD([w], lr=1.0), make("a"), repeats=3),
                  Phase("b", [m], torch.optim.SGD([w], lr=1.0), make("b"), every=4)])
    for _ in range(8):
        tr.train_step()
    assert counts == {"a": 24, "b": 2}
    assert w.item() == pytest.approx(-26.0)


def test_lr_factors():
    assert lr_factor("linear", 100)(25) == pytest.approx(0.75)
    assert lr_factor("cosine", 100)(50) == pytest.approx(0.5)
    assert lr_factor("cosine", 100)(100) == pytest.approx(0.0, abs=1e-12)
