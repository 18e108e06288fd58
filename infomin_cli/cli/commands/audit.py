"""``infomin audit FILE --attr NAME ...``: how much the embedding reveals about attributes.

Thin: flags -> :func:`~infomin_cli.pipeline.config.audit_settings` -> open the dataset ->
:func:`~infomin_cli.pipeline.audit.run_audit` -> :func:`~infomin_cli.report.build_report` ->
render (table or JSON) -> exit code.
"""

from __future__ import annotations

import json

import typer

from infomin_cli.cli.audit_options import (
    AggregationChoice,
    AggregationOpt,
    AlphaOpt,
    AuditAttrOpt,
    AuditOutputOpt,
    CorrectionChoice,
    CorrectionOpt,
    DeviceOpt,
    EstimatorsOpt,
    FailAboveOpt,
    MaxRowsOpt,
    OrderOpt,
    PermutationsOpt,
    RankTransformOpt,
    RhoMaxRowsOpt,
    SeedOpt,
    SlicesOpt,
)
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
    FormatOpt,
    HtmlOpt,
    IdColOpt,
    QuietOpt,
    StrictOpt,
    check_html_path,
    check_outputs,
    handles_input_errors,
    load_options,
)
from infomin_cli.cli.progress import audit_progress, interactive, progress_bar, stage
from infomin_cli.errors import InputError
from infomin_cli.pipeline.config import DEFAULTS

D = DEFAULTS


@handles_input_errors
def audit(
    file: FileArg,
    attr: AuditAttrOpt,
    emb_col: EmbColOpt = None,
    emb_cols: EmbColsOpt = None,
    attrs: AttrsFileOpt = None,
    id_col: IdColOpt = None,
    attr_kind: AttrKindOpt = None,
    strict: StrictOpt = False,
    estimators: EstimatorsOpt = D["estimators"],
    slices: SlicesOpt = D["slices"],
    order: OrderOpt = D["order"],
    aggregation: AggregationOpt = AggregationChoice(D["aggregation"]),
    permutations: PermutationsOpt = D["permutations"],
    max_rows: MaxRowsOpt = D["max_rows"],
    rho_max_rows: RhoMaxRowsOpt = D["rho_max_rows"],
    seed: SeedOpt = D["seed"],
    device: DeviceOpt = D["device"],
    alpha: AlphaOpt = D["alpha"],
    correction: CorrectionOpt = CorrectionChoice(D["correction"]),
    fail_above: FailAboveOpt = None,
    rank_transform: RankTransformOpt = D["rank_transform"],
    fmt: FormatOpt = Format.table,
    output: AuditOutputOpt = None,
    html: HtmlOpt = None,
    engine: EngineOpt = Engine(D["engine"]),
    quiet: QuietOpt = False,
) -> None:
    """Sliced dependence (with a permutation p-value), linear leakage and neural ρ* per attribute.

    Exit codes: 0 every attribute passes, 1 a check failed (a leak), 2 bad usage or input,
    3 internal error.
    """
    from infomin_cli.io import open_dataset, write_atomic, write_json_atomic
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
    check_html_path(html)
    check_outputs({"--output": output, "--html": html}, inputs)  # never over an input

    with progress_bar(interactive(quiet)) as progress:  # on stderr: any --format
        stage(progress, f"reading {file}")
        source = open_dataset(file, attr, options)
        stage(progress, "loading torch")
        from infomin_cli.pipeline.audit import run_audit  # torch: only once the input is read

        stage(progress, None)
        on_rows, on_epoch = audit_progress(progress, config,
                                           min(source.n_rows, max_rows or source.n_rows))
        result = run_audit(source, config, policy, on_rows=on_rows, on_epoch=on_epoch)

    report = build_report(result, input_info=source_info(source, str(file), attrs, id_col,
                                                         result))
    if output is not None:
        write_json_atomic(output, report, inputs=inputs, input_files=tuple(source.files))
    if html is not None:
        from infomin_cli.report.html import audit_html

        write_atomic(html, audit_html(report), inputs=inputs, input_files=tuple(source.files))
    if fmt == Format.json:
        typer.echo(json.dumps(report, indent=2))
    else:
        from infomin_cli.report import render_audit

        render_audit(report)
    if result.verdict == "fail":
        raise typer.Exit(EXIT_CHECK_FAILED)
