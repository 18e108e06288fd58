"""The audit's JSON on the shipped samples, pinned.

Refactoring must not move any number. A change that is meant to move one (a new default, a
new field) regenerates the golden files in its own commit::

    python tests/test_golden.py --regenerate

Floats are compared to 1e-9 (absolute) so that a reordered float64 sum does not count as a
change, while any change of method, seed stream or split does.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"

CASES: dict[str, list[str]] = {
    "adult_parquet_all": [
        "audit", "sample_data/adult_embeddings.parquet", "--attr", "sex", "--attr", "race",
        "--attr", "age", "--format", "json",
    ],
    "adult_npy_csv": [
        "audit", "sample_data/adult_embeddings.npy", "--attrs", "sample_data/adult_attributes.csv",
        "--attr", "sex", "--attr", "age", "--estimators", "sliced,linear", "--format", "json",
    ],
    "adult_shards_joint": [
        "audit", "sample_data/adult_shards", "--attr", "race", "--estimators", "sliced,linear",
        "--aggregation", "joint", "--slices", "40", "--seed", "3", "--format", "json",
    ],
}
IGNORED = {("infomin_version",)}


def _run(args: list[str]) -> tuple[int, dict]:
    from typer.testing import CliRunner

    from infomin_cli.cli import app
    res = CliRunner().invoke(app, args)
    return res.exit_code, json.loads(res.stdout)


def _diff(a, b, path=()) -> list[str]:
    if path in IGNORED:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{'/'.join(path + (k,))}: only in {'golden' if k in a else 'new'}"
               for k in sorted(set(a) ^ set(b))]
        for k in sorted(set(a) & set(b)):
            out += _diff(a[k], b[k], path + (k,))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, path + (str(i),))]
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return [] if math.isclose(a, b, rel_tol=0, abs_tol=1e-9) else [f"{'/'.join(path)}: {a} -> {b}"]
    return [] if a == b else [f"{'/'.join(path)}: {a!r} -> {b!r}"]


#: cases that train rho* on the whole sample: the quick loop (``-m "not slow"``) skips them
SLOW_CASES = {"adult_parquet_all"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_CASES
                                  else n for n in sorted(CASES)])
def test_audit_json_matches_golden(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, report = _run(CASES[name])
    golden = json.loads((GOLDEN / f"{name}.json").read_text())
    assert code == golden["exit_code"]
    problems = _diff(golden["report"], report)
    assert not problems, "\n".join(problems[:40])


def test_absolute_paths_under_the_working_directory_give_the_same_report(monkeypatch):
    """The input given by absolute paths is shown relative to the working directory: the
    report is the golden one, with no path of the machine it ran on."""
    monkeypatch.chdir(ROOT)
    name = "adult_npy_csv"
    args = [str(ROOT / a) if a.startswith("sample_data/") else a for a in CASES[name]]
    assert args != CASES[name]
    code, report = _run(args)
    golden = json.loads((GOLDEN / f"{name}.json").read_text())
    assert code == golden["exit_code"]
    problems = _diff(golden["report"], report)
    assert not problems, "\n".join(problems[:40])


if __name__ == "__main__" and "--regenerate" in sys.argv:
    import os

    import torch

    torch.set_num_threads(1)
    os.chdir(ROOT)
    GOLDEN.mkdir(exist_ok=True)
    for name, args in CASES.items():
        code, report = _run(args)
        (GOLDEN / f"{name}.json").write_text(
            json.dumps({"args": args, "exit_code": code, "report": report}, indent=1) + "\n")
        print(name, code)
