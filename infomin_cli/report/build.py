"""The machine-readable audit report (a plain dict, JSON-ready) built from typed results.

Schema (fields other tools may rely on; more may be added):
``{"infomin_version", "input": {...}, "n_rows", "dim", "seed", "engine", "verdict",
   "thresholds": {"alpha", "fail_above"}, "estimators": [...],
   "attributes": {NAME: {"kind", "n_classes"?, "verdict", "reasons",
       "sliced": {"value", "p_value", "null_mean", "null_q95", "ci", "aggregation",
                  "slices", "order", "permutations", ...},
       "linear": {"value", "ci", ...},
       "rho_star": {"value", "ci", "n_train", "n_test", "device", "epochs", ...}}}}``

An estimator that could not estimate an attribute has the block ``{"value": null,
"not_estimable": REASON}`` (and a line in ``reasons``); an attribute no estimator could
estimate has the verdict ``"not_estimable"`` (and so has the report when no attribute could be
estimated): neither a pass nor a fail. ``engine``: where the streaming pass ran (``local`` or
``ray``). The input's ``path`` and ``attrs_file`` are shown as
:func:`~infomin_cli.pipeline.shown_path.shown_path` shows them: relative to the working
directory when under it, an object-storage URI redacted.
"""

from __future__ import annotations

from typing import Any

from infomin_cli._version import __version__
from infomin_cli.pipeline.shown_path import shown_path
from infomin_cli.records import plain as _plain
from infomin_cli.records import result_fields  # noqa: F401 (infomin_cli.report exports it)


def build_report(audit: Any, *, input_info: dict[str, Any]) -> dict[str, Any]:
    """``audit`` is an :class:`infomin_cli.pipeline.audit.AuditResult`."""
    attrs = {name: a.report_entry() for name, a in audit.attributes.items()}
    return {
        "infomin_version": __version__,
        "input": _plain(input_info),
        "n_rows": audit.n_rows,
        "dim": audit.dim,
        "seed": audit.seed,
        "engine": audit.engine,
        "verdict": audit.verdict,
        "standardization": audit.standardization,
        "thresholds": audit.policy.to_json(),
        "estimators": list(audit.estimators),
        "attributes": attrs,
    }


def source_info(source: Any, path: str, attrs_file: str | None, id_col: str | None,
                audit: Any) -> dict[str, Any]:
    """The report's ``input`` block for a :class:`~infomin_cli.io.DatasetSource` (the paths
    as :func:`~infomin_cli.pipeline.shown_path.shown_path` shows them)."""
    return {
        "path": shown_path(path),
        "format": source.format,
        "files": len(source.files),
        "embedding": source.emb_desc,
        "attrs_file": shown_path(attrs_file),
        "id_col": id_col,
        "n_rows_read": source.n_rows_read,
        "dropped_missing": source.dropped,
        "subsampled_rows": audit.subsampled_rows,
        "device": audit.device,
    }


def check_report(check: Any, source: Any, result: Any) -> dict[str, Any]:
    """The audit report of one check of ``infomin check`` (a
    :class:`~infomin_cli.pipeline.check_config.Check`), as ``infomin audit`` writes it: the
    ``report`` argument of :func:`~infomin_cli.pipeline.check.run_checks`."""
    return build_report(result, input_info=source_info(
        source, check.input, check.load.attrs_file, check.load.id_col, result))
