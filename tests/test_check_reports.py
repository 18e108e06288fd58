"""``infomin check`` outputs: JUnit XML, the Markdown summary, and the baseline comparison.

Mostly pure functions over plain dicts: synthetic runs built from the golden audit report; at
the end, what a real run records (durations, start times, the engine, paths as shown)."""

from __future__ import annotations

import copy
import json
import math
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path
from statistics import NormalDist

import pytest

from infomin_cli.pipeline.baseline import NOT_COMPARED, compare, compare_runs, one_sided_p
from infomin_cli.report.junit import junit_xml
from infomin_cli.report.markdown import markdown_summary

GOLDEN = Path(__file__).parent / "golden" / "adult_parquet_all.json"
WEIRD = 'a<&">\'b]]>'


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text())["report"]


@pytest.fixture
def report(golden) -> dict:
    return copy.deepcopy(golden)


def _attr(verdict: str, *, rho=(0.61, 0.58, 0.64), reasons=(), decided_by=(), tests=None,
          notes=(), kind="binary") -> dict:
    v, lo, hi = rho
    return {"kind": kind, "verdict": verdict, "reasons": list(reasons),
            "decided_by": list(decided_by), "notes": list(notes),
            "tests": tests if tests is not None else [
                {"estimators": ["sliced", "linear"], "p": 0.2, "p_adjusted": 0.6},
                {"estimators": ["rho"], "p": 0.3, "p_adjusted": 0.6}],
            "sliced": {"value": 0.05, "ci": [0.03, 0.07], "p_value": 0.2, "null_q95": 0.026,
                       "n_eval": 1000},
            "linear": {"value": 0.08, "ci": [0.06, 0.10], "p_value": 0.2, "null_q95": 0.027,
                       "n_eval": 1000},
            "rho_star": {"value": v, "ci": [lo, hi], "p_value": 0.3, "null_q95": 0.041,
                         "n_eval": 500}}


def _report(attrs: dict, fail_above=None, alpha=0.01) -> dict:
    return {"infomin_version": "0.1.0", "n_rows": 1000, "verdict": "fail" if any(
                a["verdict"] == "fail" for a in attrs.values()) else "pass",
            "thresholds": {"alpha": alpha, "correction": "holm", "fail_above": fail_above or {}},
            "estimators": ["sliced", "linear", "rho"], "attributes": attrs}


def _run(checks: dict) -> dict:
    return {"infomin_version": "0.1.0", "config": "ci/infomin.toml",
            "verdict": "fail" if any(c["verdict"] != "pass" for c in checks.values()) else "pass",
            "checks": checks}


THRESHOLD_REASON = "rho* lower 95% bound 0.584 > 0.2"


@pytest.fixture
def run(golden) -> dict:
    """Check "golden": 3 attributes failing on significance. Check "limits": one attribute
    failing a rho* threshold, one passing, one with a name full of markup."""
    limits = _report({
        "sex": _attr("fail", rho=(0.610, 0.584, 0.637), reasons=[THRESHOLD_REASON],
                     decided_by=["rho"], notes=["a note"]),
        "age": _attr("pass", rho=(0.1, 0.05, 0.15)),
        WEIRD: _attr("fail", rho=(0.5, 0.3, 0.7), reasons=["rho* lower 95% bound 0.300 > 0.2"],
                     decided_by=["rho"]),
    }, fail_above={"rho": {"value": 0.2, "bound": "lower"}})
    return _run({"golden": {"verdict": "fail", "input": "data/emb.parquet", "report": golden},
                 "limits": {"verdict": "fail", "input": "data/other.npy", "report": limits}})


# ---------------------------------------------------------------- JUnit


def _cases(root: ET.Element) -> list[ET.Element]:
    return root.findall("./testsuite/testcase")


def test_junit_parses_one_case_per_check_and_attribute(run):
    root = ET.fromstring(junit_xml(run).encode("utf-8"))  # with its XML declaration
    assert root.tag == "testsuites"
    cases = _cases(root)
    expected = [(f"infomin.{c}", a) for c, e in run["checks"].items()
                for a in e["report"]["attributes"]]
    assert [(c.get("classname"), c.get("name")) for c in cases] == expected
    failing = sum(a["verdict"] == "fail" for e in run["checks"].values()
                  for a in e["report"]["attributes"].values())
    assert len(root.findall(".//failure")) == failing == 5
    assert root.get("tests") == str(len(expected)) and root.get("failures") == str(failing)
    assert root.get("errors") == "0"
    for suite in root.findall("testsuite"):
        assert suite.get("tests") == str(len(suite.findall("testcase")))
        assert suite.get("failures") == str(len(suite.findall(".//failure")))
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert props["infomin_version"] == "0.1.0" and props["config"] == "ci/infomin.toml"


