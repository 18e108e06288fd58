"""GitHub-flavoured Markdown of an ``infomin check`` run, for a CI job summary
(``$GITHUB_STEP_SUMMARY``, a merge-request note).

A heading with the overall verdict; per check a table -- attribute | kind | one column per
estimator run, in the registry's column order (``value [lo–hi] (null95 x)``) | p adj (the smallest adjusted p) | verdict (deciding
estimators) | vs baseline (when the check was compared with one) -- then bullets: the reasons,
the notes, the rises over the baseline, what the baseline had that this run lacks, a comparison
not tested (alpha 0) and the warnings (the baseline audited another input). Text
from the data (attribute names, reasons, notes) is escaped, so a ``|`` cannot break a table.
Paths are shown relative to the working directory when under it
(:func:`~infomin_cli.pipeline.shown_path.shown_path`, as the run's JSON holds them), so a CI
summary shows no path of the runner's disk.
"""

from __future__ import annotations

import math
import re
from typing import Any

from infomin_cli.estimators.registry import REGISTRY, columns
from infomin_cli.pipeline.baseline import not_tested
from infomin_cli.pipeline.shown_path import shown_path

OK, FAIL, WARN = "✅", "❌", "⚠️"
_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~#])")


def md(text: Any) -> str:
    """Inline-safe Markdown: ASCII punctuation that could start markup is backslash-escaped,
    line breaks become spaces."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).splitlines()))


def _code(text: Any) -> str:
    s = " ".join(str(text).splitlines())
    return f"`` {s} ``" if "`" in s else f"`{s}`"


def _num(x: Any) -> str:
    return "—" if x is None else f"{x:.3f}"


def _short(x: Any) -> str:
    return "—" if x is None else f"{x:.3f}".lstrip("0") or "0"


def _p(p: Any) -> str:
    if p is None:
        return "—"
    return f"{p:.3f}" if p >= 0.001 else "<0.001"


def _p_eq(p: Any) -> str:
    """``p=0.012`` or ``p<0.001``."""
    return "p<0.001" if p is not None and p < 0.001 else f"p={_p(p)}"


def _cell(block: dict | None) -> str:
    """``0.610 [0.58–0.64] (null95 .041)``."""
    if not block:
        return "—"
    out = _num(block.get("value"))
    ci = block.get("ci")
    if ci and None not in ci:
        d = 2 if ci[1] - ci[0] >= 0.05 else 3  # a narrow interval keeps its third decimal
        out += f" [{ci[0]:.{d}f}–{ci[1]:.{d}f}]"
    if block.get("null_q95") is not None:
        out += f" (null95 {_short(block['null_q95'])})"
    return out


def _kind(attr: dict) -> str:
    if attr.get("kind") == "categorical" and attr.get("n_classes") is not None:
        return f"{attr['n_classes']} classes"
    return md(attr.get("kind", "?"))


def _label(estimator: Any, unknown: str | None = None) -> str:
    """An estimator's Markdown label (``unknown``, or the escaped name, when not registered)."""
    if estimator in REGISTRY:
        return REGISTRY[estimator].markdown
    return md(estimator) if unknown is None else unknown


def _verdict(attr: dict) -> str:
    v = attr.get("verdict", "?")
    by = ", ".join(_label(e) for e in attr.get("decided_by") or [])
    icon = FAIL if v == "fail" else OK if v == "pass" else WARN
    return f"{icon} {md(v)}" + (f" ({by})" if by else "")


def _vs_baseline(baseline: dict, name: str) -> str:
    comps = [c for c in baseline.get("comparisons") or [] if c.get("attribute") == name]
    if not comps:
        return "—"
    if not_tested(baseline):
        return "not tested"
    rose = [c for c in comps if c.get("rose")]
    if not rose:
        return "no rise"
    return ", ".join(f"{_label(c.get('estimator'), '?')} {c.get('diff', 0):+.2f} "
                     f"({_p_eq(c.get('p_adjusted'))}) ⚠" for c in rose)


