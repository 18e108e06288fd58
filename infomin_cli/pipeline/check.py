"""``infomin check`` as a library call: every check of a configuration, audited, compared with
a baseline run, and one verdict.

A check fails when its audit fails or, with a baseline run holding the same check, when
:func:`~infomin_cli.pipeline.baseline.compare` finds a significant rise; the run fails when
any check fails. The run's JSON (:meth:`CheckRun.to_json`) is what ``infomin check --output``
writes and what ``--baseline`` reads back::

    {"infomin_version", "config", "verdict": "pass" | "fail", "started_at", "duration_s",
     "checks": {NAME: {"verdict", "input", "started_at", "duration_s",
                       "audited": <what it audited, see audited()>,
                       "report": <audit report>, "baseline"?: <compare>,
                       "warnings"?: [the baseline audited another input, ...]}}}

``started_at``: when the run (the check) started, ISO 8601 in UTC; ``duration_s``: the seconds
it took (the check's: reading its input, auditing, comparing with the baseline), measured with
:func:`time.perf_counter`. ``config`` and ``input`` are shown as
:func:`~infomin_cli.pipeline.shown_path.shown_path` shows them (relative to the working
directory when under it), as the audit report shows its input.

The audit report of each check is built by the caller's ``report`` function (the report layer
comes after the pipeline): :func:`~infomin_cli.report.build.check_report` is what
``infomin check`` passes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from infomin_cli._version import __version__
from infomin_cli.io.source import DatasetSource, open_dataset
from infomin_cli.io.uri import is_uri
from infomin_cli.pipeline.audit import AuditResult, run_audit
from infomin_cli.pipeline.baseline import compare, input_warnings
from infomin_cli.pipeline.check_config import Check, CheckConfig
from infomin_cli.pipeline.shown_path import shown_path

#: ``report(check, source, audit) -> dict``: the JSON audit report of one check
ReportFn = Callable[[Check, DatasetSource, AuditResult], dict]
#: ``on_progress(check_name, rows_done, rows_total)`` while a check's rows are read
ProgressFn = Callable[[str, int, int], None]
#: ``on_epoch(check_name, attribute, epoch, total, value)`` while rho* trains (see EpochFn)
CheckEpochFn = Callable[[str, str, int, int, float], None]


@dataclass(frozen=True)
class CheckOutcome:
    """One check: its audit, what it audited, its report, the comparison with the baseline
    (``None`` when the baseline run has no such check, or there is no baseline), the warnings of
    that comparison, its verdict, when it started (ISO 8601, UTC) and how many seconds it
    took."""

    name: str
    input: str
    audit: AuditResult
    report: dict[str, Any]
    baseline: dict[str, Any] | None
    files: tuple[str, ...]
    audited: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    started_at: str | None = None
    seconds: float | None = None

    @property
    def verdict(self) -> str:
        rose = self.baseline is not None and self.baseline["verdict"] == "fail"
        return "fail" if rose else self.audit.verdict

    @property
    def rises(self) -> list[dict[str, Any]]:
        """The baseline comparisons that rose significantly."""
        return [c for c in (self.baseline or {}).get("comparisons", []) if c["rose"]]

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"verdict": self.verdict, "input": shown_path(self.input),
                                 **_timing(self.started_at, self.seconds),
                                 "audited": self.audited, "report": self.report}
        if self.baseline is not None:
            entry["baseline"] = self.baseline
        if self.warnings:
            entry["warnings"] = list(self.warnings)
        return entry


@dataclass(frozen=True)
class CheckRun:
    """Every check of one run, in configuration order; when it started (ISO 8601, UTC) and how
    many seconds it took."""

    config: str
    checks: tuple[CheckOutcome, ...]
    version: str = __version__
    started_at: str | None = None
    seconds: float | None = None

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
        return {"infomin_version": self.version, "config": shown_path(self.config),
                "verdict": self.verdict, **_timing(self.started_at, self.seconds),
                "checks": {c.name: c.to_json() for c in self.checks}}


def utc_now() -> str:
    """The current time, ISO 8601 in UTC to the second (``2025-01-31T12:00:00+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _timing(started_at: str | None, seconds: float | None) -> dict[str, Any]:
    """The JSON's ``started_at`` and ``duration_s`` (those known)."""
    out: dict[str, Any] = {}
    if started_at is not None:
        out["started_at"] = started_at
    if seconds is not None:
        out["duration_s"] = round(seconds, 6)
    return out


def _as_written(path: str | None, base: Path | None) -> str | None:
    """``path`` relative to ``base`` (``/`` separated, ``../`` when outside it: as a config
    writes it, the same on every machine), else as it is (a URI, another drive)."""
    if path is None or base is None or is_uri(path):
        return path
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:
        return path


def audited(check: Check, source: DatasetSource, base: Path | None = None) -> dict[str, Any]:
    """What ``check`` audited, for a later run to compare with: its input and attributes file
    (relative to ``base``, the config's folder: as written in the config), its
    attributes, and a fingerprint of the input that costs nothing to compute (rows read,
    embedding dimension, files)."""
    return {"input": _as_written(check.input, base),
            "attrs_file": _as_written(check.load.attrs_file, base),
            "attributes": list(check.attributes), "rows": source.n_rows_read,
            "dim": source.dim, "files": len(source.files)}


def run_check(check: Check, *, report: ReportFn, baseline: dict | None = None,
              on_progress: ProgressFn | None = None, base: Path | None = None,
              on_epoch: CheckEpochFn | None = None) -> CheckOutcome:
    """Audit one check and compare it with ``baseline`` (a :meth:`CheckRun.to_json` dict, as
    :func:`~infomin_cli.pipeline.baseline.load_baseline` validates it); ``base``: the config's
    folder, which the recorded paths are relative to."""
    started_at, t0 = utc_now(), time.perf_counter()
    source = open_dataset(check.input, check.attributes, check.load)
    on_rows = epochs = None
    if on_progress is not None:
        def on_rows(done: int, total: int) -> None:
            on_progress(check.name, done, total)
    if on_epoch is not None:
        def epochs(attribute: str, epoch: int, total: int, value: float) -> None:
            on_epoch(check.name, attribute, epoch, total, value)
    result = run_audit(source, check.config, check.policy, on_rows=on_rows, on_epoch=epochs)
    rep = report(check, source, result)
    record = audited(check, source, base)
    old = (baseline or {}).get("checks", {}).get(check.name)
    cmp, warnings = None, []
    if old is not None:
        cmp = compare(rep, old["report"], alpha=check.policy.alpha,
                      correction=check.policy.correction)
        warnings = input_warnings(check.name, record, old.get("audited"))
    return CheckOutcome(check.name, check.input, result, rep, cmp, tuple(source.files), record,
                        tuple(warnings), started_at, time.perf_counter() - t0)


def run_checks(config: CheckConfig, *, report: ReportFn, baseline: dict | None = None,
               only: Sequence[str] | None = None, on_progress: ProgressFn | None = None,
               on_check: Callable[[CheckOutcome], None] | None = None,
               on_epoch: CheckEpochFn | None = None) -> CheckRun:
    """Run every check of ``config`` (or those named in ``only``), one after the other.

    ``baseline``: an earlier run's JSON (:meth:`CheckRun.to_json`); ``on_check(outcome)`` is
    called as each check finishes; ``on_progress`` and ``on_epoch`` follow its audit.
    """
    started_at, t0 = utc_now(), time.perf_counter()
    outcomes = []
    base = config.path.resolve().parent
    for check in config.select(list(only) if only else None):
        outcome = run_check(check, report=report, baseline=baseline, on_progress=on_progress,
                            base=base, on_epoch=on_epoch)
        outcomes.append(outcome)
        if on_check is not None:
            on_check(outcome)
    return CheckRun(str(config.path), tuple(outcomes), started_at=started_at,
                    seconds=time.perf_counter() - t0)
