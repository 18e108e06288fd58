"""Rich rendering of an audit report (the dict from :func:`~infomin_cli.report.build_report`)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from infomin_cli.estimators.registry import REGISTRY, columns, spec
from infomin_cli.pipeline.policy import Policy

NOT_ESTIMABLE = "not estimable"


def _num(x: Any, fmt: str = ".3f") -> str:
    return "—" if x is None else format(x, fmt)


def _ci(ci: Any) -> str:
    return "—" if not ci else f"{ci[0]:.2f}–{ci[1]:.2f}"


def _short(x: Any) -> str:
    """``0.024`` -> ``.024`` (a null95 beside its value)."""
    return "—" if x is None else format(x, ".3f").lstrip("0")


def _p(p: Any) -> str:
    if p is None:
        return "—"
    return f"{p:.3f}" if p >= 0.001 else "<0.001"


def _value(block: dict | None) -> str:
    """``0.412 (.031)``: a block's value and null95; ``not estimable`` where it has none."""
    if not block:
        return "—"
    if "not_estimable" in block:
        return NOT_ESTIMABLE
    return f"{_num(block.get('value'))} ({_short(block.get('null_q95'))})"


def _verdict(verdict: str, *, final: bool = False) -> str:
    """A verdict in its colour (``not_estimable`` as ``not estimable``, in yellow); ``final``:
    the run's, in bold capitals."""
    colour = {"fail": "red", "pass": "green"}.get(verdict, "yellow")
    text = verdict.replace("_", " ")
    if final:
        return f"[bold {colour}]{text.upper()}[/]"
    return f"[{'bold ' if verdict == 'fail' else ''}{colour}]{text}[/]"


def render_audit(report: dict[str, Any], console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:  # piped or captured: do not squeeze to 80 columns
            console = Console(width=120)
    inp = report["input"]
    subs = inp.get("subsampled_rows")
    rows = f"{report['n_rows']:,}" + (f" (subsampled to {subs:,})" if subs else "")
    console.print(f"[bold]{inp['path']}[/]  rows {rows}  dim {report['dim']}  seed {report['seed']}")
    dropped = {k: v for k, v in (inp.get("dropped_missing") or {}).items() if v}
    if dropped:
        total = inp.get("n_rows_read", 0) - report["n_rows"]
        detail = ", ".join(f"{k}: {v:,}" for k, v in dropped.items())
        console.print(f"[yellow]dropped {total:,} rows with a missing attribute value ({detail})[/]")
    est = report["estimators"]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("attribute", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    shown = [spec(e) for e in columns(est)]
    with_ci = [s for s in shown if s.ci_column]
    for s in shown:
        table.add_column(f"{s.symbol} (null95)", justify="right", no_wrap=True)
    for s in with_ci:
        table.add_column(f"{s.symbol} 95% CI", justify="right", no_wrap=True)
    table.add_column("p adj", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for name, a in report["attributes"].items():
        kind = f"{a['n_classes']} classes" if a["kind"] == "categorical" else a["kind"]
        row = [name, kind]
        for s in shown:
            row.append(_value(a.get(s.block)))
        for s in with_ci:
            row.append(_ci((a.get(s.block) or {}).get("ci")))
        adj = [t["p_adjusted"] for t in a.get("tests", []) if t.get("p_adjusted") is not None]
        row.append(_p(min(adj)) if adj else "—")
        by = ",".join(REGISTRY[e].symbol if e in REGISTRY else e
                      for e in a.get("decided_by", []))
        row.append(_verdict(a["verdict"]) + (f" [dim]({by})[/]" if by else ""))
        table.add_row(*row)
    console.print(table)
    for name, a in report["attributes"].items():
        for reason in a.get("reasons", []):
            console.print(f"  [red]✗[/] {name}: {reason}")
        for note in a.get("notes", []):
            console.print(f"  [yellow]![/] {name}: {note}")
    std = report.get("standardization") or {}
    if std.get("extreme_values"):
        linear = ("" if std.get("fenced_values") is None else
                  f" for SI; linear clamps only the {std['fenced_values']:,} isolated outliers "
                  "beyond their column's fence")
        console.print(f"[yellow]{std['extreme_values']:,} embedding values in the "
                      f"{std['calibration_rows']:,} calibration rows lie beyond ±{std['clip']:g} "
                      f"(winsorised) standard deviations and were clipped{linear}[/]")
    rules = Policy.from_json(report["thresholds"]).rules(tuple(est))
    notes = ["value (null95): held-out estimate and the 95th percentile of its permutation "
             "null, the noise floor"]
    notes += [s.summary for s in with_ci]
    console.print("[dim]" + "; ".join(notes) + "[/]")
    console.print("verdict: " + _verdict(report["verdict"], final=True)
                  + (f"  ({'; '.join(rules)})" if rules else "  (no thresholds set)"))
