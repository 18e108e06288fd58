"""Run the audit estimators over a :class:`~infomin_cli.io.DatasetSource`.

Data flows one way: the source streams embedding batches; every attribute's sliced and
linear accumulators take each batch (one pass, bounded memory); ρ* trains on a seeded
subsample; thresholds turn the numbers into verdicts. No rendering here.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from infomin_cli.attributes import Attribute
from infomin_cli.errors import InputError
from infomin_cli.io.source import sample_positions
from infomin_cli.linear import LinearAccumulator, LinearResult
from infomin_cli.rho import RhoConfig, RhoResult, rho_star
from infomin_cli.sliced import SlicedAccumulator, SlicedConfig, SlicedResult
from infomin_cli.standardize import DEFAULT_SAMPLE_ROWS, Standardizer
from infomin_cli.thresholds import ESTIMATORS, Thresholds

RowsFn = Callable[[int, int], None]  # (rows done, rows total)
EpochFn = Callable[[str, int, int, float], None]  # (attribute, epoch, max epochs, val corr)


@dataclass(frozen=True)
class AuditConfig:
    estimators: tuple[str, ...] = ESTIMATORS
    sliced: SlicedConfig = field(default_factory=SlicedConfig)
    rho: RhoConfig = field(default_factory=RhoConfig)
    linear_ridge: float | None = None  # None: chosen by inner validation on the fit rows
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
    thresholds: Thresholds
    subsampled_rows: int | None  # rows used when --max-rows subsampled, else None


def judge(sliced: SlicedResult | None, linear: LinearResult | None, rho: RhoResult | None,
          thresholds: Thresholds) -> tuple[str, tuple[str, ...]]:
    """``("fail", reasons)`` when a threshold is crossed, else ``("pass", ())``.

    Significance: every permutation test that ran (SI, and linear when selected) is held to
    ``alpha / m`` for ``m`` tests (Bonferroni), so the chance that an independent attribute
    fails stays at most ``alpha``. Linear leaks are the most common kind and the full-rank
    linear test is the more powerful one for them; SI covers the nonlinear rest.
    """
    reasons: list[str] = []
    tests = [(label, res.p_value) for label, res in (("SI", sliced), ("linear", linear))
             if res is not None and res.p_value is not None]
    if thresholds.alpha > 0 and tests:
        level = thresholds.alpha / len(tests)
        for label, p in tests:
            if p < level:
                bound = f"alpha {thresholds.alpha:g}" + (f"/{len(tests)}" if len(tests) > 1 else "")
                reasons.append(f"{label} p={p:.2g} < {bound}")
    values = {"sliced": sliced, "linear": linear, "rho": rho}
    label = {"sliced": "SI", "linear": "linear", "rho": "rho*"}
    for name, limit in thresholds.fail_above.items():
        res = values.get(name)
        if res is not None and res.value > limit:
            reasons.append(f"{label[name]} {res.value:.3f} > {limit:g}")
    return ("fail" if reasons else "pass"), tuple(reasons)


@contextmanager
def _as_input_error(where: str, attr: str, estimator: str):
    """Data an estimator cannot use (too few rows, a class missing from a split) is bad input:
    one line naming the file, the attribute and the estimator."""
    try:
        yield
    except InputError as exc:
        raise InputError(f"{where}: attribute {attr!r}: {exc}") from exc
    except ValueError as exc:
        raise InputError(f"{where}: attribute {attr!r}: {estimator}: {exc}") from exc


def _streamed(source, attrs: dict[str, Attribute], config: AuditConfig,
              on_rows: RowsFn | None) -> tuple[dict[str, SlicedResult], dict[str, LinearResult]]:
    """One pass over the embeddings feeding every attribute's accumulators."""
    want_sliced = "sliced" in config.estimators
    want_linear = "linear" in config.estimators
    if not (want_sliced or want_linear):
        return {}, {}
    n, seed = source.n_rows, config.seed
    cal_idx = source.sample_indices(config.calibration_rows, seed)
    std = Standardizer.fit(source.sample(config.calibration_rows, seed), seed=seed)
    where = getattr(source, "path", "input")
    if std.dead.all():
        raise InputError(f"{where}: every embedding dimension is constant (on {std.n_sample:,} "
                         "sampled rows): there is nothing to audit")
    scfg = replace(config.sliced, seed=seed, device=config.device)
    sliced_acc: dict[str, SlicedAccumulator] = {}
    linear_acc: dict[str, LinearAccumulator] = {}
    for name, attr in attrs.items():
        template = attr.take(cal_idx)
        if want_sliced:
            with _as_input_error(where, name, "SI"):
                sliced_acc[name] = SlicedAccumulator(source.dim, template, scfg, std, n)
        if want_linear:
            with _as_input_error(where, name, "linear"):
                linear_acc[name] = LinearAccumulator(
                    source.dim, template, std, n, fit_fraction=scfg.fit_fraction,
                    ridge=config.linear_ridge, seed=seed, permutations=scfg.permutations,
                    bootstrap=scfg.bootstrap, device=config.device,
                )
    # Attributes share the Z side: project each batch once for every sliced accumulator
    # built on the same slices (all of them here: same seed, dimension and standardiser).
    lead = next(iter(sliced_acc.values()), None)
    offset = 0
    for batch in source.iter_embeddings(scfg.batch_rows):
        stop = offset + len(batch)
        u = lead.project(batch) if lead is not None else None
        for name, attr in attrs.items():
            t = attr.values[offset:stop]
            if name in sliced_acc:
                acc = sliced_acc[name]
                if acc.same_projection(lead):
                    acc.update_projected(u, t, offset)
                else:
                    acc.update(batch, t, offset)
            if name in linear_acc:
                linear_acc[name].update(batch, t, offset)
        offset = stop
        if on_rows is not None:
            on_rows(offset, n)
    sliced = {}
    for k, a in sliced_acc.items():
        with _as_input_error(where, k, "SI"):
            sliced[k] = a.result()
    linear = {}
    for k, a in linear_acc.items():
        with _as_input_error(where, k, "linear"):
            linear[k] = a.result()
    return sliced, linear


