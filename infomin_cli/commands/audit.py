"""``infomin audit FILE --attr NAME ...``: how much the embedding reveals about attributes.

Thin: parse options -> open the dataset -> :func:`infomin_cli.audit.run_audit` ->
:func:`infomin_cli.report.build_report` -> render (table or JSON) -> exit code.
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from infomin_cli.commands.options import (
    AttrKindOpt,
    AttrsFileOpt,
    EmbColOpt,
    EmbColsOpt,
    FileArg,
    IdColOpt,
    StrictOpt,
    handles_input_errors,
    load_options,
)
from infomin_cli.device import DEVICE_CHOICES, resolve_device
from infomin_cli.errors import EXIT_CHECK_FAILED, InputError


class Format(str, Enum):
    table = "table"
    json = "json"


class AggregationOpt(str, Enum):
    pairwise = "pairwise"
    joint = "joint"


def _positive(name: str, value: int | None, minimum: int = 1) -> None:
    if value is not None and value < minimum:
        raise InputError(f"{name} {value}: must be at least {minimum}")


def _interactive() -> bool:
    """Progress bars only for a person at a terminal (never in pipes, CI logs or JSON)."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def _progress(enabled: bool):
    """A rich progress bar on stderr, or a no-op when quiet."""
    if not enabled:
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True), transient=True)


