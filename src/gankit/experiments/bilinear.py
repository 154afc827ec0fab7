"""The bilinear game ``min_x max_y x·y``: which gradient methods reach the equilibrium (0, 0).

Writing ``z = (x, y)`` and ``A = [[0, -1], [1, 0]]``, the gradient descent-ascent direction
is ``A z`` (``x`` descends along ``-y``, ``y`` ascends along ``x``), and every method below is
a linear map of its state, so its per-step growth is the spectral radius of that map
(REFERENCE.md §5; Daskalakis et al. 2018, Gidel et al. 2019, Mokhtari et al. 2020):

==================  =====================================  ==================================
method              update                                 spectral radius
==================  =====================================  ==================================
simultaneous GDA    z' = (I + ηA) z                        sqrt(1 + η²)
alternating GDA     x' = x - ηy, then y' = y + ηx'          1 for 0 < η < 2 (det 1, rotation)
optimistic GDA      z' = z + 2ηA z - ηA z_prev             max|μ|, μ² - (1 + 2iη)μ + iη = 0
extragradient       z' = z + ηA (I + ηA) z                 sqrt(1 - η² + η⁴)
proximal point      z' = (I - ηA)^{-1} z                   1 / sqrt(1 + η²)
==================  =====================================  ==================================

The optimistic root formula comes from writing ``w = x + iy``, for which ``A z`` is ``i w``;
it is < 1 exactly when ``η < 1/sqrt(3)`` and ≈ ``1 - η²/2`` for small ``η``. The running
average of the alternating iterates tends to 0 at rate O(1/T); that of the simultaneous
iterates grows like the iterates themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from gankit.errors import ConfigError
from gankit.experiments.base import EXPERIMENTS, ExperimentResult, relative_error
from gankit.plotting.experiments import plot_bilinear

NAME = "bilinear-game"
CLAIM = ("on min_x max_y x*y, simultaneous gradient steps spiral out at rate sqrt(1+eta^2) "
         "(their average diverges too), alternating steps stay on a bounded cycle while their average "
         "goes to 0 at O(1/T), and optimistic GDA (for eta < 1/sqrt(3)), extragradient (rate "
         "sqrt(1-eta^2+eta^4)) and the proximal point method (rate 1/sqrt(1+eta^2)) converge")

A = np.array([[0.0, -1.0], [1.0, 0.0]])
I2 = np.eye(2)
METHODS = ("simultaneous", "alternating", "optimistic", "extragradient", "proximal")


# --- the updates, as the algorithms are written (not as matrices) ----------------------------

def _simultaneous(z: np.ndarray, prev: np.ndarray, eta: float) -> np.ndarray:
    x, y = z
    return np.array([x - eta * y, y + eta * x])


def _alternating(z: np.ndarray, prev: np.ndarray, eta: float) -> np.ndarray:
    x, y = z
    x = x - eta * y
    return np.array([x, y + eta * x])          # y sees the new x


def _optimistic(z: np.ndarray, prev: np.ndarray, eta: float) -> np.ndarray:
    # the gradient extrapolated from the last two: 2 F(z_t) - F(z_{t-1})
    (x, y), (xp, yp) = z, prev
    return np.array([x - eta * (2 * y - yp), y + eta * (2 * x - xp)])


def _extragradient(z: np.ndarray, prev: np.ndarray, eta: float) -> np.ndarray:
    xh, yh = _simultaneous(z, prev, eta)     # look-ahead point
    x, y = z
    return np.array([x - eta * yh, y + eta * xh])


def _proximal(z: np.ndarray, prev: np.ndarray, eta: float) -> np.ndarray:
    # implicit step z' = z + eta A z', solved exactly
    return np.linalg.solve(I2 - eta * A, z)


UPDATES: dict[str, Callable[[np.ndarray, np.ndarray, float], np.ndarray]] = {
    "simultaneous": _simultaneous, "alternating": _alternating, "optimistic": _optimistic,
    "extragradient": _extragradient, "proximal": _proximal,
}


def trajectory(method: str, z0: np.ndarray, eta: float, steps: int) -> np.ndarray:
    """Iterates ``z_0 .. z_steps`` of one method, shape ``(steps + 1, 2)``, float64
    (the optimistic method starts with ``z_{-1} = z_0``)."""
    update = UPDATES[method]
    out = np.empty((steps + 1, 2))
    out[0] = prev = z = np.asarray(z0, dtype=np.float64)
    for t in range(1, steps + 1):
        z, prev = update(z, prev, eta), z
        out[t] = z
    return out


def running_average(traj: np.ndarray) -> np.ndarray:
    """``avg_t = mean(z_0 .. z_t)``, shape like ``traj``."""
    return np.cumsum(traj, axis=0) / np.arange(1, len(traj) + 1)[:, None]


# --- theory ----------------------------------------------------------------------------------

def update_matrix(method: str, eta: float) -> np.ndarray:
    """The linear map of one step: 2x2 on ``z``, 4x4 on ``(z_t, z_{t-1})`` for optimistic GDA."""
    if method == "simultaneous":
        return I2 + eta * A
    if method == "alternating":
        return (I2 + eta * np.array([[0.0, 0.0], [1.0, 0.0]])) @ (I2 + eta * np.array([[0.0, -1.0], [0.0, 0.0]]))
    if method == "optimistic":
        return np.block([[I2 + 2 * eta * A, -eta * A], [I2, np.zeros((2, 2))]])
    if method == "extragradient":
        return I2 + eta * A @ (I2 + eta * A)
    if method == "proximal":
        return np.linalg.inv(I2 - eta * A)
    raise KeyError(method)


def spectral_radius_closed_form(method: str, eta: float) -> float:
    """REFERENCE.md §5's rates, exact for every ``eta > 0``."""
    if method == "simultaneous":
        return math.sqrt(1 + eta**2)
    if method == "alternating":      # char. polynomial l² - (2 - eta²) l + 1
        b = eta**2 - 2
        return 1.0 if eta < 2 else (b + math.sqrt(b * b - 4)) / 2
    if method == "optimistic":       # roots of mu² - (1 + 2i eta) mu + i eta
        disc = np.sqrt(complex(1 - 4 * eta**2))
        return float(max(abs((1 + 2j * eta + disc) / 2), abs((1 + 2j * eta - disc) / 2)))
    if method == "extragradient":
        return math.sqrt(1 - eta**2 + eta**4)
    if method == "proximal":
        return 1 / math.sqrt(1 + eta**2)
    raise KeyError(method)


