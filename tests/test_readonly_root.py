"""A read-only runs root (a read-only mount): `runs`, `show`, `sweeps` and `doctor` work, writing commands are refused
with one line. Needs root to mount a tmpfs; skipped otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from test_hostile_inputs import _fake_run


@pytest.fixture
def ro_root(tmp_path, monkeypatch):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a read-only tmpfs needs root")
    mnt = tmp_path / f"ro-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        root = mnt / "runs"
        _fake_run(root)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        monkeypatch.setenv("PRIORLAB_HOME", str(root))
        yield root
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_read_only_commands_work_on_a_read_only_root(cli, ro_root):
    before = sorted(p.name for p in ro_root.iterdir())
    r = cli(["runs"])
    assert r.code == 0 and "abcdef" in r.out, r.err
    r = cli(["show", "20260101-000000-abcdef"])
    assert r.code == 0 and "status: done" in r.out, r.err
    assert cli(["sweeps"]).code == 0
    r = cli(["doctor"])
    assert r.code == 0 and "clean" in r.out, r.err
    assert sorted(p.name for p in ro_root.iterdir()) == before  # no -wal/-shm made


@pytest.mark.parametrize("cmd", [["report"], ["run", "fit1d", "--set", "steps=1", "--quiet"], ["doctor", "--repair"]])
def test_writing_commands_are_refused_on_a_read_only_root(cli, ro_root, cmd):
    r = cli(cmd)
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err, r.err
    assert "read-only" in r.err.lower()


def test_out_on_a_read_only_file_system(cli, ro_root, home):
    r = cli(["run", "fit1d", "--set", "steps=1", "--quiet", "--out", Path(ro_root) / "new"])
    assert r.code == 2 and "read-only" in r.err.lower(), r.err
