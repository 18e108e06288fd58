"""JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters) from an ``infomin check`` run.

Layout: a ``<testsuites name="infomin">`` root; one ``<testsuite name="infomin.CHECK">`` per check
with its ``<properties>`` (infomin version, config path, input, engine, alpha, correction,
thresholds);
one ``<testcase classname="infomin.CHECK" name="ATTRIBUTE">`` per check x attribute. A failing
attribute -- by the audit or by a rise over the baseline -- has one ``<failure>``: its
``message`` names the attribute and, per reason, the measured values with their 95% intervals
and the threshold; its text holds every estimate, null95, adjusted p-value, note and baseline
comparison. Passing attributes carry the same detail in ``<system-out>``. The suite's own
``<system-out>`` says what the baseline had that the run lacks, a baseline comparison not tested
(alpha 0) and the warnings (the baseline audited another input). A check without a report (it
could not run) is one ``<testcase name="(check)">`` with an ``<error>``.

Times, from the run's ``started_at`` / ``duration_s`` (:mod:`infomin_cli.pipeline.check`): each
``<testsuite>`` has its check's ``timestamp`` (ISO 8601, UTC) and ``time`` (seconds); each
``<testcase>`` an equal share of it (a check audits its attributes together, in one pass over
its input); ``<testsuites>`` the run's ``time``. A run without them (a report from an older
version) has no time attributes, rather than made-up ones.

Values come from the report fields, never from parsing its strings. Any attribute name is safe:
ElementTree escapes markup, and characters XML 1.0 cannot hold are written as ``\\xNN``.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from typing import Any

from infomin_cli.estimators.registry import REGISTRY
from infomin_cli.pipeline.baseline import not_tested
from infomin_cli.pipeline.shown_path import shown_path

BOUND_WORDS = {"lower": "lower 95% bound", "upper": "upper 95% bound", "point": "estimate"}
_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: Any) -> str:
    """A string XML 1.0 can hold (control characters and lone surrogates as ``\\xNN``)."""
    return _INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _f(x: Any, fmt: str = ".3f") -> str:
    return "—" if x is None else format(x, fmt)


def _p(x: Any) -> str:
    return "—" if x is None else format(x, ".2g")


def _label(estimator: Any) -> Any:
    """An estimator's plain label (the name itself when not registered)."""
    return REGISTRY[estimator].label if estimator in REGISTRY else estimator


def _block(attr: dict, estimator: Any) -> dict | None:
    """The report block of ``estimator`` in ``attr`` (None when absent or not registered)."""
    return attr.get(REGISTRY[estimator].block) if estimator in REGISTRY else None


def estimate_text(label: str, block: dict) -> str:
    """``LABEL = 0.610 [0.581, 0.637], null95 0.041``."""
    ci = block.get("ci")
    out = f"{label} = {_f(block.get('value'))}"
    if ci and None not in ci:
        out += f" [{_f(ci[0])}, {_f(ci[1])}]"
    if block.get("null_q95") is not None:
        out += f", null95 {_f(block['null_q95'])}"
    return out


def _values(attr: dict, estimators: list[str]) -> str:
    parts = [estimate_text(_label(e), _block(attr, e)) for e in estimators
             if _block(attr, e)]
    return f" ({'; '.join(parts)})" if parts else ""


def _bounded(block: dict, bound: str) -> float | None:
    ci = block.get("ci")
    if bound == "point" or not ci or None in ci:
        return block.get("value")
    return ci[0] if bound == "lower" else ci[1]


def _reason_estimators(attr: dict, thresholds: dict) -> list[list[str]] | None:
    """The estimators behind each reason, in the policy's order (failed tests, then exceeded
    thresholds), recomputed from the structured fields; None when they do not line up with
    ``reasons`` (then the message lists the values of ``decided_by`` once)."""
    alpha = thresholds.get("alpha") or 0.0
    out: list[list[str]] = []
    for t in attr.get("tests") or []:
        pa = t.get("p_adjusted")
        if alpha > 0 and pa is not None and pa <= alpha:
            out.append(list(t.get("estimators") or []))
    for est, th in (thresholds.get("fail_above") or {}).items():
        block = _block(attr, est)
        if not block or not isinstance(th, dict):
            continue
        x = _bounded(block, th.get("bound", "lower"))
        if x is not None and x > th.get("value", 1.0):
            out.append([est])
    reasons = attr.get("reasons") or []
    if len(out) != len(reasons):
        return None
    for reason, ests in zip(reasons, out):  # a sanity check on the order, not a parse
        if not str(reason).startswith("+".join(_label(e) for e in ests)):
            return None
    return out


