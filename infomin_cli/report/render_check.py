"""Terminal rendering of ``infomin check``: each check's audit table, its rises against the
baseline, and the closing line."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from infomin_cli.pipeline.baseline import not_tested
from infomin_cli.report.render_audit import render_audit
from infomin_cli.report.terminal import make_console


def render_check(name: str, report: dict[str, Any], rises: list[dict[str, Any]],
                 console: Console | None = None, *, baseline: dict[str, Any] | None = None
                 ) -> None:
    """One check: a header, the audit table, every estimate that rose significantly, and
    whether the ``baseline`` comparison was not tested (alpha 0)."""
    out = console or make_console(highlight=False)
    out.print(f"── check {name} ──", markup=False, soft_wrap=True)
    render_audit(report, console)
    for comp in rises:
        out.print(f"  ✗ {comp['attribute']}: {comp['estimator']} rose from {comp['old']:.3f} to "
                  f"{comp['new']:.3f} since the baseline (p={comp['p']:.2g}, adjusted "
                  f"{comp['p_adjusted']:.2g})", markup=False)
    skipped = not_tested(baseline)
    if skipped:
        out.print(f"  baseline: {skipped}", markup=False)


def check_summary_line(verdict: str, checks: int, config_path: Any) -> str:
    """``infomin check: FAIL (2 checks, config PATH)``."""
    return (f"infomin check: {'FAIL' if verdict == 'fail' else 'PASS'} ({checks} check"
            f"{'s' if checks != 1 else ''}, config {config_path})")
