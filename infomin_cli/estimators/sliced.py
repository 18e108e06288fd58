"""Sliced dependence SI(Z; T) (Scalable Infomin Learning), held-out and permutation-calibrated.

Estimator::

    z_std = standardise(z)                                   (calibration-sample moments)
    u_i   = theta_i^T z_std / s_i,   i = 1..S                (theta_i uniform on the sphere)
    F_z   = [tanh(u_i)^k]_{i, k=1..K}                         (n, S K)
    F_t   = one-hot(T) minus its last column                  binary / categorical (exact:
                                                              any g(T) is linear in it)
          = [tanh(t_std)^k]_k                                  continuous 1-D (no slicing)
          = [tanh(phi_j^T t_std / s'_j)^k]_{j, k}              multidim, S directions phi_j

    pairwise:  SI = max_{i, j} CCA(F_z[slice i], F_t[slice j])     (the paper's formula)
    joint:     SI = CCA(F_z, F_t)                                  (the reference code)

Continuous T uses the same tanh polynomial as Z (not a raw polynomial): bounded features are
robust to heavy tails, whose raw cubes would dominate the covariances.

The featurisers are :class:`~infomin_cli.stats.features.SliceFeaturizer` (Z) and
:class:`~infomin_cli.stats.features.AttributeEncoder` (T); the solve from moments is
:func:`~infomin_cli.stats.cca.slice_cca` (its ridge makes ``pairwise <= joint`` exact in-sample).

Held out. Rows are split by a seeded hash of the row index (fit with probability
``fit_fraction``, default 0.5: the fitted direction improves with n_fit and the test's power
with n_eval; 0.5 balances the two; the eval split is also capped at ``max_eval_rows``, beyond
which more eval rows add little power but memory). The CCA (and for pairwise the best pair
(i*, j*)) is fitted on fit rows only; the reported value is the correlation of the fitted
projections ``p = F_z w``, ``q = F_t v`` on the eval rows, clipped to [0, 1]. In-sample
values are biased upward (:func:`sliced_in_sample` exposes them, for diagnostics only).

Significance: with w, v fixed by the fit rows, q is permuted against p on the eval rows
(B permutations). Fit and eval rows are disjoint, so under independence of Z and T the eval
pairs are exchangeable given the fit: an exact permutation test that reuses the Z features.
The interval is a percentile bootstrap over eval rows (conditional on the fit).

Streaming and memory. :class:`SlicedAccumulator` keeps float64 sums of the fit rows' features
(``O((S K)^2)``, merged by addition) and, for the eval rows, the slice projections U
(n_eval x S, float32) with their T values -- the memory bound is ``4 * n_eval * S`` bytes plus
``(S K)^2`` float64 for the moments, independent of n and d (U stays on the compute device).

Power caveat: a random unit theta in d dimensions has ``|theta^T e| ~ 1/sqrt(d)`` with any fixed
direction e, so a dependence carried by ONE direction of Z is attenuated per slice (a quadratic
one by ~1/d). With S = 100 and d = 768, T = z_0^2 + noise is not detected even at n = 200k;
dependence spread over many directions (typical of learned embeddings) is. This is the
paper's estimator; the linear measure (:mod:`infomin_cli.estimators.linear`) uses all d columns at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from infomin_cli.attributes import Attribute
from infomin_cli.estimators.accumulator import Accumulator
from infomin_cli.estimators.configs import SlicedConfig, SliceScaling
from infomin_cli.estimators.result import Estimate
from infomin_cli.inputs import ArrayLike, AttributeLike, estimator_inputs
from infomin_cli.stats.cca import slice_cca
from infomin_cli.stats.choices import Aggregation
from infomin_cli.stats.device import all_finite, to_tensor
from infomin_cli.stats.features import AttributeEncoder, SliceFeaturizer, tanh_features
from infomin_cli.stats.fullsample import PermutationNull, block_whiten, permutation_null, sum_null
from infomin_cli.stats.heldout import heldout_evaluation
from infomin_cli.stats.moments import CrossMoments
from infomin_cli.stats.rows import RowStore
from infomin_cli.stats.sampling import check_batch, eval_probability, sample_rows, split_is_eval
from infomin_cli.stats.standardize import Standardizer

MIN_SPLIT_ROWS = 10


@dataclass(frozen=True, eq=False)
class SlicedFit:
    """Everything needed to recompute the fitted projections on new rows (e.g. for debias).

    ``p = (z_slicer(standardise(z)) - z_feature_mean) @ w`` and
    ``q = (t_encoder(t) - t_feature_mean) @ v``. ``w`` (S K,) and ``v`` are full length; for
    pairwise they are zero outside the slice blocks ``pair = (i*, j*)``.
    """

    aggregation: Aggregation
    standardizer: Standardizer
    z_slicer: SliceFeaturizer
    t_encoder: AttributeEncoder
    w: np.ndarray
    v: np.ndarray
    z_feature_mean: np.ndarray
    t_feature_mean: np.ndarray
    pair: tuple[int, int] | None
    in_sample: float  # ridge CCA value on the fit rows (biased upward; diagnostics only)

    def project_z(self, z_std: torch.Tensor) -> torch.Tensor:
        """``p`` for already standardised rows (differentiable in ``z_std``)."""
        f = self.z_slicer(z_std)
        m = torch.as_tensor(self.z_feature_mean, dtype=f.dtype, device=f.device)
        return (f - m) @ torch.as_tensor(self.w, dtype=f.dtype, device=f.device)

    def project_t(self, values: np.ndarray | torch.Tensor,
                  device: torch.device | str = "cpu") -> torch.Tensor:
        f = self.t_encoder(values, device)
        m = torch.as_tensor(self.t_feature_mean, dtype=f.dtype, device=f.device)
        return (f - m) @ torch.as_tensor(self.v, dtype=f.dtype, device=f.device)


@dataclass(frozen=True, eq=False)
class SlicedResult(Estimate):
    """Held-out sliced dependence with its permutation null and bootstrap interval."""

    aggregation: Aggregation
    slices: int
    order: int
    permutations: int
    bootstrap: int
    n_fit: int
    slice_scaling: SliceScaling
    in_sample: float
    device: str
    fit: SlicedFit
    full_null: PermutationNull | None = None  # the full-sample test's null, when it ran


# ----------------------------------------------------------------------------- accumulator


class SlicedAccumulator(Accumulator):
    """One-pass, mergeable accumulation of the sliced estimator's statistics.

    ``update(z_batch, attr_batch_values, row_offset)`` takes rows ``row_offset ..`` of the
    dataset (any batch sizes, any order); ``merge(other)`` adds another accumulator built with
    the same arguments over other rows; ``result()`` fits on the fit rows and evaluates on
    the eval rows. ``attr_template`` gives kind/classes/width; its values (T on the
    calibration sample, may be empty for discrete kinds) standardise a continuous or
    multidim T unless ``t_standardizer`` is given. ``slicer`` shares one set of Z slices
    between accumulators (several attributes): :meth:`project` then serves them all.
    """

    def __init__(
        self,
        dim: int,
        attr_template: Attribute,
        config: SlicedConfig,
        standardizer: Standardizer,
        n_total: int,
        *,
        seed: int = 0,
        device: str | torch.device = "auto",
        t_standardizer: Standardizer | None = None,
        slicer: SliceFeaturizer | None = None,
    ) -> None:
        super().__init__(dim, attr_template, config, standardizer, n_total, seed=seed,
                         device=device)
        cfg = config
        self.slicer = slicer or self.draw_slicer(dim, cfg, standardizer, seed)
        if self.slicer.theta.shape != (dim, cfg.slices) or self.slicer.order != cfg.order:
            raise ValueError("slicer does not match the embedding dimension and config")
        self.encoder = AttributeEncoder.for_sliced(
            attr_template, cfg.slices, cfg.order, seed,
            scaled=cfg.slice_scaling == "std", standardizer=t_standardizer,
            ranks=cfg.rank_transform)
        self._zparams = standardizer.torch_params(self.device)
        self._theta = self.slicer.directions(self.device)
        self.p_eval = eval_probability(self.n_total, cfg.fit_fraction, cfg.max_eval_rows)
        self.fit_moments = CrossMoments(self.slicer.width, self.encoder.width, self.device)
        # Kept rows: the eval rows, or every row when the full-sample test runs.
        self.full_sample = cfg.permutations > 0 and self.n_total <= cfg.full_sample_rows
        self.kept = RowStore(self.device)  # flags: is an eval row; columns: u, t
        self.rows_seen = 0

    @classmethod
    def shared(cls, dim: int, config: SlicedConfig, standardizer: Standardizer,
               seed: int) -> dict:
        """One set of Z slices for every attribute of a pass."""
        return {"slicer": cls.draw_slicer(dim, config, standardizer, seed)}

    @staticmethod
    def draw_slicer(dim: int, config: SlicedConfig, standardizer: Standardizer,
                    seed: int) -> SliceFeaturizer:
        """The Z slices of this config and seed (directions over the live columns)."""
        calibration = standardizer.calibration if config.slice_scaling == "std" else None
        return SliceFeaturizer.draw(dim, config.slices, config.order, seed, stream=1,
                                    live=standardizer.live, calibration=calibration)

    # -- accumulation ---------------------------------------------------------------------

    def update(
        self, z_batch: np.ndarray | torch.Tensor, attr_batch_values: np.ndarray, row_offset: int
    ) -> None:
        """Add rows ``row_offset .. row_offset + len(z_batch) - 1``."""
        b = check_batch(z_batch, self.dim, row_offset, self.n_total)
        if b == 0:
            return
        t = self.encoder.check(attr_batch_values, b)
        step = self.config.batch_rows
        for s in range(0, b, step):
            self._add_projected(self.project(z_batch[s : s + step]), t[s : s + step], row_offset + s)
        self.rows_seen += b

    def project(self, z: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Scaled slice projections ``u`` (b, S) of raw embedding rows, float32."""
        z = to_tensor(z, torch.float32, self.device)
        if not all_finite(z):
            raise ValueError("embedding batch contains NaN or infinite values")
        return self.standardizer.apply(z, self._zparams) @ self._theta

    def same_projection(self, other: SlicedAccumulator) -> bool:
        """True when ``other.project`` gives the same ``u`` (so one projection can feed both)."""
        a, b = self.slicer, other.slicer
        same_slices = a is b or (np.array_equal(a.theta, b.theta)
                                 and np.array_equal(a.scale, b.scale) and a.order == b.order)
        return (same_slices and other.standardizer is self.standardizer
                and other.device == self.device)

    def prepare(self, z_batch: np.ndarray | torch.Tensor) -> torch.Tensor:
        """The slice projections of a batch, shared by every accumulator of the same slices."""
        return self.project(z_batch)

    def update_prepared(self, prepared: torch.Tensor, attr_batch_values: np.ndarray,
                        row_offset: int) -> None:
        self.update_projected(prepared, attr_batch_values, row_offset)

    def update_projected(
        self, u: torch.Tensor, attr_batch_values: np.ndarray, row_offset: int
    ) -> None:
        """Like :meth:`update`, with ``u = self.project(z_batch)`` computed by the caller
        (e.g. once for several attributes that share the slices)."""
        b = check_batch(u, self.config.slices, row_offset, self.n_total)
        if b == 0:
            return
        t = self.encoder.check(attr_batch_values, b)
        self._add_projected(u, t, row_offset)
        self.rows_seen += b

    def _add_projected(self, u: torch.Tensor, t: np.ndarray, row_offset: int) -> None:
        b = int(u.shape[0])
        rows = np.arange(row_offset, row_offset + b, dtype=np.int64)
        is_eval = split_is_eval(rows, self.seed, self.p_eval)
        fit_idx = np.flatnonzero(~is_eval)
        if len(fit_idx):
            fi = torch.as_tensor(fit_idx, device=self.device)
            self.fit_moments.update(self.slicer.features(u[fi]),
                                    self.encoder(t[fit_idx], self.device))
        keep = np.arange(b) if self.full_sample else np.flatnonzero(is_eval)
        if len(keep):
            self.kept.add(rows[keep], is_eval[keep],
                          u[torch.as_tensor(keep, device=self.device)], t[keep])

    def merge(self, other: SlicedAccumulator) -> SlicedAccumulator:
        """Add ``other``'s rows (same construction arguments, disjoint rows); returns self."""
        if (other.dim != self.dim or other.config != self.config or other.n_total != self.n_total
                or other.seed != self.seed):
            raise ValueError("can only merge accumulators built with the same arguments")
        self.fit_moments.merge(other.fit_moments)
        self.kept.merge(other.kept)
        self.rows_seen += other.rows_seen
        return self

    # -- fitting --------------------------------------------------------------------------

    @property
    def n_fit(self) -> int:
        return self.fit_moments.n

    @property
    def n_eval(self) -> int:
        return self.kept.count()

    def _solve(self, aggregation: Aggregation):
        if self.n_fit < MIN_SPLIT_ROWS:
            raise ValueError(f"too few fit rows ({self.n_fit}) for the sliced estimator")
        return slice_cca(self.fit_moments.covariances(), (self.config.slices, self.config.order),
                         self.encoder.blocks, aggregation, self.config.ridge)

    def in_sample(self, aggregation: Aggregation | None = None) -> float:
        """Ridge CCA value on the fit rows themselves (biased upward; for diagnostics)."""
        return self._solve(aggregation or self.config.aggregation).corr

    def _full_sample_null(self, u: torch.Tensor, t: np.ndarray) -> PermutationNull:
        """The in-sample slice CCA over every row, refitted on permutations of T: the largest
        pair's, or -- both sides sliced (a multi-column attribute) -- the total over the pairs
        (:func:`~infomin_cli.stats.fullsample.sum_null`: a one-column attribute's cost)."""
        cfg, step = self.config, self.config.batch_rows
        fz = torch.cat([self.slicer.features(u[s : s + step]).to(torch.float64)
                        for s in range(0, u.shape[0], step)])
        ft = self.encoder(t, self.device).to(torch.float64)
        zb = (cfg.slices, cfg.order) if cfg.aggregation == "pairwise" else (1, fz.shape[1])
        tb = self.encoder.blocks if cfg.aggregation == "pairwise" else (1, ft.shape[1])
        x = block_whiten(fz, zb, cfg.ridge)
        y = block_whiten(ft, tb, cfg.ridge)
        if zb[0] > 1 and tb[0] > 1:
            return sum_null(x, y, cfg.permutations, self.seed)
        return permutation_null(x, y, zb, tb, cfg.permutations, self.seed)

    def result(self) -> SlicedResult:
        cfg = self.config
        if self.n_eval < MIN_SPLIT_ROWS:
            raise ValueError(f"too few eval rows ({self.n_eval}) for a held-out estimate")
        sol = self._solve(cfg.aggregation)
        w, v = sol.w, sol.v
        is_eval, u_kept, t_kept = self.kept.ordered()
        full = self._full_sample_null(u_kept, t_kept) if self.full_sample else None
        ev = torch.as_tensor(np.flatnonzero(is_eval), device=self.device)
        u, t = u_kept[ev], t_kept[is_eval]
        K, step = cfg.order, cfg.batch_rows
        if sol.pair is not None:
            i = sol.pair[0]
            p = tanh_features(u[:, i : i + 1], K).to(torch.float64) @ w[i * K : (i + 1) * K]
        else:
            p = torch.cat([self.slicer.features(u[s : s + step]).to(torch.float64) @ w
                           for s in range(0, u.shape[0], step)])
        q = torch.cat([self.encoder(t[s : s + step], self.device).to(torch.float64) @ v
                       for s in range(0, len(t), step)])
        ho = heldout_evaluation(
            p, q, permutations=cfg.permutations, bootstrap=cfg.bootstrap, seed=self.seed
        )
        mz, mt = self.fit_moments.means()
        fit = SlicedFit(
            aggregation=cfg.aggregation,
            standardizer=self.standardizer,
            z_slicer=self.slicer,
            t_encoder=self.encoder,
            w=w.cpu().numpy(),
            v=v.cpu().numpy(),
            z_feature_mean=mz.cpu().numpy(),
            t_feature_mean=mt.cpu().numpy(),
            pair=sol.pair,
            in_sample=sol.corr,
        )
        summary = ho.summary()
        if full is not None:
            summary["p_value"] = full.p_value
        return SlicedResult(
            **summary,
            n_eval=self.n_eval,
            p_method=(None if cfg.permutations == 0 else "full-sample-permutation"
                      if full is not None else "held-out-permutation"),
            aggregation=cfg.aggregation,
            slices=cfg.slices,
            order=K,
            permutations=cfg.permutations,
            bootstrap=cfg.bootstrap,
            n_fit=self.n_fit,
            slice_scaling=cfg.slice_scaling,
            in_sample=sol.corr,
            device=str(self.device),
            fit=fit,
            full_null=full,
        )