def test_junit_threshold_failure_message(run):
    root = ET.fromstring(junit_xml(run))
    case = next(c for c in _cases(root) if c.get("classname") == "infomin.limits"
                and c.get("name") == "sex")
    msg = case.find("failure").get("message")
    assert msg == (f"sex: {THRESHOLD_REASON} (rho* = 0.610 [0.584, 0.637], null95 0.041)")
    detail = case.find("failure").text
    assert "SI = 0.050 [0.030, 0.070]" in detail and "a note" in detail
    passing = next(c for c in _cases(root) if c.get("name") == "age"
                   and c.get("classname") == "infomin.limits")
    assert passing.find("failure") is None and "rho* = 0.100" in passing.find("system-out").text


def test_junit_significance_failure_message(run, golden):
    root = ET.fromstring(junit_xml(run))
    case = next(c for c in _cases(root) if c.get("classname") == "infomin.golden"
                and c.get("name") == "sex")
    msg = case.find("failure").get("message")
    sex = golden["attributes"]["sex"]
    assert msg.startswith("sex: " + sex["reasons"][0] + " (SI = 0.383 [0.356, 0.412], null95 0.026;"
                          " linear = 0.536 [0.515, 0.556]")
    rho = sex["rho_star"]
    assert "<= alpha 0.01" in msg and (f"rho* = {rho['value']:.3f} [{rho['ci'][0]:.3f}, "
                                       f"{rho['ci'][1]:.3f}], null95 {rho['null_q95']:.3f}") in msg
    assert "adjusted 0.0033" in case.find("failure").text


def test_junit_survives_any_attribute_name(run):
    run["checks"]["limits"]["report"]["attributes"]["ctl\x1bchar\x00"] = _attr("pass")
    run["checks"]['chk<&">'] = {"verdict": "error", "input": "x", "error": "no such file <x>"}
    root = ET.fromstring(junit_xml(run))
    names = [c.get("name") for c in _cases(root)]
    assert WEIRD in names and "ctl\\x1bchar\\x00" in names
    weird = next(c for c in _cases(root) if c.get("name") == WEIRD)
    assert weird.find("failure").get("message").startswith(WEIRD + ": rho* lower")
    assert root.get("errors") == "1"
    suite = next(s for s in root.findall("testsuite") if s.get("name") == 'infomin.chk<&">')
    err = suite.find("testcase/error")
    assert err is not None and "no such file <x>" in err.get("message")


def test_junit_baseline_rise_fails_a_passing_attribute(run):
    new = run["checks"]["limits"]["report"]
    old = copy.deepcopy(new)
    old["attributes"]["age"]["rho_star"].update(value=0.1 - 0.2, ci=[0.05 - 0.2, 0.15 - 0.2])
    run["checks"]["limits"]["baseline"] = compare(new, old, alpha=0.01)
    root = ET.fromstring(junit_xml(run))
    case = next(c for c in _cases(root) if c.get("classname") == "infomin.limits"
                and c.get("name") == "age")
    msg = case.find("failure").get("message")
    assert msg.startswith("age: rho* rose vs baseline -0.100 -> 0.100 (+0.200, one-sided p=")
    assert root.get("failures") == "6"


# ---------------------------------------------------------------- Markdown


def test_markdown_one_row_per_attribute_and_escapes(run):
    text = markdown_summary(run)
    assert text.startswith("## ❌ infomin check: FAIL")
    rows = [ln for ln in text.splitlines() if ln.startswith("| ") and "attribute" not in ln]
    n = sum(len(e["report"]["attributes"]) for e in run["checks"].values())
    assert len(rows) == n
    weird_row = next(r for r in rows if r.startswith("| a\\<"))
    assert "a\\<\\&\"\\>'b\\]\\]\\>" in weird_row
    # the escaped name does not add a column
    assert len(weird_row.replace("\\|", "").split("|")) == len(rows[0].split("|"))
    run["checks"]["limits"]["report"]["attributes"]["x|y"] = _attr("pass")
    text = markdown_summary(run)
    row = next(ln for ln in text.splitlines() if ln.startswith("| x"))
    assert row.startswith("| x\\|y |")
    assert len(row.replace("\\|", "").split("|")) == len(rows[0].split("|"))
    assert "0.610 [0.58–0.64] (null95 .041)" in text and "❌ fail (ρ\\*)" in text
    assert "a note" in text and "vs baseline" not in text


