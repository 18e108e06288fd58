"""A self-contained HTML page of an audit (:func:`audit_html`) or of an ``infomin check`` run
(:func:`check_html`), to attach to a pull request or keep as a CI artefact.

Pure functions of the JSON reports (:func:`~infomin_cli.report.build_report`,
:meth:`~infomin_cli.pipeline.check.CheckRun.to_json`), so the page and the JSON agree. Inline
CSS and SVG only: no script, no external URL (a Content-Security-Policy says so too). Per
attribute a chart on a 0..1 axis: each estimator's value as a point, its 95% interval as a
whisker, the permutation null up to its 95th percentile (the noise floor) as a shaded band, a
threshold as a dashed line. Every text from the data is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from infomin_cli.estimators.registry import REGISTRY, columns
from infomin_cli.pipeline.policy import Policy

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;color:#1f2328;margin:0;background:#fff}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
h1{font-size:22px}h2{font-size:18px;border-top:1px solid #d0d7de;padding-top:12px}
h3{font-size:15px;margin:14px 0 4px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:8px 0}
dt{color:#57606a}dd{margin:0}code{font-size:13px;overflow-wrap:anywhere}
table{border-collapse:collapse;margin:8px 0}
th,td{border-bottom:1px solid #d0d7de;padding:4px 10px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
small{color:#57606a}
.badge{display:inline-block;border-radius:6px;padding:1px 8px;font-weight:600}
.verdict{font-size:20px;padding:6px 14px;margin:10px 0}
.pass{background:#dafbe1;color:#116329}.fail{background:#ffebe9;color:#a40e26}
.other{background:#fff8c5;color:#7d4e00}
ul.notes{padding-left:20px}li.reason{color:#a40e26}li.reason::marker{content:"✗ "}
li.note::marker{content:"⚠ "}
figure{display:inline-block;margin:6px 12px 6px 0}figcaption{font-weight:600}
svg text{font:12px system-ui,sans-serif;fill:#1f2328}
.null{fill:#d0d7de}.null95{stroke:#57606a;stroke-width:2}.ci{stroke:#0969da;stroke-width:2}
.point{fill:#0969da}.limit{stroke:#cf222e;stroke-dasharray:4 3}.axis{stroke:#8c959f}
"""
_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_W, _LEFT, _RIGHT, _ROW = 520, 70, 24, 30
_LEGEND = ("● held-out estimate; whisker: its 95% interval; grey band: the permutation null up "
           "to its 95th percentile (null95), the noise floor a value is read against; dashed "
           "red line: a threshold (on the 95% bound named in the settings). p adj: the smallest "
           "adjusted p-value of the attribute.")


def _t(x: Any) -> str:
    """Text from the data, escaped."""
    return escape(str(x), quote=True)


def _num(x: Any, d: int = 3) -> str:
    return "—" if x is None else f"{x:.{d}f}"


def _p(p: Any) -> str:
    return "—" if p is None else f"{p:.3f}" if p >= 0.001 else "&lt;0.001"


def _signed(x: Any) -> str:
    return "—" if x is None else f"{x:+.3f}"


def _sym(est: Any) -> str:
    return _t(REGISTRY[est].symbol if est in REGISTRY else est)


def _badge(verdict: Any, *, big: bool = False) -> str:
    """The verdict in its colour, with an icon and a word (colour is never the only cue)."""
    icon, cls = {"pass": ("✓", "pass"), "fail": ("✗", "fail")}.get(verdict, ("⚠", "other"))
    word = str(verdict).replace("_", " ")
    return (f'<span class="badge {cls}{" verdict" if big else ""}" data-verdict="{_t(verdict)}">'
            f"{icon} {_t(word.upper() if big else word)}</span>")


def _dl(rows: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows if v) + "</dl>"


def _notes(items: list[tuple[str, str]]) -> str:
    """``[(class, html)]``: a list of reasons (``reason``) and notes (``note``)."""
    return ('<ul class="notes">' + "".join(f'<li class="{c}">{h}</li>' for c, h in items)
            + "</ul>") if items else ""


def _cell(block: dict | None) -> str:
    if not block:
        return '<td class="n">—</td>'
    if "not_estimable" in block:
        return f'<td title="{_t(block["not_estimable"])}">not estimable</td>'
    out = f'<b>{_num(block.get("value"))}</b>'
    ci = block.get("ci")
    if ci and None not in ci:
        out += f" <small>[{ci[0]:.3f}–{ci[1]:.3f}]</small>"
    if block.get("null_q95") is not None:
        out += f'<br><small>null95 {_num(block["null_q95"])}</small>'
    return f'<td class="n">{out}</td>'


