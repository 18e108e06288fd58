"""The command line at a real terminal: tables that fit 80 and 60 columns with every number in
full, progress on stderr only (with stdout piped, as in ``--format json | jq``), ``--quiet``,
``NO_COLOR`` without a single ANSI escape, shell completion, and help text that survives rich
markup."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from infomin_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "adult_embeddings.parquet"
FAST = ["--estimators", "sliced,linear", "--max-rows", "2000", "--permutations", "200",
        "--alpha", "0"]
ESC = "\x1b["


def _cli(*args, env: dict[str, str] | None = None, **kwargs):
    return CliRunner().invoke(app, [str(a) for a in args], env=env, **kwargs)


def _plain(text: str) -> str:
    """``text`` without colour escapes: Typer fixes ``FORCE_TERMINAL`` from ``FORCE_COLOR`` when
    first imported, which in this process may have been under a test's forced terminal."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _lines_fit(text: str, width: int) -> None:
    assert "…" not in text
    too_long = [line for line in text.splitlines() if len(line.rstrip()) > width]
    assert not too_long, too_long


def _audit_numbers(report: dict) -> list[str]:
    """Every number of the audit report's table, as the table prints it."""
    out = [f"{report['n_rows']:,}", str(report["dim"])]
    for a in report["attributes"].values():
        for key in ("linear", "sliced", "rho_star"):
            block = a.get(key)
            if not block or block.get("value") is None:
                continue
            out.append(f"{block['value']:.3f}")
            out.append(format(block["null_q95"], ".3f").lstrip("0"))
            if key == "rho_star" and block.get("ci"):
                lo, hi = block["ci"]
                out.append(f"{lo:.2f}–{hi:.2f}")
        adj = [t["p_adjusted"] for t in a["tests"] if t.get("p_adjusted") is not None]
        if adj:
            out.append(f"{min(adj):.3f}" if min(adj) >= 0.001 else "<0.001")
    return out


@pytest.fixture(scope="module")
def audit_runs(tmp_path_factory):
    """One small real audit through the command line at 60, 80 and 200 columns (a table on
    stdout, its JSON report written by --output)."""
    out = {}
    for width in (60, 80, 200):
        report = tmp_path_factory.mktemp("audit") / "report.json"
        r = _cli("audit", SAMPLE, "--attr", "sex", "--attr", "race", "--attr", "age", *FAST,
                 "-o", report, env={"COLUMNS": str(width)})
        assert r.exit_code == 0, r.output
        out[width] = (r.stdout, json.loads(report.read_text()))
    return out


@pytest.mark.parametrize("width", [60, 80])
def test_the_audit_table_fits_narrow_terminals_with_every_number_in_full(audit_runs, width):
    text, report = audit_runs[width]
    _lines_fit(text, width)
    numbers = _audit_numbers(report)
    assert len(numbers) >= 3 * 5
    missing = [n for n in numbers if n not in text]
    assert not missing, (missing, text)


def test_a_wide_terminal_keeps_the_one_row_per_attribute_table(audit_runs):
    text, report = audit_runs[200]
    assert "linear (null95)" in text and "p adj" in text
    row = next(line for line in text.splitlines() if line.split()[:1] == ["sex"])
    sex = report["attributes"]["sex"]
    assert f"{sex['linear']['value']:.3f}" in row and f"{sex['sliced']['value']:.3f}" in row
    narrow, _ = audit_runs[60]
    assert "linear (null95)" not in narrow  # stacked: one block per attribute


@pytest.mark.parametrize("width", [60, 80])
def test_the_rho_column_and_its_interval_stack_in_full(width):
    """The pinned full audit (with ρ* and its interval) rendered on a narrow console."""
    from infomin_cli.report import render_audit

    report = json.loads((ROOT / "tests" / "golden" / "adult_parquet_all.json").read_text())
    report = report["report"]
    buf = io.StringIO()
    render_audit(report, Console(file=buf, width=width, color_system=None))
    text = buf.getvalue()
    _lines_fit(text, width)
    numbers = _audit_numbers(report)
    assert any("–" in n for n in numbers)
    assert [n for n in numbers if n not in text] == []


