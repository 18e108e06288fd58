"""Bad-input hardening of the estimates: one corrupt cell must not hide a linear leak, and an
estimate the data do not allow is reported as *not estimable*, never as a measured 0."""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from conftest import list_array
from rich.console import Console

import infomin_cli as im
from infomin_cli.report import build_report, render_audit
from infomin_cli.stats.standardize import Standardizer

# render_audit is imported through the package's lazy exports, not from its submodule: loading
# the submodule infomin_cli.report.render_audit first binds the package's name render_audit to
# the module, and the command line's `from infomin_cli.report import render_audit` would then
# get the module in this process.

LINEAR = im.LinearConfig(permutations=0, bootstrap=0)


def _leaky(n: int = 2000, d: int = 8, seed: int = 0) -> tuple[np.ndarray, im.Attribute]:
    """Column 0 carries a binary label: z0 = 1.5 label + N(0, 1), so the population canonical
    correlation is 0.75 / sqrt(1 + 0.5625) = 0.60; the other columns are noise."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    z = rng.standard_normal((n, d))
    z[:, 0] += 1.5 * label
    return z.astype(np.float32), im.Attribute.categorical("label", label)


# A: one corrupt cell -----------------------------------------------------------------------

#: rows 0 and 1999 are fit rows, row 5 an eval row of the linear estimator's seed-0 split;
#: without the fence six of these nine read 0.00-0.03 instead of 0.59
OUTLIERS = [(row, v) for row in (0, 5, 1999) for v in (1e4, 1e20, -1e20)]


@pytest.mark.parametrize(("row", "value"), OUTLIERS)
def test_one_extreme_cell_moves_linear_by_at_most_0_1(row, value):
    z, attr = _leaky()
    clean = im.linear_dependence(z, attr, LINEAR, seed=0).value
    assert abs(clean - 0.6) < 0.05  # the ground truth, so the comparison is not vacuous
    bad = z.copy()
    bad[row, 0] = value  # the column that carries the attribute
    assert abs(im.linear_dependence(bad, attr, LINEAR, seed=0).value - clean) <= 0.1


def test_one_extreme_cell_moves_the_audit_linear_by_at_most_0_1():
    z, attr = _leaky()
    cfg, policy = im.audit_settings({"estimators": "linear", "permutations": 0, "alpha": 0.0})
    clean = im.audit_arrays(z, [attr], cfg, policy).attributes["label"].estimates["linear"]
    shifts, fenced = [], []
    for row, value in OUTLIERS:
        bad = z.copy()
        bad[row, 0] = value
        res = im.audit_arrays(bad, [attr], cfg, policy)
        shifts.append(abs(res.attributes["label"].estimates["linear"].value - clean.value))
        fenced.append(res.standardization.get("fenced_values"))
    assert max(shifts) <= 0.1, shifts
    assert fenced == [1] * len(OUTLIERS)  # the corrupt cell, and it alone


def test_fence_clamps_an_isolated_cell_not_a_populated_tail():
    """The fence is max(10, 4 x the 6th largest |standardised value|) per column: one cell at
    1e4 in a standard normal column lies beyond it (the 6th largest of 4,000 is about 3.3);
    a tail of 15 rows spread evenly over 10..100 bulk standard deviations (a rarely firing
    unit) lies within it (100 < 4 x 68), so linear reads it unchanged while SI clips it."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4000, 2))
    x[:, 1] = 0.01 * rng.standard_normal(4000)
    x[:15, 1] = np.linspace(0.1, 1.0, 15)
    x[7, 0] = 1e4
    st = Standardizer.fit_embeddings(x)
    assert st.n_fenced == 1
    z = st.apply_fenced(torch.as_tensor(x)).numpy()
    assert z[7, 0] == pytest.approx(st.fence[0]) and st.fence[0] < 15
    tail = (x[:, 1] - st.mean[1]) * st.scale[1]
    assert np.abs(tail).max() > 5 * st.clip
    np.testing.assert_array_equal(z[:, 1], tail)


# B: not estimable --------------------------------------------------------------------------

