"""``debias`` end to end, without the command line: fit a projection (against a penalty, over a
beta sweep, or LEACE's closed form), then audit the held-out rows before and after:

    before[c] = audit(Z_val; c),   after[c] = audit(f(Z_val); c)   for each attribute and target c

:func:`run_debias` returns a :class:`DebiasRun`; :meth:`DebiasRun.to_json` is the report of
``infomin debias --format json``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from infomin_cli.attributes import DISCRETE_KINDS, Attribute
from infomin_cli.debias.config import MAX_DEFAULT_DIM, DebiasConfig, heads_width
from infomin_cli.debias.fit import FitHistory, ProgressFn, debias, split_rows
from infomin_cli.debias.projection import Projection
from infomin_cli.debias.sweep import BETA_GRID, BetaTrial, sweep_beta
from infomin_cli.inputs import ArrayLike, AttributeLike, debias_inputs
from infomin_cli.io.source import InMemorySource
from infomin_cli.io.writers import PathLike
from infomin_cli.pipeline.audit import MIN_CLASS_ROWS, run_audit
from infomin_cli.pipeline.config import audit_settings
from infomin_cli.records import Tabular, plain
from infomin_cli.stats.device import resolve_device

#: The closed-form method (not a penalty of :data:`~infomin_cli.debias.penalties.PENALTIES`).
LEACE = "leace"

#: Estimator (registry name) -> key of its value in a before/after measurement.
MEASURED: dict[str, str] = {"linear": "linear", "sliced": "si", "rho": "rho"}
#: Estimators whose p-value is measured too, under ``key + "_p"``.
WITH_P_VALUE: tuple[str, ...] = ("sliced",)

#: rho* of an attribute above this on the held-out rows after a fit: suggest more penalty.
LEAK_NOTE_ABOVE = 0.2


def check_request(z: np.ndarray, attributes: Sequence[Attribute],
                  targets: Sequence[Attribute], config: DebiasConfig, method: str) -> None:
    """Refuse, before any fit, what the fit cannot do: ``ValueError`` naming the setting or
    the column. Every class needs the audit's ``MIN_CLASS_ROWS``: it must reach both the
    training and the held-out rows, and a remover cannot learn what it has a handful of."""
    if z.ndim != 2 or len(z) == 0:
        raise ValueError(f"embeddings must be a non-empty 2-D array, got shape {z.shape}")
    if config.dim is not None and config.dim > z.shape[1]:
        raise ValueError(f"--dim {config.dim} is larger than the embedding's dimension "
                         f"{z.shape[1]}")
    if method == "pearson" and config.model != "linear":
        raise ValueError("--method pearson removes linear dependence only: use it with "
                         "--model linear (an MLP would move the attribute into structure "
                         "the penalty does not see)")
    if config.network_critic and method != "slice":
        raise ValueError(f"--network-critic is a critic of the slice penalty: --method "
                         f"{method} does not use it (drop it, or use --method slice)")
    for a in (*attributes, *targets):
        if a.kind not in DISCRETE_KINDS:
            continue
        counts = np.bincount(a.values, minlength=a.n_classes)
        rare = [(a.classes[i], int(c)) for i, c in enumerate(counts) if c < MIN_CLASS_ROWS]
        if rare:
            listed = ", ".join(f"{c!r} ({n} row{'s' * (n != 1)})" for c, n in rare[:3])
            raise ValueError(f"column {a.name!r}: class {listed} has fewer than "
                             f"{MIN_CLASS_ROWS} rows; merge or drop rare classes")


def measure(z: np.ndarray, columns: Sequence[Attribute], seed: int,
            device: str, where: str = "<memory>") -> dict[str, dict[str, float | None]]:
    """Each :data:`MEASURED` estimator's value (and p-value, :data:`WITH_P_VALUE`) of ``z``
    against each column, by the audit (200 permutations); ``None`` for one it skipped.
    ``where`` names the data in error messages."""
    config, policy = audit_settings({"seed": seed, "device": device, "alpha": 0.0,
                                     "permutations": 200}, attributes=len(columns))
    res = run_audit(InMemorySource(z, {c.name: c for c in columns}, where), config, policy)
    out: dict[str, dict[str, float | None]] = {}
    for name, audit in res.attributes.items():
        row: dict[str, float | None] = {}
        for estimator, key in MEASURED.items():
            result = audit.estimates.get(estimator)
            row[key] = None if result is None else result.value
            if estimator in WITH_P_VALUE:
                row[key + "_p"] = None if result is None else result.p_value
        out[name] = row
    return out


@dataclass
class DebiasRun(Tabular):
    """A fitted projection and what it did on the held-out (validation) rows ``held_out``:
    ``before`` / ``after`` are :func:`measure` of the embedding and of its projection,
    ``history`` the kept fit's (``None`` for LEACE), ``trials`` a beta sweep's fits (``None``
    without a sweep), ``notes`` advice in one line each."""

    projection: Projection
    method: str
    attributes: list[str]
    targets: list[str]
    beta: float | None
    seed: int
    held_out: np.ndarray
    before: dict[str, dict[str, float | None]]
    after: dict[str, dict[str, float | None]]
    history: FitHistory | None = None
    trials: list[BetaTrial] | None = None
    notes: list[str] = field(default_factory=list)
    max_leakage: float | None = None

    @property
    def met(self) -> bool | None:
        """Whether the judge's rho* of every attribute on the held-out rows is at most
        ``max_leakage`` (``None`` when no limit was asked)."""
        if self.max_leakage is None:
            return None
        return self.leakage(self.after) <= self.max_leakage

    def held_out_summary(self) -> dict:
        """What the projection was measured to do on the held-out rows, for the report and
        the projection's sidecar: ``leakage`` (max rho* of the attributes, the audit's judge:
        network and tree read-outs), ``utility`` (min rho* of the targets, or the
        reconstruction R^2 of the standardised embedding without a target), the limit asked
        and whether it was met."""
        utility = self.utility(self.after)
        return {"rows": int(len(self.held_out)), "judge": "rho*",
                "leakage": self.leakage(self.after),
                "utility": utility if np.isfinite(utility) else None,  # LEACE without a target
                "utility_measure": "rho*" if self.targets else "reconstruction R2",
                "max_leakage": self.max_leakage, "met": self.met}

    def leakage(self, measured: dict[str, dict[str, float | None]]) -> float:
        """max over the attributes of rho* (of ``before`` or ``after``)."""
        return max(measured[a][MEASURED["rho"]] or 0.0 for a in self.attributes)

    def utility(self, measured: dict[str, dict[str, float | None]]) -> float:
        """min over the targets of rho*; without a target, the kept fit's reconstruction R^2
        on the validation rows (NaN for LEACE)."""
        if self.targets:
            return min(measured[t][MEASURED["rho"]] or 0.0 for t in self.targets)
        return 1.0 - self.history.best_val_utility if self.history else float("nan")

    def tradeoff(self) -> list[dict]:
        """``{"beta", "rho", "utility"}`` of each fit: the sweep's trials, else the kept
        projection's leakage and utility on the held-out rows."""
        if self.trials is not None:
            return [t.summary() for t in self.trials]
        return [{"beta": self.beta, "rho": self.leakage(self.after),
                 "utility": self.utility(self.after)}]

    def to_dict(self) -> dict:
        """The JSON report (:meth:`to_json`) without the paths of written files."""
        report = self.to_json("")
        return plain({k: v for k, v in report.items() if k not in ("projection", "out", "plot")})

    def rows(self) -> list[dict]:
        """One record per column (attribute or target) and measure: ``before`` / ``after``
        on the held-out rows (the measures of :data:`MEASURED`, with their p-values)."""
        roles = [(a, "attribute") for a in self.attributes]
        roles += [(t, "target") for t in self.targets if t not in self.attributes]
        return [plain({"column": c, "role": role, "measure": m, "before": self.before[c][m],
                       "after": self.after[c].get(m)})
                for c, role in roles for m in self.before[c]]

    def to_json(self, projection: PathLike, *, out: PathLike | None = None,
                plot: PathLike | None = None) -> dict:
        """The JSON report: ``projection`` / ``out`` / ``plot`` are where the projection, the
        cleaned embeddings and the trade-off plot were written."""
        h = self.history
        return {"projection": str(projection), "out": _path(out), "attributes": self.attributes,
                "targets": self.targets, "method": self.method, "model": self.projection.kind,
                "dim": self.projection.dim_out, "beta": self.beta, "seed": self.seed,
                "noise": (h.config.noise if h and h.config else None),
                "steps": h.steps if h else None, "best_step": h.best_step if h else None,
                "held_out_rows": int(len(self.held_out)),
                "beta_search": ([t.summary() for t in self.trials]
                                if self.trials is not None else None),
                "plot": _path(plot),
                "max_step_seconds": (float(np.median(h.max_step_seconds))
                                     if h and h.max_step_seconds else None),
                "held_out": self.held_out_summary(),
                "before": self.before, "after": self.after, "notes": self.notes}