def test_markdown_baseline_column(run):
    new = run["checks"]["limits"]["report"]
    old = copy.deepcopy(new)
    old["attributes"]["sex"]["rho_star"].update(value=0.41, ci=[0.384, 0.437])
    run["checks"]["limits"]["baseline"] = compare(new, old, alpha=0.01)
    lines = markdown_summary(run).splitlines()
    head = next(ln for ln in lines if ln.startswith("| attribute") and "baseline" in ln)
    assert head.endswith("| vs baseline |")
    sex = next(ln for ln in lines if ln.startswith("| sex") and "⚠" in ln)
    assert sex.endswith("| ρ\\* +0.20 (p<0.001) ⚠ |")
    assert [ln for ln in lines if ln.startswith("| age")][-1].endswith("| no rise |")


# ---------------------------------------------------------------- baseline


def test_compare_identical_reports(report):
    out = compare(report, copy.deepcopy(report), alpha=0.01)
    assert out["verdict"] == "pass" and out["missing"] == [] and out["not_compared"] == []
    assert len(out["comparisons"]) == 3 * len(report["attributes"])
    assert all(not c["rose"] and c["p"] >= 0.5 and c["diff"] == 0 for c in out["comparisons"])
    json.dumps(out, allow_nan=False)


def test_compare_detects_a_rise_only_where_it_is(report):
    old = copy.deepcopy(report)
    block = old["attributes"]["sex"]["rho_star"]
    block["value"] -= 0.2
    block["ci"] = [x - 0.2 for x in block["ci"]]
    out = compare(report, old, alpha=0.01)
    rose = [c for c in out["comparisons"] if c["rose"]]
    assert [(c["attribute"], c["estimator"]) for c in rose] == [("sex", "rho")]
    assert rose[0]["diff"] == pytest.approx(0.2) and rose[0]["p"] < 1e-6
    assert out["verdict"] == "fail"
    # the other way round: leakage fell, nothing rises
    back = compare(old, report, alpha=0.01)
    assert back["verdict"] == "pass"
    fell = next(c for c in back["comparisons"] if c["attribute"] == "sex"
                and c["estimator"] == "rho")
    assert fell["diff"] == pytest.approx(-0.2) and fell["p"] > 0.99 and not fell["rose"]


def _one(value, lo, hi, name="a", **blocks):
    attr = _attr("pass", rho=(value, lo, hi))
    for k in ("sliced", "linear"):
        attr.pop(k)
    attr.update(blocks)
    return _report({name: attr})


def test_compare_known_z():
    se = 0.05
    half = 1.959964 * se
    new, old = _one(0.6, 0.6 - half, 0.6 + half), _one(0.5, 0.5 - half, 0.5 + half)
    (c,) = compare(new, old, alpha=0.05)["comparisons"]
    assert c["z"] == pytest.approx(math.sqrt(2), rel=1e-9)
    assert c["p"] == pytest.approx(0.0786, abs=5e-5) == one_sided_p(math.sqrt(2))
    assert not c["rose"]
    # zero-width intervals: a rise is certain, no change is not
    (c,) = compare(_one(0.6, 0.6, 0.6), _one(0.5, 0.5, 0.5), alpha=0.05)["comparisons"]
    assert c["z"] is None and c["p"] == 0.0 and c["rose"]
    (c,) = compare(_one(0.5, 0.5, 0.5), _one(0.5, 0.5, 0.5), alpha=0.05)["comparisons"]
    assert c["z"] == 0.0 and c["p"] == 0.5


