"""``infomin check --baseline`` hardening: a baseline that is JSON but not a report is bad input
(exit 2, one line naming the file and the key); a baseline records what it audited and says so
when the new run audited something else; ``alpha = 0`` says that the comparison was not tested.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import list_array
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

CONFIG = ('alpha = {alpha}\nestimators = ["sliced", "linear"]\npermutations = 99\nslices = 5\n'
          '[[checks]]\nname = "c"\ninput = "{input}"\nattributes = {attributes}\n')


def _parquet(path: Path, n: int = 200, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 3)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"embedding": list_array(z), "g": rng.integers(0, 2, n),
                             "h": rng.integers(0, 3, n)}), path)


def _project(folder: Path, *, alpha: float = 0.05, input: str = "e.parquet",
             attributes: tuple[str, ...] = ("g",)) -> Path:
    """A config in ``folder`` with one check ``c`` over a small file (written when missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / input).exists():
        _parquet(folder / input)
    cfg = folder / "infomin.toml"
    cfg.write_text(CONFIG.format(alpha=alpha, input=input, attributes=json.dumps(attributes)))
    return cfg


def _cli(*args) -> object:
    from infomin_cli.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def _baseline(cfg: Path, path: Path) -> dict:
    r = _cli("check", "--config", cfg, "--baseline", path, "--update-baseline", "--exit-zero")
    assert r.exit_code == 0, r.output
    return json.loads(path.read_text())


def _one_error_line(r, path: Path) -> str:
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(path) in lines[0], lines
    return lines[0]


# ------------------------------------------------------------ 1. a baseline that is not a report

def _block(**block):
    return {"checks": {"c": {"report": {"attributes": {"g": {"linear": block}}}}}}


BAD_BASELINES = [
    ({"checks": {"c": "x"}}, "checks.c: expected an object"),
    ({"checks": {"c": {"verdict": "pass"}}}, "checks.c.report: missing"),
    ({"checks": {"c": {"report": []}}}, "checks.c.report: expected an object"),
    ({"checks": {"c": {"report": {}}}}, "checks.c.report.attributes: missing"),
    ({"checks": {"c": {"report": {"attributes": 3}}}}, "checks.c.report.attributes: expected"),
    ({"checks": {"c": {"report": {"attributes": {"g": []}}}}}, "attributes.g: expected an object"),
    ({"checks": {"c": {"report": {"attributes": {"g": {"linear": 3}}}}}}, "g.linear: expected"),
    (_block(value="high", ci=[0.1, 0.2]), "g.linear.value: expected a finite number"),
    (_block(value=0.1, ci=[0.0, "x"]), "g.linear.ci: expected a list of two numbers"),
    (_block(value=0.1, ci=0.2), "g.linear.ci: expected a list of two numbers"),
    ({"checks": {"c": {"report": {"attributes": {}}, "audited": {"input": 3}}}},
     "checks.c.audited.input: expected a string"),
    ({"checks": {"new\nline": 3}}, 'checks["new\\nline"]: expected an object'),
]


@pytest.mark.parametrize("data, needle", BAD_BASELINES)
def test_a_baseline_that_is_not_a_report_is_exit_2_before_any_output(tmp_path, data, needle):
    cfg = _project(tmp_path)
    base, out, junit = tmp_path / "base.json", tmp_path / "out.json", tmp_path / "j.xml"
    base.write_text(json.dumps(data))
    r = _cli("check", "--config", cfg, "--baseline", base, "--output", out, "--junit-xml", junit)
    line = _one_error_line(r, base)
    assert "not a report of infomin check" in line and needle in line, line
    assert not out.exists() and not junit.exists() and r.stdout == ""


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
        st.sampled_from(["checks", "c", "report", "attributes", "g", "linear", "sliced",
                         "value", "ci", "audited", "input", "attributes"]) | st.text(max_size=4),
        kids, max_size=3),
    max_leaves=10)
# the keys the comparison reads, level by level: a value nested along them, any level replaced
LEVELS = (("checks",), ("c",), ("report", "audited"), ("attributes", "input"), ("g",),
          ("linear", "sliced"), ("value", "ci"))


def _shaped(levels=LEVELS):
    if not levels:
        return JSON
    return JSON | st.dictionaries(st.sampled_from(levels[0]), _shaped(levels[1:]),
                                  min_size=1, max_size=2)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """A project and the baseline its one check writes."""
    folder = tmp_path_factory.mktemp("real")
    cfg = _project(folder)
    return cfg, _baseline(cfg, folder / "real.json")


def _paths(node, prefix=()):
    yield prefix
    items = (node.items() if isinstance(node, dict) else enumerate(node)
             if isinstance(node, list) else ())
    for key, value in items:
        yield from _paths(value, (*prefix, key))