@pytest.mark.parametrize("width", [60, 80])
def test_the_check_table_fits_with_every_number_in_full(tmp_path, monkeypatch, width):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "infomin.toml").write_text(
        'alpha = 0\nestimators = ["sliced", "linear"]\npermutations = 200\nmax_rows = 2000\n'
        f'[[checks]]\nname = "adult"\ninput = "{SAMPLE.as_posix()}"\n'
        'attributes = ["sex", "age"]\n')
    r = _cli("check", "--output", "run.json", env={"COLUMNS": str(width)})
    assert r.exit_code == 0, r.output
    run = json.loads((tmp_path / "run.json").read_text())
    table, summary = r.stdout.rstrip("\n").rsplit("\n", 1)
    assert summary.startswith("infomin check: PASS")  # one line, its path never broken
    _lines_fit(table, width)
    numbers = _audit_numbers(run["checks"]["adult"]["report"])
    assert [n for n in numbers if n not in r.stdout] == []


@pytest.mark.parametrize("width", [60, 80])
def test_the_inspect_tables_fit_with_every_number_in_full(width):
    args = ["inspect", SAMPLE, "--attr", "race", "--attr", "age"]
    r = _cli(*args, env={"COLUMNS": str(width)})
    assert r.exit_code == 0, r.output
    report = json.loads(_cli(*args, "--format", "json").stdout)
    _lines_fit(r.stdout, width)
    numbers = [f"{report['rows']:,}", str(report["embedding"]["dim"])]
    numbers += [f"{report['norms'][k]:.4g}" for k in ("min", "median", "mean", "max")]
    for c in report["columns"]:
        numbers += [f"{c['missing']:,}"] + ([f"{c['distinct']:,}"] if c["distinct"] else [])
    numbers += [f"{a['dropped']:,}" for a in report["attributes"].values()]
    numbers += [c for a in report["attributes"].values() for c in a["classes"] or []]
    assert [n for n in numbers if n not in r.stdout] == []


@pytest.mark.parametrize("width", [60, 80, 200])
def test_the_debias_table_fits_with_every_number_in_full(width):
    import numpy as np

    from infomin_cli.debias.run import DebiasRun
    from infomin_cli.report.render_debias import render_debias

    before = {"sex": {"linear": 0.5123, "si": 0.3456, "si_p": 0.001, "rho": 0.61},
              "income_bracket": {"linear": 0.7, "si": 0.5, "si_p": 0.001, "rho": 0.8}}
    after = {"sex": {"linear": 0.0213, "si": 0.0311, "si_p": 0.4, "rho": 0.0821},
             "income_bracket": {"linear": 0.69, "si": 0.45, "si_p": 0.001, "rho": 0.79}}
    run = DebiasRun(projection=None, method="slice", attributes=["sex"],
                    targets=["income_bracket"], beta=1.0, seed=0, held_out=np.arange(1600),
                    before=before, after=after)
    buf = io.StringIO()
    render_debias(run, "p.safetensors", None, Console(file=buf, width=width, color_system=None))
    text = buf.getvalue()
    _lines_fit(text, width)
    cells = [f"{before[c][k]:.3f} → {after[c][k]:.3f}" for c in before for k in ("linear", "si",
                                                                                  "rho")]
    assert [c for c in cells if c not in text] == []
    assert ("┃ column" in text) == (width >= 80)  # the wide table where it fits (75 wide)


# progress --------------------------------------------------------------------------------------
@pytest.fixture
def stderr_terminal(monkeypatch):
    """stderr is a terminal (stdout stays the runner's pipe)."""
    monkeypatch.setattr("infomin_cli.cli.progress.stderr_is_terminal", lambda: True)


