"""Rendering an ``inspect_file`` report as rich tables on stdout."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table


def _num(x: float) -> str:
    return f"{x:.4g}"


def render_inspect(report: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console(file=sys.stdout, highlight=False)
    emb = report["embedding"]
    shards = f" ({report['files']} files)" if report.get("files", 1) > 1 else ""
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("file", f"{report['file']}{shards}  [{report['format']}]")
    if "attrs_file" in report:
        summary.add_row("attributes file", report["attrs_file"])
    rows = f"{report['rows']:,}"
    if "rows_kept" in report and report["rows_kept"] != report["rows"]:
        rows += f" ({report['rows_kept']:,} kept)"
    summary.add_row("rows", rows)
    summary.add_row("embedding", emb["source"])
    summary.add_row("dim", str(emb["dim"]))
    summary.add_row("dtype", emb["dtype"])
    n = report["norms"]
    summary.add_row(
        "L2 norms",
        f"min {_num(n['min'])}  median {_num(n['median'])}  mean {_num(n['mean'])}  "
        f"max {_num(n['max'])}",
    )
    summary.add_row("dead dims", f"{report['dead_dims']} (std == 0)")
    if report.get("zero_rows"):
        summary.add_row("zero rows", str(report["zero_rows"]))
    ext = report.get("extreme_values") or {}
    if ext.get("clip") is not None:
        summary.add_row("extreme values", f"{ext['count']:,} beyond ±{ext['clip']:g} (winsorised) SD "
                        f"(of {ext['rows_checked']:,} rows checked; the audit clips them)")
    console.print(summary)

    if report["columns"]:
        several_files = len({c["file"] for c in report["columns"]}) > 1
        table = Table(title="columns", title_justify="left")
        for head in ("column", "type", "kind", "distinct", "missing", "note"):
            table.add_column(head, justify="right" if head in ("distinct", "missing") else "left")
        for c in report["columns"]:
            note = c["note"]
            if several_files:
                note = f"{note} ({c['file']})".strip()
            table.add_row(
                c["name"], c["type"], c["kind"],
                "-" if c["distinct"] is None else f"{c['distinct']:,}",
                f"{c['missing']:,}", note,
            )
        console.print(table)

    if report.get("attributes"):
        table = Table(title="attributes", title_justify="left")
        for head in ("attribute", "kind", "classes / width", "dropped"):
            table.add_column(head, justify="right" if head == "dropped" else "left")
        for name, a in report["attributes"].items():
            classes = a["classes"]
            if classes is not None:
                shown = ", ".join(classes[:8]) + (", …" if len(classes) > 8 else "")
            else:
                shown = f"{a['width']} columns" if a["kind"] == "multidim" else "-"
            table.add_row(name, a["kind"], shown, f"{a['dropped']:,}")
        console.print(table)
