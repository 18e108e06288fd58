"""The installed ``infomin`` console script, run as a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DIM, N_ROWS

from infomin_cli import __version__


def _infomin() -> list[str]:
    exe = Path(sys.executable).parent / "infomin"
    found = str(exe) if exe.exists() else shutil.which("infomin")
    if found is None:
        pytest.skip("the infomin console script is not installed")
    return [found]


def _run(args, cwd, cmd=None):
    cmd = cmd or _infomin()
    return subprocess.run(cmd + [str(a) for a in args], cwd=cwd, capture_output=True, check=False,
                          text=True, timeout=120)


def test_version(tmp_path):
    res = _run(["--version"], tmp_path)
    assert res.returncode == 0 and res.stdout.strip() == f"infomin {__version__}"


def test_module_entry_point(tmp_path):
    res = _run(["--version"], tmp_path, [sys.executable, "-m", "infomin_cli"])
    assert res.returncode == 0 and __version__ in res.stdout


def test_inspect_json_subprocess(tmp_path, emb_parquet):
    res = _run(["inspect", emb_parquet, "--format", "json"], tmp_path)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)  # nothing but JSON on stdout
    assert report["rows"] == N_ROWS and report["embedding"]["dim"] == DIM
    assert res.stderr == ""
    table = _run(["inspect", emb_parquet], tmp_path)
    assert table.returncode == 0 and "gender" in table.stdout and table.stderr == ""


def test_error_and_debug_subprocess(tmp_path):
    missing = tmp_path / "missing.parquet"
    res = _run(["inspect", missing], tmp_path)
    assert res.returncode == 2
    assert res.stderr == f"error: {missing}: no such file or directory\n"
    assert res.stdout == ""
    dbg = _run(["--debug", "inspect", missing], tmp_path)
    assert dbg.returncode != 0 and "Traceback" in dbg.stderr and "InputError" in dbg.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_each_command_registered_once(cli_app):
    names = [c.name for c in cli_app.registered_commands]
    assert sorted(names) == sorted(set(names)) and {"inspect", "audit"} <= set(names)