def test_compare_adjusts_the_family():
    z = NormalDist().inv_cdf(0.97)  # P(Z >= z) = 0.03
    assert one_sided_p(z) == pytest.approx(0.03, abs=1e-9)
    se = 0.05
    diff = z * math.sqrt(2) * se
    half = 1.959964 * se

    def rep(v):
        return _report({"a": _attr("pass", rho=(0.5 + v, 0.5 + v - half, 0.5 + v + half)),
                        "b": _attr("pass", rho=(0.4 + v, 0.4 + v - half, 0.4 + v + half))})

    new, old = rep(diff), rep(0.0)
    for r in (new, old):  # only rho* is compared
        for a in r["attributes"].values():
            a["sliced"]["ci"] = None
            a.pop("linear")
    holm = compare(new, old, alpha=0.05)
    assert [c["p"] for c in holm["comparisons"]] == pytest.approx([0.03, 0.03])
    assert [c["p_adjusted"] for c in holm["comparisons"]] == pytest.approx([0.06, 0.06])
    assert holm["verdict"] == "pass" and not any(c["rose"] for c in holm["comparisons"])
    assert holm["not_compared"] == ["a (sliced)", "b (sliced)"]
    raw = compare(new, old, alpha=0.05, correction="none")
    assert raw["verdict"] == "fail" and all(c["rose"] for c in raw["comparisons"])
    assert compare(new, old, alpha=0.0, correction="none")["verdict"] == "not_tested"  # off


def test_compare_lists_what_the_new_report_lacks(report):
    new = copy.deepcopy(report)
    del new["attributes"]["race"]
    del new["attributes"]["sex"]["rho_star"]
    new["attributes"]["extra"] = new["attributes"]["age"]
    out = compare(new, report, alpha=0.01)
    assert out["missing"] == ["race", "sex (rho)"]
    assert {c["attribute"] for c in out["comparisons"]} == {"sex", "age"}
    with pytest.raises(ValueError):
        compare(new, report, alpha=0.01, correction="sidak")


def test_compare_runs(report):
    new = _run({"a": {"verdict": "fail", "report": report},
                "b": {"verdict": "fail", "report": report},
                "broken": {"verdict": "error", "error": "x"}})
    old = _run({"a": {"verdict": "fail", "report": report},
                "broken": {"verdict": "fail", "report": report},
                "gone": {"verdict": "pass", "report": report}})
    out = compare_runs(new, old, alpha=0.01, correction="holm")
    assert out.pop(NOT_COMPARED) == ["b", "broken"]
    assert list(out) == ["a"] and out["a"]["verdict"] == "pass"


def test_junit_message_when_reasons_do_not_line_up(run):
    """Reasons the structured fields cannot pair up: all reasons, then the deciding values."""
    sex = run["checks"]["limits"]["report"]["attributes"]["sex"]
    sex["reasons"] = ["some future rule", THRESHOLD_REASON]
    root = ET.fromstring(junit_xml(run))
    case = next(c for c in _cases(root) if c.get("classname") == "infomin.limits"
                and c.get("name") == "sex")
    assert case.find("failure").get("message") == (
        f"sex: some future rule; {THRESHOLD_REASON} (rho* = 0.610 [0.584, 0.637], null95 0.041)")


# ---------------------------------------------------------------- JUnit schema and times

#: Jenkins' junit-10.xsd (xunit-plugin): element -> (attributes allowed, required, children)
JUNIT_10 = {
    "testsuites": ({"name", "time", "tests", "failures", "errors"}, set(), {"testsuite"}),
    "testsuite": ({"name", "tests", "failures", "errors", "group", "time", "skipped",
                   "timestamp", "hostname", "id", "package", "file", "log", "url"},
                  {"name", "tests", "failures", "errors"},
                  {"testsuite", "properties", "testcase", "system-out", "system-err"}),
    "properties": (set(), set(), {"property"}),
    "property": ({"name", "value"}, {"name", "value"}, set()),
    "testcase": ({"name", "time", "classname", "group"}, {"name"},
                 {"skipped", "error", "failure", "rerunFailure", "rerunError", "flakyFailure",
                  "flakyError", "system-out", "system-err"}),
    **{k: ({"type", "message"}, set(), set()) for k in ("failure", "error", "skipped")},
    "system-out": (set(), set(), set()),
    "system-err": (set(), set(), set()),
}
#: the schema's SUREFIRE_TIME, the type of ``time`` on <testsuite> and <testsuites>
SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")


def junit_10_problems(root: ET.Element) -> list[str]:
    """Where ``root`` breaks junit-10.xsd (no validator is installed: its rules, by hand)."""
    out = [] if root.tag == "testsuites" else [f"root is <{root.tag}>"]
    for el in root.iter():
        if el.tag not in JUNIT_10:
            out.append(f"unknown element <{el.tag}>")
            continue
        allowed, required, children = JUNIT_10[el.tag]
        out += [f"<{el.tag}> {a}=" for a in set(el.attrib) - allowed]
        out += [f"<{el.tag}> lacks {a}" for a in required - set(el.attrib)]
        out += [f"<{c.tag}> in <{el.tag}>" for c in el if c.tag not in children]
        time = el.get("time") if el.tag in ("testsuite", "testsuites") else None
        if time is not None and not SUREFIRE_TIME.fullmatch(time):
            out.append(f"<{el.tag}> time={time!r}")
    return out


