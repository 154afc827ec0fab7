"""``test_error``: the test-split classification error of a semi-supervised run.

The run's model (``ctx.model``) must be a :class:`~gankit.capabilities.Classifies`:
``classify(x) -> (n,)`` classes and ``test``, the data set's labelled test split
(:mod:`gankit.data.labelled`): the semi-supervised recipes ``ssgan`` and ``ssaae``.
"""

from __future__ import annotations

from typing import Any

from gankit.capabilities import Classifies
from gankit.errors import ConfigError
from gankit.metrics.base import METRICS, EvalContext
from gankit.metrics.needs import CLASSIFIES


@METRICS.register("test_error", paper="Makhzani et al. 2016 §5; Salimans et al. 2016 §5", needs=(CLASSIFIES,))
def test_error(ctx: EvalContext) -> dict[str, Any]:
    """Fraction of the test split whose predicted class is wrong, with the number of test
    examples and of labelled training examples the classifier learned from."""
    model = ctx.model
    if not isinstance(model, Classifies):
        raise ConfigError("the 'test_error' metric needs a semi-supervised run (model=ssgan or ssaae)")
    x, y = model.test.x, model.test.y
    wrong = (model.classify(x) != y.cpu()).double().mean()
    return {"test_error": float(wrong), "test_examples": int(y.shape[0]), "labels": len(model.split.labelled)}
