"""``infomin audit FILE --attr NAME ...``: how much the embedding reveals about attributes.

Thin: flags -> :func:`~infomin_cli.pipeline.config.audit_settings` -> open the dataset ->
:func:`~infomin_cli.pipeline.audit.run_audit` -> :func:`~infomin_cli.report.build_report` ->
render (table or JSON) -> exit code.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, get_args

import typer

from infomin_cli.cli.exit_codes import EXIT_CHECK_FAILED
from infomin_cli.cli.options import (
    AttrKindOpt,
    AttrsFileOpt,
    EmbColOpt,
    EmbColsOpt,
    Engine,
    EngineOpt,
    FileArg,
    Format,
    IdColOpt,
    StrictOpt,
    handles_input_errors,
    load_options,
)
from infomin_cli.cli.progress import interactive, progress_bar
from infomin_cli.errors import InputError
from infomin_cli.estimators.registry import BARE_THRESHOLD, NAMES, REGISTRY
from infomin_cli.pipeline.config import DEFAULTS
from infomin_cli.pipeline.policy import CORRECTIONS
from infomin_cli.stats.cca import Aggregation

AggregationOpt = Enum("AggregationOpt", {a: a for a in get_args(Aggregation)}, type=str)
CorrectionOpt = Enum("CorrectionOpt", {c: c for c in CORRECTIONS}, type=str)

_NAMES = ", ".join(NAMES[:-1]) + f" or {NAMES[-1]}"
_SYMBOLS = ", ".join(s.symbol for s in REGISTRY.values())


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
        "--estimators", help=f"Comma-separated: {', '.join(NAMES)}.")] = DEFAULTS["estimators"],
    slices: Annotated[int, typer.Option(
        "--slices", help="Random 1-D slices S.")] = DEFAULTS["slices"],
    order: Annotated[int, typer.Option(
        "--order", help="tanh polynomial order K.")] = DEFAULTS["order"],
    aggregation: Annotated[AggregationOpt, typer.Option(
        "--aggregation", help="pairwise: max over slice pairs (the paper); joint: one CCA "
        "over all slices (the reference code).")] = AggregationOpt(DEFAULTS["aggregation"]),
    permutations: Annotated[int | None, typer.Option(
        "--permutations", show_default="auto: enough for alpha over all tests, at least 1000",
        help=f"Permutations for every p-value ({_SYMBOLS}).")] = DEFAULTS["permutations"],
    max_rows: Annotated[int | None, typer.Option(
        "--max-rows", help="Audit a seeded random subsample of this many rows.")]
        = DEFAULTS["max_rows"],
    rho_max_rows: Annotated[int, typer.Option(
        "--rho-max-rows", help="Rows (seeded subsample) used to train and test ρ*.")]
        = DEFAULTS["rho_max_rows"],
    seed: Annotated[int, typer.Option(
        "--seed", help="Seed for slices, splits, subsamples.")] = DEFAULTS["seed"],
    device: Annotated[str, typer.Option(
        "--device", help="auto (CUDA when present), cpu or cuda.")] = DEFAULTS["device"],
    alpha: Annotated[float, typer.Option(
        "--alpha", help="Fail an attribute when one of its adjusted p-values is at most alpha; "
        "every test of every attribute is one family (0: off).")] = DEFAULTS["alpha"],
    correction: Annotated[CorrectionOpt, typer.Option(
        "--correction", help="Multiple-testing adjustment over the family.")]
        = CorrectionOpt(DEFAULTS["correction"]),
    fail_above: Annotated[list[str] | None, typer.Option(
        "--fail-above", metavar="EST[:BOUND]=X",
        help="Fail when an estimator's number exceeds X: 'rho=0.2' compares the lower 95% "
             "bound (default), 'rho:point=0.2' the estimate, 'rho:upper=0.2' the upper bound; "
             f"EST is {_NAMES} (a bare '0.1' means {BARE_THRESHOLD}); repeatable.")] = None,
    rank_transform: Annotated[bool, typer.Option(
        "--rank-transform/--no-rank-transform",
        help="Continuous attributes enter SI and ρ* through their normal scores.")]
        = DEFAULTS["rank_transform"],
    fmt: Annotated[Format, typer.Option(
        "--format", help="table, or JSON only on stdout.")] = Format.table,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE", help="Also write the JSON report here (atomically).")]
        = None,
    engine: EngineOpt = Engine(DEFAULTS["engine"]),
) -> None:
    """Sliced dependence (with a permutation p-value), linear leakage and neural ρ* per attribute.

    Exit codes: 0 every attribute passes, 1 a check failed (a leak), 2 bad usage or input,
    3 internal error.
    """
    from infomin_cli.io import open_dataset, write_json_atomic
    from infomin_cli.io.writers import check_output_path
    from infomin_cli.pipeline.audit import run_audit
    from infomin_cli.pipeline.config import audit_settings
    from infomin_cli.report import build_report
    from infomin_cli.report.build import source_info

    # Validate every option before reading anything.
    config, policy = audit_settings({
        "estimators": estimators, "slices": slices, "order": order,
        "aggregation": aggregation.value, "permutations": permutations, "max_rows": max_rows,
        "rho_max_rows": rho_max_rows, "seed": seed, "device": device, "alpha": alpha,
        "correction": correction.value, "fail_above": fail_above or [],
        "rank_transform": rank_transform, "engine": engine.value,
    }, attributes=len(set(attr)))
    if len(set(attr)) != len(attr):
        raise InputError("--attr: an attribute is named twice")
    options = load_options(emb_col, emb_cols, attrs, id_col, attr_kind, strict)
    inputs = tuple(p for p in (file, attrs) if p)
    if output is not None:  # before reading anything: never over an input, its shards or glob
        try:
            check_output_path(output, inputs)
        except InputError as exc:
            raise InputError(f"--output {exc}") from exc

    source = open_dataset(file, attr, options)
    with progress_bar(fmt == Format.table and interactive()) as progress:
        on_rows = on_epoch = None
        if progress is not None:
            n_total = min(source.n_rows, max_rows or source.n_rows)
            if config.streamed:
                rows_task = progress.add_task(f"{' + '.join(config.streamed)}: rows",
                                              total=n_total)
                on_rows = lambda done, total: progress.update(rows_task, completed=done)  # noqa: E731
            tasks: dict[str, int] = {}

            def on_epoch(name: str, epoch: int, max_epochs: int, val: float) -> None:
                if name not in tasks:
                    what = " + ".join(REGISTRY[e].symbol for e in config.subsampled)
                    tasks[name] = progress.add_task(f"{what} {name}: epochs", total=max_epochs)
                progress.update(tasks[name], completed=epoch)

        result = run_audit(source, config, policy, on_rows=on_rows, on_epoch=on_epoch)

    report = build_report(result, input_info=source_info(source, str(file), attrs, id_col,
                                                         result, config.device))
    if output is not None:
        write_json_atomic(output, report, inputs=inputs, input_files=tuple(source.files))
    if fmt == Format.json:
        typer.echo(json.dumps(report, indent=2))
    else:
        from infomin_cli.report import render_audit

        render_audit(report)
    if result.verdict == "fail":
        raise typer.Exit(EXIT_CHECK_FAILED)
