"""Run the audit estimators over a :class:`~infomin_cli.io.Source`.

Data flows one way: the source streams embedding batches; every attribute's accumulator of
every streamed estimator takes each batch (one pass, bounded memory, on the engine of
:mod:`infomin_cli.engine`); the other estimators run on a seeded subsample; the
:class:`~infomin_cli.pipeline.policy.Policy` turns the numbers into verdicts. Which estimators
stream and which subsample is read from :mod:`infomin_cli.estimators.registry`. No rendering
here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from infomin_cli.attributes import Attribute
from infomin_cli.engine import stream
from infomin_cli.errors import InputError, NotEstimable
from infomin_cli.estimators.registry import REGISTRY, spec
from infomin_cli.estimators.result import NotEstimated, not_estimable_line
from infomin_cli.inputs import ArrayLike, AttributeLike, as_attributes, as_embeddings
from infomin_cli.io.source import DatasetSource, InMemorySource, Source
from infomin_cli.pipeline.audit_config import AuditConfig
from infomin_cli.pipeline.policy import Decision, FamilyTest, Policy
from infomin_cli.records import Tabular, plain, result_fields
from infomin_cli.stats.fullsample import min_p
from infomin_cli.stats.standardize import Standardizer

RowsFn = Callable[[int, int], None]  # (rows done, rows total)
#: (attribute, epoch, total, val corr); total: max epochs, or the epochs run at the last epoch
EpochFn = Callable[[str, int, int, float], None]


#: A class with fewer rows than this is reported as too rare to test on its own; a class
#: attribute needs two classes with at least this many rows to be estimable at all.
MIN_CLASS_ROWS = 5
#: The verdict of an attribute that no estimator could estimate: neither a pass nor a fail.
NOT_ESTIMABLE = "not_estimable"
#: attribute -> estimator -> why it could not estimate
Missing = dict[str, dict[str, NotEstimated]]


@dataclass(frozen=True)
class AttributeAudit(Tabular):
    name: str
    kind: str
    n_classes: int | None
    #: registry name -> result, in registry order; an estimator that did not run (or could not
    #: estimate) is absent
    estimates: dict[str, Any]
    #: ``pass``, ``fail``, or :data:`NOT_ESTIMABLE` when no estimator could estimate
    verdict: str
    #: why it failed, then which estimators could not estimate and why
    reasons: tuple[str, ...]
    decided_by: tuple[str, ...] = ()
    tests: tuple[FamilyTest, ...] = ()
    notes: tuple[str, ...] = ()
    #: registry name -> why that estimator could not estimate (absent from ``estimates``)
    not_estimable: dict[str, NotEstimated] = field(default_factory=dict)

    def report_entry(self) -> dict[str, Any]:
        """The attribute's block of the JSON report (JSON-safe; each estimator's block is
        its result's :meth:`~infomin_cli.records.Tabular.to_dict`)."""
        entry: dict[str, Any] = {"kind": self.kind}
        if self.n_classes is not None:
            entry["n_classes"] = self.n_classes
        entry["verdict"] = self.verdict
        entry["reasons"] = list(self.reasons)
        entry["decided_by"] = list(self.decided_by)
        entry["tests"] = [plain(t.to_json()) for t in self.tests]
        entry["notes"] = list(self.notes)
        for est in REGISTRY:
            if est in self.estimates:
                entry[spec(est).block] = result_fields(self.estimates[est])
            elif est in self.not_estimable:
                entry[spec(est).block] = self.not_estimable[est].to_json()
        return entry

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.report_entry()}

    def rows(self) -> list[dict[str, Any]]:
        """One record per estimator that ran (registry order): its value, noise floor,
        interval and p-value, the adjusted p-value of the family member that holds it, and
        the attribute's verdict; ``not_estimable`` says why an estimator has no value."""
        adjusted = {e: t.p_adjusted for t in self.tests for e in t.estimators}
        out = []
        for est in REGISTRY:
            r = self.estimates.get(est)
            if r is None and est not in self.not_estimable:
                continue
            ci = getattr(r, "ci", None)
            out.append(plain({
                "attribute": self.name, "kind": self.kind, "n_classes": self.n_classes,
                "estimator": est, "value": getattr(r, "value", None),
                "null_mean": getattr(r, "null_mean", None),
                "null_q95": getattr(r, "null_q95", None),
                "ci_low": None if ci is None else ci[0], "ci_high": None if ci is None else ci[1],
                "p_value": getattr(r, "p_value", None), "p_adjusted": adjusted.get(est),
                "n_eval": getattr(r, "n_eval", None), "verdict": self.verdict,
                "decided": est in self.decided_by,
                "not_estimable": (self.not_estimable[est].reason
                                  if est in self.not_estimable else None)}))
        return out


