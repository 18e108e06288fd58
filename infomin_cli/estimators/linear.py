"""Linear leakage: the top held-out canonical correlation between Z and T's design.

::

    X = standardise(Z)            all d columns (dead columns are zero), each clamped to its
                                  outlier fence (isolated corrupt cells only; not the ±10 clip)
    Y = one-hot(T) minus its last column     binary / categorical
      = standardise(T)                       continuous (n, 1) or multidim (n, k)
    (w, v) = ridge CCA of (X, Y) on the fit rows,   rz = ridge * tr(Cxx) / d_live
    ridge  = chosen from RIDGE_GRID by inner validation on the fit rows (default), or fixed
             (:func:`infomin_cli.stats.cca.select_ridge`)
    value  = clip(corr(X w, Y v) on the eval rows, 0, 1)

For jointly Gaussian data this is the population canonical correlation (|corr| for 1-D T);
it is what a linear probe can extract, and 0 after an exact linear eraser. The split,
permutation p-value and bootstrap interval are those of the sliced estimator
(:func:`infomin_cli.stats.heldout.heldout_evaluation`).

Streaming: :class:`LinearAccumulator` keeps float64 sums of the fit rows (the d x d
covariance, merged by addition) and the eval rows' standardised Z (float32, needed for the
per-row bootstrap and permutations once w is known): memory ``8 d^2 + 4 n_eval d`` bytes; the
eval split is capped (default ``max_eval_rows = clamp(2**26 // d, 10_000, 250_000)``, i.e.
at most ~256 MiB of eval rows).
The fit split is capped too (``max_fit_rows``, default 250,000: a seeded subset of the
non-eval rows), which bounds the O(n d^2) covariance cost on very large inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from infomin_cli.attributes import Attribute
from infomin_cli.estimators.accumulator import Accumulator
from infomin_cli.estimators.configs import AUTO, LinearConfig
from infomin_cli.estimators.result import Estimate
from infomin_cli.inputs import ArrayLike, AttributeLike, estimator_inputs
from infomin_cli.stats.cca import RIDGE_GRID, ridge_cca, select_ridge
from infomin_cli.stats.device import all_finite, to_tensor
from infomin_cli.stats.dual_cca import dual_ridge_cca, dual_validation_curve, gram_whiten
from infomin_cli.stats.features import AttributeEncoder
from infomin_cli.stats.fullsample import PermutationNull, block_whiten, permutation_null
from infomin_cli.stats.heldout import heldout_evaluation
from infomin_cli.stats.moments import CrossMoments
from infomin_cli.stats.rows import RowStore
from infomin_cli.stats.sampling import (
    check_batch,
    eval_probability,
    fit_probability,
    row_uniform,
    sample_rows,
    split_roles,
)
from infomin_cli.stats.standardize import Standardizer

MIN_SPLIT_ROWS = 10
#: Above this dimension the d x d covariance (8 d^2 bytes, three of them) is not formed: the
#: fit uses the dual (Gram) form, whose memory follows the rows (:mod:`infomin_cli.stats.dual_cca`).
DUAL_MIN_DIM = 4096
DUAL_FIT_FLOATS = 1 << 28  # fit rows x d kept by the dual form (1 GiB of float32)
DUAL_FULL_SAMPLE_ROWS = 8192  # the full-sample test's n x n Gram matrix stays under 512 MiB
MEMORY_LIMIT_BYTES = 4 << 30  # rows the estimator must hold; refused beyond, with a way out
FALLBACK_RIDGE = 1e-3


def default_max_eval_rows(dim: int) -> int:
    return int(min(max(2**26 // max(dim, 1), 10_000), 250_000))


@dataclass(frozen=True, eq=False)
class LinearResult(Estimate):
    """Held-out top canonical correlation; ``w`` (d,) acts on standardised Z, ``v`` on Y."""

    n_fit: int
    in_sample: float  # ridge CCA on the fit rows (biased upward; diagnostics only)
    ridge: float  # the relative ridge used for the final fit
    ridge_method: str  # "inner-validation" (chosen from RIDGE_GRID) or "fixed"
    permutations: int
    bootstrap: int
    device: str
    w: np.ndarray
    v: np.ndarray
    full_null: PermutationNull | None = None


class LinearAccumulator(Accumulator):
    """One-pass, mergeable accumulation for :func:`linear_dependence`
    (:class:`~infomin_cli.estimators.accumulator.Accumulator`)."""

    def __init__(
        self,
        dim: int,
        attr_template: Attribute,
        config: LinearConfig,
        standardizer: Standardizer,
        n_total: int,
        *,
        seed: int = 0,
        device: str | torch.device = "auto",
        t_standardizer: Standardizer | None = None,
    ) -> None:
        super().__init__(dim, attr_template, config, standardizer, n_total, seed=seed,
                         device=device)
        cfg = config
        self.encoder = AttributeEncoder.for_linear(attr_template, seed, standardizer=t_standardizer)
        self.q = self.encoder.width
        max_eval = default_max_eval_rows(dim) if cfg.max_eval_rows == AUTO else cfg.max_eval_rows
        self.p_eval = eval_probability(self.n_total, cfg.fit_fraction, max_eval)
        self.dual = cfg.solver == "dual" or (cfg.solver == "auto" and dim > DUAL_MIN_DIM)
        # The d x d fit covariance costs O(n d^2): past max_fit_rows rows it is precise
        # enough, so a seeded subset of the fit rows is used (disjoint from the eval rows).
        # The dual form keeps the fit rows themselves, so it caps them by memory.
        max_fit = cfg.max_fit_rows
        if self.dual:
            cap = max(2 * MIN_SPLIT_ROWS, DUAL_FIT_FLOATS // dim)
            max_fit = cap if max_fit is None else min(max_fit, cap)
        self.p_fit = fit_probability(self.n_total, self.p_eval, max_fit)
        self._zparams = standardizer.fenced_params(self.device)
        # The fit rows in two halves (a seeded hash, like the splits): the ridge is chosen by
        # fitting on one half and scoring on the other; the final fit uses both.
        self.fit_halves = () if self.dual else (CrossMoments(dim, self.q, self.device),
                                                CrossMoments(dim, self.q, self.device))
        self.fit_rows = RowStore(self.device)  # dual form: the fit rows (flag: half A), x, y
        # Kept rows: the eval rows, or every row when the full-sample test runs.
        self.full_sample = (cfg.permutations > 0 and self.n_total <= cfg.full_sample_rows
                            and (not self.dual or self.n_total <= DUAL_FULL_SAMPLE_ROWS))
        kept = self.n_total if self.full_sample else self.n_total * self.p_eval
        if self.dual:
            kept += self.n_total * self.p_fit
        need = kept * dim * 4 + (0 if self.dual else 3 * 8 * dim * dim)
        if need > MEMORY_LIMIT_BYTES:
            raise ValueError(
                f"{self.n_total:,} rows x {dim:,} dimensions need about {need / 2**30:.1f} GiB "
                "for the linear estimator; audit a subsample (max_rows) or leave linear out")
        self.kept = RowStore(self.device)  # flags: is an eval row; columns: x, y

    def update(
        self, z_batch: np.ndarray | torch.Tensor, attr_batch_values: np.ndarray, row_offset: int
    ) -> None:
        """Add rows ``row_offset .. row_offset + len(z_batch) - 1``."""
        b = check_batch(z_batch, self.dim, row_offset, self.n_total)
        if b == 0:
            return
        t = np.asarray(attr_batch_values)
        if t.shape[0] != b:
            raise ValueError(f"attribute batch has {t.shape[0]} rows, embeddings {b}")
        step = self.config.batch_rows
        for s in range(0, b, step):
            self._update_chunk(z_batch[s : s + step], t[s : s + step], row_offset + s)

    def _update_chunk(self, z, t: np.ndarray, row_offset: int) -> None:
        rows = np.arange(row_offset, row_offset + int(z.shape[0]), dtype=np.int64)
        is_eval, is_fit = split_roles(rows, self.seed, self.p_eval, self.p_fit)
        z = to_tensor(z, torch.float32, self.device)
        if not all_finite(z):
            raise ValueError("embedding batch contains NaN or infinite values")
        # Linear: centred and scaled, not clipped (a clip is a nonlinearity through which a
        # linear eraser's output would leak again); only isolated corrupt values beyond the
        # column's outlier fence are clamped, so one cell cannot own the covariances.
        x = self.standardizer.apply_fenced(z, self._zparams)
        y = self.encoder(t, self.device)
        if not all_finite(y):
            raise ValueError("attribute batch contains NaN or infinite values")
        half = row_uniform(rows, self.seed ^ 0x5EED_F17) < 0.5
        if self.dual:
            fit = np.flatnonzero(is_fit)
            fi = torch.as_tensor(fit, device=self.device)
            self.fit_rows.add(rows[fit], half[fit], x[fi], y[fi])
        for moments, sel in zip(self.fit_halves, (is_fit & half, is_fit & ~half)):
            fi = torch.as_tensor(np.flatnonzero(sel), device=self.device)
            moments.update(x[fi], y[fi])
        keep = np.arange(len(rows)) if self.full_sample else np.flatnonzero(is_eval)
        ki = torch.as_tensor(keep, device=self.device)
        self.kept.add(rows[keep], is_eval[keep], x[ki], y[ki])

    def merge(self, other: LinearAccumulator) -> LinearAccumulator:
        """Add ``other``'s rows (same construction arguments, disjoint rows); returns self."""
        if (other.dim != self.dim or other.n_total != self.n_total or other.seed != self.seed
                or other.p_eval != self.p_eval or other.p_fit != self.p_fit):
            raise ValueError("can only merge accumulators built with the same arguments")
        for mine, theirs in zip(self.fit_halves, other.fit_halves):
            mine.merge(theirs)
        self.fit_rows.merge(other.fit_rows)
        self.kept.merge(other.kept)
        return self

    @property
    def n_fit(self) -> int:
        if self.dual:
            return len(self.fit_rows)
        return sum(m.n for m in self.fit_halves)

    def _fit_primal(self, d_live: int):
        cfg = self.config
        if cfg.ridge is not None:
            ridge, method = cfg.ridge, "fixed"
        elif min(m.n for m in self.fit_halves) < MIN_SPLIT_ROWS:
            ridge, method = FALLBACK_RIDGE, "fixed"
        else:
            ridge, method = select_ridge(*self.fit_halves, d_live, RIDGE_GRID), "inner-validation"
        both = CrossMoments(self.dim, self.q, self.device)
        for m in self.fit_halves:
            both.merge(m)
        sol = ridge_cca(both, ridge, d_live)
        return float(sol.corr), sol.w, sol.v, ridge, method

    def _fit_dual(self, d_live: int):
        cfg = self.config
        half, x, y = self.fit_rows.ordered()
        a, b = (torch.as_tensor(np.flatnonzero(h), device=self.device) for h in (half, ~half))
        if cfg.ridge is not None:
            ridge, method = cfg.ridge, "fixed"
        elif min(len(a), len(b)) < MIN_SPLIT_ROWS:
            ridge, method = FALLBACK_RIDGE, "fixed"
        else:
            scores = dual_validation_curve(x[a], y[a], x[b], y[b], RIDGE_GRID, d_live)
            ridge, method = RIDGE_GRID[int(torch.argmax(scores))], "inner-validation"
        corr, w, v = dual_ridge_cca(x, y, ridge, d_live)
        return corr, w, v, ridge, method + " (dual)"

    @property
    def n_eval(self) -> int:
        return self.kept.count()

    def result(self) -> LinearResult:
        cfg = self.config
        n_fit = self.n_fit
        if n_fit < MIN_SPLIT_ROWS or self.n_eval < MIN_SPLIT_ROWS:
            raise ValueError(
                f"too few rows for a held-out estimate (fit {n_fit}, eval {self.n_eval})"
            )
        d_live = max(int((~self.standardizer.dead).sum()), 1)
        fit = self._fit_dual if self.dual else self._fit_primal
        in_sample, w, v, ridge, method = fit(d_live)
        is_eval, x_kept, y_kept = self.kept.ordered()
        full = None
        if self.full_sample:
            n = x_kept.shape[0]
            r_full = max(1e-3, d_live / n)
            if self.dual or self.dim > n:  # the Gram form: an (n, n) stand-in for whitened X
                xw = gram_whiten(x_kept, r_full)
            else:
                xw = block_whiten(x_kept, (1, self.dim), r_full)
            yw = block_whiten(y_kept, (1, self.q), 1e-3)
            full = permutation_null(xw, yw, (1, xw.shape[1]), (1, self.q), cfg.permutations,
                                    self.seed)
        ev = torch.as_tensor(np.flatnonzero(is_eval), device=self.device)
        x, y = x_kept[ev], y_kept[ev]
        step = cfg.batch_rows
        p = torch.cat([x[s : s + step].to(torch.float64) @ w for s in range(0, x.shape[0], step)])
        q = y.to(torch.float64) @ v
        ho = heldout_evaluation(
            p, q, permutations=cfg.permutations, bootstrap=cfg.bootstrap, seed=self.seed
        )
        summary = ho.summary()
        if full is not None:
            summary["p_value"] = full.p_value
        return LinearResult(
            **summary,
            n_eval=self.n_eval,
            p_method=(None if cfg.permutations == 0 else "full-sample-permutation"
                      if full is not None else "held-out-permutation"),
            n_fit=n_fit,
            in_sample=in_sample,
            ridge=ridge,
            ridge_method=method,
            permutations=cfg.permutations,
            bootstrap=cfg.bootstrap,
            device=str(self.device),
            w=w.cpu().numpy(),
            v=v.cpu().numpy(),
            full_null=full,
        )


def linear_dependence(
    Z: ArrayLike,
    attr: AttributeLike,
    config: LinearConfig = LinearConfig(),
    *,
    seed: int = 0,
    device: str | torch.device = "auto",
    standardizer: Standardizer | None = None,
    kind: str | None = None,
) -> LinearResult:
    """Held-out linear leakage of in-memory data (fed in chunks through
    :class:`LinearAccumulator`). ``Z`` and ``attr`` may be arrays, tensors, DataFrames,
    Series or an :class:`Attribute` (:mod:`infomin_cli.inputs`; ``kind`` overrides the
    inferred kind)."""
    Z, attr = estimator_inputs(Z, attr, kind)
    n, d = Z.shape
    idx = sample_rows(n, config.calibration_rows, seed)
    if standardizer is None:
        standardizer = Standardizer.fit_embeddings(np.asarray(Z[idx]), seed=seed)
    acc = LinearAccumulator(d, attr.take(idx), config, standardizer, n, seed=seed, device=device)
    step = config.batch_rows
    for s in range(0, n, step):
        acc.update(Z[s : s + step], attr.values[s : s + step], s)
    return acc.result()
