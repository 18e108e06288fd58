"""``infomin check``: the CI gate -- every audit of a config file, with CI-friendly reports.

Thin: flags -> config (:mod:`~infomin_cli.pipeline.check_config`) -> the run
(:func:`~infomin_cli.pipeline.check.run_checks`: one audit per check, baseline comparison,
verdict) -> tables, JUnit / Markdown / JSON (:mod:`~infomin_cli.report`) -> exit code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infomin_cli.cli.exit_codes import EXIT_CHECK_FAILED
from infomin_cli.cli.options import (
    Format,
    FormatOpt,
    HtmlOpt,
    QuietOpt,
    check_html_path,
    check_outputs,
    handles_input_errors,
)
from infomin_cli.cli.progress import CheckBars, interactive
from infomin_cli.errors import InputError

if TYPE_CHECKING:
    from infomin_cli.pipeline.check import CheckOutcome


@handles_input_errors
def check(
    config: Annotated[str | None, typer.Option(
        "--config", metavar="FILE", help="infomin.toml or pyproject.toml; default: the nearest "
        "one, walking up from the working directory.")] = None,
    only: Annotated[list[str] | None, typer.Option(
        "--only", metavar="NAME", help="Run only this check; repeatable.")] = None,
    junit_xml: Annotated[str | None, typer.Option(
        "--junit-xml", metavar="FILE", help="JUnit XML: one testcase per check and attribute.")]
        = None,
    markdown: Annotated[str | None, typer.Option(
        "--markdown", metavar="FILE", help="A Markdown summary (also appended to "
        "$GITHUB_STEP_SUMMARY when that is set).")] = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE", help="The JSON report (the audit's schema per check).")]
        = None,
    baseline: Annotated[str | None, typer.Option(
        "--baseline", metavar="FILE", help="An earlier JSON report: fail when leakage rose "
        "significantly since.")] = None,
    update_baseline: Annotated[bool, typer.Option(
        "--update-baseline", help="Write this run's report to --baseline (atomically).")] = False,
    exit_zero: Annotated[bool, typer.Option(
        "--exit-zero", help="Report, but exit 0 even when a check fails.")] = False,
    html: HtmlOpt = None,
    fmt: FormatOpt = Format.table,
    quiet: QuietOpt = False,
) -> None:
    """Run every check of the configuration (or --only NAME) and gate on the results.

    Exit codes: 0 all pass, 1 a check failed (a leak, or leakage rose above the baseline),
    2 configuration or input error, 3 internal error.
    """
    from infomin_cli.io import write_atomic, write_json_atomic
    from infomin_cli.pipeline.baseline import load_baseline
    from infomin_cli.pipeline.check_config import load_config
    from infomin_cli.report.build import check_report
    from infomin_cli.report.junit import junit_xml as to_junit
    from infomin_cli.report.markdown import markdown_summary
    from infomin_cli.report.render_check import check_summary_line, render_check

    cfg = load_config(config)
    checks = cfg.select(only)
    if update_baseline and baseline is None:
        raise InputError("--update-baseline needs --baseline FILE (where to write it)")
    inputs = tuple(str(x) for c in checks for x in (c.input, c.load.attrs_file) if x)
    inputs += (str(cfg.path),) + ((baseline,) if baseline and not update_baseline else ())
    check_html_path(html)
    check_outputs({"--junit-xml": junit_xml, "--markdown": markdown, "--output": output,
                   "--html": html,
                   "--baseline": baseline if update_baseline else None}, inputs)
    old = load_baseline(baseline) if baseline is not None and not (
        update_baseline and not Path(baseline).exists()) else None

    def shown(outcome: CheckOutcome) -> None:
        bars.close()
        for warning in outcome.warnings:
            typer.echo(f"warning: {warning}", err=True)
        if fmt == Format.table:
            render_check(outcome.name, outcome.report, outcome.rises, baseline=outcome.baseline)

    from infomin_cli.pipeline.check import run_checks  # torch: only once the config is valid

    bars = CheckBars(interactive(quiet), {c.name: c.config for c in checks})
    try:
        result = run_checks(cfg, report=check_report, baseline=old, only=only,
                            on_progress=bars.update, on_epoch=bars.epoch, on_check=shown)
    finally:
        bars.close()
    run = result.to_json()

    files = result.files
    if junit_xml is not None:
        write_atomic(junit_xml, to_junit(run), inputs=inputs, input_files=files)
    summary = markdown_summary(run) if markdown is not None or os.environ.get(
        "GITHUB_STEP_SUMMARY") else None
    if markdown is not None:
        write_atomic(markdown, summary, inputs=inputs, input_files=files)
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        with open(step, "a", encoding="utf-8") as fh:
            fh.write(summary + "\n")
    if output is not None:
        write_json_atomic(output, run, inputs=inputs, input_files=files)
    if html is not None:
        from infomin_cli.report.html import check_html

        write_atomic(html, check_html(run), inputs=inputs, input_files=files)
    if update_baseline:
        write_json_atomic(baseline, run, inputs=inputs, input_files=files)
    if fmt == Format.json:
        typer.echo(json.dumps(run, indent=2))
    else:
        typer.echo(check_summary_line(run["verdict"], len(checks), cfg.path))
    if result.verdict == "fail" and not exit_zero:
        raise typer.Exit(EXIT_CHECK_FAILED)
