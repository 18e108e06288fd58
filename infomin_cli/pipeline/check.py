"""``infomin check`` as a library call: every check of a configuration, audited, compared with
a baseline run, and one verdict.

A check fails when its audit fails or, with a baseline run holding the same check, when
:func:`~infomin_cli.pipeline.baseline.compare` finds a significant rise; the run fails when
any check fails. The run's JSON (:meth:`CheckRun.to_json`) is what ``infomin check --output``
writes and what ``--baseline`` reads back::

    {"infomin_version", "config", "verdict": "pass" | "fail",
     "checks": {NAME: {"verdict", "input", "audited": <what it audited, see audited()>,
                       "report": <audit report>, "baseline"?: <compare>,
                       "warnings"?: [the baseline audited another input, ...]}}}

The audit report of each check is built by the caller's ``report`` function (the report layer
comes after the pipeline): :func:`~infomin_cli.report.build.check_report` is what
``infomin check`` passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infomin_cli._version import __version__
from infomin_cli.io.source import DatasetSource, open_dataset
from infomin_cli.io.uri import is_uri
from infomin_cli.pipeline.audit import AuditResult, run_audit
from infomin_cli.pipeline.baseline import compare, input_warnings
from infomin_cli.pipeline.check_config import Check, CheckConfig

#: ``report(check, source, audit) -> dict``: the JSON audit report of one check
ReportFn = Callable[[Check, DatasetSource, AuditResult], dict]
#: ``on_progress(check_name, rows_done, rows_total)`` while a check's rows are read
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CheckOutcome:
    """One check: its audit, what it audited, its report, the comparison with the baseline
    (``None`` when the baseline run has no such check, or there is no baseline), the warnings of
    that comparison and its verdict."""

    name: str
    input: str
    audit: AuditResult
    report: dict[str, Any]
    baseline: dict[str, Any] | None
    files: tuple[str, ...]
    audited: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

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
                                 "audited": self.audited, "report": self.report}
        if self.baseline is not None:
            entry["baseline"] = self.baseline
        if self.warnings:
            entry["warnings"] = list(self.warnings)
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


def _as_written(path: str | None, base: Path | None) -> str | None:
    """``path`` relative to ``base`` when under it (``/`` separated), else as it is."""
    if path is None or base is None or is_uri(path):
        return path
    try:
        return Path(path).relative_to(base).as_posix()
    except ValueError:
        return path


def audited(check: Check, source: DatasetSource, base: Path | None = None) -> dict[str, Any]:
    """What ``check`` audited, for a later run to compare with: its input and attributes file
    (relative to ``base``, the config's folder, when under it: as written in the config), its
    attributes, and a fingerprint of the input that costs nothing to compute (rows read,
    embedding dimension, files)."""
    return {"input": _as_written(check.input, base),
            "attrs_file": _as_written(check.load.attrs_file, base),
            "attributes": list(check.attributes), "rows": source.n_rows_read,
            "dim": source.dim, "files": len(source.files)}


def run_check(check: Check, *, report: ReportFn, baseline: dict | None = None,
              on_progress: ProgressFn | None = None, base: Path | None = None) -> CheckOutcome:
    """Audit one check and compare it with ``baseline`` (a :meth:`CheckRun.to_json` dict, as
    :func:`~infomin_cli.pipeline.baseline.load_baseline` validates it); ``base``: the config's
    folder, which the recorded paths are relative to."""
    source = open_dataset(check.input, check.attributes, check.load)
    on_rows = None
    if on_progress is not None:
        def on_rows(done: int, total: int) -> None:
            on_progress(check.name, done, total)
    result = run_audit(source, check.config, check.policy, on_rows=on_rows)
    rep = report(check, source, result)
    record = audited(check, source, base)
    old = (baseline or {}).get("checks", {}).get(check.name)
    cmp, warnings = None, []
    if old is not None:
        cmp = compare(rep, old["report"], alpha=check.policy.alpha,
                      correction=check.policy.correction)
        warnings = input_warnings(check.name, record, old.get("audited"))
    return CheckOutcome(check.name, check.input, result, rep, cmp, tuple(source.files), record,
                        tuple(warnings))


def run_checks(config: CheckConfig, *, report: ReportFn, baseline: dict | None = None,
               only: Sequence[str] | None = None, on_progress: ProgressFn | None = None,
               on_check: Callable[[CheckOutcome], None] | None = None) -> CheckRun:
    """Run every check of ``config`` (or those named in ``only``), one after the other.

    ``baseline``: an earlier run's JSON (:meth:`CheckRun.to_json`); ``on_check(outcome)`` is
    called as each check finishes.
    """
    outcomes = []
    base = config.path.resolve().parent
    for check in config.select(list(only) if only else None):
        outcome = run_check(check, report=report, baseline=baseline, on_progress=on_progress,
                            base=base)
        outcomes.append(outcome)
        if on_check is not None:
            on_check(outcome)
    return CheckRun(str(config.path), tuple(outcomes))
