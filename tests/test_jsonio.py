"""Strict JSON: what gankit writes parses with a reader that rejects NaN and Infinity."""

import json
import math

import pytest

from gankit import jsonio


def _strict_load(text: str):
    def refuse(name):
        raise ValueError(f"non-strict JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_become_null_and_negative_zero_zero():
    x = {"a": math.inf, "b": [-math.inf, math.nan, 1.5], "c": -0.0, 3: (1, 2), "d": "x"}
    out = _strict_load(jsonio.dumps(x))
    assert out == {"a": None, "b": [None, None, 1.5], "c": 0.0, "3": [1, 2], "d": "x"}
    assert math.copysign(1.0, out["c"]) == 1.0
    assert jsonio.dumps(-0.0) == "0.0"


def test_plain_json_would_not_be_strict():
    with pytest.raises(ValueError, match="non-strict"):
        _strict_load(json.dumps({"a": math.inf}))
