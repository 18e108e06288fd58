"""The CI files infomin ships: examples/github-actions.yml, examples/gitlab-ci.yml, the
pre-commit hook (.pre-commit-hooks.yaml) and examples/pre-commit-config.yaml.

What can be checked without a CI service: each file parses; the GitHub workflow asks for the
permissions its JUnit publisher needs and installs infomin without a placeholder; every report
path a job publishes is the one ``infomin check`` writes; every flag the examples pass exists;
the hook's entry runs ``infomin check``; the files agree with pyproject.toml (console script,
torch range). actionlint runs on the workflow where it is installed."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML comes with the test extras (ray, moto)")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CI_FILES = sorted([*EXAMPLES.glob("*.yml"), *EXAMPLES.glob("*.yaml"), HOOKS])


def _load(path: Path):
    return yaml.safe_load(path.read_text())


def _workflow() -> dict:
    return _load(EXAMPLES / "github-actions.yml")


def _gitlab_job() -> dict:
    return _load(EXAMPLES / "gitlab-ci.yml")["infomin-check"]


def _check_commands(lines: list[str]) -> list[list[str]]:
    """Every ``infomin check ...`` command in shell lines, as argv lists."""
    out = []
    for line in lines:
        for cmd in line.splitlines():
            argv = shlex.split(cmd, comments=True)
            if argv[:2] == ["infomin", "check"]:
                out.append(argv)
    return out


def _option(argv: list[str], name: str) -> str:
    i = argv.index(name)
    return argv[i + 1]


def _workflow_commands() -> list[list[str]]:
    steps = _workflow()["jobs"]["leakage"]["steps"]
    return _check_commands([s["run"] for s in steps if "run" in s])


def _gitlab_commands() -> list[list[str]]:
    return _check_commands(_gitlab_job()["script"])


def test_every_ci_file_parses():
    assert {p.name for p in CI_FILES} >= {"github-actions.yml", "gitlab-ci.yml",
                                          "pre-commit-config.yaml", ".pre-commit-hooks.yaml"}
    for path in CI_FILES:
        assert _load(path), path


def test_no_placeholder_anywhere():
    for path in [*EXAMPLES.iterdir(), HOOKS]:
        text = path.read_text()
        for word in ("OWNER", "YOUR_", "CHANGEME", "TODO", "<org>", "<owner>"):
            assert word not in text, f"{path.name}: {word}"


def test_github_workflow_permissions():
    wf = _workflow()
    assert wf["permissions"] == {"contents": "read", "checks": "write"}
    job = wf["jobs"]["leakage"]
    assert "permissions" not in job  # the workflow's, nothing wider
    publisher = next(s for s in job["steps"]
                     if s.get("uses", "").startswith("mikepenz/action-junit-report@"))
    assert "comment" not in publisher.get("with", {})  # so pull-requests: write is not needed


def test_github_workflow_installs_infomin_from_a_documented_spec():
    wf = _workflow()
    assert wf["env"]["INFOMIN_SPEC"] == "."
    header = (EXAMPLES / "github-actions.yml").read_text().split("\nname:")[0]
    assert "INFOMIN_SPEC" in header and "vendored" in header
    runs = [s.get("run", "") for s in wf["jobs"]["leakage"]["steps"]]
    install = next(i for i, r in enumerate(runs) if 'pip install "$INFOMIN_SPEC"' in r)
    # the next step fails when the spec installed something else
    guard = runs[install + 1]
    assert 'python -c "import infomin_cli"' in guard and "exit 2" in guard
    assert "git+" not in "\n".join(runs)


def test_github_workflow_publishes_what_check_writes():
    (argv,) = _workflow_commands()
    steps = _workflow()["jobs"]["leakage"]["steps"]
    publisher = next(s for s in steps if s.get("uses", "").startswith("mikepenz/"))
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    junit = _option(argv, "--junit-xml")
    assert publisher["with"]["report_paths"] == junit
    assert "always()" in publisher["if"] and upload["if"] == "always()"
    assert set(upload["with"]["path"].split()) == {junit, _option(argv, "--output")}


def test_gitlab_job_reports_the_junit_it_writes():
    job = _gitlab_job()
    (argv,) = _gitlab_commands()
    assert job["artifacts"]["reports"]["junit"] == _option(argv, "--junit-xml")
    assert job["artifacts"]["when"] == "always"
    written = {_option(argv, o) for o in ("--junit-xml", "--markdown", "--output")}
    assert set(job["artifacts"]["paths"]) == written
    assert job["variables"]["INFOMIN_SPEC"] == "."
    script = "\n".join(job["script"])
    assert 'pip install "$INFOMIN_SPEC"' in script and "import infomin_cli" in script


def test_examples_install_cpu_torch_in_the_supported_range():
    """The torch requirement the CI examples install is pyproject.toml's (from the CPU index)."""
    (torch_req,) = [d for d in PYPROJECT["project"]["dependencies"] if d.startswith("torch")]
    for text in ((EXAMPLES / "github-actions.yml").read_text(),
                 (EXAMPLES / "gitlab-ci.yml").read_text()):
        line = next(ln for ln in text.splitlines() if "pip install" in ln and "torch" in ln)
        argv = shlex.split(line.strip().lstrip("- "))
        assert torch_req.replace(" ", "") in argv
        assert _option(argv, "--index-url") == "https://download.pytorch.org/whl/cpu"