def _mutated(base: dict, path: tuple, value, delete: bool):
    if not path:
        return value
    out = copy.deepcopy(base)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out


def _keeps_the_contract(cfg: Path, data, tmp: Path) -> None:
    base = tmp / "base.json"
    base.write_text(json.dumps(data))
    r = _cli("check", "--config", cfg, "--baseline", base, "--format", "json")
    assert r.exit_code in (0, 1, 2), (r.exit_code, r.output, data)
    if r.exit_code == 2:
        _one_error_line(r, base)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=_shaped())
def test_any_json_as_the_baseline_keeps_the_exit_code_contract(real, tmp_path_factory, data):
    _keeps_the_contract(real[0], data, tmp_path_factory.mktemp("any"))


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_mutated_baseline_keeps_the_exit_code_contract(real, tmp_path_factory, data):
    cfg, base = real
    paths = [p for p in _paths(base) if len(p) <= 3 or "attributes" in p or "audited" in p]
    path = data.draw(st.sampled_from(paths), label="path")
    delete = bool(path) and data.draw(st.booleans(), label="delete")
    value = None if delete else data.draw(JSON, label="value")
    _keeps_the_contract(cfg, _mutated(base, path, value, delete), tmp_path_factory.mktemp("mut"))


# ------------------------------------------------------------ 2. the baseline records its input

def test_the_baseline_records_what_each_check_audited(tmp_path):
    base = _baseline(_project(tmp_path / "p", input="data/e.parquet"), tmp_path / "b.json")
    assert base["checks"]["c"]["audited"] == {
        "input": "data/e.parquet", "attrs_file": None, "attributes": ["g"],
        "rows": 200, "dim": 3, "files": 1}
    # an input outside the config's folder: as the config writes it (the same on any machine)
    _parquet(tmp_path / "outside.parquet")
    cfg = _project(tmp_path / "q", input="../outside.parquet")
    audited = _baseline(cfg, tmp_path / "b2.json")["checks"]["c"]["audited"]
    assert audited["input"] == "../outside.parquet"


def test_a_moved_checkout_is_the_same_input(tmp_path):
    cfg = _project(tmp_path / "a")
    base = tmp_path / "b.json"
    _baseline(cfg, base)
    shutil.copytree(tmp_path / "a", tmp_path / "moved")
    r = _cli("check", "--config", tmp_path / "moved" / "infomin.toml", "--baseline", base,
             "--format", "json")
    assert r.exit_code in (0, 1) and r.stderr == "", r.output
    entry = json.loads(r.stdout)["checks"]["c"]
    assert "warnings" not in entry and entry["baseline"]["comparisons"]


def test_another_input_or_other_attributes_warn_but_compare(tmp_path):
    base = tmp_path / "b.json"
    _baseline(_project(tmp_path), base)
    _parquet(tmp_path / "f.parquet", n=150, seed=1)
    cfg = _project(tmp_path, input="f.parquet", attributes=("g", "h"))
    r = _cli("check", "--config", cfg, "--baseline", base, "--format", "json")
    assert r.exit_code in (0, 1), r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and all(ln.startswith("warning: check 'c'") for ln in lines), lines
    assert "'e.parquet' (200 rows" in lines[0] and "'f.parquet' (150 rows" in lines[0]
    assert "['g']" in lines[1] and "['g', 'h']" in lines[1]
    entry = json.loads(r.stdout)["checks"]["c"]
    assert [f"warning: {w}" for w in entry["warnings"]] == lines
    assert {c["attribute"] for c in entry["baseline"]["comparisons"]} == {"g"}  # compared


# ------------------------------------------------------------ 3. alpha 0: not tested, and said

def test_alpha_0_says_the_baseline_was_not_tested(tmp_path):
    cfg = _project(tmp_path, alpha=0)
    base, md, junit = tmp_path / "b.json", tmp_path / "s.md", tmp_path / "j.xml"
    _baseline(cfg, base)
    r = _cli("check", "--config", cfg, "--baseline", base, "--markdown", md, "--junit-xml", junit)
    assert r.exit_code == 0, r.output
    assert "baseline: not tested (alpha = 0)" in r.stdout
    assert "not tested (alpha = 0)" in md.read_text()
    assert "not tested (alpha = 0)" in junit.read_text()
    r = _cli("check", "--config", cfg, "--baseline", base, "--format", "json")
    cmp = json.loads(r.stdout)["checks"]["c"]["baseline"]
    assert cmp["verdict"] == "not_tested" and cmp["reason"] == "alpha = 0"
    assert cmp["comparisons"] and not any(c["rose"] for c in cmp["comparisons"])