@handles_input_errors
def audit(
    file: FileArg,
    attr: Annotated[list[str], typer.Option("--attr", metavar="NAME",
                    help="Attribute column to audit; repeatable.")],
    emb_col: EmbColOpt = None,
    emb_cols: EmbColsOpt = None,
    attrs: AttrsFileOpt = None,
    id_col: IdColOpt = None,
    attr_kind: AttrKindOpt = None,
    strict: StrictOpt = False,
    estimators: Annotated[str, typer.Option(
        "--estimators", help="Comma-separated: sliced, linear, rho.")] = "sliced,linear,rho",
    slices: Annotated[int, typer.Option("--slices", help="Random 1-D slices S.")] = 100,
    order: Annotated[int, typer.Option("--order", help="tanh polynomial order K.")] = 3,
    aggregation: Annotated[AggregationOpt, typer.Option(
        "--aggregation", help="pairwise: max over slice pairs (the paper); joint: one CCA "
        "over all slices (the reference code).")] = AggregationOpt.pairwise,
    permutations: Annotated[int, typer.Option(
        "--permutations", help="Permutations for the SI and linear p-values.")] = 1000,
    max_rows: Annotated[int | None, typer.Option(
        "--max-rows", help="Audit a seeded random subsample of this many rows.")] = None,
    rho_max_rows: Annotated[int, typer.Option(
        "--rho-max-rows", help="Rows (seeded subsample) used to train and test ρ*.")] = 50_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed for slices, splits, subsamples.")] = 0,
    device: Annotated[str, typer.Option(
        "--device", help="auto (CUDA when present), cpu or cuda.")] = "auto",
    alpha: Annotated[float, typer.Option(
        "--alpha", help="Fail an attribute when a permutation p-value (SI, linear) is below "
        "alpha/m for m tests run (0: off).")] = 0.01,
    fail_above: Annotated[list[str] | None, typer.Option(
        "--fail-above", metavar="[EST=]X",
        help="Fail when an estimate exceeds X: '0.1' (SI) or 'rho=0.2', 'linear=0.1'; "
             "repeatable.")] = None,
    fmt: Annotated[Format, typer.Option(
        "--format", help="table, or JSON only on stdout.")] = Format.table,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE", help="Also write the JSON report here (atomically).")]
        = None,
) -> None:
    """Sliced dependence (with a permutation p-value), linear leakage and neural ρ* per attribute.

    Exit codes: 0 every attribute passes, 1 a threshold is crossed, 2 bad input.
    """
    from dataclasses import replace

    from infomin_cli.audit import AuditConfig, run_audit
    from infomin_cli.io import open_dataset
    from infomin_cli.output import write_json_atomic
    from infomin_cli.report import build_report
    from infomin_cli.rho import RhoConfig
    from infomin_cli.sliced import SlicedConfig
    from infomin_cli.thresholds import (
        Thresholds,
        check_alpha,
        parse_estimators,
        parse_fail_above,
    )

    # Validate every option before reading anything.
    names = parse_estimators(estimators)
    thresholds = Thresholds(alpha=check_alpha(alpha), fail_above=parse_fail_above(fail_above))
    for est in thresholds.fail_above:
        if est not in names:
            raise InputError(f"--fail-above {est}=...: estimator {est!r} is not in --estimators")
    _positive("--slices", slices)
    _positive("--order", order)
    _positive("--permutations", permutations, 0)
    tests = [t for t in ("sliced", "linear") if t in names]
    if tests and thresholds.alpha > 0 and permutations >= 0:
        level = thresholds.alpha / len(tests)
        if 1.0 / (permutations + 1) >= level:
            need = int(len(tests) / thresholds.alpha)
            raise InputError(
                f"--permutations {permutations}: the smallest possible p-value, "
                f"1/{permutations + 1}, is not below alpha/{len(tests)} = {level:g}, so no "
                f"attribute could ever fail; use --permutations {need} or more (or --alpha 0)"
            )
    _positive("--max-rows", max_rows, 50)
    _positive("--rho-max-rows", rho_max_rows, 50)
    if device.lower() not in DEVICE_CHOICES and not device.lower().startswith("cuda:"):
        raise InputError(f"--device {device!r}: expected one of {', '.join(DEVICE_CHOICES)}")
    resolved = resolve_device(device)
    if len(set(attr)) != len(attr):
        raise InputError("--attr: an attribute is named twice")
    options = load_options(emb_col, emb_cols, attrs, id_col, attr_kind, strict)
    inputs = tuple(Path(p) for p in (file, attrs) if p)
    if output is not None:
        out_dir = Path(output).resolve().parent
        if not out_dir.is_dir():
            raise InputError(f"--output {output}: directory {str(out_dir)!r} does not exist")
        for src in inputs:
            if src.exists() and src.resolve() == Path(output).resolve():
                raise InputError(f"--output {output}: refusing to overwrite an input file")

    source = open_dataset(file, attr, options)
    config = AuditConfig(
        estimators=names,
        sliced=SlicedConfig(slices=slices, order=order, aggregation=aggregation.value,
                            permutations=permutations),
        rho=RhoConfig(max_rows=rho_max_rows),
        max_rows=max_rows,
        seed=seed,
        device=str(resolved),
    )
    config = replace(config, sliced=replace(config.sliced, seed=seed, device=str(resolved)))

    show = fmt == Format.table and _interactive()
    with _progress(show) as progress:
        on_rows = on_epoch = None
        if progress is not None:
            n_total = min(source.n_rows, max_rows or source.n_rows)
            if "sliced" in names or "linear" in names:
                rows_task = progress.add_task("sliced + linear: rows", total=n_total)
                on_rows = lambda done, total: progress.update(rows_task, completed=done)  # noqa: E731
            tasks: dict[str, int] = {}

            def on_epoch(name: str, epoch: int, max_epochs: int, val: float) -> None:
                if name not in tasks:
                    tasks[name] = progress.add_task(f"ρ* {name}: epochs", total=max_epochs)
                progress.update(tasks[name], completed=epoch)

        result = run_audit(source, config, thresholds, on_rows=on_rows, on_epoch=on_epoch)

    input_info = {
        "path": str(file),
        "format": source.format,
        "files": len(source.files),
        "embedding": source.emb_desc,
        "attrs_file": attrs,
        "id_col": id_col,
        "n_rows_read": source.n_rows_read,
        "dropped_missing": source.dropped,
        "subsampled_rows": result.subsampled_rows,
        "device": str(resolved),
    }
    report = build_report(result, input_info=input_info)
    if output is not None:
        write_json_atomic(output, report, inputs=inputs)
    if fmt == Format.json:
        typer.echo(json.dumps(report, indent=2))
    else:
        from infomin_cli.render_audit import render_audit

        render_audit(report)
    if result.verdict == "fail":
        raise typer.Exit(EXIT_CHECK_FAILED)


def register(app: typer.Typer) -> None:
    """Add ``audit`` to ``app`` (idempotent)."""
    if any(c.name == "audit" for c in app.registered_commands):
        return
    app.command("audit")(audit)
