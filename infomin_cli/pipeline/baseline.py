"""Did leakage rise since a baseline? Comparing two audit reports, estimate by estimate.

The test. For every attribute and estimator measured in both reports with a
95% bootstrap interval, ``diff = new - old``; each estimate's standard error is read off its
percentile interval, ``se = (hi - lo) / (2 * 1.959964)`` (exact for a normal sampling
distribution); ``z = diff / sqrt(se_new**2 + se_old**2)`` -- a z-test of the difference of two
independent estimates -- and the *one-sided* p-value ``P(Z >= z)`` asks only whether leakage
rose (a fall never fails). All the comparisons of one report pair are one family, adjusted
together with the audit's correction (Holm by default); a comparison "rose" when its adjusted
p-value is at most ``alpha``. With ``alpha`` 0 the comparisons are still made and reported, but
nothing is tested: the verdict is ``"not_tested"`` with its ``reason``, never a silent pass.

Caveats. The summed variance assumes two independent estimates, so the reports should come
from independent data (a fresh sample, or disjoint rows). On shared rows the p-value is not
calibrated: the two estimates are correlated (typically positively, which makes the test
conservative for a change of model on the same rows). More important, the bootstrap intervals
resample evaluation rows only and are conditional on the fit (probe, slices, network, seed):
refitting noise is not in the SEs, so they understate the run-to-run noise and a small rise
between two fits can look significant. Treat a rise as a prompt to look, not as proof.

``compare`` returns (JSON-ready)::

    {"alpha": 0.01, "correction": "holm", "verdict": "pass" | "fail" | "not_tested",
     "reason"?: "alpha = 0",              # only when not tested
     "comparisons": [{"attribute": "sex", "estimator": NAME,    # a registry name
                      "old": 0.41, "new": 0.61, "diff": 0.20,
                      "z": 7.1,           # null when infinite (zero-width intervals, a rise)
                      "p": 6e-13, "p_adjusted": 4e-12, "rose": True}, ...],
     "missing": ["race", "sex (NAME)"],   # in the old report, not in the new one
     "not_compared": ["age (NAME)"]}     # in both, but an interval or value is null

A baseline file is validated where the comparison reads it (:func:`load_baseline`): a JSON value
that is not such a report is an :class:`~infomin_cli.errors.InputError` naming the file and the
key, before anything is run or written.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from infomin_cli.errors import InputError
from infomin_cli.estimators.registry import REGISTRY
from infomin_cli.pipeline.policy import CORRECTIONS, adjust

#: the key of :func:`compare_runs`'s result listing the new run's checks not compared
NOT_COMPARED = "_not_compared"
#: the verdict of a comparison that tested nothing (``alpha`` 0)
NOT_TESTED = "not_tested"
#: the fingerprint of a check's input in its ``audited`` record: rows read, dimension, files
FINGERPRINT = ("rows", "dim", "files")
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
    out: dict[str, Any] = {"alpha": alpha, "correction": correction,
                           "verdict": "fail" if any(r["rose"] for r in rows) else "pass"}
    if alpha <= 0:
        out.update(verdict=NOT_TESTED, reason=f"alpha = {alpha:g}")
    return {**out, "comparisons": rows, "missing": missing, "not_compared": not_compared}


def not_tested(comparison: dict | None) -> str | None:
    """``not tested (alpha = 0)`` for a comparison that tested nothing, else None."""
    if comparison is None or comparison.get("verdict") != NOT_TESTED:
        return None
    return f"not tested ({comparison.get('reason', 'alpha = 0')})"


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


_FACTS = {"rows": "{:,} rows", "dim": "dim {}", "files": "{} file(s)"}


def _described(audited: dict) -> str:
    """``'e.parquet' (3,000 rows, dim 6, 1 file(s))`` and its attributes file, if any."""
    facts = [_FACTS[k].format(audited[k]) for k in FINGERPRINT if audited.get(k) is not None]
    out = repr(audited.get("input")) + (f" ({', '.join(facts)})" if facts else "")
    if audited.get("attrs_file"):
        out += f" with attributes from {audited['attrs_file']!r}"
    return out


def input_warnings(name: str, new: dict, old: dict | None) -> list[str]:
    """One line for each way the baseline's check ``name`` audited something else than the new
    run's (``audited`` records, see :func:`~infomin_cli.pipeline.check.audited`): another input
    (path, attributes file or fingerprint), other attributes. No record (a baseline written
    before inputs were recorded): no warning."""
    if old is None:
        return []
    out = []
    if any(new.get(k) != old.get(k) for k in ("input", "attrs_file", *FINGERPRINT)):
        out.append(f"check {name!r}: the baseline was made from another input: "
                   f"{_described(old)} then, {_described(new)} now; compared anyway")
    if set(new["attributes"]) != set(old["attributes"]):
        out.append(f"check {name!r}: the baseline audited other attributes: "
                   f"{old['attributes']} then, {new['attributes']} now; compared where both "
                   "have them")
    return out


def _show(value: Any) -> str:
    """A JSON value in one short line."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _at(where: str, key: str) -> str:
    """``where.key``, or ``where["odd key"]`` when the key is not a plain word."""
    if re.fullmatch(r"[A-Za-z0-9_-]+", key):
        return f"{where}.{key}" if where else key
    return f"{where}[{json.dumps(key)}]"