@dataclass(frozen=True)
class AuditResult(Tabular):
    """An audit's outcome. ``to_dict()``: the JSON report without its ``infomin_version`` and
    ``input`` blocks; ``to_frame()``: one row per attribute and estimator
    (:meth:`AttributeAudit.rows`)."""

    attributes: dict[str, AttributeAudit]
    #: ``fail`` when an attribute fails; :data:`NOT_ESTIMABLE` when none could be estimated
    verdict: str
    n_rows: int
    dim: int
    seed: int
    estimators: tuple[str, ...]
    policy: Policy
    subsampled_rows: int | None  # rows used when max_rows subsampled, else None
    #: the embedding standardiser, for the report: robust or not, the clip, and how many
    #: calibration values were beyond it (None when only rho* ran)
    standardization: dict | None = None
    #: the device the estimators ran on (``auto`` resolved)
    device: str = "cpu"
    #: where the streaming pass ran (``local`` or ``ray``: :mod:`infomin_cli.engine`)
    engine: str = "local"


    def to_dict(self) -> dict[str, Any]:
        out = result_fields(self, skip=("attributes", "policy"))
        out["thresholds"] = plain(self.policy.to_json())
        out["attributes"] = {k: a.report_entry() for k, a in self.attributes.items()}
        return out

    def rows(self) -> list[dict[str, Any]]:
        return [r for a in self.attributes.values() for r in a.rows()]


@contextmanager
def _naming(where: str, attr: str, estimator: str) -> Iterator[None]:
    """Data an estimator cannot use (too few rows, a bad value) is bad input: one line naming
    the file, the attribute and the estimator. :class:`NotEstimable` passes through."""
    try:
        yield
    except NotEstimable:
        raise
    except InputError as exc:
        raise InputError(f"{where}: attribute {attr!r}: {exc}") from exc
    except ValueError as exc:
        text = str(exc)
        prefix = f"{estimator}: "
        raise InputError(f"{where}: attribute {attr!r}: {prefix}{text.removeprefix(prefix)}"
                         ) from exc


def _skip(missing: Missing, attr: str, estimator: str, exc: NotEstimable) -> None:
    """Record that ``estimator`` could not estimate ``attr`` (the message without its label)."""
    prefix = f"{spec(estimator).label}: "
    missing[attr][estimator] = NotEstimated(str(exc).removeprefix(prefix))


def _streamed(source: Source, config: AuditConfig, on_rows: RowsFn | None, missing: Missing
              ) -> tuple[dict[str, dict[str, Any]], dict | None]:
    """One pass over the embeddings feeding the accumulators of every attribute not already
    in ``missing`` (where those that cannot estimate are recorded):
    ``({estimator: {attribute: result}}, the standardiser's report block)``."""
    names = config.streamed
    if not names:
        return {}, None
    n, seed, where = source.n_rows, config.seed, source.path
    cal_idx = source.sample_indices(config.calibration_rows, seed)
    std = Standardizer.fit_embeddings(source.sample(config.calibration_rows, seed), seed=seed)
    if std.dead.all():
        raise InputError(f"{where}: every embedding dimension is constant (on {std.n_sample:,} "
                         "sampled rows): there is nothing to audit")
    shared = {e: spec(e).accumulator.shared(source.dim, config.of(e), std, seed) for e in names}
    accumulators: dict[str, dict[str, Any]] = {e: {} for e in names}
    for name, attr in source.attributes.items():
        for e in names:
            if e in missing[name]:
                continue
            try:
                with _naming(where, name, spec(e).label):
                    accumulators[e][name] = spec(e).accumulator(
                        source.dim, attr.take(cal_idx), config.of(e), std, n, seed=seed,
                        device=config.device, **shared[e])
            except NotEstimable as exc:
                _skip(missing, name, e, exc)
    if any(accumulators.values()):
        stream(source, accumulators, config.batch_rows, on_rows, engine=config.engine)
    results: dict[str, dict[str, Any]] = {e: {} for e in names}
    for e in names:
        for k, a in accumulators[e].items():
            try:
                with _naming(where, k, spec(e).label):
                    results[e][k] = a.result()
            except NotEstimable as exc:
                _skip(missing, k, e, exc)
    info = {"method": "winsorised" if std.robust else "mean/std", "clip": std.clip,
            "calibration_rows": std.n_sample, "extreme_values": std.n_extreme,
            "fenced_values": std.n_fenced, "dead_dims": int(std.dead.sum())}
    return results, info


