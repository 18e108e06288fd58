"""Run the audit estimators over a :class:`~infomin_cli.io.Source`.

Data flows one way: the source streams embedding batches; every attribute's sliced and
linear accumulators take each batch (one pass, bounded memory; the Z slices are drawn once and
projected once per batch for all attributes); rho* trains on a seeded subsample; the
:class:`~infomin_cli.pipeline.policy.Policy` turns the numbers into verdicts. No rendering here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from infomin_cli.attributes import Attribute
from infomin_cli.errors import InputError, NotEstimable
from infomin_cli.estimators.linear import LinearAccumulator, LinearConfig, LinearResult
from infomin_cli.estimators.rho import RhoConfig, RhoResult, rho_star
from infomin_cli.estimators.sliced import SlicedAccumulator, SlicedConfig, SlicedResult
from infomin_cli.io.source import DatasetSource, InMemorySource, Source
from infomin_cli.pipeline.policy import ESTIMATORS, FamilyTest, Policy
from infomin_cli.stats.fullsample import min_p
from infomin_cli.stats.standardize import DEFAULT_SAMPLE_ROWS, Standardizer

RowsFn = Callable[[int, int], None]  # (rows done, rows total)
EpochFn = Callable[[str, int, int, float], None]  # (attribute, epoch, max epochs, val corr)


@dataclass(frozen=True)
class AuditConfig:
    """What to run. ``seed`` and ``device`` are set here once and passed to every estimator;
    the estimator configs hold only their own settings."""

    estimators: tuple[str, ...] = ESTIMATORS
    sliced: SlicedConfig = field(default_factory=SlicedConfig)
    linear: LinearConfig = field(default_factory=LinearConfig)
    rho: RhoConfig = field(default_factory=RhoConfig)
    max_rows: int | None = None  # seeded subsample for every estimator
    seed: int = 0
    device: str = "auto"
    calibration_rows: int = DEFAULT_SAMPLE_ROWS
    #: where the streaming pass runs: "local" (this process) or "ray" (Ray Data blocks on a
    #: cluster, merged here; :mod:`infomin_cli.engine.ray_engine`). Same report either way.
    engine: str = "local"


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
              ) -> tuple[dict[str, SlicedResult], dict[str, LinearResult], dict | None]:
    """One pass over the embeddings feeding every attribute's accumulators."""
    want_sliced = "sliced" in config.estimators
    want_linear = "linear" in config.estimators
    if not (want_sliced or want_linear):
        return {}, {}, None
    n, seed, where = source.n_rows, config.seed, source.path
    cal_idx = source.sample_indices(config.calibration_rows, seed)
    std = Standardizer.fit_embeddings(source.sample(config.calibration_rows, seed), seed=seed)
    if std.dead.all():
        raise InputError(f"{where}: every embedding dimension is constant (on {std.n_sample:,} "
                         "sampled rows): there is nothing to audit")
    slicer = SlicedAccumulator.draw_slicer(source.dim, config.sliced, std, seed) if want_sliced else None
    sliced_acc: dict[str, SlicedAccumulator] = {}
    linear_acc: dict[str, LinearAccumulator] = {}
    for name, attr in source.attributes.items():
        if want_sliced:
            with _naming(where, name, "SI"):
                sliced_acc[name] = SlicedAccumulator(
                    source.dim, attr.take(cal_idx), config.sliced, std, n,
                    seed=seed, device=config.device, slicer=slicer)
        if want_linear:
            with _naming(where, name, "linear"):
                linear_acc[name] = LinearAccumulator(source.dim, attr.take(cal_idx),
                                                     config.linear, std, n, seed=seed,
                                                     device=config.device)
    if config.engine == "ray" and isinstance(source, DatasetSource):
        from infomin_cli.engine.ray_engine import accumulate

        accumulate(source, sliced_acc, linear_acc, config.sliced.batch_rows, on_rows)
    else:
        _local_pass(source, sliced_acc, linear_acc, config.sliced.batch_rows, on_rows)
    sliced, linear = {}, {}
    for k, a in sliced_acc.items():
        with _naming(where, k, "SI"):
            sliced[k] = a.result()
    for k, a in linear_acc.items():
        with _naming(where, k, "linear"):
            linear[k] = a.result()
    info = {"method": "winsorised" if std.robust else "mean/std", "clip": std.clip,
            "calibration_rows": std.n_sample, "extreme_values": std.n_extreme,
            "dead_dims": int(std.dead.sum())}
    return sliced, linear, info