def run_debias(Z: ArrayLike, attributes: AttributeLike,
               targets: AttributeLike = (), config: DebiasConfig = DebiasConfig(), *,
               method: str | None = None, betas: Sequence[float] | None = None,
               max_leakage: float | None = None, trace: bool = False, seed: int = 0,
               device: str | torch.device = "auto", progress: ProgressFn | None = None,
               metadata: dict | None = None, kinds: dict[str, str] | None = None,
               stage: Callable[[str], None] | None = None) -> DebiasRun:
    """Fit a projection of ``Z`` that drops ``attributes`` and keeps ``targets``, and measure
    it on the validation rows.

    ``method``: ``"leace"`` (closed form), a penalty name, or ``None`` for
    ``config.penalty``. ``betas`` (default ``(config.beta,)``): several, a ``max_leakage``
    or ``trace`` make a :func:`~infomin_cli.debias.sweep.sweep_beta` -- over ``betas``, or
    :data:`~infomin_cli.debias.sweep.BETA_GRID` for ``max_leakage`` with one beta; ``trace``
    fits every beta (a trade-off plot needs them all). ``progress`` follows the fit, or the
    sweep's fits end to end; ``stage(what)`` is told what runs outside the fits (a sweep
    judging each fit, then the held-out audit), which shows nothing else.
    ``metadata`` is added to the projection's, after ``before`` and ``after``; its ``input``
    names the data in errors. ``ValueError`` for data or settings the fit refuses
    (:func:`check_request`), before any fit. Inputs as for
    :func:`~infomin_cli.debias.fit.debias` (``kinds`` overrides inferred kinds by name)."""
    z, attributes, targets = debias_inputs(Z, attributes, targets, kinds)
    if max_leakage is not None and not 0 < max_leakage < 1:
        raise ValueError(f"max_leakage must be in (0, 1), got {max_leakage}")
    method = method or config.penalty
    check_request(z, attributes, targets, config, method)
    dev = str(resolve_device(device))
    where = str((metadata or {}).get("input", "<memory>"))
    betas = tuple(betas) if betas else ((config.beta,) if config.beta is not None else ())
    history: FitHistory | None = None
    trials: list[BetaTrial] | None = None
    if method == LEACE:
        from infomin_cli.debias.leace import leace_projection

        train, val = split_rows(len(z), config.val_frac, seed)
        proj = leace_projection(z[train], [a.take(train) for a in attributes],
                                metadata={"seed": seed, "targets": [t.name for t in targets]})
        beta = None
    else:
        config = dataclasses.replace(config, penalty=method,
                                     beta=betas[-1] if betas else config.beta)
        if max_leakage is not None or len(betas) > 1 or trace:
            given = len(betas) > 1 or (betas and max_leakage is None)
            grid = betas if given else BETA_GRID
            chosen, trials = sweep_beta(z, attributes, targets, config, grid,
                                        max_leakage=max_leakage, stop_early=not trace,
                                        seed=seed, device=dev, progress=progress,
                                        stage=stage)
            proj, history, beta = chosen.projection, chosen.history, chosen.beta
        else:
            proj, history = debias(z, attributes, targets, config, seed=seed, device=dev,
                                   progress=progress)
            beta = history.config.beta
        val = history.val_rows
    held = [a.take(val) for a in (*attributes, *targets)]
    if stage is not None:
        stage(f"auditing the {len(val):,} held-out rows before and after the projection")
    before = measure(z[val], held, seed, dev, where)
    after = measure(proj(z[val]), held, seed, dev, f"{where} (projected)")
    run = DebiasRun(proj, method, [a.name for a in attributes], [t.name for t in targets],
                    beta, seed, val, before, after, history, trials, max_leakage=max_leakage)
    run.projection = dataclasses.replace(proj, metadata={
        **proj.metadata, "before": before, "after": after,
        "held_out": run.held_out_summary(), **(metadata or {})})
    if method != LEACE:
        run.notes = fit_notes(run, dim_given=config.dim is not None,
                              heads=heads_width(targets))
    return run