def _chart(name: str, attr: dict, est: list[str], limits: dict) -> str:
    """One attribute's estimates on a 0..1 axis (an SVG with one row per estimator)."""
    pw = _W - _LEFT - _RIGHT
    h = 12 + _ROW * len(est) + 28

    def x(v: float) -> float:
        return _LEFT + pw * min(max(float(v), 0.0), 1.0)

    parts = []
    for i, e in enumerate(est):
        block, y = attr.get(REGISTRY[e].block) or {}, 12 + _ROW * i + _ROW / 2
        parts.append(f'<text x="{_LEFT - 8}" y="{y + 4}" text-anchor="end">{_sym(e)}</text>')
        if block.get("value") is None:
            parts.append(f'<text x="{_LEFT + 4}" y="{y + 4}" class="ne">not estimable</text>')
            continue
        q95, ci, v = block.get("null_q95"), block.get("ci"), block["value"]
        if q95 is not None:
            parts.append(f'<rect class="null" x="{_LEFT}" y="{y - 9}" width="{x(q95) - _LEFT:.1f}"'
                         f' height="18"><title>null95 {_num(q95)}</title></rect>'
                         f'<line class="null95" x1="{x(q95):.1f}" x2="{x(q95):.1f}" y1="{y - 9}"'
                         f' y2="{y + 9}"/>')
        if ci and None not in ci:
            a, b = x(ci[0]), x(ci[1])
            parts.append(f'<path class="ci" d="M{a:.1f} {y - 5}v10M{a:.1f} {y}H{b:.1f}'
                         f'M{b:.1f} {y - 5}v10"/>')
        th = limits.get(e)
        if isinstance(th, dict) and th.get("value") is not None:
            lx = x(th["value"])
            parts.append(f'<line class="limit" x1="{lx:.1f}" x2="{lx:.1f}" y1="{y - 13}" '
                         f'y2="{y + 13}"><title>threshold {th["value"]:g}</title></line>')
        tip = f"{_sym(e)} {_num(v)}" + (f" [{ci[0]:.3f}–{ci[1]:.3f}]" if ci and None not in ci
                                         else "")
        parts.append(f'<circle class="point" data-estimator="{_t(e)}" cx="{x(v):.1f}" cy="{y}" '
                     f'r="5"><title>{tip}</title></circle>'
                     f'<text x="{x(v) + (-8 if v > 0.85 else 8):.1f}" y="{y - 7}" '
                     f'text-anchor="{"end" if v > 0.85 else "start"}">{_num(v)}</text>')
    ay = 12 + _ROW * len(est) + 4
    parts.append(f'<line class="axis" x1="{_LEFT}" x2="{_LEFT + pw}" y1="{ay}" y2="{ay}"/>')
    for k in range(6):
        tx = _LEFT + pw * k / 5
        parts.append(f'<line class="axis" x1="{tx:.1f}" x2="{tx:.1f}" y1="{ay}" y2="{ay + 4}"/>'
                     f'<text x="{tx:.1f}" y="{ay + 17}" text-anchor="middle">{k / 5:.1f}</text>')
    return (f'<figure class="chart"><figcaption>{_t(name)}</figcaption>'
            f'<svg width="{_W}" height="{h}" role="img" '
            f'aria-label="estimates of {_t(name)}">{"".join(parts)}</svg></figure>')