def update_accumulators(batch, offset: int, values: dict[str, np.ndarray],
                        sliced_acc: dict[str, SlicedAccumulator],
                        linear_acc: dict[str, LinearAccumulator]) -> None:
    """Feed one batch (rows ``offset ..``; ``values[name]`` the attribute rows of the batch)
    to every accumulator. Attributes share the Z side: the batch is projected once for every
    sliced accumulator. The local pass and the Ray workers both call this."""
    lead = next(iter(sliced_acc.values()), None)
    u = lead.project(batch) if lead is not None else None
    for name, vals in values.items():
        if name in sliced_acc:
            sliced_acc[name].update_projected(u, vals, offset)
        if name in linear_acc:
            linear_acc[name].update(batch, vals, offset)


def _local_pass(source: Source, sliced_acc: dict[str, SlicedAccumulator],
                linear_acc: dict[str, LinearAccumulator], batch_rows: int,
                on_rows: RowsFn | None) -> None:
    n, offset = source.n_rows, 0
    for batch in source.iter_embeddings(batch_rows):
        stop = offset + len(batch)
        values = {k: a.values[offset:stop] for k, a in source.attributes.items()}
        update_accumulators(batch, offset, values, sliced_acc, linear_acc)
        offset = stop
        if on_rows is not None:
            on_rows(offset, n)


def _rho(source: Source, config: AuditConfig, on_epoch: EpochFn | None,
         notes: dict[str, list[str]]) -> dict[str, RhoResult]:
    rows = config.rho.max_rows if config.rho.max_rows is not None else source.n_rows
    idx = source.sample_indices(rows, config.seed)
    z = source.sample(rows, config.seed)
    rcfg = replace(config.rho, max_rows=None)
    out: dict[str, RhoResult] = {}
    for name, attr in source.attributes.items():
        cb = None
        if on_epoch is not None:
            cb = (lambda nm: (lambda e, m, v: on_epoch(nm, e, m, v)))(name)
        try:
            with _naming(source.path, name, "rho*"):
                res = rho_star(z, attr.take(idx), rcfg, seed=config.seed, device=config.device,
                               progress=cb)
        except NotEstimable as exc:
            notes[name].append(f"{exc}: no rho* for this attribute")
            continue
        # The subsample was drawn here: report it against the rows available.
        out[name] = replace(res, n_rows=source.n_rows, subsampled=len(idx) < source.n_rows)
    return out


def family_members(results: dict[str, Any]) -> list[FamilyTest]:
    """An attribute's tests in the audit's family. SI and linear tested on the same full-sample
    permutations are one member, combined exactly by min-p (power of the better test, no
    Bonferroni factor between two tests of the same rows); otherwise each test is a member."""
    s, li, r = results.get("sliced"), results.get("linear"), results.get("rho")
    out: list[FamilyTest] = []
    both = (s is not None and li is not None and s.full_null is not None
            and li.full_null is not None and s.full_null.null.numel() == li.full_null.null.numel())
    if both:
        out.append(FamilyTest(("sliced", "linear"), min_p([s.full_null, li.full_null])))
    else:
        out += [FamilyTest((e,), x.p_value) for e, x in (("sliced", s), ("linear", li))
                if x is not None and x.p_value is not None]
    if r is not None and r.p_value is not None:
        out.append(FamilyTest(("rho",), r.p_value))
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
    """Audit every attribute of ``source``: SI and linear in one streaming pass, then rho*;
    the verdict adjusts every test of every attribute as one family (``policy``)."""
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
    sliced, linear, std_info = _streamed(data, config, on_rows)
    rhos = _rho(data, config, on_epoch, notes) if "rho" in config.estimators else {}

    results = {k: {"sliced": sliced.get(k), "linear": linear.get(k), "rho": rhos.get(k)}
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
                       config.estimators, policy, subsampled, std_info)


def audit_arrays(Z, attributes: dict[str, Attribute] | list[Attribute],
                 config: AuditConfig = AuditConfig(), policy: Policy = Policy()) -> AuditResult:
    """:func:`run_audit` of in-memory embeddings ``Z`` (n, d) and attributes."""
    if not isinstance(attributes, dict):
        attributes = {a.name: a for a in attributes}
    return run_audit(InMemorySource(Z, attributes), config, policy)
