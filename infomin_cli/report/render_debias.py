"""Rendering of a debias run: the before -> after table on a terminal, and the trade-off plot."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from infomin_cli.debias.projection_file import sidecar_path
from infomin_cli.debias.run import MEASURED, DebiasRun
from infomin_cli.estimators.registry import spec
from infomin_cli.io.writers import PathLike
from infomin_cli.report.plot import TradeoffPoint, tradeoff_plot
from infomin_cli.report.terminal import fits, make_console


def render_debias(run: DebiasRun, projection: PathLike, out: PathLike | None = None,
                  console: Console | None = None) -> None:
    """One row per attribute (remove) and target (keep): each measured estimator, before ->
    after (on a narrow terminal, one block per column); then the notes and where the
    projection was saved."""
    console = console or make_console()
    title = f"before → after, {len(run.held_out):,} held-out rows"
    table = Table(title=title, title_justify="left")
    for head in ("column", "role"):
        table.add_column(head, justify="left", no_wrap=True)
    for name in MEASURED:
        table.add_column(spec(name).symbol, justify="right", no_wrap=True)
    cells = {name: [f"{run.before[name][k]:.3f} → {run.after[name][k]:.3f}"
                    for k in MEASURED.values()]
             for name in (*run.attributes, *run.targets)}
    for name, row in cells.items():
        table.add_row(escape(name), _role(run, name), *row)
    if fits(console, table):
        console.print(table)
    else:  # a narrow terminal: one block per column, every number in full
        console.print(title, markup=False, highlight=False)
        for name, row in cells.items():
            console.print(Text.assemble((name, "bold"), f"  {_role(run, name)}"))
            lines = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
            lines.add_column(no_wrap=True)
            lines.add_column(justify="right", no_wrap=True, overflow="fold")
            for est, cell in zip(MEASURED, row):
                lines.add_row(spec(est).symbol, cell)
            console.print(Padding(lines, (0, 0, 0, 2), expand=False))
    lines = [held_out_line(run.held_out_summary())]
    lines += [f"note: {note}" for note in run.notes]
    lines.append(f"projection saved to {projection} (+ {sidecar_path(projection).name})"
                 + (f"; cleaned embeddings in {out}" if out else ""))
    for line in lines:  # wrapped between words to the terminal's width
        console.print(line, markup=False, highlight=False, emoji=False)


def _role(run: DebiasRun, name: str) -> str:
    return "remove" if name in run.attributes else "keep"


def held_out_line(summary: dict) -> str:
    """One line of what a projection was measured to do on its held-out rows (the sidecar's
    ``held_out`` block): leakage, utility, and the --max-leakage asked."""
    line = (f"held-out ({summary['rows']:,} rows): leakage rho* {summary['leakage']:.3f}, "
            f"utility {summary['utility_measure']} "
            + ("-" if summary["utility"] is None else f"{summary['utility']:.3f}"))
    if summary.get("max_leakage") is not None:
        verdict = "met" if summary.get("met") else "NOT met"
        line += f"; --max-leakage {summary['max_leakage']:g} {verdict}"
    return line


def draw_tradeoff(path: PathLike, run: DebiasRun, inputs: tuple = ()) -> Path:
    """Leakage (max rho* of the attributes) against utility (min rho* of the targets, or the
    reconstruction R^2) of every fit of ``run``, and of the original embedding."""
    points = [TradeoffPoint(run.method, f"β={t['beta']:g}" if t["beta"] is not None else "",
                            t["rho"], t["utility"]) for t in run.tradeoff()]
    refs = {}
    if run.targets:
        points.append(TradeoffPoint("original embedding", "", run.leakage(run.before),
                                    run.utility(run.before)))
        refs["original utility"] = points[-1].utility
    ylabel = ("min ρ* of the targets ↑" if run.targets
              else "reconstruction R² of the embedding ↑")
    return tradeoff_plot(path, points, xlabel="max ρ* of the attributes ↓", ylabel=ylabel,
                         title=("leakage vs utility (validation rows): remove "
                                f"{', '.join(run.attributes)}"),
                         references=refs, inputs=inputs)