def test_examples_pass_only_options_infomin_check_has():
    import typer.main

    from infomin_cli.cli import app

    check = typer.main.get_command(app).commands["check"]
    known = {o for p in check.params for o in (*p.opts, *p.secondary_opts)}
    commands = _workflow_commands() + _gitlab_commands()
    assert len(commands) == 2
    for argv in commands:
        used = {a.split("=")[0] for a in argv[2:] if a.startswith("-")}
        assert used and used <= known, used - known


def _hook() -> dict:
    (hook,) = _load(HOOKS)
    return hook


def test_pre_commit_hook_definition():
    hook = _hook()
    assert hook["id"] == "infomin-check" and hook["language"] == "python"
    assert hook["pass_filenames"] is False and hook["name"]
    # the keys pre-commit's manifest knows
    assert set(hook) <= {
        "id", "name", "entry", "language", "alias", "files", "exclude", "types", "types_or",
        "exclude_types", "additional_dependencies", "args", "always_run", "fail_fast",
        "pass_filenames", "description", "language_version", "log_file", "require_serial",
        "stages", "verbose", "minimum_pre_commit_version"}
    files = re.compile(hook["files"])  # pre-commit matches with re.search
    for path in ("infomin.toml", "ml/pyproject.toml", "sample_data/adult_embeddings.parquet",
                 "out/emb.npy", "out/attrs.csv", "out/emb.safetensors", "out/emb.arrow",
                 "out/part-0.parquet"):
        assert files.search(path), path
    for path in ("README.md", "src/model.py", "notinfomin.toml", "parquet.txt", "setup.cfg"):
        assert not files.search(path), path


def test_pre_commit_hook_entry_runs_infomin_check():
    """The entry, split as pre-commit splits it, is the ``infomin`` console script's ``check``."""
    argv = shlex.split(_hook()["entry"])
    assert argv == ["infomin", "check"]
    assert PYPROJECT["project"]["scripts"][argv[0]] == "infomin_cli.cli:main"
    exe = shutil.which(argv[0], path=str(Path(sys.executable).parent)) or shutil.which(argv[0])
    assert exe, "the infomin console script is not installed (pip install -e .)"
    r = subprocess.run([exe, *argv[1:], "--help"], capture_output=True, text=True, timeout=60,
                       env={"PATH": str(Path(sys.executable).parent), "COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    assert "Run every check of the configuration" in r.stdout and "--junit-xml" in r.stdout


def test_pre_commit_config_example_uses_the_hook():
    config = _load(EXAMPLES / "pre-commit-config.yaml")
    assert set(config) <= {"repos", "default_install_hook_types", "default_language_version",
                           "default_stages", "files", "exclude", "fail_fast",
                           "minimum_pre_commit_version", "ci"}
    (repo,) = config["repos"]
    (hook,) = repo["hooks"]
    published = _hook()
    for key in ("id", "name", "entry", "files", "pass_filenames"):
        assert hook[key] == published[key], key
    assert repo["repo"] == "local" and hook["language"] == "system"
    assert hook["stages"] == ["pre-push"] and "pre-push" in config["default_install_hook_types"]


@pytest.mark.skipif(shutil.which("actionlint") is None, reason="actionlint is not installed")
def test_actionlint_accepts_the_workflow():
    r = subprocess.run(["actionlint", str(EXAMPLES / "github-actions.yml")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
