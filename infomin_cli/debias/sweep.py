"""Choosing beta: one fit per beta, each judged on its validation rows by rho*.

    leakage(beta) = max_attributes rho*(f_beta(Z_val); A_val)
    utility(beta) = min_targets    rho*(f_beta(Z_val); T_val)   (no target: 1 - validation MSE)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from infomin_cli.attributes import Attribute
from infomin_cli.debias.config import DebiasConfig
from infomin_cli.debias.fit import FitHistory, ProgressFn, debias
from infomin_cli.debias.projection import Projection
from infomin_cli.estimators.rho import RhoConfig, rho_star
from infomin_cli.inputs import ArrayLike, AttributeLike, debias_inputs
from infomin_cli.records import Tabular

BETA_GRID: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


@dataclass
class BetaTrial(Tabular):
    """One fit of a beta sweep, judged on its validation rows: ``rho`` is the largest rho* of
    the attributes (leakage), ``utility`` the smallest rho* of the targets -- or, without a
    target, the reconstruction R^2 of the standardised embedding (1 - validation MSE)."""

    beta: float
    rho: float
    utility: float
    projection: Projection
    history: FitHistory

    def summary(self) -> dict:
        return {"beta": self.beta, "rho": self.rho, "utility": self.utility}

    def to_dict(self) -> dict:
        """:meth:`summary` with the fit's steps and kept step."""
        return {**self.summary(), "steps": self.history.steps,
                "best_step": self.history.best_step}


def sweep_beta(Z: ArrayLike, attributes: AttributeLike, targets: AttributeLike = (),
               config: DebiasConfig = DebiasConfig(), betas: tuple[float, ...] = BETA_GRID, *,
               max_leakage: float | None = None, stop_early: bool = True, seed: int = 0,
               device: str | torch.device = "auto", progress: ProgressFn | None = None,
               kinds: dict[str, str] | None = None,
               stage: Callable[[str], None] | None = None) -> tuple[BetaTrial, list[BetaTrial]]:
    """Fit one projection per beta (in the order given) and measure each on its validation
    rows. Returns ``(chosen, trials)``: with ``max_leakage``, the smallest beta whose leakage
    is at most it (the one that keeps the most utility; the largest beta when none does),
    and with ``stop_early`` the sweep stops in increasing beta at the first that reaches it;
    without ``max_leakage``, the last beta given.

    The validation rows both choose beta and stop training; an independent audit of other
    rows is the fair judge of the result (``infomin audit`` on the cleaned output).
    ``stage(what)`` is told when a fit is being judged (rho* on its validation rows), which
    ``progress`` does not show. Inputs as for :func:`~infomin_cli.debias.fit.debias`."""
    Z, attributes, targets = debias_inputs(Z, attributes, targets, kinds)
    if not betas:
        raise ValueError("give at least one beta")
    if max_leakage is not None:
        if not 0 < max_leakage < 1:
            raise ValueError(f"max_leakage must be in (0, 1), got {max_leakage}")
        betas = tuple(sorted(betas))
    rcfg = RhoConfig(bootstrap=0, permutations=0)
    z = np.asarray(Z, dtype=np.float32)
    trials: list[BetaTrial] = []
    for i, beta in enumerate(betas):
        step_of = None
        if progress is not None:
            def step_of(step, total, util, si, _at=i * config.max_steps):
                progress(_at + step, len(betas) * config.max_steps, util, si)
        proj, hist = debias(z, attributes, targets, replace(config, beta=beta), seed=seed,
                            device=device, progress=step_of)
        val = hist.val_rows
        if stage is not None:
            stage(f"beta {beta:g}: judging the fit by rho* on {len(val):,} validation rows")
        out = proj(z[val])
        leak = max(rho_star(out, a.take(val), rcfg, seed=seed, device=device).value
                   for a in attributes)
        if targets:
            util = min(rho_star(out, t.take(val), rcfg, seed=seed, device=device).value
                       for t in targets)
        else:
            util = 1.0 - hist.best_val_utility
        trials.append(BetaTrial(float(beta), float(leak), float(util), proj, hist))
        if max_leakage is not None and stop_early and leak <= max_leakage:
            break
    if max_leakage is None:
        return trials[-1], trials
    ok = [t for t in trials if t.rho <= max_leakage]
    return (ok[0] if ok else trials[-1]), trials


def search_beta(Z: np.ndarray, attributes: list[Attribute], targets: list[Attribute] = (),
                config: DebiasConfig = DebiasConfig(), max_leakage: float = 0.1, *,
                seed: int = 0, device: str | torch.device = "auto",
                grid: tuple[float, ...] = BETA_GRID):
    """The smallest beta of ``grid`` whose projection keeps rho*(f(Z), T) <= ``max_leakage``
    for every attribute, on the validation rows (:func:`sweep_beta`, stopping early).
    Returns ``(projection, history, trials)`` with ``trials`` as ``{"beta", "rho",
    "utility"}`` dicts; the last projection when no beta reaches the limit."""
    chosen, trials = sweep_beta(Z, attributes, targets, config, grid, max_leakage=max_leakage,
                                seed=seed, device=device)
    return chosen.projection, chosen.history, [t.summary() for t in trials]