def test_progress_goes_to_stderr_only_and_json_stays_clean(stderr_terminal):
    r = _cli("audit", SAMPLE, "--attr", "sex", *FAST, "--format", "json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)  # stdout: the JSON and nothing else
    assert report["attributes"]["sex"]["linear"]["value"] is not None
    assert "rows" in r.stderr and "ETA" in r.stderr and "2000/2000" in r.stderr
    assert "ETA" not in r.stdout and ESC not in r.stdout


def test_quiet_draws_nothing_and_changes_no_result(stderr_terminal):
    loud = _cli("audit", SAMPLE, "--attr", "sex", *FAST, "--format", "json")
    quiet = _cli("audit", SAMPLE, "--attr", "sex", *FAST, "--format", "json", "-q")
    assert loud.exit_code == quiet.exit_code == 0, quiet.output
    assert loud.stderr and quiet.stderr == ""
    a, b = json.loads(loud.stdout), json.loads(quiet.stdout)
    a.pop("infomin_version", None), b.pop("infomin_version", None)
    assert a == b
    r = _cli("inspect", SAMPLE, "--quiet")
    assert r.exit_code == 0 and r.stderr == "" and "rows" in r.stdout


def test_check_draws_each_checks_progress_on_stderr(stderr_terminal, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "infomin.toml").write_text(
        'alpha = 0\nestimators = ["sliced", "linear"]\npermutations = 200\nmax_rows = 2000\n'
        f'[[checks]]\nname = "adult"\ninput = "{SAMPLE.as_posix()}"\nattributes = ["sex"]\n')
    r = _cli("check", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["verdict"] == "pass"
    assert "2000/2000" in r.stderr and "ETA" in r.stderr
    quiet = _cli("check", "--format", "json", "-q")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_no_progress_when_stderr_is_not_a_terminal():
    r = _cli("audit", SAMPLE, "--attr", "sex", *FAST, "--format", "json")
    assert r.exit_code == 0 and r.stderr == ""


def test_the_rho_bar_ends_where_training_stopped():
    """Early stopping ends ρ*'s training long before its 200 epochs: the bar's task ends
    there (completed == total == the epochs run), then a status line says what runs next."""
    import numpy as np

    import infomin_cli as im
    from infomin_cli.cli.progress import audit_progress, progress_bar
    from infomin_cli.io.source import InMemorySource
    from infomin_cli.pipeline.audit import run_audit

    rng = np.random.default_rng(0)
    z = rng.standard_normal((800, 4)).astype(np.float32)
    noise = im.Attribute.categorical("noise", rng.integers(0, 2, 800))
    config, policy = im.audit_settings({"estimators": "rho", "alpha": 0, "permutations": 200})
    bar = progress_bar(True)  # never started: nothing drawn, the tasks are still kept
    on_rows, on_epoch = audit_progress(bar, config)
    res = run_audit(InMemorySource(z, {"noise": noise}, "mem"), config, policy,
                    on_rows=on_rows, on_epoch=on_epoch)
    epochs = res.attributes["noise"].estimates["rho"].epochs
    (task,) = [t for t in bar.tasks if "epochs" in t.description]
    assert epochs < config.of("rho").max_epochs  # the case the fix is about
    assert task.completed == task.total == epochs
    assert any("read-out" in t.description for t in bar.tasks)


@pytest.mark.slow
def test_progress_at_a_real_terminal_with_stdout_piped():
    """``infomin audit ... --format json | jq``: stderr a pseudo-terminal, stdout a pipe."""
    import pty
    import select

    main, sub = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "infomin_cli", "audit", str(SAMPLE),
                             "--attr", "sex", *FAST, "--format", "json"],
                            stdout=subprocess.PIPE, stderr=sub, stdin=subprocess.DEVNULL)
    os.close(sub)
    err = b""
    while True:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            err += chunk
        elif proc.poll() is not None:
            break
    out = proc.stdout.read()
    assert proc.wait(timeout=120) == 0
    os.close(main)
    assert json.loads(out)["attributes"]["sex"]["linear"]["value"] is not None
    assert b"rows" in err and b"ETA" in err


