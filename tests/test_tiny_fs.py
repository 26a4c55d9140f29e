"""A runs root on a tiny file system (disk full, ENOSPC): exit 2 with one line, no row left `running`, no
half-written folder. Needs root to mount a tmpfs; skipped otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from priorlab.store import Store


@pytest.mark.parametrize("size", ["48k", "400k"])
def test_disk_full_is_one_line_and_leaves_nothing_running(cli, tmp_path, monkeypatch, size):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tiny tmpfs needs root")
    mnt = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                      capture_output=True).returncode:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        root = mnt / "runs"
        monkeypatch.setenv("PRIORLAB_HOME", str(root))
        r = cli(["run", "fit1d", "--set", "steps=5", "--set", "frames=2", "--quiet", "--device", "cpu"])
        assert "Traceback" not in r.err
        if r.code == 0:
            pytest.skip(f"the run fitted in {size}")
        assert r.code == 2 and len(r.err.strip().splitlines()) == 1, r.err
        assert "space" in r.err
        assert not list(root.glob("*/.partial-*"))
        if (root / "index.sqlite").exists():
            assert [x for x in Store(root).runs() if x["status"] == "running"] == []
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
