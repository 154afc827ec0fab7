"""Strict JSON for everything gankit writes or prints, and safe reading of what it reads back.

``json.dumps`` writes NaN and Infinity, which strict readers (JavaScript's JSON.parse,
jq, most languages' parsers) reject. gankit writes a non-finite number as ``null``, and a
negative zero (a baseline that rounds to zero from below) as ``0.0``.

A file in a run directory or a request body may come from anyone: :func:`loads` turns every
way it can fail (malformed text, nesting deep enough to exhaust the recursion limit, nesting
deeper than any gankit file has) into :class:`JSONError`, which is a ``ValueError`` (callers
that skip a bad line keep working) and a :class:`~gankit.errors.DataError` (one line, exit 2).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from gankit.errors import DataError

MAX_DEPTH = 64  # gankit's own files nest 4 levels; deeper is not a gankit file


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


class JSONError(DataError, ValueError):
    """Text that is not JSON gankit can read: malformed, or nested deeper than :data:`MAX_DEPTH`."""


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, **kwargs: Any) -> Any:
    """``json.loads(text, **kwargs)``, raising :class:`JSONError` for malformed text and for
    nesting deeper than ``max_depth`` (``'[' * 100000`` exhausts Python's recursion limit
    inside the parser, which raises RecursionError rather than ValueError)."""
    try:
        obj = json.loads(text, **kwargs)
    except RecursionError:
        raise JSONError(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError of bytes, a parse_constant's refusal
        raise JSONError(f"malformed JSON: {str(e).splitlines()[0][:160] if str(e) else type(e).__name__}") from None
    if _depth(obj, max_depth) > max_depth:
        raise JSONError(f"JSON nested deeper than {max_depth} levels")
    return obj


def _depth(obj: Any, limit: int) -> int:
    """Nesting depth of lists and dicts in ``obj`` (a scalar is 0), counted without recursion
    and stopping once past ``limit``."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        x, d = stack.pop()
        if not isinstance(x, (list, dict)):
            continue
        deepest = max(deepest, d)
        if deepest > limit:
            break
        stack.extend((v, d + 1) for v in (x.values() if isinstance(x, dict) else x))
    return deepest