class _InMemory:
    """Embeddings already in memory (a subsample, or a small file read once), with the
    streaming interface of a DatasetSource."""

    def __init__(self, z: np.ndarray, attributes: dict[str, Attribute],
                 path: str = "input") -> None:
        self._z = z
        self.path = path
        self.n_rows, self.dim = int(z.shape[0]), int(z.shape[1])
        self.attributes = attributes

    @classmethod
    def subsample(cls, source, rows: int, seed: int) -> _InMemory:
        idx = source.sample_indices(rows, seed)
        attrs = {k: a.take(idx) for k, a in source.attributes.items()}
        return cls(source.sample(rows, seed), attrs, getattr(source, "path", "input"))

    def sample_indices(self, n: int, seed: int) -> np.ndarray:
        return sample_positions(self.n_rows, n, seed)

    def sample(self, n: int, seed: int, dtype=np.float32) -> np.ndarray:
        if n >= self.n_rows:
            return np.asarray(self._z, dtype=dtype)
        return np.asarray(self._z[self.sample_indices(n, seed)], dtype=dtype)

    def iter_embeddings(self, batch_rows: int, dtype=np.float32):
        for s in range(0, self.n_rows, batch_rows):
            yield np.asarray(self._z[s : s + batch_rows], dtype=dtype)


def run_audit(source, config: AuditConfig = AuditConfig(), thresholds: Thresholds = Thresholds(),
              *, on_rows: RowsFn | None = None, on_epoch: EpochFn | None = None) -> AuditResult:
    """Audit every attribute of ``source`` (a DatasetSource, or anything with its interface)."""
    data = source
    subsampled = None
    if config.max_rows is not None and config.max_rows < source.n_rows:
        data = _InMemory.subsample(source, config.max_rows, config.seed)
        subsampled = data.n_rows
    elif source.n_rows <= config.calibration_rows:
        # The calibration sample would be the whole file: read it once, not twice.
        data = _InMemory(source.embeddings(), source.attributes, getattr(source, "path", "input"))
    attrs = data.attributes
    sliced, linear = _streamed(data, attrs, config, on_rows)

    rhos: dict[str, RhoResult] = {}
    if "rho" in config.estimators:
        rcfg = replace(config.rho, seed=config.seed, device=config.device)
        rows = rcfg.max_rows if rcfg.max_rows is not None else data.n_rows
        idx = data.sample_indices(rows, config.seed)
        z = data.sample(rows, config.seed)
        for name, attr in attrs.items():
            cb = None
            if on_epoch is not None:
                cb = (lambda nm: (lambda e, m, v: on_epoch(nm, e, m, v)))(name)
            with _as_input_error(getattr(source, "path", "input"), name, "rho*"):
                res = rho_star(z, attr.take(idx), replace(rcfg, max_rows=None), progress=cb)
            # The subsample was drawn here: report it against the rows available.
            rhos[name] = replace(res, n_rows=data.n_rows, subsampled=len(idx) < data.n_rows)

    audits: dict[str, AttributeAudit] = {}
    for name, attr in attrs.items():
        s, li, r = sliced.get(name), linear.get(name), rhos.get(name)
        verdict, reasons = judge(s, li, r, thresholds)
        audits[name] = AttributeAudit(name, attr.kind, attr.n_classes, s, li, r, verdict, reasons)
    overall = "fail" if any(a.verdict == "fail" for a in audits.values()) else "pass"
    return AuditResult(audits, overall, source.n_rows, source.dim, config.seed, config.estimators, thresholds, subsampled)
