"""``infomin check`` as a library call: every check of a configuration, audited, compared with
a baseline run, and one verdict.

A check fails when its audit fails or, with a baseline run holding the same check, when
:func:`~infomin_cli.pipeline.baseline.compare` finds a significant rise; the run fails when
any check fails. The run's JSON (:meth:`CheckRun.to_json`) is what ``infomin check --output``
writes and what ``--baseline`` reads back::

    {"infomin_version", "config", "verdict": "pass" | "fail",
     "checks": {NAME: {"verdict", "input", "report": <audit report>, "baseline"?: <compare>}}}

The audit report of each check is built by the caller's ``report`` function (the report layer
comes after the pipeline): :func:`~infomin_cli.report.build.check_report` is what
``infomin check`` passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from infomin_cli._version import __version__
from infomin_cli.io.source import DatasetSource, open_dataset
from infomin_cli.pipeline.audit import AuditResult, run_audit
from infomin_cli.pipeline.baseline import compare
from infomin_cli.pipeline.check_config import Check, CheckConfig

#: ``report(check, source, audit) -> dict``: the JSON audit report of one check
ReportFn = Callable[[Check, DatasetSource, AuditResult], dict]
#: ``on_progress(check_name, rows_done, rows_total)`` while a check's rows are read
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CheckOutcome:
    """One check: its audit, its report, the comparison with the baseline (``None`` when the
    baseline run has no such check, or there is no baseline) and its verdict."""

    name: str
    input: str
    audit: AuditResult
    report: dict[str, Any]
    baseline: dict[str, Any] | None
    files: tuple[str, ...]

    @property
    def verdict(self) -> str:
        rose = self.baseline is not None and self.baseline["verdict"] == "fail"
        return "fail" if rose else self.audit.verdict

    @property
    def rises(self) -> list[dict[str, Any]]:
        """The baseline comparisons that rose significantly."""
        return [c for c in (self.baseline or {}).get("comparisons", []) if c["rose"]]

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"verdict": self.verdict, "input": self.input,
                                 "report": self.report}
        if self.baseline is not None:
            entry["baseline"] = self.baseline
        return entry


@dataclass(frozen=True)
class CheckRun:
    """Every check of one run, in configuration order."""

    config: str
    checks: tuple[CheckOutcome, ...]
    version: str = __version__

    @property
    def verdict(self) -> str:
        return "fail" if any(c.verdict == "fail" for c in self.checks) else "pass"

    @property
    def files(self) -> tuple[str, ...]:
        """Every file read, check by check."""
        return tuple(f for c in self.checks for f in c.files)

    def __getitem__(self, name: str) -> CheckOutcome:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {"infomin_version": self.version, "config": self.config,
                "verdict": self.verdict,
                "checks": {c.name: c.to_json() for c in self.checks}}


def run_check(check: Check, *, report: ReportFn, baseline: dict | None = None,
              on_progress: ProgressFn | None = None) -> CheckOutcome:
    """Audit one check and compare it with ``baseline`` (a :meth:`CheckRun.to_json` dict)."""
    source = open_dataset(check.input, check.attributes, check.load)
    on_rows = None
    if on_progress is not None:
        def on_rows(done: int, total: int) -> None:
            on_progress(check.name, done, total)
    result = run_audit(source, check.config, check.policy, on_rows=on_rows)
    rep = report(check, source, result)
    cmp = None
    if baseline is not None and check.name in baseline["checks"]:
        cmp = compare(rep, baseline["checks"][check.name]["report"], alpha=check.policy.alpha,
                      correction=check.policy.correction)
    return CheckOutcome(check.name, check.input, result, rep, cmp, tuple(source.files))


def run_checks(config: CheckConfig, *, report: ReportFn, baseline: dict | None = None,
               only: Sequence[str] | None = None, on_progress: ProgressFn | None = None,
               on_check: Callable[[CheckOutcome], None] | None = None) -> CheckRun:
    """Run every check of ``config`` (or those named in ``only``), one after the other.

    ``baseline``: an earlier run's JSON (:meth:`CheckRun.to_json`); ``on_check(outcome)`` is
    called as each check finishes.
    """
    outcomes = []
    for check in config.select(list(only) if only else None):
        outcome = run_check(check, report=report, baseline=baseline, on_progress=on_progress)
        outcomes.append(outcome)
        if on_check is not None:
            on_check(outcome)
    return CheckRun(str(config.path), tuple(outcomes))