def _check(name: str, entry: dict) -> list[str]:
    report = entry.get("report")
    verdict = entry.get("verdict") or (report or {}).get("verdict", "?")
    icon = OK if verdict == "pass" else FAIL if verdict == "fail" else WARN
    out = [f"### {icon} {md(name)}: {md(verdict)}", ""]
    meta = [f"input {_code(shown_path(entry['input']))}"] if entry.get("input") else []
    if not report:
        out += [*(meta and [meta[0], ""]),
                f"- {WARN} {md(entry.get('error') or 'the check produced no report')}", ""]
        return out
    if isinstance(report.get("n_rows"), int):
        meta.append(f"{report['n_rows']:,} rows")
    if report.get("engine") not in (None, "local"):
        meta.append(f"{md(report['engine'])} engine")
    th = report.get("thresholds") or {}
    meta.append(f"α {th.get('alpha', 0):g}, {md(th.get('correction', 'holm'))}")
    limits = [f"{_label(est)} {md(t.get('bound'))} > {t.get('value')}"
              for est, t in (th.get("fail_above") or {}).items() if isinstance(t, dict)]
    if limits:
        meta.append("fail when " + ", ".join(limits))
    out += [" · ".join(meta), ""]
    est = columns(report.get("estimators") or REGISTRY)
    baseline = entry.get("baseline")
    head = ["attribute", "kind", *(_label(e) for e in est), "p adj", "verdict"]
    align = ["---", "---", *("--:" for _ in est), "--:", "---"]
    if baseline:
        head.append("vs baseline")
        align.append("---")
    out += ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    attrs = report.get("attributes") or {}
    for aname, a in attrs.items():
        adj = [t["p_adjusted"] for t in a.get("tests") or [] if t.get("p_adjusted") is not None]
        row = [md(aname), _kind(a), *(_cell(a.get(REGISTRY[e].block)) for e in est),
               _p(min(adj)) if adj else "—", _verdict(a)]
        if baseline:
            row.append(_vs_baseline(baseline, aname))
        out.append("| " + " | ".join(row) + " |")
    bullets: list[str] = []
    for aname, a in attrs.items():
        bullets += [f"- {FAIL} **{md(aname)}**: {md(r)}" for r in a.get("reasons") or []]
    for aname, a in attrs.items():
        bullets += [f"- {WARN} **{md(aname)}**: {md(n)}" for n in a.get("notes") or []]
    if baseline:
        corr = baseline.get("correction", "holm")
        for c in baseline.get("comparisons") or []:
            if c.get("rose"):
                bullets.append(
                    f"- {WARN} **{md(c.get('attribute'))}**: "
                    f"{_label(c.get('estimator'), '?')} rose over the baseline "
                    f"{_num(c.get('old'))} → {_num(c.get('new'))} "
                    f"(one-sided p {_p(c.get('p'))}, {md(corr)}-adjusted "
                    f"{_p(c.get('p_adjusted'))})")
        if baseline.get("missing"):
            bullets.append(f"- {WARN} in the baseline, not in this run: "
                           + ", ".join(md(m) for m in baseline["missing"]))
        if not_tested(baseline):
            bullets.append(f"- {WARN} baseline: {md(not_tested(baseline))}")
    bullets += [f"- {WARN} {md(w)}" for w in entry.get("warnings") or []]
    if bullets:
        out += ["", *bullets]
    out.append("")
    return out


def markdown_summary(run: dict) -> str:
    """The Markdown summary of an ``infomin check`` run (see the module docstring)."""
    checks = run.get("checks") or {}
    verdict = run.get("verdict", "?")
    icon = OK if verdict == "pass" else FAIL if verdict == "fail" else WARN
    failed = sum(1 for c in checks.values() if (c or {}).get("verdict") != "pass")
    out = [f"## {icon} infomin check: {md(str(verdict).upper())}", ""]
    meta = []
    if run.get("config"):
        meta.append(f"config {_code(shown_path(run['config']))}")
    meta.append(f"{len(checks)} check{'s' if len(checks) != 1 else ''}, {failed} not passed")
    if run.get("infomin_version"):
        meta.append(f"infomin {md(run['infomin_version'])}")
    if isinstance(run.get("duration_s"), (int, float)) and math.isfinite(run["duration_s"]):
        meta.append(f"{run['duration_s']:.1f} s")
    out += [" · ".join(meta), ""]
    for name, entry in checks.items():
        out += _check(str(name), entry or {})
    notes = ["value [95% interval] (null95): held-out estimate and the 95th percentile of its "
             "permutation null, the noise floor", "p adj: the smallest adjusted p-value"]
    if any((c or {}).get("baseline") for c in checks.values()):
        notes.append("vs baseline: a significant rise over the baseline run (one-sided z-test, "
                     "adjusted p)")
    out.append("<sub>" + "; ".join(notes) + "</sub>")
    return "\n".join(out) + "\n"