def spectral_radius_eig(method: str, eta: float) -> float:
    return float(np.abs(np.linalg.eigvals(update_matrix(method, eta))).max())


def measured_rate(norms: np.ndarray) -> float:
    """Geometric-mean growth per step over the second half (past the transients)."""
    half = len(norms) // 2
    n = len(norms) - 1 - half
    return float((norms[-1] / norms[half]) ** (1.0 / n))


# --- the experiment --------------------------------------------------------------------------

@EXPERIMENTS.register(NAME, claim=CLAIM, plot=plot_bilinear,
                      paper="Daskalakis et al. 2018 'Training GANs with Optimism'; Gidel et al. 2019 "
                            "'A Variational Inequality Perspective on GANs'; Mokhtari et al. 2020")
def bilinear_game(*, eta: float = 0.1, steps: int = 1000, start: tuple[float, float] | None = None,
                  seed: int = 0) -> ExperimentResult:
    """Gradient methods on min_x max_y x*y: measured growth per step vs the spectral radius.

    Options: ``eta`` step size; ``steps`` iterations; ``start`` the initial point (default: a
    point on the unit circle drawn from ``seed``).
    """
    if eta <= 0 or steps < 10:
        raise ConfigError("bilinear-game needs eta > 0 and steps >= 10")
    worst = max(abs(math.log(spectral_radius_closed_form(m, eta))) for m in METHODS)
    if steps * worst > 650:  # e^650 ~ 1e282: beyond that the iterates leave float64
        raise ConfigError(f"bilinear-game: {steps} steps at eta={eta} would over/underflow float64; "
                          f"use steps <= {int(650 / worst)}")
    if start is None:
        angle = np.random.default_rng(seed).uniform(0, 2 * np.pi)
        start = (math.cos(angle), math.sin(angle))
    z0 = np.asarray(start, dtype=np.float64)
    if not np.linalg.norm(z0) > 0:
        raise ConfigError("bilinear-game: start must not be the equilibrium (0, 0)")

    trajs = {m: trajectory(m, z0, eta, steps) for m in METHODS}
    trajs["average of simultaneous"] = running_average(trajs["simultaneous"])
    trajs["average of alternating"] = running_average(trajs["alternating"])
    norms = {m: np.linalg.norm(t, axis=1) for m, t in trajs.items()}

    rows, checks, summary = [], {}, {}
    for label, traj in trajs.items():
        base = label.replace("average of ", "")
        rho, rho_eig = spectral_radius_closed_form(base, eta), spectral_radius_eig(base, eta)
        rate = measured_rate(norms[label])
        final = float(norms[label][-1] / norms[label][0])
        err = relative_error(rate, rho)
        rows.append([label, rho, rho_eig, rate, err, final, final < 0.5])
        summary[f"rate {label}"] = rate
        if label != "average of alternating":  # sub-geometric (O(1/T)), checked below
            checks[label] = err < 0.01

    # alternating: no growth, a bounded cycle; its average decays like 1/T
    alt = norms["alternating"] / norms["alternating"][0]
    avg_alt = norms["average of alternating"] / norms["alternating"][0]
    half = len(alt) // 2
    checks["alternating bounded"] = bool(alt[half:].max() <= alt[:half].max() * 1.01)
    checks["alternating average -> 0"] = bool(avg_alt[-1] < 0.75 * avg_alt[half:].max())
    summary.update({
        "simultaneous theory sqrt(1+eta^2)": spectral_radius_closed_form("simultaneous", eta),
        "extragradient theory sqrt(1-eta^2+eta^4)": spectral_radius_closed_form("extragradient", eta),
        "alternating max |z_t|/|z_0|": float(alt.max()),
        "alternating average T*|avg_T|/|z_0|": float(steps * avg_alt[-1]),
    })
    return ExperimentResult(
        NAME, CLAIM,
        ["method", "radius (closed form)", "radius (eigvals)", "measured rate", "rel. error",
         "|z_T|/|z_0|", "|z_T| < |z_0|/2"],
        rows, summary, all(checks.values()),
        series={"eta": eta, "trajectories": trajs, "norms": norms,
                "radius": {m: spectral_radius_closed_form(m, eta) for m in METHODS}},
    )
