"""Rich rendering of an audit report (the dict from :func:`~infomin_cli.report.build_report`)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from infomin_cli.estimators.registry import REGISTRY, columns, spec
from infomin_cli.pipeline.policy import Policy
from infomin_cli.report.terminal import fits, make_console

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


def _kind(a: dict) -> str:
    return f"{a['n_classes']} classes" if a["kind"] == "categorical" else a["kind"]


def _p_adj(a: dict) -> str:
    adj = [t["p_adjusted"] for t in a.get("tests", []) if t.get("p_adjusted") is not None]
    return _p(min(adj)) if adj else "—"


def _decided(a: dict) -> str:
    by = ",".join(REGISTRY[e].symbol if e in REGISTRY else e for e in a.get("decided_by", []))
    return _verdict(a["verdict"]) + (f" [dim]({by})[/]" if by else "")


def _wide_table(report: dict[str, Any], shown: list, with_ci: list) -> Table:
    """One row per attribute, one column per number: the layout when the terminal has room."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("attribute", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    for s in shown:
        table.add_column(f"{s.symbol} (null95)", justify="right", no_wrap=True)
    for s in with_ci:
        table.add_column(f"{s.symbol} 95% CI", justify="right", no_wrap=True)
    table.add_column("p adj", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for name, a in report["attributes"].items():
        row = [escape(name), _kind(a)]
        row += [_value(a.get(s.block)) for s in shown]
        row += [_ci((a.get(s.block) or {}).get("ci")) for s in with_ci]
        table.add_row(*row, _p_adj(a), _decided(a))
    return table


def _stacked(report: dict[str, Any], shown: list, with_ci: list) -> Group:
    """One block per attribute (a header line, then one line per estimator): the layout of a
    narrow terminal, where every number still prints in full."""
    blocks: list = []
    for name, a in report["attributes"].items():
        head = Text.assemble((name, "bold"), f"  {_kind(a)}  p adj {_p_adj(a)}  ")
        head.append_text(Text.from_markup(_decided(a)))
        lines = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
        lines.add_column(no_wrap=True)
        lines.add_column(justify="right", no_wrap=True, overflow="fold")
        lines.add_column(no_wrap=True, overflow="fold")
        for s in shown:
            block = a.get(s.block)
            ci = f"95% CI {_ci(block.get('ci'))}" if s in with_ci and block else ""
            lines.add_row(s.symbol, _value(block), ci)
        blocks += [head, Padding(lines, (0, 0, 0, 2), expand=False)]
    return Group(*blocks, Text(""))


def render_audit(report: dict[str, Any], console: Console | None = None) -> None:
    """The audit report as a table on ``console`` (default: stdout): one row per attribute
    where the terminal is wide enough, else one block per attribute."""
    console = console or make_console()
    inp = report["input"]
    subs = inp.get("subsampled_rows")
    rows = f"{report['n_rows']:,}" + (f" (subsampled to {subs:,})" if subs else "")
    console.print(f"[bold]{escape(str(inp['path']))}[/]  rows {rows}  dim {report['dim']}  "
                  f"seed {report['seed']}")
    dropped = {k: v for k, v in (inp.get("dropped_missing") or {}).items() if v}
    if dropped:
        total = inp.get("n_rows_read", 0) - report["n_rows"]
        detail = ", ".join(f"{k}: {v:,}" for k, v in dropped.items())
        console.print(f"[yellow]dropped {total:,} rows with a missing attribute value ({detail})[/]")
    est = report["estimators"]
    shown = [spec(e) for e in columns(est)]
    with_ci = [s for s in shown if s.ci_column]
    table = _wide_table(report, shown, with_ci)
    console.print(table if fits(console, table) else _stacked(report, shown, with_ci))
    for name, a in report["attributes"].items():
        for reason in a.get("reasons", []):
            console.print(f"  [red]✗[/] {escape(f'{name}: {reason}')}")
        for note in a.get("notes", []):
            console.print(f"  [yellow]![/] {escape(f'{name}: {note}')}")
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
