"""Linear leakage: the top held-out canonical correlation between Z and T's design.

::

    X = standardise(Z)            all d columns (dead columns are zero)
    Y = one-hot(T) minus its last column     binary / categorical
      = standardise(T)                       continuous (n, 1) or multidim (n, k)
    (w, v) = ridge CCA of (X, Y) on the fit rows,   rz = ridge * tr(Cxx) / d_live
    ridge  = chosen from RIDGE_GRID by inner validation on the fit rows (default), or fixed
    value  = clip(corr(X w, Y v) on the eval rows, 0, 1)

For jointly Gaussian data this is the population canonical correlation (|corr| for 1-D T);
it is what a linear probe can extract, and 0 after an exact linear eraser. The split,
permutation p-value and bootstrap interval are those of the sliced estimator
(:func:`infomin_cli.cca.heldout_evaluation`).

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

from infomin_cli.attributes import DISCRETE_KINDS, Attribute
from infomin_cli.cca import (
    CrossMoments,
    cca_from_cov,
    check_batch,
    eval_probability,
    fit_probability,
    heldout_evaluation,
    row_uniform,
    split_roles,
)
from infomin_cli.device import resolve_device, to_tensor
from infomin_cli.standardize import DEFAULT_SAMPLE_ROWS, Standardizer, sample_rows

MIN_SPLIT_ROWS = 10


DEFAULT_MAX_FIT_ROWS = 250_000
#: Relative ridges tried by inner validation. With d comparable to the fit rows a tiny ridge
#: overfits badly (d=768, 1,000 fit rows: held-out 0.22 at 1e-3 where a tuned ridge probe
#: reaches 0.50), so the ridge is chosen on the fit rows alone -- the eval rows stay untouched
#: and the permutation test stays exact.
RIDGE_GRID: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
FALLBACK_RIDGE = 1e-3


def default_max_eval_rows(dim: int) -> int:
    return int(min(max(2**26 // max(dim, 1), 10_000), 250_000))


@dataclass(frozen=True, eq=False)
class LinearResult:
    """Held-out top canonical correlation; ``w`` (d,) acts on standardised Z, ``v`` on Y."""

    value: float
    p_value: float | None
    null_mean: float | None
    null_q95: float | None
    ci: tuple[float, float] | None
    ci_method: str | None
    n_fit: int
    n_eval: int
    in_sample: float  # ridge CCA on the fit rows (biased upward; diagnostics only)
    corr: float  # signed held-out correlation before clipping
    ridge: float  # the relative ridge used for the final fit
    ridge_method: str  # "inner-validation" (chosen from RIDGE_GRID) or "fixed"
    permutations: int
    bootstrap: int
    device: str
    w: np.ndarray
    v: np.ndarray


class LinearAccumulator:
    """One-pass, mergeable accumulation for :func:`linear_dependence` (same protocol as
    :class:`~infomin_cli.sliced.SlicedAccumulator`)."""

    def __init__(
        self,
        dim: int,
        attr_template: Attribute,
        standardizer: Standardizer,
        n_total: int,
        *,
        fit_fraction: float = 0.5,
        ridge: float | None = None,
        seed: int = 0,
        permutations: int = 1000,
        bootstrap: int = 500,
        device: str | torch.device = "auto",
        max_eval_rows: int | None = -1,
        batch_rows: int = 65536,
        t_standardizer: Standardizer | None = None,
        max_fit_rows: int | None = DEFAULT_MAX_FIT_ROWS,
    ) -> None:
        if standardizer.dim != dim:
            raise ValueError(f"standardizer has {standardizer.dim} columns, embeddings {dim}")
        if not 0.0 < fit_fraction <= 1.0:
            raise ValueError("fit_fraction must be in (0, 1]")
        self.dim, self.standardizer, self.n_total = dim, standardizer, int(n_total)
        self.ridge, self.seed = ridge, seed
        self.permutations, self.bootstrap, self.batch_rows = permutations, bootstrap, batch_rows
        self.device = resolve_device(device)
        self.kind = attr_template.kind
        self.n_classes = attr_template.n_classes
        if self.kind in DISCRETE_KINDS:
            if self.n_classes is None or self.n_classes < 2:
                raise ValueError(f"attribute {attr_template.name!r} has fewer than 2 classes")
            q = self.n_classes - 1
        else:
            if t_standardizer is None:
                if len(attr_template) < 2:
                    raise ValueError(
                        f"attribute {attr_template.name!r}: a {self.kind} attribute needs its "
                        "values on the calibration sample (attr_template) or t_standardizer"
                    )
                t_standardizer = Standardizer.fit(attr_template.values, seed=seed)
            q = attr_template.width
        self.t_standardizer = t_standardizer
        self.q = q
        if max_eval_rows == -1:
            max_eval_rows = default_max_eval_rows(dim)
        self.p_eval = eval_probability(self.n_total, fit_fraction, max_eval_rows)
        # The d x d fit covariance costs O(n d^2): past max_fit_rows rows it is precise
        # enough, so a seeded subset of the fit rows is used (disjoint from the eval rows).
        self.p_fit = fit_probability(self.n_total, self.p_eval, max_fit_rows)
        self._mean, self._scale = standardizer.torch_params(self.device)
        # The fit rows in two halves (a seeded hash, like the splits): the ridge is chosen by
        # fitting on one half and scoring on the other; the final fit uses both.
        self.fit_halves = (CrossMoments(dim, q, self.device), CrossMoments(dim, q, self.device))
        self._eval_rows: list[np.ndarray] = []
        self._eval_x: list[torch.Tensor] = []
        self._eval_y: list[torch.Tensor] = []

    def _design(self, t: np.ndarray) -> torch.Tensor:
        if self.kind in DISCRETE_KINDS:
            codes = torch.as_tensor(np.asarray(t, dtype=np.int64), device=self.device)
            oh = torch.nn.functional.one_hot(codes, self.n_classes).to(torch.float32)
            return oh[:, : self.n_classes - 1]
        mean, scale = self.t_standardizer.torch_params(self.device)  # type: ignore[union-attr]
        y = to_tensor(np.asarray(t, dtype=np.float64), torch.float32, self.device)
        return (y.reshape(y.shape[0], -1) - mean) * scale

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
        for s in range(0, b, self.batch_rows):
            self._update_chunk(
                z_batch[s : s + self.batch_rows], t[s : s + self.batch_rows], row_offset + s
            )

    def _update_chunk(self, z, t: np.ndarray, row_offset: int) -> None:
        rows = np.arange(row_offset, row_offset + int(z.shape[0]), dtype=np.int64)
        is_eval, is_fit = split_roles(rows, self.seed, self.p_eval, self.p_fit)
        z = to_tensor(z, torch.float32, self.device)
        if not bool(torch.isfinite(z).all()):
            raise ValueError("embedding batch contains NaN or infinite values")
        x = (z - self._mean) * self._scale
        y = self._design(t)
        if not bool(torch.isfinite(y).all()):
            raise ValueError("attribute batch contains NaN or infinite values")
        half = row_uniform(rows, self.seed ^ 0x5EED_F17) < 0.5
        for moments, sel in zip(self.fit_halves, (is_fit & half, is_fit & ~half)):
            fi = torch.as_tensor(np.flatnonzero(sel), device=self.device)
            moments.update(x[fi], y[fi])
        ev = np.flatnonzero(is_eval)
        if len(ev):
            ei = torch.as_tensor(ev, device=self.device)
            self._eval_rows.append(rows[ev])
            self._eval_x.append(x[ei].clone())
            self._eval_y.append(y[ei].clone())

    def merge(self, other: LinearAccumulator) -> LinearAccumulator:
        """Add ``other``'s rows (same construction arguments, disjoint rows); returns self."""
        if (other.dim != self.dim or other.n_total != self.n_total
                or other.p_eval != self.p_eval or other.p_fit != self.p_fit):
            raise ValueError("can only merge accumulators built with the same arguments")
        for mine, theirs in zip(self.fit_halves, other.fit_halves):
            mine.merge(theirs)
        self._eval_rows.extend(other._eval_rows)
        self._eval_x.extend(x.to(self.device) for x in other._eval_x)
        self._eval_y.extend(y.to(self.device) for y in other._eval_y)
        return self

    @property
    def n_fit(self) -> int:
        return sum(m.n for m in self.fit_halves)

    @property
    def n_eval(self) -> int:
        return int(sum(len(r) for r in self._eval_rows))

    def result(self) -> LinearResult:
        n_fit = self.n_fit
        if n_fit < MIN_SPLIT_ROWS or self.n_eval < MIN_SPLIT_ROWS:
            raise ValueError(
                f"too few rows for a held-out estimate (fit {n_fit}, eval {self.n_eval})"
            )
        d_live = max(int((~self.standardizer.dead).sum()), 1)
        if self.ridge is not None:
            ridge, method = self.ridge, "fixed"
        elif min(m.n for m in self.fit_halves) < MIN_SPLIT_ROWS:
            ridge, method = FALLBACK_RIDGE, "fixed"
        else:
            a, b = (m.covariances() for m in self.fit_halves)
            scores = validation_curve(a, b, RIDGE_GRID, d_live, self.q)
            ridge, method = RIDGE_GRID[int(torch.argmax(scores))], "inner-validation"
        both = CrossMoments(self.dim, self.q, self.device)
        for m in self.fit_halves:
            both.merge(m)
        cxx, cyy, cxy = both.covariances()
        rx = ridge * torch.diagonal(cxx).sum() / d_live
        ry = ridge * torch.diagonal(cyy).sum() / self.q
        sol = cca_from_cov(cxx, cyy, cxy, shift_x=rx, shift_y=ry)
        rows = np.concatenate(self._eval_rows)
        order = torch.as_tensor(np.argsort(rows, kind="stable"), device=self.device)
        x = torch.cat(self._eval_x)[order]
        y = torch.cat(self._eval_y)[order]
        p = torch.cat(
            [
                x[s : s + self.batch_rows].to(torch.float64) @ sol.w
                for s in range(0, x.shape[0], self.batch_rows)
            ]
        )
        q = y.to(torch.float64) @ sol.v
        ho = heldout_evaluation(
            p, q, permutations=self.permutations, bootstrap=self.bootstrap, seed=self.seed
        )
        return LinearResult(
            **ho.summary(),
            n_fit=n_fit,
            n_eval=self.n_eval,
            in_sample=float(sol.corr),
            ridge=ridge,
            ridge_method=method,
            permutations=self.permutations,
            bootstrap=self.bootstrap,
            device=str(self.device),
            w=sol.w.cpu().numpy(),
            v=sol.v.cpu().numpy(),
        )