START = "2025-03-04T05:06:07+00:00"


@pytest.fixture
def timed_run(run) -> dict:
    """The run with the start times and durations ``infomin check`` records."""
    run.update(started_at=START, duration_s=12.5)
    run["checks"]["golden"].update(started_at=START, duration_s=9.0)
    run["checks"]["limits"].update(started_at="2025-03-04T05:06:16+00:00", duration_s=3.25)
    return run


def test_junit_is_valid_against_the_junit_10_schema(timed_run):
    assert junit_10_problems(ET.fromstring(junit_xml(timed_run))) == []
    timed_run["checks"]["limits"]["report"]["attributes"]["ctl\x1bchar\x00"] = _attr("pass")
    timed_run["checks"]['chk<&">'] = {"verdict": "error", "input": "x", "error": "no <x>",
                                      "started_at": START, "duration_s": 0.01}
    assert junit_10_problems(ET.fromstring(junit_xml(timed_run))) == []
    bad = ET.fromstring(junit_xml(timed_run))
    bad.set("skipped", "0")
    bad.find("testsuite").set("time", "1e-05")
    assert len(junit_10_problems(bad)) == 2  # the check can fail


def test_junit_times_and_timestamps(timed_run):
    root = ET.fromstring(junit_xml(timed_run))
    assert float(root.get("time")) == 12.5
    suites = root.findall("testsuite")
    for suite, check in zip(suites, ("golden", "limits")):
        entry = timed_run["checks"][check]
        assert suite.get("timestamp") == entry["started_at"]
        when = datetime.fromisoformat(suite.get("timestamp"))
        assert when.utcoffset() == timedelta(0)
        cases = [float(c.get("time")) for c in suite.findall("testcase")]
        # an equal share each: the attributes of a check are audited in one pass
        assert cases == pytest.approx([entry["duration_s"] / len(cases)] * len(cases), abs=1e-3)
        assert float(suite.get("time")) == entry["duration_s"] >= max(cases)
        assert sum(cases) == pytest.approx(float(suite.get("time")), abs=1e-3 * len(cases))
    assert float(root.get("time")) >= sum(float(s.get("time")) for s in suites)


def test_junit_without_recorded_times_makes_none_up(run):
    root = ET.fromstring(junit_xml(run))
    assert not [el for el in root.iter() if "time" in el.attrib or "timestamp" in el.attrib]


def test_markdown_shows_the_run_time_and_a_ray_engine(timed_run):
    timed_run["checks"]["limits"]["report"]["engine"] = "ray"
    text = markdown_summary(timed_run)
    assert "· 12.5 s" in text.splitlines()[2]
    limits = text.split("### ")[2].splitlines()[2]
    assert "ray engine" in limits and "engine" not in text.split("### ")[1]  # local: not said


# ---------------------------------------------------------------- a real run


