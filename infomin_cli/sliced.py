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

Ridge: ``Czz + rz I`` with ``rz = ridge * tr(Czz) / (S K)`` -- the *same* absolute shift for the
joint block and for every K x K pairwise block (likewise for T), so the pairwise problem is a
restriction of the joint one and ``pairwise <= joint`` holds exactly in-sample.

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
paper's estimator; the linear measure (:mod:`infomin_cli.linear`) uses all d columns at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch

from infomin_cli.attributes import DISCRETE_KINDS, Attribute
from infomin_cli.cca import (
    CCASolution,
    CrossMoments,
    cca_from_cov,
    check_batch,
    eval_probability,
    heldout_evaluation,
    inv_sqrt_psd,
    ridge_shift,
    split_is_eval,
)
from infomin_cli.device import resolve_device, to_tensor
from infomin_cli.slices import slice_scales, sphere_directions, tanh_features
from infomin_cli.standardize import Standardizer, sample_rows

Aggregation = Literal["pairwise", "joint"]
SliceScaling = Literal["std", "none"]
MIN_SPLIT_ROWS = 10


@dataclass(frozen=True)
class SlicedConfig:
    """Settings of the sliced estimator.

    ``slice_scaling="std"`` divides each slice projection by its calibration std before tanh;
    ``"none"`` is the paper's raw ``theta^T z_std``. ``max_eval_rows`` caps the eval split
    (``None``: no cap). ``calibration_rows`` is the in-memory standardiser's sample size.
    """

    slices: int = 100
    order: int = 3
    aggregation: Aggregation = "pairwise"
    permutations: int = 1000
    fit_fraction: float = 0.5
    ridge: float = 1e-3
    bootstrap: int = 500
    seed: int = 0
    device: str = "auto"
    batch_rows: int = 65536
    slice_scaling: SliceScaling = "std"
    max_eval_rows: int | None = 250_000
    calibration_rows: int = 100_000

    def __post_init__(self) -> None:
        if self.slices < 1 or self.order < 1:
            raise ValueError("slices and order must be >= 1")
        if self.aggregation not in ("pairwise", "joint"):
            raise ValueError(f"aggregation must be 'pairwise' or 'joint', not {self.aggregation!r}")
        if self.slice_scaling not in ("std", "none"):
            raise ValueError("slice_scaling must be 'std' or 'none'")
        if not 0.0 < self.fit_fraction <= 1.0:
            raise ValueError("fit_fraction must be in (0, 1]")
        if self.ridge < 0 or self.permutations < 0 or self.bootstrap < 0:
            raise ValueError("ridge, permutations and bootstrap must be >= 0")
        if self.batch_rows < 1:
            raise ValueError("batch_rows must be >= 1")