def _audit(report: dict, h: str = "h2", label: str = "") -> str:
    """The body of one audit: input and settings, verdict, table, notes, charts."""
    inp, th = report.get("input") or {}, report.get("thresholds") or {}
    est = columns(report.get("estimators") or [])
    attrs = report.get("attributes") or {}
    rows = f"{report['n_rows']:,}" if isinstance(report.get("n_rows"), int) else "?"
    if inp.get("subsampled_rows"):
        rows += f" (subsampled to {inp['subsampled_rows']:,})"
    try:
        rules = Policy.from_json(th).rules(tuple(est))
    except (KeyError, TypeError, ValueError):
        rules = []
    meta = _dl([
        ("input", f"<code>{_t(inp.get('path', '?'))}</code>"),
        ("embedding", _t(inp["embedding"]) if inp.get("embedding") else ""),
        ("attributes file", f"<code>{_t(inp['attrs_file'])}</code>" if inp.get("attrs_file")
         else ""),
        ("rows", rows), ("dim", _t(report.get("dim", "?"))),
        ("estimators", ", ".join(_sym(e) for e in report.get("estimators") or [])),
        ("alpha", f"{_t(th.get('alpha', '?'))} ({_t(th.get('correction', 'holm'))})"),
        ("seed", _t(report.get("seed", "?"))),
        ("engine", _t(report["engine"]) if report.get("engine") else ""),
        ("rule", "<br>".join(_t(r) for r in rules) or "no thresholds set"),
    ])
    head = "".join(f"<th>{_sym(e)}</th>" for e in est)
    body, notes = [], []
    for name, a in attrs.items():
        kind = a.get("kind", "?")
        if kind == "categorical" and a.get("n_classes") is not None:
            kind = f"categorical, {a['n_classes']} classes"
        adj = [t["p_adjusted"] for t in a.get("tests") or [] if t.get("p_adjusted") is not None]
        by = ", ".join(_sym(e) for e in a.get("decided_by") or [])
        body.append(f'<tr data-attribute="{_t(name)}"><td>{_t(name)}</td><td>{_t(kind)}</td>'
                    + "".join(_cell(a.get(REGISTRY[e].block)) for e in est)
                    + f'<td class="n">{_p(min(adj)) if adj else "—"}</td>'
                    f'<td>{_badge(a.get("verdict", "?"))}{f" <small>({by})</small>" if by else ""}'
                    "</td></tr>")
        notes += [("reason", f"<b>{_t(name)}</b>: {_t(r)}") for r in a.get("reasons") or []]
        notes += [("note", f"<b>{_t(name)}</b>: {_t(n)}") for n in a.get("notes") or []]
    dropped = {k: v for k, v in (inp.get("dropped_missing") or {}).items() if v}
    if dropped:
        notes.append(("note", "dropped rows with a missing attribute value: "
                      + _t(", ".join(f"{k}: {v:,}" for k, v in dropped.items()))))
    std = report.get("standardization") or {}
    if std.get("extreme_values"):
        notes.append(("note", f"{std['extreme_values']:,} embedding values lie beyond "
                      f"±{_t(std.get('clip'))} standard deviations and were clipped"))
    limits = th.get("fail_above") or {}
    charts = "".join(_chart(n, a, est, limits) for n, a in attrs.items())
    return (f"{meta}<p>{label}{_badge(report.get('verdict', '?'), big=True)}</p>"
            f"<{h}>Attributes</{h}><table><thead><tr><th>attribute</th><th>kind</th>{head}"
            f"<th>p adj</th><th>verdict</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"{_notes(notes)}<{h}>Estimates</{h}>{charts}")


def _baseline(b: dict) -> str:
    """A check's comparison with the baseline run: one row per estimate compared."""
    rows = "".join(
        f"<tr><td>{_t(c.get('attribute'))}</td><td>{_sym(c.get('estimator'))}</td>"
        f'<td class="n">{_num(c.get("old"))}</td><td class="n">{_num(c.get("new"))}</td>'
        f'<td class="n">{_signed(c.get("diff"))}</td>'
        f'<td class="n">{_p(c.get("p_adjusted"))}</td>'
        f"<td>{_badge('fail' if c.get('rose') else 'pass')}"
        f"{' rose' if c.get('rose') else ''}</td></tr>" for c in b.get("comparisons") or [])
    notes = [("note", f"not tested: {_t(b['reason'])}")] if b.get("reason") else []
    notes += [("note", f"in the baseline, not in this run: {_t(m)}") for m in b.get("missing")
              or []]
    notes += [("note", f"not compared: {_t(m)}") for m in b.get("not_compared") or []]
    table = ("<table><thead><tr><th>attribute</th><th>estimator</th><th>baseline</th><th>now"
             "</th><th>diff</th><th>p adj</th><th>rise</th></tr></thead>"
             f"<tbody>{rows}</tbody></table>") if rows else ""
    return (f"<h3>Against the baseline {_badge(b.get('verdict', '?'))}</h3>"
            f"<p><small>one-sided z-test per estimate, alpha {_t(b.get('alpha', '?'))}, "
            f"{_t(b.get('correction', 'holm'))}-adjusted</small></p>{table}{_notes(notes)}")


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{_t(title)}</title><style>{_CSS}</style></head><body><main>{body}"
            f"<p><small>{_LEGEND}</small></p></main></body></html>\n")


def audit_html(report: dict[str, Any]) -> str:
    """The page of one ``infomin audit`` report."""
    path = (report.get("input") or {}).get("path", "?")
    return _page(f"infomin audit: {path}",
                 f"<h1>infomin audit <small>{_t(report.get('infomin_version', ''))}</small></h1>"
                 + _audit(report))


def check_html(run: dict[str, Any]) -> str:
    """The page of one ``infomin check`` run: a section per check."""
    checks = run.get("checks") or {}
    failed = sum(1 for c in checks.values() if (c or {}).get("verdict") != "pass")
    out = [f"<h1>infomin check <small>{_t(run.get('infomin_version', ''))}</small></h1>",
           _dl([("config", f"<code>{_t(run.get('config', '?'))}</code>"),
                ("checks", f"{len(checks)}, {failed} not passed")]),
           f"<p>{_badge(run.get('verdict', '?'), big=True)}</p>"]
    for name, c in checks.items():
        c = c or {}
        out.append(f'<section class="check" data-check="{_t(name)}"><h2>{_t(name)} '
                   f"{_badge(c.get('verdict', '?'))}</h2>")
        out.append(_notes([("note", _t(w)) for w in c.get("warnings") or []]))
        if c.get("report"):
            out.append(_audit(c["report"], "h3", "audit "))
        else:
            out.append(_notes([("reason", _t(c.get("error") or "the check produced no report"))]))
        if c.get("baseline"):
            out.append(_baseline(c["baseline"]))
        out.append("</section>")
    return _page(f"infomin check: {run.get('verdict', '?')}", "".join(out))