def _one_row_class(n: int = 300, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and labels: class 'a' on every row but row 17, class 'b'."""
    z = np.random.default_rng(seed).standard_normal((n, 6)).astype(np.float32)
    labels = np.full(n, "a")
    labels[17] = "b"
    return z, labels


def _row(text: str, name: str) -> str:
    """The terminal table's row of attribute ``name``."""
    return next(line for line in text.splitlines() if line.split()[:1] == [name])


def _text(report: dict) -> str:
    buf = io.StringIO()
    render_audit(report, Console(file=buf, width=200, color_system=None))
    return buf.getvalue()


def test_a_class_of_one_row_is_not_estimable_not_zero():
    z, labels = _one_row_class()
    cfg, policy = im.audit_settings({"permutations": 200, "alpha": 0.0})
    res = im.audit_arrays(z, [im.Attribute.categorical("t", labels)], cfg, policy)
    a = res.attributes["t"]
    assert a.estimates == {} and set(a.not_estimable) == {"sliced", "linear", "rho"}
    assert a.verdict == res.verdict == "not_estimable"  # neither a pass nor a fail
    assert a.tests == () and a.decided_by == ()
    assert a.reasons == () and a.notes[0].startswith("SI, linear, rho*: not estimable: ")
    assert "'a': 299, 'b': 1" in a.notes[0]
    report = json.loads(json.dumps(build_report(res, input_info={"path": "mem"})))
    block = report["attributes"]["t"]["rho_star"]
    assert block["value"] is None and "fewer than two classes" in block["not_estimable"]
    row = _row(_text(report), "t")
    assert "not estimable" in row and "0.000" not in row and "0.00–0.00" not in row


def test_a_rare_class_beside_two_testable_ones_is_kept():
    """The rule needs two classes of 5 rows, not every class: a one-row class 'c' beside 'a'
    and 'b' leaves the attribute estimable (a note says 'c' is too rare to test on its own)."""
    z, labels = _one_row_class()
    labels[z[:, 0] > 0] = "b"
    labels[17] = "c"
    cfg, policy = im.audit_settings({"estimators": "sliced,linear", "permutations": 1000})
    a = im.audit_arrays(z, [im.Attribute.categorical("t", labels)], cfg, policy).attributes["t"]
    assert set(a.estimates) == {"sliced", "linear"} and a.not_estimable == {}
    assert a.verdict == "fail" and a.estimates["linear"].value > 0.5  # b is read off column 0
    assert any(n.startswith("class 'c' has 1 row: too rare") for n in a.notes)


def test_rho_is_not_estimable_when_a_split_holds_a_single_class():
    """Six minority rows (enough for the audit's class rule) that rho*'s seeded split puts in
    its training and validation rows only: the test rows hold one class, so their correlation
    is undefined (it read 0.000, CI 0-0, p = 1). SI and linear still estimate and decide."""
    n, seed = 300, 0
    rng = np.random.default_rng(5)
    z = rng.standard_normal((n, 6)).astype(np.float32)
    order = np.random.default_rng(seed).permutation(n)  # rho*'s split: train | val | test
    labels = np.zeros(n, dtype=int)
    labels[np.r_[order[:4], order[200:202]]] = 1  # 4 training rows, 2 validation rows
    attr = im.Attribute.categorical("t", labels)
    with pytest.raises(im.NotEstimable, match="single class on the test rows"):
        im.rho_star(z, attr, seed=seed)
    cfg, policy = im.audit_settings({"permutations": 1000, "seed": seed})
    a = im.audit_arrays(z, [attr], cfg, policy).attributes["t"]
    assert set(a.estimates) == {"sliced", "linear"} and set(a.not_estimable) == {"rho"}
    assert a.verdict == "pass" and [t.estimators for t in a.tests] == [("sliced", "linear")]
    assert a.reasons == () and a.notes[0] == ("rho*: not estimable: attribute 't' has a "
                                              "single class on the test rows (60 rows)")


def test_cli_exit_codes_hold_when_rho_is_not_estimable(invoke, tmp_path):
    z, labels = _one_row_class()
    leak = np.where(z[:, 0] > 0, "y", "n")  # a second attribute, read off Z
    path = tmp_path / "one_row.parquet"
    pq.write_table(pa.table({"embedding": list_array(z), "t": labels, "leak": leak}), path)
    fast = ["--permutations", "1000", "--slices", "20"]
    only = invoke("audit", path, "--attr", "t", *fast, "--format", "json")
    assert only.exit_code == 0, only.output  # nothing estimable: no fail, no crash
    rep = json.loads(only.stdout)
    assert rep["verdict"] == rep["attributes"]["t"]["verdict"] == "not_estimable"
    assert rep["attributes"]["t"]["rho_star"]["value"] is None
    assert rep["attributes"]["t"]["rho_star"]["not_estimable"]
    both = invoke("audit", path, "--attr", "t", "--attr", "leak", *fast)
    assert both.exit_code == 1, both.output  # the leaking attribute fails; t neither way
    row = _row(both.stdout, "t")
    assert "not estimable" in row and "0.000" not in row


@pytest.mark.parametrize("n", [50, 500, 1300, 5000])
def test_the_fence_reach_from_the_outer_values_equals_a_full_partition(n):
    """The fence's reach reads only the values beyond the winsorising quantiles (when each
    side has enough): the same number as a partition of every distance, on zero-inflated,
    constant, binary, Cauchy and one-corrupt-cell columns."""
    from infomin_cli.stats import standardize as S

    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 8))
    x[:, 1] = np.where(rng.random(n) < 0.97, 0, rng.lognormal(size=n))
    x[:, 2] = 0
    x[:, 3] = rng.integers(0, 2, n)
    x[:, 4] = rng.standard_cauchy(n)
    x[5, 5] = 1e20
    qlo, qhi = np.percentile(x, [S.WINSOR_PCT, 100 - S.WINSOR_PCT], axis=0)
    centre = np.clip(x, qlo, qhi).mean(0)
    k = n - 1 - S.FENCE_OUTLIERS
    full = np.partition(np.abs(x - centre), k, axis=0)[k]
    assert np.array_equal(S._reach(x, centre, qlo, qhi), full)
