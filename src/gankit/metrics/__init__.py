"""Metrics: mode coverage on the 2-D mixtures, two-sample distances, image metrics."""

from gankit.metrics.base import METRICS, EvalContext

__all__ = ["METRICS", "EvalContext"]