def _is_number(x: Any) -> bool:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:  # an int too large for a float
        return False


_KINDS = {dict: "an object", list: "a list", str: "a string", int: "an integer"}


def _get(table: dict, where: str, key: str, kind: type, *, required: bool = True) -> Any:
    """``table[key]`` when it is a ``kind`` (or, unless ``required``, absent or null)."""
    here = _at(where, key)
    value = table.get(key)
    if value is None and not required:
        return None
    if key not in table:
        raise InputError(f"{here}: missing")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InputError(f"{here}: expected {_KINDS[kind]}, got {_show(value)}")
    return value


def _check_block(block: dict, where: str) -> None:
    value = block.get("value")
    if value is not None and not _is_number(value):
        raise InputError(f"{where}.value: expected a finite number or null, got {_show(value)}")
    ci = block.get("ci")
    if ci is not None and not (isinstance(ci, list) and len(ci) == 2
                               and all(x is None or _is_number(x) for x in ci)):
        raise InputError(f"{where}.ci: expected a list of two numbers (or nulls), "
                         f"got {_show(ci)}")


def _check_audited(entry: dict, where: str) -> None:
    audited = _get(entry, where, "audited", dict, required=False)
    if audited is None:  # a baseline from before inputs were recorded
        return
    where = _at(where, "audited")
    _get(audited, where, "input", str)
    _get(audited, where, "attrs_file", str, required=False)
    attrs = _get(audited, where, "attributes", list)
    if not all(isinstance(a, str) for a in attrs):
        raise InputError(f"{where}.attributes: expected a list of names, got {_show(attrs)}")
    for key in FINGERPRINT:
        _get(audited, where, key, int, required=False)


def validate_baseline(data: Any) -> dict:
    """``data`` when it is a run of ``infomin check`` wherever :func:`compare` and the input
    warnings read it; else :class:`~infomin_cli.errors.InputError` naming the key."""
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object with a 'checks' table, got {_show(data)}")
    for name, entry in _get(data, "", "checks", dict).items():
        where = _at("checks", name)
        if not isinstance(entry, dict):
            raise InputError(f"{where}: expected an object, got {_show(entry)}")
        _check_audited(entry, where)
        report = _get(entry, where, "report", dict)
        where = _at(where, "report")
        for attr, blocks in _get(report, where, "attributes", dict).items():
            here = _at(_at(where, "attributes"), attr)
            if not isinstance(blocks, dict):
                raise InputError(f"{here}: expected an object, got {_show(blocks)}")
            for s in REGISTRY.values():
                block = _get(blocks, here, s.block, dict, required=False)
                if block is not None:
                    _check_block(block, _at(here, s.block))
    return data


def load_baseline(path: str) -> dict:
    """An earlier ``infomin check`` JSON report, validated (:func:`validate_baseline`);
    :class:`~infomin_cli.errors.InputError` naming the file when it is missing, unreadable or
    not such a report."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (--baseline; create one with "
                         "--update-baseline)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"{path}: not a report of infomin check: {exc}") from None
    try:
        return validate_baseline(data)
    except InputError as exc:
        raise InputError(f"{path}: not a report of infomin check: {exc}") from None