def _subsampled(source: Source, config: AuditConfig, estimator: str, on_epoch: EpochFn | None,
                notes: dict[str, list[str]], missing: Missing) -> dict[str, Any]:
    """``estimator`` on a seeded subsample of its config's ``max_rows`` rows, per attribute
    (those in ``missing`` from the start are skipped; those it cannot estimate are added)."""
    s, cfg = spec(estimator), config.of(estimator)
    rows = cfg.max_rows if cfg.max_rows is not None else source.n_rows
    idx = source.sample_indices(rows, config.seed)
    z = source.sample(rows, config.seed)
    run_cfg = replace(cfg, max_rows=None)
    out: dict[str, Any] = {}
    for name, attr in source.attributes.items():
        if estimator in missing[name]:
            continue  # the attribute admits no estimate at all (recorded before)
        cb = None
        if on_epoch is not None:
            cb = (lambda nm: (lambda e, m, v: on_epoch(nm, e, m, v)))(name)
        try:
            with _naming(source.path, name, s.label):
                res = s.function(z, attr.take(idx), run_cfg, seed=config.seed,
                                 device=config.device, progress=cb)
        except NotEstimable as exc:
            _skip(missing, name, estimator, exc)
            continue
        # The subsample was drawn here: report it against the rows available.
        out[name] = replace(res, n_rows=source.n_rows, subsampled=len(idx) < source.n_rows)
        notes[name].extend(out[name].notes)
    return out


def family_members(results: dict[str, Any]) -> list[FamilyTest]:
    """An attribute's tests in the audit's family (``results``: estimator -> result or None,
    in registry order). The estimators with a joint null (the registry's ``joint_null``) whose
    full-sample test ran on the same permutations are one member, combined exactly by min-p
    (power of the better test, no Bonferroni factor between tests of the same rows); every
    other test is a member of its own."""
    ran = [(e, r) for e, r in results.items() if r is not None]
    joint = [(e, r) for e, r in ran if spec(e).joint_null and r.full_null is not None]
    if len(joint) < 2 or len({r.full_null.null.numel() for _, r in joint}) != 1:
        joint = []
    out: list[FamilyTest] = []
    for e, r in ran:
        if joint and e == joint[0][0]:
            out.append(FamilyTest(tuple(j for j, _ in joint),
                                  min_p([x.full_null for _, x in joint])))
        elif all(e != j for j, _ in joint) and r.p_value is not None:
            out.append(FamilyTest((e,), r.p_value))
    return out


def _class_counts(attr: Attribute) -> list[tuple[Any, int]]:
    """``(class, rows)`` of a class attribute, most rows first (empty for other kinds)."""
    if attr.classes is None:
        return []
    counts = np.bincount(attr.values, minlength=len(attr.classes))
    return sorted(((c, int(k)) for c, k in zip(attr.classes, counts)), key=lambda ck: -ck[1])


def _unestimable(attr: Attribute) -> str | None:
    """Why no estimator can measure the class attribute ``attr``, or None.

    Rule: two classes need at least ``MIN_CLASS_ROWS`` rows each. With fewer, what any
    estimator reads is where a handful of rows sit in Z, not a property of the attribute, and
    whether its held-out rows hold the handful is chance: none, and the attribute is constant
    there, so the held-out correlation is undefined -- not 0, as it used to be reported. A
    rarer class beside two such classes is kept (its rows count; a note says it is too rare to
    test on its own)."""
    counts = _class_counts(attr)
    if not counts or sum(k >= MIN_CLASS_ROWS for _, k in counts) >= 2:
        return None
    shown = ", ".join(f"{c!r}: {k:,}" for c, k in counts[:4]) + (", ..." if len(counts) > 4 else "")
    return (f"fewer than two classes have {MIN_CLASS_ROWS} or more rows (rows per class: "
            f"{shown})")


def _class_notes(attr: Attribute) -> list[str]:
    rare = [(c, k) for c, k in _class_counts(attr) if k < MIN_CLASS_ROWS]
    return [f"class {c!r} has {k} row{'s' if k != 1 else ''}: too rare to test on its own "
            f"(fewer than {MIN_CLASS_ROWS}); its rows are kept" for c, k in rare]


