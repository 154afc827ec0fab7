"""``gankit data info`` / ``gankit data fetch`` through the real entry point: output and exit status."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
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


def _offline(monkeypatch) -> None:
    def offline(url, timeout=0):
        raise URLError("no network")

    monkeypatch.setattr(fetch_mod, "urlopen", offline)


def test_fetch_offline_exit_2(tmp_path, capsys, monkeypatch):
    _offline(monkeypatch)
    spec = fetch_mod.IDX_SETS["fashion-mnist"]
    monkeypatch.setitem(fetch_mod.IDX_SETS, "fashion-mnist", dataclasses.replace(spec, system_dirs=()))
    code, out, err = run(capsys, "data", "fetch", "fashion-mnist", "--dir", str(tmp_path / "d"))
    assert code == 2 and err.count("\n") == 1
    assert "cannot download fashion-mnist" in err and "apt-get install dataset-fashion-mnist" in err
    assert not (tmp_path / "d").exists()  # nothing written, not even the directory


def _system_copy(tmp_path, monkeypatch) -> tuple[fetch_mod.IdxSet, object]:
    """A stand-in system copy (four small gzipped files) whose MD5s the spec publishes."""
    system = tmp_path / "usr-share"
    system.mkdir()
    md5 = {}
    for base in fetch_mod.FILES:
        data = gzip.compress(base.encode())
        (system / f"{base}.gz").write_bytes(data)
        md5[base] = hashlib.md5(data).hexdigest()
    spec = dataclasses.replace(fetch_mod.IDX_SETS["fashion-mnist"], md5=md5, system_dirs=(str(system),))
    monkeypatch.setitem(fetch_mod.IDX_SETS, "fashion-mnist", spec)
    return spec, system


def test_fetch_uses_a_verified_system_copy_offline(tmp_path, capsys, monkeypatch):
    # After `apt-get install dataset-fashion-mnist` and with no network, fetch succeeds where
    # data info finds the files (it used to say "install dataset-fashion-mnist" and exit 2).
    _offline(monkeypatch)
    _, system = _system_copy(tmp_path, monkeypatch)
    monkeypatch.setenv("GANKIT_DATA_DIR", str(tmp_path / "cache"))
    code, out, err = run(capsys, "data", "fetch", "fashion-mnist")
    assert code == 0 and out == f"fashion-mnist: files in {system}\n"
    assert "system copy, all 4 files present, checksums ok" in err
    assert not (tmp_path / "cache").exists()  # used where it is, nothing copied

    # with --dir the verified system files are copied there, byte for byte
    code, out, err = run(capsys, "data", "fetch", "fashion-mnist", "--dir", str(tmp_path / "d"))
    assert code == 0 and err.count("copied from") == 4
    for base in fetch_mod.FILES:
        assert (tmp_path / "d" / f"{base}.gz").read_bytes() == (system / f"{base}.gz").read_bytes()


def test_fetch_ignores_a_system_copy_that_does_not_verify(tmp_path, capsys, monkeypatch):
    _offline(monkeypatch)
    _, system = _system_copy(tmp_path, monkeypatch)
    (system / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"tampered"))
    monkeypatch.setenv("GANKIT_DATA_DIR", str(tmp_path / "cache"))
    code, out, err = run(capsys, "data", "fetch", "fashion-mnist")
    assert code == 2 and "cannot download fashion-mnist" in err.splitlines()[-1]
