"""Did leakage rise since a baseline? Comparing two audit reports, estimate by estimate.

The test. For every attribute and estimator measured in both reports with a
95% bootstrap interval, ``diff = new - old``; each estimate's standard error is read off its
percentile interval, ``se = (hi - lo) / (2 * 1.959964)`` (exact for a normal sampling
distribution); ``z = diff / sqrt(se_new**2 + se_old**2)`` -- a z-test of the difference of two
independent estimates -- and the *one-sided* p-value ``P(Z >= z)`` asks only whether leakage
rose (a fall never fails). All the comparisons of one report pair are one family, adjusted
together with the audit's correction (Holm by default); a comparison "rose" when its adjusted
p-value is at most ``alpha`` (``alpha`` 0 turns the test off, as in the audit).

Caveats. The summed variance assumes two independent estimates, so the reports should come
from independent data (a fresh sample, or disjoint rows). On shared rows the p-value is not
calibrated: the two estimates are correlated (typically positively, which makes the test
conservative for a change of model on the same rows). More important, the bootstrap intervals
resample evaluation rows only and are conditional on the fit (probe, slices, network, seed):
refitting noise is not in the SEs, so they understate the run-to-run noise and a small rise
between two fits can look significant. Treat a rise as a prompt to look, not as proof.

``compare`` returns (JSON-ready)::

    {"alpha": 0.01, "correction": "holm", "verdict": "pass" | "fail",
     "comparisons": [{"attribute": "sex", "estimator": NAME,    # a registry name
                      "old": 0.41, "new": 0.61, "diff": 0.20,
                      "z": 7.1,           # null when infinite (zero-width intervals, a rise)
                      "p": 6e-13, "p_adjusted": 4e-12, "rose": True}, ...],
     "missing": ["race", "sex (NAME)"],   # in the old report, not in the new one
     "not_compared": ["age (NAME)"]}     # in both, but an interval or value is null
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from infomin_cli.errors import InputError
from infomin_cli.estimators.registry import REGISTRY
from infomin_cli.pipeline.policy import CORRECTIONS, adjust

#: the key of :func:`compare_runs`'s result listing the new run's checks not compared
NOT_COMPARED = "_not_compared"
Z95 = 1.959964


def _se(ci: list[float]) -> float:
    return max(0.0, (ci[1] - ci[0]) / (2 * Z95))


def _z(diff: float, se_new: float, se_old: float) -> float:
    den = math.sqrt(se_new ** 2 + se_old ** 2)
    if den == 0.0:
        return math.inf if diff > 0 else 0.0
    return diff / den


def one_sided_p(z: float) -> float:
    """``P(Z >= z)`` for a standard normal ``Z``."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def _comparable(block: Any) -> bool:
    return (isinstance(block, dict) and block.get("value") is not None
            and isinstance(block.get("ci"), (list, tuple)) and len(block["ci"]) == 2
            and None not in block["ci"])


def compare(new_report: dict, old_report: dict, *, alpha: float,
            correction: str = "holm") -> dict[str, Any]:
    """Compare two audit reports (one check each); see the module docstring for the test and
    the returned dict. Attributes are taken in the new report's order, estimators in
    registry order (each read from its report block)."""
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r} (choose from "
                         f"{', '.join(CORRECTIONS)})")
    new_attrs = new_report.get("attributes") or {}
    old_attrs = old_report.get("attributes") or {}
    rows: list[dict[str, Any]] = []
    missing: list[str] = []
    not_compared: list[str] = []
    for attr, new in new_attrs.items():
        old = old_attrs.get(attr)
        if old is None:
            continue
        for est, s in REGISTRY.items():
            nb, ob = new.get(s.block), old.get(s.block)
            if ob is None:
                continue
            if nb is None:
                missing.append(f"{attr} ({est})")
            elif not (_comparable(nb) and _comparable(ob)):
                not_compared.append(f"{attr} ({est})")
            else:
                diff = float(nb["value"]) - float(ob["value"])
                z = _z(diff, _se(nb["ci"]), _se(ob["ci"]))
                rows.append({"attribute": attr, "estimator": est, "old": float(ob["value"]),
                             "new": float(nb["value"]), "diff": diff, "z": z,
                             "p": one_sided_p(z)})
    missing[:0] = [a for a in old_attrs if a not in new_attrs]
    adjusted = adjust([r["p"] for r in rows], correction)
    for r, pa in zip(rows, adjusted):
        r["p_adjusted"] = pa
        r["rose"] = bool(alpha > 0 and pa <= alpha)
        if math.isinf(r["z"]):  # keep the dict strict JSON
            r["z"] = None
    return {"alpha": alpha, "correction": correction,
            "verdict": "fail" if any(r["rose"] for r in rows) else "pass",
            "comparisons": rows, "missing": missing, "not_compared": not_compared}


def compare_runs(new_run: dict, old_run: dict, *, alpha: float,
                 correction: str = "holm") -> dict[str, Any]:
    """``{check name: compare(new, old)}`` for every check with a report in both runs (each
    check its own family, as each check is its own audit). The new run's other checks -- absent
    from the old run, or without a report in either -- are listed, in order, under the reserved
    key :data:`NOT_COMPARED` (``"_not_compared"``; always present, possibly empty): pop it before
    iterating over the checks."""
    new_checks = new_run.get("checks") or {}
    old_checks = old_run.get("checks") or {}
    if NOT_COMPARED in new_checks:
        raise ValueError(f"a check may not be named {NOT_COMPARED!r} (reserved)")
    out: dict[str, Any] = {}
    skipped: list[str] = []
    for name, check in new_checks.items():
        new_rep = (check or {}).get("report")
        old_rep = (old_checks.get(name) or {}).get("report")
        if new_rep is None or old_rep is None:
            skipped.append(name)
            continue
        out[name] = compare(new_rep, old_rep, alpha=alpha, correction=correction)
    out[NOT_COMPARED] = skipped
    return out


def load_baseline(path: str) -> dict:
    """An earlier ``infomin check`` JSON report; :class:`~infomin_cli.errors.InputError`
    naming the file when it is missing, unreadable or not such a report."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (--baseline; create one with "
                         "--update-baseline)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a report of infomin check: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("checks"), dict):
        raise InputError(f"{path}: not a report of infomin check (no 'checks' table)")
    return data
