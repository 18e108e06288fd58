"""Reports: the JSON-ready dict built from typed results, and its rich renderings.

* :func:`build_report` -- an :class:`~infomin_cli.pipeline.audit.AuditResult` -> plain dict
* :func:`check_report` -- one check's report, for :func:`~infomin_cli.pipeline.check.run_checks`
* :func:`render_audit`, :func:`render_inspect` -- tables on a terminal
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from infomin_cli._lazy import lazy_exports

__all__ = ["build_report", "check_report", "render_audit", "render_inspect", "result_fields"]
__getattr__, __dir__ = lazy_exports(__name__, {
    "build_report": "infomin_cli.report.build:build_report",
    "check_report": "infomin_cli.report.build:check_report",
    "result_fields": "infomin_cli.report.build:result_fields",
    "render_audit": "infomin_cli.report.render_audit:render_audit",
    "render_inspect": "infomin_cli.report.render_inspect:render_inspect",
})

if TYPE_CHECKING:
    from infomin_cli.report.build import build_report, check_report, result_fields
    from infomin_cli.report.render_audit import render_audit
    from infomin_cli.report.render_inspect import render_inspect