def _rises(baseline: dict | None, name: str) -> list[dict]:
    if not baseline:
        return []
    return [c for c in baseline.get("comparisons") or []
            if c.get("attribute") == name and c.get("rose")]


def rise_text(c: dict, correction: str, alpha: Any) -> str:
    """``LABEL rose vs baseline 0.410 -> 0.610 (+0.200, one-sided p=1e-05, holm-adjusted 3e-05
    <= alpha 0.01)``."""
    adj = "" if correction == "none" else f", {correction}-adjusted {_p(c.get('p_adjusted'))}"
    return (f"{_label(c.get('estimator'))} rose vs baseline "
            f"{_f(c.get('old'))} -> {_f(c.get('new'))} ({_f(c.get('diff'), '+.3f')}, "
            f"one-sided p={_p(c.get('p'))}{adj} <= alpha {alpha:g})")


def failure_message(name: str, attr: dict, thresholds: dict,
                    baseline: dict | None = None) -> str:
    """One line: ``sex: LABEL lower 95% bound 0.584 > 0.2 (LABEL = 0.610 [0.584, 0.637],
    null95 0.041); ...``, then any rise over the baseline."""
    parts: list[str] = []
    reasons = [str(r) for r in attr.get("reasons") or []]
    if attr.get("verdict") == "fail":
        per = _reason_estimators(attr, thresholds)
        if per is not None:
            parts += [r + _values(attr, e) for r, e in zip(reasons, per)]
        elif reasons:
            parts.append("; ".join(reasons) + _values(attr, list(attr.get("decided_by") or [])))
        else:
            parts.append("failed" + _values(attr, list(attr.get("decided_by") or [])))
    if baseline:
        corr, alpha = baseline.get("correction", "holm"), baseline.get("alpha", 0.0)
        parts += [rise_text(c, corr, alpha) for c in _rises(baseline, name)]
    return f"{name}: " + "; ".join(parts)


def detail_text(check: str, name: str, attr: dict, report: dict,
                baseline: dict | None = None) -> str:
    """Every number of one attribute, several lines (the failure's text, or system-out)."""
    th = report.get("thresholds") or {}
    kind = attr.get("kind", "?")
    if attr.get("n_classes") is not None and kind == "categorical":
        kind += f", {attr['n_classes']} classes"
    lines = [f"check {check}: attribute {name} ({kind}): {attr.get('verdict', '?')}"]
    for r in attr.get("reasons") or []:
        lines.append(f"  fail: {r}")
    lines.append("estimates (held-out value [95% interval], null95 = 95th percentile of the "
                 "permutation null):")
    for e in REGISTRY:
        b = _block(attr, e)
        if b:
            extra = f", p {_p(b.get('p_value'))}" if b.get("p_value") is not None else ""
            if b.get("n_eval") is not None:
                extra += f", n_eval {b['n_eval']}"
            lines.append(f"  {estimate_text(_label(e), b)}{extra}")
    tests = attr.get("tests") or []
    if tests:
        corr = th.get("correction", "holm")
        lines.append(f"tests ({corr}-adjusted over the check, alpha {th.get('alpha', 0):g}):")
        for t in tests:
            label = "+".join(map(str, (_label(e) for e in t.get("estimators") or [])))
            lines.append(f"  {label}: p {_p(t.get('p'))}, adjusted {_p(t.get('p_adjusted'))}")
    for est, t in (th.get("fail_above") or {}).items():
        if isinstance(t, dict):
            lines.append(f"threshold: fail when {_label(est)} "
                         f"{BOUND_WORDS.get(t.get('bound'), t.get('bound'))} > {t.get('value')}")
    for n in attr.get("notes") or []:
        lines.append(f"note: {n}")
    if baseline:
        for c in baseline.get("comparisons") or []:
            if c.get("attribute") != name:
                continue
            z = "inf" if c.get("z") is None else format(c["z"], ".2f")
            lines.append(f"baseline {_label(c.get('estimator'))}: "
                         f"{_f(c.get('old'))} -> {_f(c.get('new'))} "
                         f"({_f(c.get('diff'), '+.3f')}), z {z}, p {_p(c.get('p'))}, adjusted "
                         f"{_p(c.get('p_adjusted'))}{' ROSE' if c.get('rose') else ''}")
    return "\n".join(lines)


