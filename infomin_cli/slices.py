"""Random slice directions and the tanh polynomial slice features.

Directions: ``theta_i = g_i / ||g_i||`` with ``g_i ~ N(0, I)`` over the *live* columns (dead
columns get 0), i.e. uniform on the unit sphere of the live subspace. A dead column thus gives
the same directions, bit for bit, as dropping it.

Slice scaling: ``u_i = theta_i^T z / s_i`` where ``s_i`` is the std of ``theta_i^T z`` on the
calibration sample. For standardised but correlated z, ``var(theta^T z) = theta^T R theta``
ranges up to ``lambda_max(R)`` (>> 1 for real embeddings), which saturates ``tanh`` into
``sign(u)`` and destroys the nonlinear features; rescaling keeps ``u`` at unit variance.

Features of a slice: ``[tanh(u), tanh(u)^2, ..., tanh(u)^K]`` (K = order), laid out
slice-major: column ``i * K + k`` is ``tanh(u_i)^(k+1)``.
"""

from __future__ import annotations

import numpy as np
import torch


def sphere_directions(
    dim: int, count: int, seed: int, stream: int, live: np.ndarray | None = None
) -> np.ndarray:
    """``(dim, count)`` float64 unit columns, uniform on the sphere of the ``live`` columns.

    ``stream`` separates independent uses of one seed (Z directions vs T directions).
    """
    live_idx = np.arange(dim) if live is None else np.asarray(live, dtype=np.int64)
    out = np.zeros((dim, count), dtype=np.float64)
    if len(live_idx) == 0:
        return out
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(stream), 0x511CE]))
    g = rng.standard_normal((len(live_idx), count))
    g /= np.linalg.norm(g, axis=0, keepdims=True)
    out[live_idx] = g
    return out


def slice_scales(
    calibration: np.ndarray, directions: np.ndarray, floor: float = 1e-6
) -> np.ndarray:
    """Std of each slice projection on the (standardised) calibration rows; 1 where ~0."""
    if calibration.shape[0] < 2:
        return np.ones(directions.shape[1])
    u = np.asarray(calibration, dtype=np.float64) @ directions
    s = u.std(axis=0)
    return np.where(s > floor, s, 1.0)


def tanh_features(u: torch.Tensor, order: int) -> torch.Tensor:
    """``(b, S)`` slice projections -> ``(b, S * order)`` features ``tanh(u)^k``, k=1..order."""
    t = torch.tanh(u)
    powers = [t]
    for _ in range(order - 1):
        powers.append(powers[-1] * t)
    return torch.stack(powers, dim=-1).reshape(u.shape[0], u.shape[1] * order)
