"""Rendering an ``inspect_file`` report as rich tables on stdout."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from infomin_cli.report.terminal import make_console, table_or_blocks


def _num(x: float) -> str:
    return f"{x:.4g}"


def render_inspect(report: dict[str, Any], console: Console | None = None) -> None:
    """The summary, the columns and the attributes: text wraps between words on a narrow
    terminal (and folds a word longer than its column); numbers are never cut."""
    console = console or make_console(highlight=False)
    emb = report["embedding"]
    shards = f" ({report['files']} files)" if report.get("files", 1) > 1 else ""
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold", no_wrap=True)
    summary.add_column(overflow="fold")
    summary.add_row("file", escape(f"{report['file']}{shards}  [{report['format']}]"))
    if "attrs_file" in report:
        summary.add_row("attributes file", escape(report["attrs_file"]))
    rows = f"{report['rows']:,}"
    if "rows_kept" in report and report["rows_kept"] != report["rows"]:
        rows += f" ({report['rows_kept']:,} kept)"
    summary.add_row("rows", rows)
    summary.add_row("embedding", escape(emb["source"]))
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
            number = head in ("distinct", "missing")
            table.add_column(head, justify="right" if number else "left",
                             no_wrap=number or head == "kind", overflow="fold")
        rows = []
        for c in report["columns"]:
            note = c["note"]
            if several_files:
                note = f"{note} ({c['file']})".strip()
            rows.append([c["name"], c["type"], c["kind"],
                         "-" if c["distinct"] is None else f"{c['distinct']:,}",
                         f"{c['missing']:,}", note])
            table.add_row(*(escape(cell) for cell in rows[-1]))
        console.print(table_or_blocks(console, table, rows))

    if report.get("attributes"):
        table = Table(title="attributes", title_justify="left")
        for head in ("attribute", "kind", "classes / width", "dropped"):
            table.add_column(head, justify="right" if head == "dropped" else "left",
                             no_wrap=head in ("kind", "dropped"), overflow="fold")
        rows = []
        for name, a in report["attributes"].items():
            classes = a["classes"]
            if classes is not None:
                shown = ", ".join(classes[:8]) + (f" and {len(classes) - 8:,} more"
                                                  if len(classes) > 8 else "")
            else:
                shown = f"{a['width']} columns" if a["kind"] == "multidim" else "-"
            rows.append([name, a["kind"], shown, f"{a['dropped']:,}"])
            table.add_row(*(escape(cell) for cell in rows[-1]))
        console.print(table_or_blocks(console, table, rows))