def _prop(props: ET.Element, name: str, value: Any) -> None:
    if value is not None:
        ET.SubElement(props, "property", name=name, value=_x(value))


def _seconds(x: float) -> str:
    """A JUnit ``time``: seconds with three decimals (the schema's ``SUREFIRE_TIME``)."""
    return f"{max(float(x), 0.0):.3f}"


def _number(x: Any) -> bool:
    """A duration the report can show: a finite number of seconds, not negative."""
    return (isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
            and x >= 0)


def _time(suite: ET.Element, entry: dict) -> None:
    """The suite's ``timestamp`` and ``time``; each of its cases an equal share of the time."""
    if entry.get("started_at"):
        suite.set("timestamp", _x(entry["started_at"]))
    seconds = entry.get("duration_s")
    if not _number(seconds):
        return
    suite.set("time", _seconds(seconds))
    cases = suite.findall("testcase")
    for case in cases:
        case.set("time", _seconds(seconds / len(cases)))


def _suite(run: dict, check: str, entry: dict) -> tuple[ET.Element, dict[str, int]]:
    suite = ET.Element("testsuite", name=_x(f"infomin.{check}"))
    props = ET.SubElement(suite, "properties")
    _prop(props, "infomin_version", run.get("infomin_version"))
    _prop(props, "config", shown_path(run.get("config")))
    _prop(props, "input", shown_path(entry.get("input")))
    _prop(props, "verdict", entry.get("verdict"))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    report = entry.get("report")
    classname = _x(f"infomin.{check}")
    if not report:
        counts["tests"] = counts["errors"] = 1
        case = ET.SubElement(suite, "testcase", classname=classname, name="(check)")
        msg = entry.get("error") or "the check produced no report"
        ET.SubElement(case, "error", message=_x(f"{check}: {msg}"))
        _time(suite, entry)
        return suite, counts
    _prop(props, "engine", report.get("engine"))
    th = report.get("thresholds") or {}
    _prop(props, "alpha", th.get("alpha"))
    _prop(props, "correction", th.get("correction"))
    for est, t in (th.get("fail_above") or {}).items():
        if isinstance(t, dict):
            _prop(props, f"fail_above.{est}", f"{t.get('bound')} > {t.get('value')}")
    baseline = entry.get("baseline")
    for name, attr in (report.get("attributes") or {}).items():
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=classname, name=_x(name))
        detail = _x(detail_text(check, name, attr, report, baseline))
        verdict = attr.get("verdict")
        if verdict == "fail" or _rises(baseline, name):
            counts["failures"] += 1
            fail = ET.SubElement(case, "failure", type="leakage",
                                 message=_x(failure_message(name, attr, th, baseline)))
            fail.text = detail
        elif verdict == "error":
            counts["errors"] += 1
            err = ET.SubElement(case, "error", message=_x(f"{name}: could not be audited"))
            err.text = detail
        else:
            ET.SubElement(case, "system-out").text = detail
    notes = _suite_notes(entry)
    if notes:
        ET.SubElement(suite, "system-out").text = _x("\n".join(notes))
    _time(suite, entry)
    return suite, counts


def _suite_notes(entry: dict) -> list[str]:
    """What the baseline had that the run lacks, a comparison not tested, the warnings."""
    baseline = entry.get("baseline") or {}
    notes = [f"warning: {w}" for w in entry.get("warnings") or []]
    if baseline.get("missing"):
        notes.append("in the baseline but not in this run: "
                     + ", ".join(map(str, baseline["missing"])))
    if not_tested(baseline):
        notes.append(f"baseline: {not_tested(baseline)}")
    return notes


def junit_xml(run: dict) -> str:
    """The JUnit XML of an ``infomin check`` run (a ``str`` with an XML declaration; write it
    as UTF-8)."""
    root = ET.Element("testsuites", name="infomin")
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for check, entry in (run.get("checks") or {}).items():
        suite, counts = _suite(run, str(check), entry or {})
        for k, v in counts.items():
            suite.set(k, str(v))
            total[k] += v
        root.append(suite)
    for k in ("tests", "failures", "errors"):
        root.set(k, str(total[k]))
    if _number(run.get("duration_s")):
        root.set("time", _seconds(run["duration_s"]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
