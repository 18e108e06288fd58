"""Column standardisation fitted on a calibration sample.

A one-pass stream cannot know the global moments in advance, so the centre and scale come from
a calibration sample (the audit passes a seeded random sample of up to ~100k rows)::

    z_std[:, j] = clip((z[:, j] - mean_j) / std_j, -c, c)     for live columns j
    z_std[:, j] = 0                                           for dead columns j

Embeddings (:meth:`Standardizer.fit_embeddings`) are standardised *robustly*: ``mean_j`` and
``std_j`` are the moments of the column winsorised at its 0.5% and 99.5% quantiles (the plain
std where that leaves no spread, e.g. a unit that is almost always 0), and standardised values
beyond ``c = 10`` are clipped. A plain mean and standard deviation let a single corrupt value
(1e4 in a column of unit scale) squash the whole column and hide whatever it carries; the
winsorised moments do not move, and the clip bounds that row's weight in every covariance.
(Quantile scales such as the IQR were tried and rejected: on zero-inflated ReLU units they are
tiny and would clip much of the real signal.) How many calibration values were clipped is
reported.

The linear estimator must stay linear, so it does not take the ``±c`` clip (on a zero-inflated
unit after a linear eraser, the few values beyond ``c`` are real and cancel the bulk's
covariance with the attribute; clipping them leaks it). It takes the column's *outlier fence*
instead, fitted on the same sample::

    a_j     = the (FENCE_OUTLIERS + 1)-th largest |z_std[:, j]|   (before the clip)
    fence_j = max(c, FENCE_FACTOR * a_j)

A value beyond ``fence_j`` lies ``FENCE_FACTOR`` times farther out than all but
``FENCE_OUTLIERS`` of the column's values: an isolated corrupt cell (1e4 in a column of unit
scale), not a tail. Clamping it bounds that row's share of the column's variance by
``fence_j^2 / n``; unclamped, one cell at 1e4 standard deviations holds all of it and the
held-out correlation reads that one row (0.59 -> 0.00 on 2,000 rows). A populated tail
(more than ``FENCE_OUTLIERS`` values out there) moves the fence with it, so nothing of it is
clamped.

A column is *dead* when ``std_j <= dead_tol * max(median_k std_k, |mean_j|)``:

* relative to the median std: ReLU units that never fire, LayerNorm gains near zero. Dividing
  by their tiny std would blow numerical noise (or a signal at ~1e-6 of the typical scale,
  i.e. at float32 resolution of anything that mixes it with the other columns) up to unit
  variance and let it dominate the slices;
* relative to ``|mean_j|``: a large constant plus rounding noise (std at a few float32 ulps of
  the value) is noise, not signal.

Dead columns are zeroed (they carry no usable information). Estimators draw their random
directions over the live columns only, so a dead column gives exactly the same result as
dropping it. A bounded subsample of the standardised calibration rows is kept
(:attr:`Standardizer.calibration`) so that estimators can calibrate per-slice scales.

``std_floor > 0`` (used by rho*, whose networks see every live column) divides a live column by
``max(std_j, std_floor * median of the live stds)`` instead of ``std_j``, so near-constant
columns are damped rather than zeroed or blown up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from infomin_cli.stats.choices import DEFAULT_SAMPLE_ROWS
from infomin_cli.stats.sampling import sample_rows

DEFAULT_DEAD_TOL = 1e-5
#: Standard deviations (winsorised) beyond which a standardised embedding value is clipped.
EMBEDDING_CLIP = 10.0
#: Percentile at each end where the robust fit winsorises a column before its moments.
WINSOR_PCT = 0.5
#: Extreme values per column (in the calibration sample) the linear outlier fence can set aside.
FENCE_OUTLIERS = 5
#: How many times farther out than the column's (FENCE_OUTLIERS + 1)-th largest value the fence is.
FENCE_FACTOR = 4.0
CALIBRATION_BUDGET = 1 << 24  # floats kept in Standardizer.calibration (64 MiB of float32)

if TYPE_CHECKING:  # fitting is numpy (``inspect`` uses it); only apply/torch_params need torch
    import torch


@dataclass(frozen=True, eq=False)
class Standardizer:
    """Fitted column standardiser (see the module docstring).

    ``transform(z) = clip((z - mean) * scale, -clip, clip)`` with ``scale[j] = 1 / std[j]`` for
    live columns and 0 for dead ones. With ``robust`` fitting, ``mean`` and ``std`` are the
    winsorised moments (module docstring), so one extreme value cannot squash a column; ``clip``
    then bounds what an extreme value can do to the covariances. ``n_extreme`` counts the
    calibration values that the clip changed. ``fence`` (d,) is each column's outlier fence
    for the linear estimator (:meth:`apply_fenced`; the clip itself without a robust fit, None
    without a clip), ``n_fenced`` the calibration values beyond it.
    """

    mean: np.ndarray  # (d,) float64: the column centre (winsorised mean when robust)
    std: np.ndarray  # (d,) float64: the column scale (winsorised std when robust)
    scale: np.ndarray  # (d,) float64
    dead: np.ndarray  # (d,) bool
    n_sample: int
    calibration: np.ndarray = field(repr=False)  # (m, d) float32 standardised sample rows
    dead_tol: float = DEFAULT_DEAD_TOL
    clip: float | None = None
    n_extreme: int = 0
    robust: bool = False
    fence: np.ndarray | None = field(default=None, repr=False)
    n_fenced: int = 0

    @classmethod
    def fit(
        cls,
        sample: np.ndarray,
        *,
        dead_tol: float = DEFAULT_DEAD_TOL,
        keep_rows: int | None = None,
        seed: int = 0,
        std_floor: float = 0.0,
        robust: bool = False,
        clip: float | None = None,
    ) -> Standardizer:
        """Centre and scale of ``sample`` (n_s, d) (or (n_s,) for a 1-D variable), in float64.

        ``keep_rows`` bounds :attr:`calibration` (default: ``min(n_s, 2**24 // d)``).
        ``dead_tol=0``: a column is dead only when all its values are equal.
        """
        x = np.asarray(sample)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError("Standardizer.fit: need a 2-D sample with at least 2 rows")
        n, d = x.shape
        # Passes over row chunks (column chunks for quantiles), in float64 without a full copy.
        step = max(1, (1 << 22) // max(d, 1))
        total = np.zeros(d)
        lo = np.full(d, np.inf)
        hi = np.full(d, -np.inf)
        for s in range(0, n, step):
            c = np.asarray(x[s : s + step], dtype=np.float64)
            if not np.all(np.isfinite(c)):
                raise ValueError("Standardizer.fit: the sample contains NaN or infinite values")
            total += c.sum(axis=0)
            lo = np.minimum(lo, c.min(axis=0))
            hi = np.maximum(hi, c.max(axis=0))
        mean = total / n
        sq = np.zeros(d)
        for s in range(0, n, step):
            c = np.asarray(x[s : s + step], dtype=np.float64) - mean
            sq += np.einsum("ij,ij->j", c, c)
        std = np.sqrt(sq / n)
        reach = _winsorise(x, mean, std) if robust else None
        constant = lo == hi
        if dead_tol > 0:
            ref = np.maximum(np.median(std), np.abs(mean))
            dead = (std <= dead_tol * ref) | (std == 0) | constant
        else:
            dead = constant | (std == 0)
        if std_floor > 0 and not dead.all():
            floor = max(std_floor * float(np.median(std[~dead])), 1e-300)
            scale = np.where(dead, 0.0, 1.0 / np.maximum(std, floor))
        else:
            scale = np.where(dead, 0.0, 1.0 / np.where(dead, 1.0, std))
        n_extreme = n_fenced = 0
        fence = None
        if clip is not None:
            # the outlier fence (module docstring); without a robust fit, the clip
            fence = np.full(d, float(clip)) if reach is None else np.maximum(
                clip, FENCE_FACTOR * reach * scale)
            for s in range(0, n, step):
                c = np.abs((np.asarray(x[s : s + step], dtype=np.float64) - mean) * scale)
                n_extreme += int((c > clip).sum())
                n_fenced += int((c > fence).sum())
        m = min(n, keep_rows if keep_rows is not None else max(256, CALIBRATION_BUDGET // d))
        idx = sample_rows(n, m, seed)
        calib = (np.asarray(x[idx], dtype=np.float64) - mean) * scale
        if clip is not None:
            np.clip(calib, -clip, clip, out=calib)
        return cls(mean, std, scale, dead, n, calib.astype(np.float32), dead_tol, clip,
                   n_extreme, robust, fence, n_fenced)

    @classmethod
    def fit_embeddings(cls, sample: np.ndarray, *, seed: int = 0) -> Standardizer:
        """The embedding standardiser every estimator of the audit shares: winsorised centre
        and scale, values clipped at ``EMBEDDING_CLIP`` standard deviations."""
        return cls.fit(sample, seed=seed, robust=True, clip=EMBEDDING_CLIP)

    @classmethod
    def fit_sample(
        cls, z: np.ndarray, *, max_rows: int = DEFAULT_SAMPLE_ROWS, seed: int = 0, **kw
    ) -> Standardizer:
        """Fit on a seeded random sample (:func:`sample_rows`) of up to ``max_rows`` rows."""
        return cls.fit(np.asarray(z)[sample_rows(len(z), max_rows, seed)], seed=seed, **kw)

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @property
    def live(self) -> np.ndarray:
        """Indices of the live (non-dead) columns."""
        return np.flatnonzero(~self.dead)

    def transform(self, z: np.ndarray) -> np.ndarray:
        """Standardised (and clipped) copy, float64, of ``z`` (n, d) or (n,)."""
        x = np.asarray(z, dtype=np.float64)
        out = (x.reshape(len(x), -1) - self.mean) * self.scale
        if self.clip is not None:
            np.clip(out, -self.clip, self.clip, out=out)
        return out.reshape(x.shape)

    def apply(self, z: torch.Tensor, params: tuple[torch.Tensor, torch.Tensor] | None = None
              ) -> torch.Tensor:
        """:meth:`transform` in torch, in ``z``'s dtype and device (``params`` from
        :meth:`torch_params`, to avoid re-creating them for every batch)."""
        mean, scale = params if params is not None else self.torch_params(z.device, z.dtype)
        out = z - mean  # one new tensor, then in place: the same numbers, half the memory traffic
        out.mul_(scale)
        return out.clamp_(-self.clip, self.clip) if self.clip is not None else out

    def apply_fenced(self, z: torch.Tensor,
                     params: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
                     ) -> torch.Tensor:
        """``(z - mean) * scale`` clamped to each column's outlier fence (module docstring),
        in ``z``'s dtype and device (``params``: ``(*torch_params(...), fence)``); without a
        fence, not clamped at all."""
        if params is None:
            params = self.fenced_params(z.device, z.dtype)
        mean, scale, fence = params
        out = z - mean
        out.mul_(scale)
        return out.clamp_(-fence, fence)

    def fenced_params(self, device: torch.device, dtype: torch.dtype | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(mean, scale, fence)`` as tensors for :meth:`apply_fenced` (an infinite fence
        when none was fitted)."""
        import torch

        mean, scale = self.torch_params(device, dtype)
        fence = np.full(self.dim, np.inf) if self.fence is None else self.fence
        return mean, scale, torch.as_tensor(fence, dtype=mean.dtype, device=device)

    def torch_params(
        self, device: torch.device, dtype: torch.dtype | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, scale)`` as tensors on ``device`` for ``(z - mean) * scale`` in torch
        (``dtype`` float32 unless given)."""
        import torch

        dtype = torch.float32 if dtype is None else dtype
        return (
            torch.as_tensor(self.mean, dtype=dtype, device=device),
            torch.as_tensor(self.scale, dtype=dtype, device=device),
        )


def _winsorise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Winsorised moments, written into ``mean`` and ``std`` (d,): each column clipped to its
    [0.5%, 99.5%] quantiles first, so a few extreme values (one corrupt cell) move neither the
    centre nor the scale; where that leaves no spread (a column that is almost always 0) the
    plain std stays. Returns each column's ``(FENCE_OUTLIERS + 1)``-th largest distance from
    its winsorised centre (0 when it has no more rows than that), for the outlier fence."""
    n, d = x.shape
    k = n - 1 - FENCE_OUTLIERS
    reach = np.zeros(d)
    cstep = max(1, (1 << 22) // n)
    for j in range(0, d, cstep):
        block = np.asarray(x[:, j : j + cstep], dtype=np.float64)
        qlo, qhi = np.percentile(block, [WINSOR_PCT, 100 - WINSOR_PCT], axis=0)
        w = np.clip(block, qlo, qhi)
        wmean, wstd = w.mean(axis=0), w.std(axis=0)
        mean[j : j + cstep] = wmean
        std[j : j + cstep] = np.where(wstd > 0, wstd, std[j : j + cstep])
        if k >= 0:
            reach[j : j + cstep] = _reach(block, wmean, qlo, qhi)
    return reach


def _reach(block: np.ndarray, centre: np.ndarray, qlo: np.ndarray, qhi: np.ndarray
           ) -> np.ndarray:
    """Each column's ``(FENCE_OUTLIERS + 1)``-th largest ``|x - centre|``, looking only at the
    values at or beyond the column's winsorising quantiles when each side holds more than
    ``FENCE_OUTLIERS`` of them: the centre lies between the quantiles, so every value inside
    is closer to it than all of those (the same number, at a fraction of a full partition)."""
    k = FENCE_OUTLIERS
    out = np.empty(block.shape[1])
    outer = (block >= qhi) | (block <= qlo)
    sides = np.minimum((block >= qhi).sum(0), (block <= qlo).sum(0))
    for j in range(block.shape[1]):
        col = block[outer[:, j], j] if sides[j] > k else block[:, j]
        dist = np.abs(col - centre[j])
        out[j] = np.partition(dist, len(dist) - 1 - k)[len(dist) - 1 - k]
    return out
