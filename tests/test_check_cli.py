"""``infomin check``: configuration, the gate's exit codes, its reports, baselines, and the
statistical contract of a multi-attribute, multi-estimator configuration."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest
from conftest import list_array

import infomin_cli as im
from infomin_cli.pipeline.check_config import find_config, load_config

ROOT = Path(__file__).resolve().parents[1]


def untimed(data: dict) -> dict:
    """A check run's JSON without when it started and how long it took (they differ per run)."""
    data = json.loads(json.dumps(data))
    for entry in (data, *data["checks"].values()):
        del entry["started_at"], entry["duration_s"]
    return data


@pytest.fixture
def examples(tmp_path):
    """The shipped examples and sample data, copied so that nothing is written beside them."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copytree(ROOT / "sample_data", tmp_path / "sample_data",
                    ignore=shutil.ignore_patterns("adult_shards", "*.npy", "*.py"))
    return tmp_path / "examples"


def test_passing_example_exits_0(invoke, examples):
    r = invoke("check", "--config", examples / "passing.toml", "--format", "json")
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)
    assert run["verdict"] == "pass"
    attr = run["checks"]["adult-income-model"]["report"]["attributes"]["batch"]
    assert attr["verdict"] == "pass" and attr["rho_star"]["value"] < 0.1


@pytest.mark.slow
def test_leaking_example_exits_1_with_a_junit_failure(invoke, examples, tmp_path):
    junit, md = tmp_path / "junit.xml", tmp_path / "summary.md"
    r = invoke("check", "--config", examples / "leaking.toml", "--junit-xml", junit,
               "--markdown", md, "--output", tmp_path / "run.json")
    assert r.exit_code == 1, r.output
    root = ET.fromstring(junit.read_text())
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"sex", "race"}
    failure = cases["sex"].find("failure")
    assert failure is not None
    run = json.loads((tmp_path / "run.json").read_text())
    sex = run["checks"]["adult-income-model"]["report"]["attributes"]["sex"]
    msg = failure.get("message")
    assert "sex" in msg and f"{sex['linear']['value']:.3f}" in msg and "0.2" in msg
    assert "| sex |" in md.read_text() or "sex" in md.read_text()
    r0 = invoke("check", "--config", examples / "leaking.toml", "--exit-zero")
    assert r0.exit_code == 0


def test_config_found_by_walking_up_and_in_pyproject(tmp_path, monkeypatch):
    (tmp_path / "a" / "b").mkdir(parents=True)
    emb = tmp_path / "e.parquet"
    z = np.random.default_rng(0).standard_normal((80, 3)).astype(np.float32)
    pq.write_table(pa.table({"embedding": list_array(z), "g": np.arange(80) % 2}), emb)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.infomin]\n'
        '[[tool.infomin.checks]]\nname = "c"\ninput = "e.parquet"\nattributes = ["g"]\n')
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert find_config() == tmp_path / "pyproject.toml"
    cfg = load_config()
    assert cfg.checks[0].input == str(emb) and cfg.checks[0].attributes == ("g",)
    (tmp_path / "a" / "infomin.toml").write_text(
        '[[checks]]\nname = "d"\ninput = "../e.parquet"\nattributes = "g"\nseed = 4\n')
    assert load_config().checks[0].config.seed == 4  # the nearer file wins


BAD = [
    ("alfa = 0.01\n", "unknown key 'alfa'; did you mean 'alpha'"),
    ("alpha = 'high'\n", "alpha"),
    ("seed = 1.5\n", "seed"),
    ("estimators = 3\n", "estimators"),
    ("permutations = 10\n", "could ever fail"),
    ("[thresholds]\nrho = 'x'\n", "thresholds.rho"),
    ("[thresholds]\nrho = { value = 0.2, bound = 'middle' }\n", "bound"),
]


@pytest.mark.parametrize("top, needle", BAD)
def test_configuration_errors_are_one_line_exit_2(invoke, tmp_path, top, needle):
    emb = tmp_path / "e.parquet"
    z = np.random.default_rng(0).standard_normal((80, 3)).astype(np.float32)
    pq.write_table(pa.table({"embedding": list_array(z), "g": np.arange(80) % 2}), emb)
    cfg = tmp_path / "infomin.toml"
    cfg.write_text(top + '\n[[checks]]\nname = "c"\ninput = "e.parquet"\nattributes = ["g"]\n'
                   if not top.startswith("[") else
                   '[[checks]]\nname = "c"\ninput = "e.parquet"\nattributes = ["g"]\n\n' + top)
    r = invoke("check", "--config", cfg)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines


@pytest.mark.parametrize("body, needle", [
    ('[[checks]]\nname = "c"\ninput = "missing.parquet"\nattributes = ["g"]\n', "no such file"),
    ('[[checks]]\nname = "c"\ninput = "e.parquet"\n', "missing 'attributes'"),
    ('[[checks]]\nname = "c"\ninput = "e.parquet"\nattributes = ["g"]\nslicez = 4\n',
     "did you mean 'slices'"),
    ('[[checks]]\nname = "c"\ninput = "e.parquet"\nattributes = ["g"]\n'
     '[[checks]]\nname = "c"\ninput = "e.parquet"\nattributes = ["g"]\n', "used twice"),
    ("checks = 3\n", "no checks"),
    ("[[checks]\n", "not valid TOML"),
])
def test_check_table_errors(invoke, tmp_path, body, needle):
    z = np.random.default_rng(0).standard_normal((80, 3)).astype(np.float32)
    pq.write_table(pa.table({"embedding": list_array(z), "g": np.arange(80) % 2}),
                   tmp_path / "e.parquet")
    cfg = tmp_path / "infomin.toml"
    cfg.write_text(body)
    r = invoke("check", "--config", cfg)
    assert r.exit_code == 2 and needle in r.stderr, r.output


def test_only_and_unknown_only(invoke, examples):
    r = invoke("check", "--config", examples / "passing.toml", "--only", "adult-incme-model")
    assert r.exit_code == 2 and "did you mean 'adult-income-model'" in r.stderr


def _reports(tmp_path, shift: float):
    """A config over a file whose attribute leaks by ``shift``."""
    rng = np.random.default_rng(5)
    n = 3000
    z = rng.standard_normal((n, 6)).astype(np.float32)
    g = (shift * z[:, 0] + rng.standard_normal(n) > 0).astype(int)
    pq.write_table(pa.table({"embedding": list_array(z), "g": g}), tmp_path / "e.parquet")
    cfg = tmp_path / "infomin.toml"
    cfg.write_text('alpha = 0.01\nestimators = ["sliced", "linear"]\n'
                   '[[checks]]\nname = "c"\ninput = "e.parquet"\nattributes = ["g"]\n')
    return cfg


def test_baseline_pair_that_differs_and_pair_that_does_not(invoke, tmp_path):
    base = tmp_path / "baseline.json"
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir()
    new_dir.mkdir()
    cfg_old = _reports(old_dir, 0.3)
    r = invoke("check", "--config", cfg_old, "--baseline", base, "--update-baseline",
               "--exit-zero")
    assert r.exit_code == 0 and json.loads(base.read_text())["checks"]["c"]
    # the same data again: no significant rise
    r = invoke("check", "--config", cfg_old, "--baseline", base, "--exit-zero",
               "--format", "json")
    same = json.loads(r.stdout)["checks"]["c"]["baseline"]
    assert same["verdict"] == "pass" and not any(c["rose"] for c in same["comparisons"])
    # more leakage: the rise is significant and fails the gate even with alpha 0 audits
    cfg_new = _reports(new_dir, 1.5)
    r = invoke("check", "--config", cfg_new, "--baseline", base, "--format", "json")
    assert r.exit_code == 1
    rose = json.loads(r.stdout)["checks"]["c"]["baseline"]
    assert rose["verdict"] == "fail" and any(c["rose"] for c in rose["comparisons"])


@pytest.mark.slow
def test_statistical_contract_independent_data_fails_at_most_alpha(tmp_path):
    """A configuration with three attributes and two estimators over data independent of all
    of them fails at rate <= alpha over 200 seeded datasets; a planted dependence of modest
    strength is caught."""
    alpha, runs = 0.1, 200
    fails = 0
    for s in range(runs):
        rng = np.random.default_rng(9000 + s)
        z = rng.standard_normal((150, 4))
        attrs = [im.Attribute.continuous("a", rng.standard_normal(150)),
                 im.Attribute.categorical("b", rng.integers(0, 3, 150)),
                 im.Attribute.categorical("c", rng.integers(0, 2, 150))]
        cfg, pol = im.audit_settings({"alpha": alpha, "estimators": "sliced,linear",
                                      "slices": 6, "permutations": 199, "seed": s},
                                     attributes=3)
        fails += im.audit_arrays(z, attrs, cfg, pol).verdict == "fail"
    assert fails / runs <= alpha + 2 * np.sqrt(alpha * (1 - alpha) / runs), fails
    caught = 0
    for s in range(20):
        rng = np.random.default_rng(9500 + s)
        z = rng.standard_normal((600, 4))
        planted = im.Attribute.categorical("p", (0.6 * z[:, 1] + rng.standard_normal(600) > 0)
                                           .astype(int))
        other = im.Attribute.continuous("q", rng.standard_normal(600))
        cfg, pol = im.audit_settings({"alpha": alpha, "estimators": "sliced,linear",
                                      "slices": 6, "permutations": 199, "seed": s},
                                     attributes=2)
        res = im.audit_arrays(z, [planted, other], cfg, pol)
        caught += res.attributes["p"].verdict == "fail"
    assert caught >= 18, caught


@pytest.mark.slow
def test_deterministic_for_a_seed(invoke, examples):
    a = invoke("check", "--config", examples / "leaking.toml", "--format", "json").stdout
    b = invoke("check", "--config", examples / "leaking.toml", "--format", "json").stdout
    assert untimed(json.loads(a)) == untimed(json.loads(b))


def test_readme_config_example_is_valid(tmp_path):
    """README's configuration is one users copy: it must load as written."""
    import re

    text = (ROOT / "README.md").read_text()
    block = re.search(r"## CI: `infomin check`.*?```toml\n(.*?)```", text, re.S).group(1)
    (tmp_path / "embeddings").mkdir()
    z = np.random.default_rng(0).standard_normal((80, 3)).astype(np.float32)
    pq.write_table(pa.table({"embedding": list_array(z), "id": np.arange(80)}),
                   tmp_path / "embeddings" / "test.parquet")
    pa.csv.write_csv(pa.table({"id": np.arange(80), "sex": np.arange(80) % 2,
                               "race": np.arange(80) % 3}), tmp_path / "attributes.csv")
    (tmp_path / "infomin.toml").write_text(block)
    cfg = load_config(tmp_path / "infomin.toml")
    (check,) = cfg.checks
    assert check.name == "encoder-v2" and check.config.of("sliced").permutations == 2000
    assert set(check.policy.fail_above) == {"rho", "linear"}


