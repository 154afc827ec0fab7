"""The rejection critic's fit after the last training step shows a progress bar, as training
does, and none with ``train.progress=false``."""

from __future__ import annotations

from pathlib import Path

import pytest

import gankit


@pytest.mark.parametrize("progress", [True, False])
def test_the_critic_fit_shows_progress_as_training_does(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        progress: bool) -> None:
    # the default preset samples with drs: its critic is fitted once the 3 steps are done
    gankit.train(overrides=["train.steps=3", f"train.progress={str(progress).lower()}", "eval.metrics=[]",
                            "mitigations.drs.calibration=100"], run_dir=tmp_path / "run")
    err = capsys.readouterr().err
    assert ("rejection critic (drs)" in err) is progress
    assert ("3/3" in err.split("rejection critic (drs)")[-1]) is progress   # its bar counts the critic's 3 steps
