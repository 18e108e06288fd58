"""Standard normal noise keyed by a row's content: a row of embeddings gets the same noise in
any batch, file, shard or order, so a noisy projection is still a function of its input.

    key(z) = mix(sum_j bits(z_j) r_j mod 2^64)      bits: the float32's 32 bits (-0.0 read
                                                    as 0.0); r_j odd 64-bit words drawn
                                                    from ``seed``
    u_c    = (mix(key + c g) >> 11 + 1/2) / 2^53    c = 1, 2, ...: counter-based uniforms
                                                    in (0, 1); g the golden-ratio word
    n      = Box-Muller of (u_1, u_2), (u_3, u_4), ...

``mix`` is SplitMix64's finaliser. The noise is pseudo-random, not secret: anyone with the
projection file and an input row can recompute it. What it removes is what a probe reads of
the noiseless output at scales finer than the noise, not information in the strict sense.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_BLOCK = 64  # columns hashed at a time: bounds the (rows, block) uint64 temporary


def _mix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def row_keys(z: np.ndarray, seed: int) -> np.ndarray:
    """A 64-bit key per row of ``z`` (n, d), read as float32."""
    x = np.ascontiguousarray(np.asarray(z, dtype=np.float32) + np.float32(0.0))  # -0.0 -> 0.0
    bits = x.view(np.uint32)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, (int(seed) >> 32) & 0xFFFFFFFF, 0x5EED])
    words = rng.integers(0, 2**64, size=x.shape[1], dtype=np.uint64) | np.uint64(1)
    key = np.zeros(x.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for s in range(0, x.shape[1], _BLOCK):
            key += (bits[:, s:s + _BLOCK].astype(np.uint64) * words[s:s + _BLOCK]).sum(
                axis=1, dtype=np.uint64)
        return _mix(key)


def row_normals(z: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``(n, k)`` float32 standard normal draws, row ``i`` a function of ``z[i]`` and
    ``seed`` only."""
    key = row_keys(z, seed)
    pairs = -(-k // 2)
    with np.errstate(over="ignore"):
        counters = np.arange(1, 2 * pairs + 1, dtype=np.uint64) * _GOLDEN
        bits = _mix(key[:, None] + counters[None, :])
    u = ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    radius = np.sqrt(-2.0 * np.log(u[:, 0::2]))
    angle = 2.0 * np.pi * u[:, 1::2]
    out = np.concatenate([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return out[:, :k].astype(np.float32)