def _config(tmp_path: Path) -> tuple[Path, Path]:
    """A config in tmp/ci naming, by absolute path, an embedding file in tmp/data with one
    leaking and one independent attribute; two checks."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from conftest import list_array

    rng = np.random.default_rng(3)
    n = 1200
    z = rng.standard_normal((n, 4)).astype(np.float32)
    leak = (z[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype(int)
    (tmp_path / "data").mkdir()
    (tmp_path / "ci").mkdir()
    emb = tmp_path / "data" / "e.parquet"
    pq.write_table(pa.table({"embedding": list_array(z), "leak": leak,
                             "noise": rng.integers(0, 3, n)}), emb)
    cfg = tmp_path / "ci" / "infomin.toml"
    cfg.write_text('estimators = ["sliced", "linear"]\n'
                   f'[[checks]]\nname = "one"\ninput = "{emb.as_posix()}"\n'
                   'attributes = ["noise"]\n'
                   f'[[checks]]\nname = "two"\ninput = "{emb.as_posix()}"\n'
                   'attributes = ["leak", "noise"]\n')
    return cfg, emb


def test_a_real_run_records_durations_engine_and_relative_paths(invoke, tmp_path,
                                                                 monkeypatch):
    """``infomin check`` run in tmp with absolute paths: the JSON, JUnit and Markdown show
    the paths relative to the working directory, real durations and the engine."""
    cfg, emb = _config(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    junit, md, js, step = (out / "j.xml", out / "s.md", out / "r.json", out / "step.md")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    r = invoke("check", "--config", cfg, "--junit-xml", junit, "--markdown", md,
               "--output", js)
    assert r.exit_code == 1, r.output
    prefix = str(tmp_path)
    assert Path.cwd().resolve() == tmp_path.resolve()
    for text in (md.read_text(), step.read_text()):
        assert prefix not in text and "`data/e.parquet`" in text and "`ci/infomin.toml`" in text

    run = json.loads(js.read_text())
    assert run["config"] == "ci/infomin.toml"
    checks = run["checks"]
    for entry in checks.values():
        assert entry["input"] == "data/e.parquet"
        assert entry["report"]["input"]["path"] == "data/e.parquet"
        assert entry["report"]["engine"] == "local"
        assert entry["duration_s"] > 0
        assert run["started_at"] <= entry["started_at"]  # ISO 8601 UTC: ordered as text
        assert datetime.fromisoformat(entry["started_at"]).utcoffset() == timedelta(0)
    assert run["duration_s"] >= sum(e["duration_s"] for e in checks.values())

    root = ET.fromstring(junit.read_text())
    assert junit_10_problems(root) == []
    assert float(root.get("time")) > 0
    for suite in root.findall("testsuite"):
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert props["input"] == "data/e.parquet" and props["config"] == "ci/infomin.toml"
        assert props["engine"] == "local"
        entry = checks[suite.get("name").removeprefix("infomin.")]
        assert suite.get("timestamp") == entry["started_at"]
        cases = [float(c.get("time")) for c in suite.findall("testcase")]
        assert len(cases) == len(entry["report"]["attributes"]) and min(cases) > 0
        assert float(suite.get("time")) >= max(cases)
        assert sum(cases) == pytest.approx(float(suite.get("time")), abs=1e-3 * len(cases))
    assert prefix not in junit.read_text()


def test_paths_outside_the_working_directory_are_shown_as_given(invoke, tmp_path):
    from infomin_cli.pipeline.shown_path import shown_path

    assert shown_path(tmp_path / "a" / "b.npy", cwd=tmp_path) == "a/b.npy"
    assert shown_path(tmp_path, cwd=tmp_path) == "."
    assert shown_path(str(tmp_path / "x.parquet"), cwd=tmp_path / "a") == str(tmp_path / "x.parquet")
    assert shown_path("../x.parquet", cwd=tmp_path) == "../x.parquet"  # relative: as given
    assert shown_path(f"file://{tmp_path}/a/b.npy", cwd=tmp_path) == "a/b.npy"
    assert shown_path("s3://bucket/emb/?region=eu-west-1", cwd=tmp_path) == "s3://bucket/emb/"
    assert shown_path(None) is None


def test_the_report_records_where_the_streaming_pass_ran(tmp_path, monkeypatch):
    """``engine``: ``ray`` when the pass ran on Ray (here: Ray's entry point replaced by the
    local pass, so that no cluster starts); ``local`` for an in-memory source, which always
    streams here, whatever was asked."""
    from dataclasses import replace

    from infomin_cli.engine import ray_audit
    from infomin_cli.engine.local import local_pass
    from infomin_cli.io import open_dataset
    from infomin_cli.pipeline.audit import run_audit
    from infomin_cli.pipeline.config import audit_settings
    from infomin_cli.report.build import build_report

    _, emb = _config(tmp_path)
    src = open_dataset(emb, ["leak"])
    cfg, pol = audit_settings({"estimators": "sliced,linear", "permutations": 100, "alpha": 0},
                              attributes=1)
    ran = []
    monkeypatch.setattr(ray_audit, "accumulate",
                        lambda *a, **k: ran.append(1) or local_pass(*a, **k))
    on_ray = run_audit(src, replace(cfg, engine="ray"), pol)
    assert ran and on_ray.engine == "ray"
    assert build_report(on_ray, input_info={})["engine"] == "ray"
    here = run_audit(src, cfg, pol)
    assert here.engine == "local" and build_report(here, input_info={})["engine"] == "local"
    ran.clear()
    small = run_audit(src, replace(cfg, engine="ray", max_rows=600), pol)  # in memory
    assert not ran and small.engine == "local"