def test_run_checks_from_python_is_what_the_cli_writes(invoke, tmp_path):
    """``run_checks`` drives the gate without the command line: per-check outcomes, the
    baseline comparison and the verdict; the CLI's ``--output`` is ``run.to_json()``."""
    from infomin_cli.pipeline.check import CheckRun, run_checks
    from infomin_cli.report import build_report
    from infomin_cli.report.build import source_info

    def report(check, source, result):
        return build_report(result, input_info=source_info(
            source, check.input, check.load.attrs_file, check.load.id_col, result))

    rng = np.random.default_rng(7)
    n = 1500
    z = rng.standard_normal((n, 4)).astype(np.float32)
    leak = (z[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype(int)
    pq.write_table(pa.table({"embedding": list_array(z), "leak": leak,
                             "noise": rng.integers(0, 3, n)}), tmp_path / "e.parquet")
    cfg_path = tmp_path / "infomin.toml"
    cfg_path.write_text('alpha = 0.01\nestimators = ["sliced", "linear"]\n'
                        '[[checks]]\nname = "clean"\ninput = "e.parquet"\nattributes = ["noise"]\n'
                        '[[checks]]\nname = "leaky"\ninput = "e.parquet"\nattributes = ["leak"]\n')
    cfg = load_config(cfg_path)

    rows, seen = [], []
    run = run_checks(cfg, report=report, on_progress=lambda *a: rows.append(a),
                     on_check=lambda o: seen.append(o.name))
    assert isinstance(run, CheckRun) and seen == ["clean", "leaky"]
    assert {r[0] for r in rows} == {"clean", "leaky"} and rows[-1][1] == rows[-1][2] == n
    assert run["clean"].verdict == "pass" and run["leaky"].verdict == "fail"
    assert run.verdict == "fail" and run["leaky"].baseline is None
    assert run["leaky"].audit.attributes["leak"].verdict == "fail"
    assert run.files == (str(tmp_path / "e.parquet"),) * 2

    out = tmp_path / "run.json"
    r = invoke("check", "--config", cfg_path, "--output", out, "--format", "json")
    assert r.exit_code == 1, r.output

    assert untimed(json.loads(out.read_text())) == untimed(run.to_json())
    assert json.loads(r.stdout) == json.loads(out.read_text())

    # against itself as the baseline: compared, nothing rose; --only selects
    again = run_checks(cfg, report=report, baseline=run.to_json(), only=["clean"])
    assert [c.name for c in again.checks] == ["clean"] and again.verdict == "pass"
    assert again["clean"].baseline["verdict"] == "pass" and not again["clean"].rises
    assert again.to_json()["checks"]["clean"]["baseline"] == again["clean"].baseline
