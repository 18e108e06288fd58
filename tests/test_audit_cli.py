"""``infomin audit`` end to end: JSON schema, verdicts and exit codes, CI thresholds, bad options."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import list_array

N = 1200
FAST = ["--permutations", "1000", "--slices", "20", "--estimators", "sliced,linear"]


@pytest.fixture
def leaky_parquet(tmp_path) -> Path:
    """``dep``: a class read off a nonlinear function of Z; ``indep``: independent of Z."""
    rng = np.random.default_rng(7)
    z = rng.normal(size=(N, 8)).astype(np.float32)
    dep = np.where(z[:, 0] ** 2 + 0.3 * rng.normal(size=N) > 1.0, "a", "b")
    indep = rng.choice(["x", "y", "z"], N)
    score = rng.normal(size=N)
    path = tmp_path / "leaky.parquet"
    pq.write_table(pa.table({"embedding": list_array(z), "dep": dep, "indep": indep,
                             "score": score}), path, row_group_size=300)
    return path


def _files(d: Path) -> set[str]:
    return {p.name for p in d.iterdir()}


def test_json_schema_and_fail_exit(invoke, leaky_parquet):
    r = invoke("audit", leaky_parquet, "--attr", "dep", "--attr", "indep", *FAST,
               "--format", "json")
    assert r.exit_code == 1, r.output
    rep = json.loads(r.stdout)  # stdout is JSON only
    assert rep["verdict"] == "fail"
    assert rep["n_rows"] == N and rep["dim"] == 8 and rep["seed"] == 0
    assert rep["infomin_version"]
    assert rep["input"]["path"].endswith("leaky.parquet")
    dep, indep = rep["attributes"]["dep"], rep["attributes"]["indep"]
    assert dep["kind"] == "binary" and dep["n_classes"] == 2 and dep["verdict"] == "fail"
    assert indep["kind"] == "categorical" and indep["n_classes"] == 3
    s = dep["sliced"]
    for key in ("value", "p_value", "null_mean", "null_q95", "ci", "aggregation", "slices",
                "order", "permutations"):
        assert key in s
    assert s["aggregation"] == "pairwise" and s["slices"] == 20 and s["permutations"] == 1000
    assert s["p_method"] == "full-sample-permutation"  # 1,200 rows: every row tests
    assert [t["estimators"] for t in dep["tests"]] == [["sliced", "linear"]]
    assert s["p_value"] < 0.01 and 0 <= s["value"] <= 1 and s["value"] > s["null_q95"]
    assert s["ci"][0] <= s["value"] <= s["ci"][1]
    assert "value" in dep["linear"] and "rho_star" not in dep
    # Z1^2 is (almost) invisible to a linear probe; SI sees it.
    assert dep["linear"]["value"] < s["value"]


def test_pass_exit_zero_when_independent(invoke, leaky_parquet):
    r = invoke("audit", leaky_parquet, "--attr", "indep", "--attr", "score", *FAST,
               "--format", "json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 0, r.output
    assert rep["verdict"] == "pass"
    assert all(a["verdict"] == "pass" for a in rep["attributes"].values())


def test_alpha_zero_and_fail_above(invoke, leaky_parquet):
    r = invoke("audit", leaky_parquet, "--attr", "dep", *FAST, "--alpha", "0", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["verdict"] == "pass"
    r = invoke("audit", leaky_parquet, "--attr", "dep", *FAST, "--alpha", "0",
               "--fail-above", "0.05", "--format", "json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 1 and rep["attributes"]["dep"]["reasons"][0].startswith("SI ")
    assert rep["thresholds"] == {"alpha": 0.0, "correction": "holm",
                                 "fail_above": {"sliced": {"value": 0.05, "bound": "lower"}}}
    r = invoke("audit", leaky_parquet, "--attr", "dep", *FAST, "--alpha", "0",
               "--fail-above", "linear=0.99", "--format", "json")
    assert r.exit_code == 0


def test_table_output_and_report_file(invoke, leaky_parquet, tmp_path):
    out = tmp_path / "report.json"
    r = invoke("audit", leaky_parquet, "--attr", "dep", *FAST, "--output", out)
    assert r.exit_code == 1
    assert "dep" in r.stdout and "verdict" in r.stdout.lower()
    rep = json.loads(out.read_text())
    assert rep["attributes"]["dep"]["verdict"] == "fail"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_same_seed_same_report_and_seed_matters(invoke, leaky_parquet):
    a = invoke("audit", leaky_parquet, "--attr", "dep", *FAST, "--format", "json").stdout
    b = invoke("audit", leaky_parquet, "--attr", "dep", *FAST, "--format", "json").stdout
    c = invoke("audit", leaky_parquet, "--attr", "dep", *FAST, "--seed", "3",
               "--format", "json").stdout
    assert a == b
    assert json.loads(a)["attributes"]["dep"]["sliced"] != json.loads(c)["attributes"]["dep"][
        "sliced"]


def test_shards_equal_single_file(invoke, leaky_parquet, tmp_path):
    table = pq.read_table(leaky_parquet)
    shards = tmp_path / "shards"
    shards.mkdir()
    for i, start in enumerate(range(0, N, 500)):
        pq.write_table(table.slice(start, 500), shards / f"part-{i}.parquet")
    one = json.loads(invoke("audit", leaky_parquet, "--attr", "dep", *FAST,
                            "--format", "json").stdout)
    many = json.loads(invoke("audit", shards, "--attr", "dep", *FAST, "--format", "json").stdout)
    s1, s2 = one["attributes"]["dep"]["sliced"], many["attributes"]["dep"]["sliced"]
    assert s1["value"] == pytest.approx(s2["value"], abs=1e-6)
    assert s1["p_value"] == s2["p_value"]


def test_max_rows_subsample_is_reported(invoke, leaky_parquet):
    rep = json.loads(invoke("audit", leaky_parquet, "--attr", "dep", *FAST, "--max-rows", "600",
                            "--format", "json").stdout)
    assert rep["n_rows"] == N and rep["input"]["subsampled_rows"] == 600
    s = rep["attributes"]["dep"]["sliced"]
    assert s["n_fit"] + s["n_eval"] <= 600


def test_rho_in_audit(invoke, leaky_parquet):
    r = invoke("audit", leaky_parquet, "--attr", "dep", "--estimators", "rho",
               "--rho-max-rows", "800", "--alpha", "0", "--fail-above", "rho=0.2",
               "--format", "json")
    rep = json.loads(r.stdout)
    rho = rep["attributes"]["dep"]["rho_star"]
    for key in ("value", "ci", "n_train", "n_test", "device", "epochs"):
        assert key in rho
    assert rho["device"] == "cpu" and rho["n_train"] + rho["n_val"] + rho["n_test"] == 800
    assert rho["subsampled"] is True and rho["n_rows"] == N
    assert rho["value"] > 0.5  # a noisy but strong nonlinear class
    assert r.exit_code == 1 and "sliced" not in rep["attributes"]["dep"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--estimators", "sliced,bogus"], "bogus"),
        (["--fail-above", "foo=0.1"], "foo"),
        (["--fail-above", "rho=0.1"], "not among the estimators run"),
        (["--fail-above", "1.5"], "[0, 1]"),
        (["--alpha", "1.5"], "--alpha"),
        (["--slices", "0"], "--slices"),
        (["--permutations", "-1"], "--permutations"),
        (["--permutations", "150"], "could ever fail"),  # 1/151 > 0.01 / 3
        (["--device", "tpu"], "--device"),
        (["--attr", "dep"], "named twice"),
        (["--attr", "deep"], "dep"),  # unknown column: suggests the close name
    ],
)
def test_bad_options_exit_2_nothing_written(invoke, leaky_parquet, tmp_path, args, needle):
    before = _files(tmp_path)
    r = invoke("audit", leaky_parquet, "--attr", "dep", *args, "--estimators", "sliced",
               "--permutations", "200", "--output", tmp_path / "r.json") if args[0] not in (
        "--estimators", "--permutations") else invoke(
        "audit", leaky_parquet, "--attr", "dep", *args, "--output", tmp_path / "r.json")
    assert r.exit_code == 2, r.output
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0]
    assert "Traceback" not in r.output
    assert _files(tmp_path) == before


def test_output_must_not_overwrite_input(invoke, leaky_parquet):
    before = leaky_parquet.read_bytes()
    r = invoke("audit", leaky_parquet, "--attr", "dep", *FAST, "--output", leaky_parquet)
    assert r.exit_code == 2 and "overwrite" in r.stderr
    assert leaky_parquet.read_bytes() == before


def test_output_dir_missing(invoke, leaky_parquet, tmp_path):
    r = invoke("audit", leaky_parquet, "--attr", "dep", *FAST, "--output",
               tmp_path / "nope" / "r.json")
    assert r.exit_code == 2 and "does not exist" in r.stderr


def test_npy_with_attribute_file(invoke, tmp_path):
    rng = np.random.default_rng(3)
    z = rng.normal(size=(800, 5)).astype(np.float32)
    np.save(tmp_path / "z.npy", z)
    t = z[:, 1] + 0.5 * rng.normal(size=800)
    pq.write_table(pa.table({"t": t}), tmp_path / "a.parquet")
    r = invoke("audit", tmp_path / "z.npy", "--attrs", tmp_path / "a.parquet", "--attr", "t",
               *FAST, "--format", "json")
    rep = json.loads(r.stdout)
    lin = rep["attributes"]["t"]["linear"]["value"]
    # corr(Z1, Z1 + 0.5 e) = 1 / sqrt(1.25) = 0.894
    assert lin == pytest.approx(1 / np.sqrt(1.25), abs=0.05)
    assert r.exit_code == 1


def test_readme_quick_start_matches_ci():
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text()
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```bash")[1:]]
    test_cmd = next(b for b in blocks if "pytest" in b)
    assert test_cmd in ci.splitlines()
    assert os.access(root / ".ci" / "run", os.X_OK)
    main_cmd = next(b for b in blocks if "infomin audit" in b)
    assert "sample_data/" in main_cmd


def test_policy_holm_over_the_family_and_thresholds():
    from types import SimpleNamespace as NS

    from infomin_cli.pipeline.policy import Policy

    def decide(policy, **per_attr):
        return policy.decide({k: dict(zip(("sliced", "linear", "rho"), v))
                              for k, v in per_attr.items()})

    th = Policy(alpha=0.01)
    si, lin = NS(p_value=0.008, value=0.1, ci=None), NS(p_value=0.2, value=0.0, ci=None)
    assert decide(th, a=(si, None, None))["a"].verdict == "fail"  # one test: 0.008 <= 0.01
    d = decide(th, a=(si, lin, None))["a"]  # two tests, Holm: 0.016 > 0.01
    assert d.verdict == "pass" and d.reasons == ()
    # the family spans attributes: a second attribute's tests count too
    d = decide(th, a=(si, None, None), b=(lin, None, None))["a"]
    assert d.verdict == "pass"
    # Holm steps down: 0.001 * 2 <= 0.01, then 0.008 * 1 <= 0.01 -- both tests reject
    d = decide(th, a=(si, NS(p_value=0.001, value=0.3, ci=None), None))["a"]
    assert d.verdict == "fail" and d.decided_by == ("sliced", "linear")
    assert d.reasons == ("SI p=0.008, holm-adjusted 0.008 <= alpha 0.01",
                         "linear p=0.001, holm-adjusted 0.002 <= alpha 0.01")
    bonf = Policy(alpha=0.01, correction="bonferroni")  # 0.008 * 2 > 0.01: linear alone
    assert decide(bonf, a=(si, NS(p_value=0.001, value=0.3, ci=None), None))["a"].decided_by == (
        "linear",)
    assert decide(Policy(alpha=0.0), a=(si, lin, None))["a"].verdict == "pass"
    rho = NS(value=0.3, ci=(0.15, 0.45), p_value=None)
    lower = Policy(alpha=0.01, fail_above={"rho": 0.2})
    assert decide(lower, a=(None, None, rho))["a"].verdict == "pass"  # lower bound 0.15
    point = Policy.from_json({"alpha": 0.01, "fail_above": {"rho": {"value": 0.2,
                                                                    "bound": "point"}}})
    assert decide(point, a=(None, None, rho))["a"].reasons == ("rho* estimate 0.300 > 0.2",)


