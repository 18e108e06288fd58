"""Reports: the JSON-ready dict built from typed results, and its rich renderings.

* :func:`build_report` -- an :class:`~infomin_cli.pipeline.audit.AuditResult` -> plain dict
* :func:`check_report` -- one check's report, for :func:`~infomin_cli.pipeline.check.run_checks`
* :func:`render_audit`, :func:`render_inspect` -- tables on a terminal
"""

# Eager: these modules are light (rich, numpy; no torch), and two names here are also
# submodules (``render_audit``, ``render_inspect``): binding the functions after the submodules
# are imported keeps ``from infomin_cli.report import render_audit`` the function.
from infomin_cli.report.build import build_report, check_report, result_fields
from infomin_cli.report.render_audit import render_audit
from infomin_cli.report.render_inspect import render_inspect

__all__ = ["build_report", "check_report", "render_audit", "render_inspect", "result_fields"]
