"""``gankit data info`` / ``gankit data fetch`` through the real entry point: output and exit status."""

from __future__ import annotations

from urllib.error import URLError

import numpy as np
from sklearn.datasets import load_digits

from gankit.cli.main import main
from gankit.data import fetch as fetch_mod


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_digits(capsys):
    code, out, err = run(capsys, "data", "info", "digits", "--set", "split=test", "--set", "size=16")
    assert code == 0 and err == ""
    assert "digits: images, 359 examples" in out and "(1, 16, 16)" in out
    assert "value range  [-1, 1]" in out
    counts = np.bincount(load_digits().target[4::5], minlength=10)
    assert "classes      10: " + ", ".join(f"{k} ({c})" for k, c in enumerate(counts)) in out


def test_info_npz_shorthand(tmp_path, capsys):
    np.savez(tmp_path / "a.npz", x=np.zeros((3, 4, 4), np.uint8), y=np.array([1, 1, 0]))
    code, out, _ = run(capsys, "data", "info", f"npz:{tmp_path / 'a.npz'}")
    assert code == 0 and "3 examples" in out and "classes      2: 0 (1), 1 (2)" in out
    assert "value range  [-1, -1]" in out


def test_user_errors_exit_2_with_one_line(tmp_path, capsys, monkeypatch):
    cases = [
        (["data", "info", "npz", "--set", "path=/nonexistent"], "npz file /nonexistent does not exist"),
        (["data", "info", "folder", "--set", f"path={tmp_path}"], "holds no readable images"),
        (["data", "info", "digits", "--set", "colour=1"], "unknown option dataset.colour"),
        (["data", "info", "digits", "--set", "size"], "not of the form KEY=VALUE"),
        (["data", "info", "imagenet"], "unknown dataset 'imagenet'"),
        (["data", "fetch", "cifar"], "invalid choice: 'cifar'"),
    ]
    for argv, text in cases:
        try:
            code = main(argv)
        except SystemExit as e:   # argparse's own errors
            code = e.code
        _, err = capsys.readouterr()
        assert code == 2, argv
        assert text in err and err.count("\n") == 1, (argv, err)


def test_fetch_offline_exit_2(tmp_path, capsys, monkeypatch):
    def offline(url, timeout=0):
        raise URLError("no network")

    monkeypatch.setattr(fetch_mod, "urlopen", offline)
    code, out, err = run(capsys, "data", "fetch", "fashion-mnist", "--dir", str(tmp_path))
    assert code == 2 and err.count("\n") == 1
    assert "cannot download fashion-mnist" in err and "apt-get install dataset-fashion-mnist" in err