def validation_curve(fit, val, grid: tuple[float, ...], d_live: int, q: int) -> torch.Tensor:
    """Correlation on ``val`` covariances of the top CCA pair fitted on ``fit`` covariances,
    for each relative ridge in ``grid``. One ``eigh`` per block serves every ridge."""
    cxx, cyy, cxy = fit
    vxx, vyy, vxy = val
    lx, ux = torch.linalg.eigh(cxx)
    ly, uy = torch.linalg.eigh(cyy)
    lx, ly = lx.clamp_min(0), ly.clamp_min(0)
    scores = []
    for r in grid:
        sx = r * lx.sum() / d_live
        sy = r * ly.sum() / q
        wx = (ux * (lx + sx).rsqrt()) @ ux.T
        wy = (uy * (ly + sy).rsqrt()) @ uy.T
        a, _, bh = torch.linalg.svd(wx @ cxy @ wy, full_matrices=False)
        w, v = wx @ a[:, 0], wy @ bh[0]
        den = torch.sqrt((w @ vxx @ w) * (v @ vyy @ v)).clamp_min(1e-300)
        scores.append((w @ vxy @ v) / den)
    return torch.stack(scores)


def linear_dependence(
    Z: np.ndarray,
    attr: Attribute,
    *,
    fit_fraction: float = 0.5,
    ridge: float | None = None,
    seed: int = 0,
    permutations: int = 1000,
    bootstrap: int = 500,
    device: str | torch.device = "auto",
    standardizer: Standardizer | None = None,
    max_eval_rows: int | None = -1,
    batch_rows: int = 65536,
    max_fit_rows: int | None = DEFAULT_MAX_FIT_ROWS,
) -> LinearResult:
    """Held-out linear leakage of in-memory data (fed in chunks through
    :class:`LinearAccumulator`). ``max_eval_rows=-1``: the default cap (module docstring)."""
    Z = np.asarray(Z) if not isinstance(Z, torch.Tensor) else Z
    if Z.ndim != 2:
        raise ValueError("embeddings must be a 2-D array (n, d)")
    n, d = Z.shape
    if len(attr) != n:
        raise ValueError(f"attribute has {len(attr)} rows, embeddings {n}")
    idx = sample_rows(n, DEFAULT_SAMPLE_ROWS, seed)
    if standardizer is None:
        standardizer = Standardizer.fit(np.asarray(Z[idx]), seed=seed)
    acc = LinearAccumulator(
        d,
        attr.take(idx),
        standardizer,
        n,
        fit_fraction=fit_fraction,
        ridge=ridge,
        seed=seed,
        permutations=permutations,
        bootstrap=bootstrap,
        device=device,
        max_eval_rows=max_eval_rows,
        max_fit_rows=max_fit_rows,
        batch_rows=batch_rows,
    )
    for s in range(0, n, batch_rows):
        acc.update(Z[s : s + batch_rows], attr.values[s : s + batch_rows], s)
    return acc.result()
