"""Column standardisation fitted on a calibration sample.

A one-pass stream cannot know the global moments in advance, so the moments come from a
calibration sample (the CLI passes a seeded random sample of up to ~100k rows)::

    z_std[:, j] = (z[:, j] - mean_j) / std_j     for live columns j
    z_std[:, j] = 0                               for dead columns j

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

import numpy as np
import torch

from infomin_cli.stats.sampling import sample_rows

DEFAULT_DEAD_TOL = 1e-5
DEFAULT_SAMPLE_ROWS = 100_000
CALIBRATION_BUDGET = 1 << 24  # floats kept in Standardizer.calibration (64 MiB of float32)


@dataclass(frozen=True, eq=False)
class Standardizer:
    """Fitted column standardiser (see the module docstring).

    ``scale[j] = 1 / std[j]`` for live columns and 0 for dead ones, so that
    ``transform(z) = (z - mean) * scale``.
    """

    mean: np.ndarray  # (d,) float64
    std: np.ndarray  # (d,) float64, population std of the calibration sample
    scale: np.ndarray  # (d,) float64
    dead: np.ndarray  # (d,) bool
    n_sample: int
    calibration: np.ndarray = field(repr=False)  # (m, d) float32 standardised sample rows
    dead_tol: float = DEFAULT_DEAD_TOL

    @classmethod
    def fit(
        cls,
        sample: np.ndarray,
        *,
        dead_tol: float = DEFAULT_DEAD_TOL,
        keep_rows: int | None = None,
        seed: int = 0,
        std_floor: float = 0.0,
    ) -> Standardizer:
        """Moments of ``sample`` (n_s, d) (or (n_s,) for a 1-D variable), computed in float64.

        ``keep_rows`` bounds :attr:`calibration` (default: ``min(n_s, 2**24 // d)``).
        """
        x = np.asarray(sample)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError("Standardizer.fit: need a 2-D sample with at least 2 rows")
        n, d = x.shape
        # Two passes over row chunks, accumulated in float64: no full float64 copy of x.
        step = max(1, (1 << 22) // max(d, 1))
        total = np.zeros(d)
        for s in range(0, n, step):
            c = np.asarray(x[s : s + step], dtype=np.float64)
            if not np.all(np.isfinite(c)):
                raise ValueError("Standardizer.fit: the sample contains NaN or infinite values")
            total += c.sum(axis=0)
        mean = total / n
        sq = np.zeros(d)
        for s in range(0, n, step):
            c = np.asarray(x[s : s + step], dtype=np.float64) - mean
            sq += np.einsum("ij,ij->j", c, c)
        std = np.sqrt(sq / n)
        ref = np.maximum(np.median(std), np.abs(mean))
        dead = (std <= dead_tol * ref) | (std == 0)
        if std_floor > 0 and not dead.all():
            floor = max(std_floor * float(np.median(std[~dead])), 1e-300)
            scale = np.where(dead, 0.0, 1.0 / np.maximum(std, floor))
        else:
            scale = np.where(dead, 0.0, 1.0 / np.where(dead, 1.0, std))
        m = min(n, keep_rows if keep_rows is not None else max(256, CALIBRATION_BUDGET // d))
        idx = sample_rows(n, m, seed)
        calib = ((np.asarray(x[idx], dtype=np.float64) - mean) * scale).astype(np.float32)
        return cls(mean, std, scale, dead, n, calib, dead_tol)

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
        """Standardised copy (float64) of ``z`` (n, d) or (n,)."""
        x = np.asarray(z, dtype=np.float64)
        out = (x.reshape(len(x), -1) - self.mean) * self.scale
        return out.reshape(x.shape)

    def torch_params(
        self, device: torch.device, dtype: torch.dtype = torch.float32
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, scale)`` as tensors on ``device`` for ``(z - mean) * scale`` in torch."""
        return (
            torch.as_tensor(self.mean, dtype=dtype, device=device),
            torch.as_tensor(self.scale, dtype=dtype, device=device),
        )