def fit_notes(run: DebiasRun, *, dim_given: bool = False, heads: int = 0) -> list[str]:
    """What the fit chose where the user did not (``dim_given``: the output size was asked
    for; ``heads``: the columns the target heads read, :func:`heads_width`), and what to try
    when it may have removed little."""
    notes = []
    proj = run.projection
    if not dim_given and run.targets and heads > proj.dim_out == MAX_DEFAULT_DIM < proj.dim_in:
        notes.append(f"the default output has at most {MAX_DEFAULT_DIM} columns (the targets' "
                     f"heads could read {heads}; wider outputs kept the attribute readable to "
                     "stock probes in our benchmarks); --dim N chooses the size")
    if run.targets and MAX_DEFAULT_DIM < proj.dim_out < proj.dim_in:  # only by --dim
        notes.append(f"{proj.dim_out} output columns: outputs this wide kept the attribute "
                     "readable to stock probes in our benchmarks (AUC 0.68-0.70 with an "
                     "83-column target on MiniLM); gate with --max-leakage")
    if not run.targets:
        if run.history is not None and proj.dim_out < proj.dim_in:
            notes.append(f"no --target: the output keeps the embedding by reconstruction in "
                         f"{proj.dim_out} of {proj.dim_in} dimensions; reconstruction R2 kept "
                         f"on the held-out rows: {run.utility(run.after):.3f}")
        cfg = run.history.config if run.history is not None else None
        if cfg is not None and not dim_given and proj.dim_out == MAX_DEFAULT_DIM < proj.dim_in:
            notes.append(f"no --target: the default output has at most {MAX_DEFAULT_DIM} "
                         "columns (wider ones kept the attribute readable to stock probes in "
                         "our benchmarks); a label that needs more directions may lose some: "
                         "--dim N chooses the size, --target keeps a label")
        if cfg is not None and cfg.noise:
            notes.append(f"no --target: the output carries Gaussian noise of {cfg.noise:g} of "
                         "its std, keyed by the input row (--noise 0 turns it off; a probe "
                         "then reads what the fit left in the output's fine structure)")
        if cfg is not None and cfg.network_critic:  # resolve: only ever the slice penalty's
            notes.append(f"no --target and {cfg.dim} output columns: the slice penalty trained "
                         "a network critic beside its closed-form ones (--no-network-critic "
                         "turns it off)")
        # wider than the default's cap (only by --dim): measured (benchmarks/README.md,
        # census_dae, debias_text.py) 37-40 autoencoder columns read 0.64-0.65, 24 census
        # columns 0.64, 171 MiniLM columns 0.67-0.69 (MAX_DEFAULT_DIM)
        if MAX_DEFAULT_DIM < proj.dim_out < proj.dim_in:
            notes.append(f"no --target and {proj.dim_out} output columns: outputs this wide "
                         "kept the attribute readable to stock probes in our benchmarks "
                         "(AUC 0.64-0.69 on census autoencoder and MiniLM embeddings); give a "
                         "--target (what the output is for) when there is one, and gate with "
                         "--max-leakage")
        if proj.dim_out == proj.dim_in:
            notes.append("no --target: a d -> d projection that reconstructs the embedding may "
                         "remove little of a leak; a bottleneck (--dim well below d) lets the "
                         "penalty act (README, Removing an attribute), or give a target")
    if any((run.after[a][MEASURED["rho"]] or 0.0) > LEAK_NOTE_ABOVE for a in run.attributes):
        notes.append(f"rho* of an attribute is still above {LEAK_NOTE_ABOVE:g} on the held-out "
                     "rows: try a larger --beta (--beta 1,3,10 --plot shows the trade-off), "
                     "--max-leakage, or a smaller --dim")
    return notes


def _path(path: PathLike | None) -> str | None:
    return None if path is None else str(path)
