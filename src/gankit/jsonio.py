"""Strict JSON for everything gankit writes or prints.

``json.dumps`` writes NaN and Infinity, which strict readers (JavaScript's JSON.parse,
jq, most languages' parsers) reject. gankit writes a non-finite number as ``null``, and a
negative zero (a baseline that rounds to zero from below) as ``0.0``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def strict(x: Any) -> Any:
    """``x`` with non-finite floats as None and -0.0 as 0.0, tuples as lists, keys as strings."""
    if isinstance(x, Mapping):
        return {str(k): strict(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [strict(v) for v in x]
    if isinstance(x, float):
        if not math.isfinite(x):
            return None
        return x + 0.0  # -0.0 + 0.0 == 0.0
    return x


def dumps(x: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`strict` ``(x)``, refusing anything non-strict that remains."""
    return json.dumps(strict(x), allow_nan=False, **kwargs)
