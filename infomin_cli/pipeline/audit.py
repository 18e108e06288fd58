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

from infomin_cli.attributes import Attribute
from infomin_cli.errors import InputError
from infomin_cli.estimators.linear import LinearAccumulator, LinearConfig, LinearResult
from infomin_cli.estimators.rho import RhoConfig, RhoResult, rho_star
from infomin_cli.estimators.sliced import SlicedAccumulator, SlicedConfig, SlicedResult
from infomin_cli.io.source import InMemorySource, Source
from infomin_cli.pipeline.policy import ESTIMATORS, Policy
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


@dataclass(frozen=True)
class AttributeAudit:
    name: str
    kind: str
    n_classes: int | None
    sliced: SlicedResult | None
    linear: LinearResult | None
    rho: RhoResult | None
    verdict: str
    reasons: tuple[str, ...]


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


@contextmanager
def _naming(where: str, attr: str, estimator: str) -> Iterator[None]:
    """Data an estimator cannot use (too few rows, a class missing from a split) is bad input:
    one line naming the file, the attribute and the estimator."""
    try:
        yield
    except InputError as exc:
        raise InputError(f"{where}: attribute {attr!r}: {exc}") from exc
    except ValueError as exc:
        raise InputError(f"{where}: attribute {attr!r}: {estimator}: {exc}") from exc


def _streamed(source: Source, config: AuditConfig, on_rows: RowsFn | None
              ) -> tuple[dict[str, SlicedResult], dict[str, LinearResult]]:
    """One pass over the embeddings feeding every attribute's accumulators."""
    want_sliced = "sliced" in config.estimators
    want_linear = "linear" in config.estimators
    if not (want_sliced or want_linear):
        return {}, {}
    n, seed, where = source.n_rows, config.seed, source.path
    cal_idx = source.sample_indices(config.calibration_rows, seed)
    std = Standardizer.fit(source.sample(config.calibration_rows, seed), seed=seed)
    if std.dead.all():
        raise InputError(f"{where}: every embedding dimension is constant (on {std.n_sample:,} "
                         "sampled rows): there is nothing to audit")
    slicer = SlicedAccumulator.draw_slicer(source.dim, config.sliced, std, seed) if want_sliced else None
    sliced_acc: dict[str, SlicedAccumulator] = {}
    linear_acc: dict[str, LinearAccumulator] = {}
    for name, attr in source.attributes.items():
        template = attr.take(cal_idx)
        if want_sliced:
            with _naming(where, name, "SI"):
                sliced_acc[name] = SlicedAccumulator(source.dim, template, config.sliced, std, n,
                                                     seed=seed, device=config.device, slicer=slicer)
        if want_linear:
            with _naming(where, name, "linear"):
                linear_acc[name] = LinearAccumulator(source.dim, template, config.linear, std, n,
                                                     seed=seed, device=config.device)
    # Attributes share the Z side: each batch is projected once for every sliced accumulator.
    lead = next(iter(sliced_acc.values()), None)
    offset = 0
    for batch in source.iter_embeddings(config.sliced.batch_rows):
        stop = offset + len(batch)
        u = lead.project(batch) if lead is not None else None
        for name, attr in source.attributes.items():
            t = attr.values[offset:stop]
            if name in sliced_acc:
                sliced_acc[name].update_projected(u, t, offset)
            if name in linear_acc:
                linear_acc[name].update(batch, t, offset)
        offset = stop
        if on_rows is not None:
            on_rows(offset, n)
    sliced, linear = {}, {}
    for k, a in sliced_acc.items():
        with _naming(where, k, "SI"):
            sliced[k] = a.result()
    for k, a in linear_acc.items():
        with _naming(where, k, "linear"):
            linear[k] = a.result()
    return sliced, linear


def _rho(source: Source, config: AuditConfig, on_epoch: EpochFn | None) -> dict[str, RhoResult]:
    rows = config.rho.max_rows if config.rho.max_rows is not None else source.n_rows
    idx = source.sample_indices(rows, config.seed)
    z = source.sample(rows, config.seed)
    rcfg = replace(config.rho, max_rows=None)
    out: dict[str, RhoResult] = {}
    for name, attr in source.attributes.items():
        cb = None
        if on_epoch is not None:
            cb = (lambda nm: (lambda e, m, v: on_epoch(nm, e, m, v)))(name)
        with _naming(source.path, name, "rho*"):
            res = rho_star(z, attr.take(idx), rcfg, seed=config.seed, device=config.device,
                           progress=cb)
        # The subsample was drawn here: report it against the rows available.
        out[name] = replace(res, n_rows=source.n_rows, subsampled=len(idx) < source.n_rows)
    return out


def run_audit(source: Source, config: AuditConfig = AuditConfig(), policy: Policy = Policy(),
              *, on_rows: RowsFn | None = None, on_epoch: EpochFn | None = None) -> AuditResult:
    """Audit every attribute of ``source``: SI and linear in one streaming pass, then rho*."""
    data: Source = source
    subsampled = None
    if config.max_rows is not None and config.max_rows < source.n_rows:
        data = InMemorySource.subsample(source, config.max_rows, config.seed)
        subsampled = data.n_rows
    elif source.n_rows <= config.calibration_rows and not isinstance(source, InMemorySource):
        # The calibration sample would be the whole file: read it once, not twice.
        data = InMemorySource(source.embeddings(), source.attributes, source.path)
    sliced, linear = _streamed(data, config, on_rows)
    rhos = _rho(data, config, on_epoch) if "rho" in config.estimators else {}

    audits: dict[str, AttributeAudit] = {}
    for name, attr in data.attributes.items():
        s, li, r = sliced.get(name), linear.get(name), rhos.get(name)
        verdict, reasons = policy.judge({"sliced": s, "linear": li, "rho": r})
        audits[name] = AttributeAudit(name, attr.kind, attr.n_classes, s, li, r, verdict, reasons)
    overall = "fail" if any(a.verdict == "fail" for a in audits.values()) else "pass"
    return AuditResult(audits, overall, source.n_rows, source.dim, config.seed,
                       config.estimators, policy, subsampled)


def audit_arrays(Z, attributes: dict[str, Attribute] | list[Attribute],
                 config: AuditConfig = AuditConfig(), policy: Policy = Policy()) -> AuditResult:
    """:func:`run_audit` of in-memory embeddings ``Z`` (n, d) and attributes."""
    if not isinstance(attributes, dict):
        attributes = {a.name: a for a in attributes}
    return run_audit(InMemorySource(Z, attributes), config, policy)
