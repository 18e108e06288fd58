"""Start-up stays light: the help, the version, ``inspect``, settings validation and error
paths never import torch, Ray, matplotlib or scikit-learn (importing torch alone is seconds,
paid by every ``infomin`` call of a CI job). Every case runs in one fresh interpreter, in
order, and records which heavy modules were loaded after it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "adult_embeddings.parquet"
HEAVY = ("torch", "ray", "matplotlib", "sklearn", "safetensors.torch")

_DRIVER = textwrap.dedent("""
    import contextlib, io, json, sys
    from infomin_cli.cli import main

    HEAVY = {heavy!r}
    out = []
    for args in json.loads(sys.argv[1]):
        code = 0
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                main(args)
            except SystemExit as exc:
                code = exc.code
        out.append([args, code, [m for m in HEAVY if m in sys.modules]])
    print(json.dumps(out))
""")


def _run(cases: list[list[str]]) -> list[tuple[list[str], int, list[str]]]:
    proc = subprocess.run([sys.executable, "-c", _DRIVER.format(heavy=HEAVY), json.dumps(cases)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [tuple(r) for r in json.loads(proc.stdout)]


def test_the_probe_sees_torch_when_a_command_loads_it(tmp_path):
    """The check itself can fail: an audit that runs loads torch, and the driver says so."""
    (case,) = _run([["audit", str(SAMPLE), "--attr", "sex", "--estimators", "linear",
                     "--permutations", "200", "--max-rows", "300", "--alpha", "0",
                     "--format", "json"]])
    assert case[1] in (0, 1) and "torch" in case[2]


def test_help_version_inspect_and_errors_do_not_import_torch(tmp_path):
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("alpha = 2\n")
    missing = str(tmp_path / "missing.parquet")
    proj = str(tmp_path / "p.safetensors")
    cases = [
        (["--help"], 0),
        (["--version"], 0),
        (["audit", "--help"], 0),
        (["debias", "--help"], 0),
        (["check", "--help"], 0),
        (["inspect", str(SAMPLE)], 0),
        (["inspect", str(SAMPLE), "--format", "json"], 0),
        (["check", "--config", str(bad_toml)], 2),
        (["audit", missing, "--attr", "sex"], 2),
        (["audit", str(SAMPLE), "--attr", "nosuch"], 2),
        (["audit", str(SAMPLE), "--attr", "sex", "--alpha", "2"], 2),
        (["audit", str(SAMPLE), "--attr", "sex", "--device", "gpu"], 2),
        (["debias", str(SAMPLE), "--attr", "sex", "--beta", "1,,2", "--projection", proj], 2),
        (["debias", str(SAMPLE), "--attr", "nosuch", "--projection", proj], 2),
        (["apply", proj, str(SAMPLE), "--out", str(tmp_path / "o.parquet")], 2),
    ]
    results = _run([args for args, _ in cases])
    assert [(args, code) for args, code, _ in results] == [(a, c) for a, c in cases]
    loaded = {" ".join(args): heavy for args, _, heavy in results if heavy}
    assert loaded == {}, f"heavy modules imported by: {loaded}"
    assert not (tmp_path / "p.safetensors").exists()


def test_shell_completion_answers_without_importing_torch():
    """A completion request (what bash runs at every TAB) offers the command and loads
    nothing heavy."""
    code = textwrap.dedent(f"""
        import contextlib, io, json, sys
        from infomin_cli.cli import main

        buf, code = io.StringIO(), None
        with contextlib.redirect_stdout(buf):
            try:
                main([])
            except SystemExit as exc:
                code = exc.code
        print(json.dumps([code, buf.getvalue(), [m for m in {HEAVY!r} if m in sys.modules]]))
    """)
    env = {**os.environ, "_INFOMIN_COMPLETE": "complete_bash", "COMP_WORDS": "infomin au",
           "COMP_CWORD": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    code, offered, heavy = json.loads(proc.stdout)
    assert code == 0 and offered.split() == ["audit"] and heavy == []


@pytest.mark.parametrize("package", ["infomin_cli", "infomin"])
def test_importing_the_library_is_lazy_and_complete(package):
    """``import infomin`` loads nothing heavy; every public name still resolves, and the
    table of lazy names is exactly ``__all__``."""
    code = textwrap.dedent(f"""
        import sys, json
        import {package} as m
        before = [h for h in {HEAVY!r} if h in sys.modules]
        names = sorted(m.__all__)
        missing = [n for n in names if getattr(m, n, None) is None]
        print(json.dumps([before, missing, sorted(set(names) - set(dir(m)))]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    before, missing, undirred = json.loads(proc.stdout)
    assert before == [] and missing == [] and undirred == []


def test_lazy_table_matches_all():
    import infomin_cli

    assert set(infomin_cli.__all__) == set(infomin_cli._EXPORTS) | {"__version__"}
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        infomin_cli.nope  # noqa: B018


def test_a_name_that_is_also_a_submodule_stays_the_function():
    """``infomin_cli.debias`` and ``infomin_cli.report.render_audit`` are functions and
    submodules: importing the submodules first (as other modules do) must not rebind them."""
    code = textwrap.dedent("""
        import infomin_cli.report.render_audit, infomin_cli.report.render_check
        import infomin_cli.debias.fit, infomin_cli.debias.config
        import infomin_cli
        from infomin_cli.report import render_audit, render_inspect
        print(all(callable(f) for f in (render_audit, render_inspect, infomin_cli.debias)))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "True", proc.stderr
