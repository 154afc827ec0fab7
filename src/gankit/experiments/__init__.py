"""The notes' claims as runnable checks: ``gankit.experiments.run(NAME, **options)``.

Each experiment is registered in :data:`EXPERIMENTS` with the claim it checks; ``run``
validates the options, computes, and writes ``result.json`` and ``NAME.png`` into a run
directory. Importing this package registers every experiment below.
"""

from gankit.experiments.base import EXPERIMENTS, ExperimentResult, describe, format_table, run
# registration order = listing order: the losses first, then the game dynamics
from gankit.experiments import optimal_discriminator  # noqa: F401, E402  (optimal-discriminator, equilibrium)
from gankit.experiments import saturation, generator_gradients, bilinear, dirac  # noqa: F401, E402
from gankit.experiments import push_forward  # noqa: F401, E402
from gankit.experiments import mode_dynamics  # noqa: F401, E402
from gankit.experiments import divergence_fit  # noqa: F401, E402  (KL / reverse KL / JSD / MMD Gaussian fits)

__all__ = ["EXPERIMENTS", "ExperimentResult", "describe", "format_table", "run"]