@dataclass(frozen=True, eq=False)
class SlicedFit:
    """Everything needed to recompute the fitted projections on new rows (e.g. for debias).

    ``p = (F_z(z) - z_feature_mean) @ w`` and ``q = (F_t(t) - t_feature_mean) @ v``, with
    ``F_z(z) = tanh_features((standardise(z) @ theta) / z_scale, order)`` and ``F_t`` as in the
    module docstring. ``w`` (S K,) and ``v`` are full length; for pairwise they are zero
    outside the slice blocks ``pair = (i*, j*)``.
    """

    aggregation: Aggregation
    order: int
    theta: np.ndarray  # (d, S)
    z_scale: np.ndarray  # (S,)
    t_mode: Literal["onehot", "tanh", "sliced"]
    phi: np.ndarray | None  # (k, S) for multidim T
    t_scale: np.ndarray | None
    w: np.ndarray
    v: np.ndarray
    z_feature_mean: np.ndarray
    t_feature_mean: np.ndarray
    pair: tuple[int, int] | None
    in_sample: float  # ridge CCA value on the fit rows (biased upward; diagnostics only)
    standardizer: Standardizer
    t_standardizer: Standardizer | None
    n_classes: int | None

    def z_features(self, z_std: torch.Tensor) -> torch.Tensor:
        """Features of already standardised rows (differentiable in ``z_std``)."""
        th = torch.as_tensor(self.theta / self.z_scale, dtype=z_std.dtype, device=z_std.device)
        return tanh_features(z_std @ th, self.order)

    def t_features(self, values: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
        return _t_features(
            values,
            self.t_mode,
            self.n_classes,
            self.order,
            self.t_standardizer,
            self.phi,
            self.t_scale,
            device,
        )

    def project_z(self, z_std: torch.Tensor) -> torch.Tensor:
        f = self.z_features(z_std)
        m = torch.as_tensor(self.z_feature_mean, dtype=f.dtype, device=f.device)
        return (f - m) @ torch.as_tensor(self.w, dtype=f.dtype, device=f.device)

    def project_t(self, values: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
        f = self.t_features(values, device)
        m = torch.as_tensor(self.t_feature_mean, dtype=f.dtype, device=f.device)
        return (f - m) @ torch.as_tensor(self.v, dtype=f.dtype, device=f.device)


@dataclass(frozen=True, eq=False)
class SlicedResult:
    """Held-out sliced dependence with its permutation null and bootstrap interval."""

    value: float
    p_value: float | None
    null_mean: float | None
    null_q95: float | None
    ci: tuple[float, float] | None
    ci_method: str | None
    aggregation: Aggregation
    slices: int
    order: int
    permutations: int
    bootstrap: int
    n_fit: int
    n_eval: int
    slice_scaling: SliceScaling
    in_sample: float
    corr: float  # signed held-out correlation before clipping
    device: str
    fit: SlicedFit


# ----------------------------------------------------------------------------- T features


def _t_features(
    values: np.ndarray | torch.Tensor,
    mode: str,
    n_classes: int | None,
    order: int,
    t_std: Standardizer | None,
    phi: np.ndarray | None,
    t_scale: np.ndarray | None,
    device: torch.device,
) -> torch.Tensor:
    if mode == "onehot":
        codes = torch.as_tensor(np.asarray(values), dtype=torch.int64, device=device)
        oh = torch.nn.functional.one_hot(codes, n_classes).to(torch.float32)
        return oh[:, : n_classes - 1]  # drop the last class: full rank, same linear span
    mean, scale = t_std.torch_params(device)  # type: ignore[union-attr]
    t = to_tensor(np.asarray(values), torch.float32, device)
    t = (t.reshape(t.shape[0], -1) - mean) * scale
    if mode == "sliced":
        t = t @ torch.as_tensor(phi / t_scale, dtype=torch.float32, device=device)
    return tanh_features(t, order)


# ----------------------------------------------------------------------------- accumulator


class SlicedAccumulator:
    """One-pass, mergeable accumulation of the sliced estimator's statistics.

    ``update(z_batch, attr_batch_values, row_offset)`` takes rows ``row_offset ..`` of the
    dataset (any batch sizes, any order); ``merge(other)`` adds another accumulator built with
    the same arguments over other rows; ``result()`` fits on the fit rows and evaluates on
    the eval rows. ``attr_template`` gives kind/classes/width; its values (T on the
    calibration sample, may be empty for discrete kinds) standardise a continuous or
    multidim T unless ``t_standardizer`` is given. Memory: see the module docstring.
    """

    def __init__(
        self,
        dim: int,
        attr_template: Attribute,
        config: SlicedConfig,
        standardizer: Standardizer,
        n_total: int,
        *,
        t_standardizer: Standardizer | None = None,
    ) -> None:
        if standardizer.dim != dim:
            raise ValueError(f"standardizer has {standardizer.dim} columns, embeddings {dim}")
        self.dim = dim
        self.config = config
        self.standardizer = standardizer
        self.n_total = int(n_total)
        self.kind = attr_template.kind
        self.device = resolve_device(config.device)
        cfg = config
        S, K = cfg.slices, cfg.order
        self.theta = sphere_directions(dim, S, cfg.seed, 1, live=standardizer.live)
        if cfg.slice_scaling == "std":
            self.z_scale = slice_scales(standardizer.calibration, self.theta)
        else:
            self.z_scale = np.ones(S)
        self._mean, self._scale = standardizer.torch_params(self.device)
        self._theta = torch.as_tensor(
            self.theta / self.z_scale, dtype=torch.float32, device=self.device
        )

        self.n_classes: int | None = None
        self.t_standardizer: Standardizer | None = None
        self.phi: np.ndarray | None = None
        self.t_scale: np.ndarray | None = None
        if self.kind in DISCRETE_KINDS:
            self.n_classes = attr_template.n_classes
            if self.n_classes is None or self.n_classes < 2:
                raise ValueError(f"attribute {attr_template.name!r} has fewer than 2 classes")
            self.t_mode, self.t_slices, self.t_order = "onehot", 1, self.n_classes - 1
        else:
            if t_standardizer is None:
                if len(attr_template) < 2:
                    raise ValueError(
                        f"attribute {attr_template.name!r}: a {self.kind} attribute needs its "
                        "values on the calibration sample (attr_template) or t_standardizer"
                    )
                t_standardizer = Standardizer.fit(attr_template.values, seed=cfg.seed)
            self.t_standardizer = t_standardizer
            if self.kind == "continuous":
                self.t_mode, self.t_slices, self.t_order = "tanh", 1, K
            else:
                k = attr_template.width
                self.phi = sphere_directions(k, S, cfg.seed, 2, live=t_standardizer.live)
                self.t_scale = (
                    slice_scales(t_standardizer.calibration, self.phi)
                    if cfg.slice_scaling == "std"
                    else np.ones(S)
                )
                self.t_mode, self.t_slices, self.t_order = "sliced", S, K
        self.t_width = attr_template.width

        self.p_eval = eval_probability(self.n_total, cfg.fit_fraction, cfg.max_eval_rows)
        self.fit_moments = CrossMoments(S * K, self.t_slices * self.t_order, self.device)
        self._eval_rows: list[np.ndarray] = []
        self._eval_u: list[torch.Tensor] = []
        self._eval_t: list[np.ndarray] = []
        self.rows_seen = 0

    # -- accumulation ---------------------------------------------------------------------

    def _t_feats(self, values: np.ndarray | torch.Tensor) -> torch.Tensor:
        return _t_features(
            values,
            self.t_mode,
            self.n_classes,
            self.config.order,
            self.t_standardizer,
            self.phi,
            self.t_scale,
            self.device,
        )

    def _check_t(self, t: np.ndarray, b: int) -> np.ndarray:
        t = np.asarray(t)
        if t.shape[0] != b:
            raise ValueError(f"attribute batch has {t.shape[0]} rows, embeddings {b}")
        if self.kind in DISCRETE_KINDS:
            if t.ndim != 1 or (b and (t.min() < 0 or t.max() >= self.n_classes)):
                raise ValueError("attribute batch: class codes out of range")
            return t.astype(np.int64, copy=False)
        t = t.astype(np.float64, copy=False)
        if self.kind == "multidim" and (t.ndim != 2 or t.shape[1] != self.t_width):
            raise ValueError(f"attribute batch: expected shape (b, {self.t_width})")
        if not np.all(np.isfinite(t)):
            raise ValueError("attribute batch contains NaN or infinite values")
        return t

    def update(
        self, z_batch: np.ndarray | torch.Tensor, attr_batch_values: np.ndarray, row_offset: int
    ) -> None:
        """Add rows ``row_offset .. row_offset + len(z_batch) - 1``."""
        b = check_batch(z_batch, self.dim, row_offset, self.n_total)
        if b == 0:
            return
        t = self._check_t(attr_batch_values, b)
        step = self.config.batch_rows
        for s in range(0, b, step):
            self._update_chunk(z_batch[s : s + step], t[s : s + step], row_offset + s)
        self.rows_seen += b

    def project(self, z: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Scaled slice projections ``u`` (b, S) of raw embedding rows, float32."""
        z = to_tensor(z, torch.float32, self.device)
        if not bool(torch.isfinite(z).all()):
            raise ValueError("embedding batch contains NaN or infinite values")
        return ((z - self._mean) * self._scale) @ self._theta

    def same_projection(self, other: SlicedAccumulator) -> bool:
        """True when ``other.project`` gives the same ``u`` (so one projection can feed both)."""
        return (
            other.dim == self.dim
            and other.standardizer is self.standardizer
            and other.device == self.device
            and np.array_equal(other.theta, self.theta)
            and np.array_equal(other.z_scale, self.z_scale)
        )

    def update_projected(
        self, u: torch.Tensor, attr_batch_values: np.ndarray, row_offset: int
    ) -> None:
        """Like :meth:`update`, with ``u = self.project(z_batch)`` computed by the caller
        (e.g. once for several attributes that share the slices)."""
        b = check_batch(u, self.config.slices, row_offset, self.n_total)
        if b == 0:
            return
        t = self._check_t(attr_batch_values, b)
        self._add_projected(u, t, row_offset)
        self.rows_seen += b

    def _update_chunk(self, z, t: np.ndarray, row_offset: int) -> None:
        self._add_projected(self.project(z), t, row_offset)

    def _add_projected(self, u: torch.Tensor, t: np.ndarray, row_offset: int) -> None:
        b = int(u.shape[0])
        rows = np.arange(row_offset, row_offset + b, dtype=np.int64)
        is_eval = split_is_eval(rows, self.config.seed, self.p_eval)
        fit_idx = np.flatnonzero(~is_eval)
        if len(fit_idx):
            fi = torch.as_tensor(fit_idx, device=self.device)
            self.fit_moments.update(
                tanh_features(u[fi], self.config.order), self._t_feats(t[fit_idx])
            )
        ev_idx = np.flatnonzero(is_eval)
        if len(ev_idx):
            self._eval_rows.append(rows[ev_idx])
            self._eval_u.append(u[torch.as_tensor(ev_idx, device=self.device)].clone())
            self._eval_t.append(t[ev_idx])

    def merge(self, other: SlicedAccumulator) -> SlicedAccumulator:
        """Add ``other``'s rows (same construction arguments, disjoint rows); returns self."""
        if other.dim != self.dim or other.config != self.config or other.n_total != self.n_total:
            raise ValueError("can only merge accumulators built with the same arguments")
        self.fit_moments.merge(other.fit_moments)
        self._eval_rows.extend(other._eval_rows)
        self._eval_u.extend(u.to(self.device) for u in other._eval_u)
        self._eval_t.extend(other._eval_t)
        self.rows_seen += other.rows_seen
        return self

    # -- fitting --------------------------------------------------------------------------

    @property
    def n_fit(self) -> int:
        return self.fit_moments.n

    @property
    def n_eval(self) -> int:
        return int(sum(len(r) for r in self._eval_rows))

    def _solve(
        self, aggregation: Aggregation
    ) -> tuple[float, torch.Tensor, torch.Tensor, tuple[int, int] | None]:
        """Fit on the fit rows: ``(corr, w_full, v_full, pair)``."""
        if self.n_fit < MIN_SPLIT_ROWS:
            raise ValueError(f"too few fit rows ({self.n_fit}) for the sliced estimator")
        cfg = self.config
        S, K = cfg.slices, cfg.order
        St, Kt = self.t_slices, self.t_order
        czz, ctt, czt = self.fit_moments.covariances()
        rz = ridge_shift(czz, cfg.ridge)
        rt = ridge_shift(ctt, cfg.ridge)
        if aggregation == "joint":
            sol = cca_from_cov(czz, ctt, czt, shift_x=rz, shift_y=rt)
            return float(sol.corr), sol.w, sol.v, None
        bz = torch.diagonal(czz.reshape(S, K, S, K), dim1=0, dim2=2).permute(2, 0, 1)
        bt = torch.diagonal(ctt.reshape(St, Kt, St, Kt), dim1=0, dim2=2).permute(2, 0, 1)
        bzt = czt.reshape(S, K, St, Kt).permute(0, 2, 1, 3)  # (S, St, K, Kt)
        sol = pairwise_cca(bz, bt, bzt, rz, rt)
        best = int(torch.argmax(sol.corr))
        i, j = divmod(best, St)
        w = torch.zeros(S * K, dtype=torch.float64, device=self.device)
        v = torch.zeros(St * Kt, dtype=torch.float64, device=self.device)
        w[i * K : (i + 1) * K] = sol.w[i, j]
        v[j * Kt : (j + 1) * Kt] = sol.v[i, j]
        return float(sol.corr[i, j]), w, v, (i, j)

    def in_sample(self, aggregation: Aggregation | None = None) -> float:
        """Ridge CCA value on the fit rows themselves (biased upward; for diagnostics)."""
        return self._solve(aggregation or self.config.aggregation)[0]

    def _eval_data(self) -> tuple[torch.Tensor, np.ndarray]:
        rows = np.concatenate(self._eval_rows)
        order = np.argsort(rows, kind="stable")
        u = torch.cat(self._eval_u)[torch.as_tensor(order, device=self.device)]
        t = np.concatenate(self._eval_t)[order]
        return u, t

    def result(self) -> SlicedResult:
        cfg = self.config
        if self.n_eval < MIN_SPLIT_ROWS:
            raise ValueError(f"too few eval rows ({self.n_eval}) for a held-out estimate")
        in_sample, w, v, pair = self._solve(cfg.aggregation)
        u, t = self._eval_data()
        K = cfg.order
        if pair is not None:
            i = pair[0]
            p = tanh_features(u[:, i : i + 1], K).to(torch.float64) @ w[i * K : (i + 1) * K]
        else:
            p = torch.cat(
                [
                    tanh_features(u[s : s + cfg.batch_rows], K).to(torch.float64) @ w
                    for s in range(0, u.shape[0], cfg.batch_rows)
                ]
            )
        q = torch.cat(
            [
                self._t_feats(t[s : s + cfg.batch_rows]).to(torch.float64) @ v
                for s in range(0, len(t), cfg.batch_rows)
            ]
        )
        ho = heldout_evaluation(
            p, q, permutations=cfg.permutations, bootstrap=cfg.bootstrap, seed=cfg.seed
        )
        mz, mt = self.fit_moments.means()
        fit = SlicedFit(
            aggregation=cfg.aggregation,
            order=K,
            theta=self.theta,
            z_scale=self.z_scale,
            t_mode=self.t_mode,  # type: ignore[arg-type]
            phi=self.phi,
            t_scale=self.t_scale,
            w=w.cpu().numpy(),
            v=v.cpu().numpy(),
            z_feature_mean=mz.cpu().numpy(),
            t_feature_mean=mt.cpu().numpy(),
            pair=pair,
            in_sample=in_sample,
            standardizer=self.standardizer,
            t_standardizer=self.t_standardizer,
            n_classes=self.n_classes,
        )
        return SlicedResult(
            **ho.summary(),
            aggregation=cfg.aggregation,
            slices=cfg.slices,
            order=K,
            permutations=cfg.permutations,
            bootstrap=cfg.bootstrap,
            n_fit=self.n_fit,
            n_eval=self.n_eval,
            slice_scaling=cfg.slice_scaling,
            in_sample=in_sample,
            device=str(self.device),
            fit=fit,
        )


def pairwise_cca(
    bz: torch.Tensor,
    bt: torch.Tensor,
    bzt: torch.Tensor,
    rz: torch.Tensor | float,
    rt: torch.Tensor | float,
) -> CCASolution:
    """All slice pairs at once: blocks ``bz`` (S, K, K), ``bt`` (St, Kt, Kt), ``bzt``
    (S, St, K, Kt) -> :class:`~infomin_cli.cca.CCASolution` batched over (S, St).

    Whitening is computed once per slice (S + St small ``eigh``), then one batched SVD over
    the S x St whitened cross-covariances.
    """
    wz = inv_sqrt_psd(bz, rz)  # (S, K, K)
    wt = inv_sqrt_psd(bt, rt)  # (St, Kt, Kt)
    m = wz[:, None] @ bzt @ wt[None]
    a, s, bh = torch.linalg.svd(m, full_matrices=False)
    w = (wz[:, None] @ a[..., :, :1])[..., 0]
    v = (wt[None] @ bh[..., :1, :].transpose(-1, -2))[..., 0]
    return CCASolution(s.clamp(0.0, 1.0), w, v)


# ----------------------------------------------------------------------------- in memory


def _accumulate(
    z: np.ndarray, attr: Attribute, config: SlicedConfig, standardizer: Standardizer | None
) -> SlicedAccumulator:
    if z.ndim != 2:
        raise ValueError("embeddings must be a 2-D array (n, d)")
    n = z.shape[0]
    if len(attr) != n:
        raise ValueError(f"attribute has {len(attr)} rows, embeddings {n}")
    idx = sample_rows(n, config.calibration_rows, config.seed)
    if standardizer is None:
        standardizer = Standardizer.fit(np.asarray(z[idx]), seed=config.seed)
    acc = SlicedAccumulator(z.shape[1], attr.take(idx), config, standardizer, n)
    for s in range(0, n, config.batch_rows):
        acc.update(z[s : s + config.batch_rows], attr.values[s : s + config.batch_rows], s)
    return acc


def sliced_dependence(
    Z: np.ndarray,
    attr: Attribute,
    config: SlicedConfig = SlicedConfig(),
    *,
    standardizer: Standardizer | None = None,
) -> SlicedResult:
    """Held-out SI(Z; T) of in-memory data, fed in ``batch_rows`` chunks through
    :class:`SlicedAccumulator` (so it equals the streaming result up to summation order).

    Default standardiser: fitted on a seeded sample of up to ``calibration_rows`` rows.
    """
    return _accumulate(Z, attr, config, standardizer).result()


def sliced_in_sample(
    Z: np.ndarray,
    attr: Attribute,
    config: SlicedConfig = SlicedConfig(),
    *,
    standardizer: Standardizer | None = None,
) -> dict[str, float]:
    """In-sample (fit = evaluation rows) ridge CCA values ``{"pairwise": .., "joint": ..}``
    on *all* rows, on the same slices. Biased upward -- a diagnostic, never an audit number.
    ``pairwise <= joint`` holds exactly (same ridge shifts)."""
    acc = _accumulate(Z, attr, replace(config, fit_fraction=1.0), standardizer)
    return {"pairwise": acc.in_sample("pairwise"), "joint": acc.in_sample("joint")}
