"""The machine-readable audit report (a plain dict, JSON-ready) built from typed results.

Schema (fields other tools may rely on; more may be added):
``{"infomin_version", "input": {...}, "n_rows", "dim", "seed", "verdict",
   "thresholds": {"alpha", "fail_above"}, "estimators": [...],
   "attributes": {NAME: {"kind", "n_classes"?, "verdict", "reasons",
       "sliced": {"value", "p_value", "null_mean", "null_q95", "ci", "aggregation",
                  "slices", "order", "permutations", ...},
       "linear": {"value", "ci", ...},
       "rho_star": {"value", "ci", "n_train", "n_test", "device", "epochs", ...}}}}``

An estimator that could not estimate an attribute has the block ``{"value": null,
"not_estimable": REASON}`` (and a line in ``reasons``); an attribute no estimator could
estimate has the verdict ``"not_estimable"`` (and so has the report when no attribute could be
estimated): neither a pass nor a fail.
"""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np

from infomin_cli._version import __version__
from infomin_cli.estimators.registry import REGISTRY, spec


def _plain(x: Any) -> Any:
    """Numbers, tuples and arrays to JSON-friendly values (NaN -> None)."""
    if isinstance(x, (bool, str)) or x is None:
        return x
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return None if math.isnan(x) or math.isinf(x) else x
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, np.ndarray) and x.size <= 16:
        return [_plain(v) for v in x.tolist()]
    return str(x)


def result_fields(result: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The scalar fields of a result dataclass (fitted arrays and nested fits are left out)."""
    out: dict[str, Any] = {}
    if not is_dataclass(result):
        return out
    for f in fields(result):
        if f.name in skip or f.name.startswith("_"):
            continue
        v = getattr(result, f.name)
        if is_dataclass(v) or isinstance(v, np.ndarray):  # fitted weights stay in the library
            continue
        if hasattr(v, "shape") and not isinstance(v, np.ndarray):  # torch tensors
            continue
        out[f.name] = _plain(v)
    return out


def build_report(audit: Any, *, input_info: dict[str, Any]) -> dict[str, Any]:
    """``audit`` is an :class:`infomin_cli.pipeline.audit.AuditResult`."""
    attrs: dict[str, Any] = {}
    for name, a in audit.attributes.items():
        entry: dict[str, Any] = {"kind": a.kind}
        if a.n_classes is not None:
            entry["n_classes"] = a.n_classes
        entry["verdict"] = a.verdict
        entry["reasons"] = list(a.reasons)
        entry["decided_by"] = list(a.decided_by)
        entry["tests"] = [t.to_json() for t in a.tests]
        entry["notes"] = list(a.notes)
        for est in REGISTRY:
            if est in a.estimates:
                entry[spec(est).block] = result_fields(a.estimates[est])
            elif est in a.not_estimable:
                entry[spec(est).block] = a.not_estimable[est].to_json()
        attrs[name] = entry
    return {
        "infomin_version": __version__,
        "input": _plain(input_info),
        "n_rows": audit.n_rows,
        "dim": audit.dim,
        "seed": audit.seed,
        "verdict": audit.verdict,
        "standardization": audit.standardization,
        "thresholds": audit.policy.to_json(),
        "estimators": list(audit.estimators),
        "attributes": attrs,
    }


def source_info(source: Any, path: str, attrs_file: str | None, id_col: str | None,
                audit: Any) -> dict[str, Any]:
    """The report's ``input`` block for a :class:`~infomin_cli.io.DatasetSource`."""
    return {
        "path": path,
        "format": source.format,
        "files": len(source.files),
        "embedding": source.emb_desc,
        "attrs_file": attrs_file,
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
