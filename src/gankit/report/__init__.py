"""Reports and the human judge.

* :func:`write_report` / :func:`build_report`: ``report.html``, one self-contained page per run
  or comparison of runs (:mod:`gankit.report.html`);
* ``gankit judge``: the "real or generated?" page of the HYPE protocol
  (:mod:`gankit.report.judge`, :mod:`gankit.report.server`) and its scores
  (:mod:`gankit.report.score`).
"""

from gankit.report.html import build_report, write_report

__all__ = ["build_report", "write_report"]
