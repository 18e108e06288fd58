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
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from infomin_cli.attributes import Attribute
from infomin_cli.engine import stream
from infomin_cli.errors import InputError, NotEstimable
from infomin_cli.estimators.registry import REGISTRY, spec
from infomin_cli.io.source import InMemorySource, Source
from infomin_cli.pipeline.audit_config import AuditConfig
from infomin_cli.pipeline.policy import FamilyTest, Policy
from infomin_cli.stats.fullsample import min_p
from infomin_cli.stats.standardize import Standardizer

RowsFn = Callable[[int, int], None]  # (rows done, rows total)
EpochFn = Callable[[str, int, int, float], None]  # (attribute, epoch, max epochs, val corr)


#: A class with fewer rows than this is reported as too rare to test on its own.
MIN_CLASS_ROWS = 5


@dataclass(frozen=True)
class AttributeAudit:
    name: str
    kind: str
    n_classes: int | None
    #: registry name -> result, in registry order; an estimator that did not run (or could not
    #: estimate) is absent
    estimates: dict[str, Any]
    verdict: str
    reasons: tuple[str, ...]
    decided_by: tuple[str, ...] = ()
    tests: tuple[FamilyTest, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditResult:
    attributes: dict[str, AttributeAudit]
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


def _streamed(source: Source, config: AuditConfig, on_rows: RowsFn | None
              ) -> tuple[dict[str, dict[str, Any]], dict | None]:
    """One pass over the embeddings feeding every attribute's accumulators:
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
            with _naming(where, name, spec(e).label):
                accumulators[e][name] = spec(e).accumulator(
                    source.dim, attr.take(cal_idx), config.of(e), std, n, seed=seed,
                    device=config.device, **shared[e])
    stream(source, accumulators, config.batch_rows, on_rows, engine=config.engine)
    results: dict[str, dict[str, Any]] = {e: {} for e in names}
    for e in names:
        for k, a in accumulators[e].items():
            with _naming(where, k, spec(e).label):
                results[e][k] = a.result()
    info = {"method": "winsorised" if std.robust else "mean/std", "clip": std.clip,
            "calibration_rows": std.n_sample, "extreme_values": std.n_extreme,
            "dead_dims": int(std.dead.sum())}
    return results, info


def _subsampled(source: Source, config: AuditConfig, estimator: str, on_epoch: EpochFn | None,
                notes: dict[str, list[str]]) -> dict[str, Any]:
    """``estimator`` on a seeded subsample of its config's ``max_rows`` rows, per attribute."""
    s, cfg = spec(estimator), config.of(estimator)
    rows = cfg.max_rows if cfg.max_rows is not None else source.n_rows
    idx = source.sample_indices(rows, config.seed)
    z = source.sample(rows, config.seed)
    run_cfg = replace(cfg, max_rows=None)
    out: dict[str, Any] = {}
    for name, attr in source.attributes.items():
        cb = None
        if on_epoch is not None:
            cb = (lambda nm: (lambda e, m, v: on_epoch(nm, e, m, v)))(name)
        try:
            with _naming(source.path, name, s.label):
                res = s.function(z, attr.take(idx), run_cfg, seed=config.seed,
                                 device=config.device, progress=cb)
        except NotEstimable as exc:
            notes[name].append(f"{exc}: no {s.label} for this attribute")
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


def _class_notes(attr: Attribute) -> list[str]:
    if attr.classes is None:
        return []
    counts = np.bincount(attr.values, minlength=len(attr.classes))
    rare = [(c, int(k)) for c, k in zip(attr.classes, counts) if k < MIN_CLASS_ROWS]
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
    notes = {k: _class_notes(a) for k, a in data.attributes.items()}
    per_estimator, std_info = _streamed(data, config, on_rows)
    for e in config.subsampled:
        per_estimator[e] = _subsampled(data, config, e, on_epoch, notes)

    results = {k: {e: per_estimator.get(e, {}).get(k) for e in REGISTRY}
               for k in data.attributes}
    decisions = policy.decide(results, {k: family_members(r) for k, r in results.items()})
    audits: dict[str, AttributeAudit] = {}
    for name, attr in data.attributes.items():
        d = decisions[name]
        estimates = {k: v for k, v in results[name].items() if v is not None}
        audits[name] = AttributeAudit(name, attr.kind, attr.n_classes, estimates, d.verdict,
                                      d.reasons, d.decided_by, d.tests, tuple(notes[name]))
    overall = "fail" if any(a.verdict == "fail" for a in audits.values()) else "pass"
    return AuditResult(audits, overall, source.n_rows, source.dim, config.seed,
                       config.estimators, policy, subsampled, std_info, config.device)


def audit_arrays(Z, attributes: dict[str, Attribute] | list[Attribute],
                 config: AuditConfig = AuditConfig(), policy: Policy = Policy()) -> AuditResult:
    """:func:`run_audit` of in-memory embeddings ``Z`` (n, d) and attributes."""
    if not isinstance(attributes, dict):
        attributes = {a.name: a for a in attributes}
    return run_audit(InMemorySource(Z, attributes), config, policy)