# NO_COLOR --------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["inspect", SAMPLE],
    ["audit", SAMPLE, "--attr", "sex", *FAST],
])
def test_no_color_means_no_escape_at_all_even_on_a_forced_terminal(args):
    forced = {"FORCE_COLOR": "1", "COLUMNS": "100", "NO_COLOR": ""}
    coloured = _cli(*args, env=forced)
    assert coloured.exit_code == 0 and ESC in coloured.stdout  # the check can fail
    plain = _cli(*args, env={**forced, "NO_COLOR": "1"})
    assert plain.exit_code == 0 and ESC not in plain.output
    assert _plain(coloured.stdout) == plain.stdout


def test_no_color_help_and_usage_errors(monkeypatch):
    import typer.rich_utils

    monkeypatch.setattr(typer.rich_utils, "FORCE_TERMINAL", True)
    assert ESC in _cli("audit", "--help", env={"NO_COLOR": ""}).stdout
    for args in (["audit", "--help"], ["--help"], ["audit", "--no-such-flag"]):
        r = _cli(*args, env={"NO_COLOR": "1"})
        assert r.output and ESC not in r.output, args
    assert ESC in _cli("audit", "--help", env={"NO_COLOR": ""}).stdout  # restored


# completion and help ---------------------------------------------------------------------------
def test_completion_offers_commands_and_options():
    env = {"_INFOMIN_COMPLETE": "complete_bash", "COMP_WORDS": "infomin au", "COMP_CWORD": "1"}
    r = _cli(env=env, prog_name="infomin")
    assert r.exit_code == 0 and r.stdout.split() == ["audit"]
    env.update(COMP_WORDS="infomin audit --estim", COMP_CWORD="2")
    assert _cli(env=env, prog_name="infomin").stdout.split() == ["--estimators"]
    top = _plain(_cli("--help", env={"COLUMNS": "200"}).stdout)
    assert "--install-completion" in top and "--show-completion" in top


def _commands():
    import typer.main

    group = typer.main.get_command(app)
    return group, group.commands


def test_every_option_and_argument_has_help():
    import typer

    group, commands = _commands()
    ctx = typer.Context(group)
    missing = [f"infomin {name} {p.name}" for name, cmd in commands.items()
               for p in cmd.get_params(ctx) if not (p.help or "").strip()]
    missing += [f"infomin {p.name}" for p in group.get_params(ctx) if not (p.help or "").strip()]
    assert missing == []
    assert {"audit", "check", "debias", "apply", "inspect"} <= set(commands)
    for name in ("audit", "check", "debias", "apply", "inspect"):
        opts = {o for p in commands[name].get_params(ctx) for o in p.opts}
        assert {"--quiet", "-q"} <= opts, name


def test_help_keeps_install_hints_and_shows_no_type_placeholders():
    wide = {"COLUMNS": "250"}
    helps = {name: _plain(_cli(name, "--help", env=wide).stdout)
             for name in ("audit", "check", "debias", "apply", "inspect")}
    helps["infomin"] = _plain(_cli("--help", env=wide).stdout)
    assert "pip install '.[ray]' from a clone of infomin" in helps["audit"]
    assert "'.[ray]'" in helps["apply"]
    assert "pip install '.[leace]'" in helps["debias"] and "pip install '.[plot]'" in helps["debias"]
    for name, text in helps.items():
        assert text.strip(), name
        assert not re.findall(r"<[a-z|\[\]]+>", text), (name, re.findall(r"<[a-z|\[\]]+>", text))
        assert "infomin[" not in text, name
    assert "[table|json]" in helps["audit"] and "INTEGER" in helps["audit"]
