"""Rich rendering of an audit report (the dict from :func:`~infomin_cli.report.build_report`)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from infomin_cli.pipeline.policy import Policy


def _num(x: Any, fmt: str = ".3f") -> str:
    return "—" if x is None else format(x, fmt)


def _ci(ci: Any) -> str:
    return "—" if not ci else f"{ci[0]:.2f}–{ci[1]:.2f}"


def _p(p: Any) -> str:
    if p is None:
        return "—"
    return f"{p:.3f}" if p >= 0.001 else "<0.001"


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
    if "linear" in est:
        table.add_column("linear", justify="right", no_wrap=True)
    if "sliced" in est:
        table.add_column("SI", justify="right", no_wrap=True)
        table.add_column("null95", justify="right", no_wrap=True)
        table.add_column("p", justify="right", no_wrap=True)
    if "rho" in est:
        table.add_column("ρ*", justify="right", no_wrap=True)
        table.add_column("95% CI", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for name, a in report["attributes"].items():
        kind = f"{a['n_classes']} classes" if a["kind"] == "categorical" else a["kind"]
        row = [name, kind]
        if "linear" in est:
            row.append(_num(a.get("linear", {}).get("value")))
        if "sliced" in est:
            s = a.get("sliced", {})
            row += [_num(s.get("value")), _num(s.get("null_q95")), _p(s.get("p_value"))]
        if "rho" in est:
            r = a.get("rho_star", {})
            row += [_num(r.get("value")), _ci(r.get("ci"))]
        verdict = a["verdict"]
        style = "bold red" if verdict == "fail" else "green"
        row.append(f"[{style}]{verdict}[/]")
        table.add_row(*row)
    console.print(table)
    for name, a in report["attributes"].items():
        for reason in a.get("reasons", []):
            console.print(f"  [red]✗[/] {name}: {reason}")
    rules = Policy(**report["thresholds"]).rules(tuple(est))
    agg = next((a["sliced"]["aggregation"] for a in report["attributes"].values() if "sliced" in a),
               None)
    notes = []
    if agg:
        notes.append(f"SI: held-out {agg} sliced dependence, permutation p-value")
    if "rho" in est:
        notes.append("ρ*: neural HGR maximal correlation on a held-out test split")
    if notes:
        console.print("[dim]" + "; ".join(notes) + "[/]")
    verdict = report["verdict"]
    colour = "red" if verdict == "fail" else "green"
    console.print(f"verdict: [bold {colour}]{verdict.upper()}[/]"
                  + (f"  ({'; '.join(rules)})" if rules else "  (no thresholds set)"))