def run_audit(source: Source, config: AuditConfig = AuditConfig(), policy: Policy = Policy(),
              *, on_rows: RowsFn | None = None, on_epoch: EpochFn | None = None) -> AuditResult:
    """Audit every attribute of ``source``: the streamed estimators in one pass, then the
    others on a subsample; the verdict adjusts every test of every attribute as one family
    (``policy``)."""
    from infomin_cli.stats.device import resolve_device

    config = replace(config, device=str(resolve_device(config.device)))
    data: Source = source
    subsampled = None
    if config.max_rows is not None and config.max_rows < source.n_rows:
        data = InMemorySource.subsample(source, config.max_rows, config.seed)
        subsampled = data.n_rows
    elif (source.n_rows <= config.calibration_rows and not isinstance(source, InMemorySource)
          and config.engine == "local"):
        # The calibration sample would be the whole file: read it once, not twice.
        data = InMemorySource(source.embeddings(), source.attributes, source.path)
    missing: Missing = {k: {} for k in data.attributes}
    notes: dict[str, list[str]] = {k: [] for k in data.attributes}
    for k, a in data.attributes.items():
        why = _unestimable(a)
        if why is None:
            notes[k] = _class_notes(a)
        else:  # no estimator runs on it
            missing[k] = {e: NotEstimated(why) for e in config.estimators}
    per_estimator, std_info = _streamed(data, config, on_rows, missing)
    for e in config.subsampled:
        per_estimator[e] = _subsampled(data, config, e, on_epoch, notes, missing)

    results = {k: {e: per_estimator.get(e, {}).get(k) for e in REGISTRY}
               for k in data.attributes}
    decisions = policy.decide(results, {k: family_members(r) for k, r in results.items()})
    audits = {name: _attribute_audit(name, attr, results[name], decisions[name], notes[name],
                                      missing[name])
              for name, attr in data.attributes.items()}
    # only a dataset on disk streams on Ray (see infomin_cli.engine.stream)
    engine = config.engine if config.streamed and isinstance(data, DatasetSource) else "local"
    return AuditResult(audits, _overall(audits), source.n_rows, source.dim, config.seed,
                       config.estimators, policy, subsampled, std_info, config.device, engine)


def _attribute_audit(name: str, attr: Attribute, results: dict[str, Any], decision: Decision,
                     notes: list[str], missing: dict[str, NotEstimated]) -> AttributeAudit:
    """One attribute's audit: the policy's decision on the estimates, and a note per cause
    that left estimators without an estimate (``SI, linear: not estimable: ...``; ``reasons``
    stay the reasons of a failure). Those never decide: with no estimate at all the verdict is
    :data:`NOT_ESTIMABLE`, neither pass nor fail."""
    estimates = {k: v for k, v in results.items() if v is not None}
    missing = {e: missing[e] for e in REGISTRY if e in missing}
    labels: dict[str, list[str]] = {}
    for e, m in missing.items():
        labels.setdefault(m.reason, []).append(spec(e).label)
    notes = [*(not_estimable_line(", ".join(names), why) for why, names in labels.items()),
             *notes]
    verdict = decision.verdict if estimates else NOT_ESTIMABLE
    return AttributeAudit(name, attr.kind, attr.n_classes, estimates, verdict,
                          decision.reasons, decision.decided_by, decision.tests, tuple(notes),
                          missing)


def _overall(audits: dict[str, AttributeAudit]) -> str:
    """``fail`` when an attribute fails; :data:`NOT_ESTIMABLE` when no attribute could be
    estimated (no pass by default); else ``pass``."""
    verdicts = {a.verdict for a in audits.values()}
    if "fail" in verdicts:
        return "fail"
    return NOT_ESTIMABLE if verdicts == {NOT_ESTIMABLE} else "pass"


def audit_arrays(Z: ArrayLike, attributes: AttributeLike, config: AuditConfig = AuditConfig(),
                 policy: Policy = Policy(), *, kinds: dict[str, str] | None = None
                 ) -> AuditResult:
    """:func:`run_audit` of in-memory embeddings ``Z`` (n, d) and attributes.

    ``Z``: an array, tensor, DataFrame or Arrow table; ``attributes``: Attributes, a dict
    name -> values, a DataFrame of attribute columns, or one array / Series
    (:mod:`infomin_cli.inputs`: kinds inferred as the command line infers them, ``kinds``
    overrides them by name)."""
    z = as_embeddings(Z)
    attrs = as_attributes(attributes, len(z), kinds=kinds)
    return run_audit(InMemorySource(z, {a.name: a for a in attrs}), config, policy)