# ----------------------------------------------------------------------------- in memory


def _accumulate(z: np.ndarray, attr: Attribute, config: SlicedConfig, seed: int, device,
                standardizer: Standardizer | None) -> SlicedAccumulator:
    if z.ndim != 2:
        raise ValueError("embeddings must be a 2-D array (n, d)")
    n = z.shape[0]
    if len(attr) != n:
        raise ValueError(f"attribute has {len(attr)} rows, embeddings {n}")
    idx = sample_rows(n, config.calibration_rows, seed)
    if standardizer is None:
        standardizer = Standardizer.fit_embeddings(np.asarray(z[idx]), seed=seed)
    acc = SlicedAccumulator(z.shape[1], attr.take(idx), config, standardizer, n,
                            seed=seed, device=device)
    for s in range(0, n, config.batch_rows):
        acc.update(z[s : s + config.batch_rows], attr.values[s : s + config.batch_rows], s)
    return acc


def sliced_dependence(
    Z: ArrayLike,
    attr: AttributeLike,
    config: SlicedConfig = SlicedConfig(),
    *,
    seed: int = 0,
    device: str | torch.device = "auto",
    standardizer: Standardizer | None = None,
    kind: str | None = None,
) -> SlicedResult:
    """Held-out SI(Z; T) of in-memory data, fed in ``batch_rows`` chunks through
    :class:`SlicedAccumulator` (so it equals the streaming result up to summation order).

    ``Z`` and ``attr`` may be arrays, tensors, DataFrames, Series or an :class:`Attribute`
    (:mod:`infomin_cli.inputs`; ``kind`` overrides the inferred kind).
    Default standardiser: fitted on the seeded sample (:func:`~infomin_cli.stats.sampling.sample_rows`)
    of up to ``calibration_rows`` rows that the audit draws for the same seed.
    """
    Z, attr = estimator_inputs(Z, attr, kind)
    return _accumulate(Z, attr, config, seed, device, standardizer).result()


def sliced_in_sample(
    Z: np.ndarray,
    attr: Attribute,
    config: SlicedConfig = SlicedConfig(),
    *,
    seed: int = 0,
    device: str | torch.device = "auto",
    standardizer: Standardizer | None = None,
) -> dict[str, float]:
    """In-sample (fit = evaluation rows) ridge CCA values ``{"pairwise": .., "joint": ..}``
    on *all* rows, on the same slices. Biased upward -- a diagnostic, never an audit number.
    ``pairwise <= joint`` holds exactly (same ridge shifts)."""
    acc = _accumulate(Z, attr, replace(config, fit_fraction=1.0), seed, device, standardizer)
    return {"pairwise": acc.in_sample("pairwise"), "joint": acc.in_sample("joint")}
