"""Featurisers: how the estimators see Z (random slices, tanh polynomials) and T (encodings).

Z side -- :class:`SliceFeaturizer`.

Directions: ``theta_i = g_i / ||g_i||`` with ``g_i ~ N(0, I)`` over the *live* columns (dead
columns get 0), i.e. uniform on the unit sphere of the live subspace. A dead column thus gives
the same directions, bit for bit, as dropping it.

Slice scaling: ``u_i = theta_i^T z / s_i`` where ``s_i`` is the std of ``theta_i^T z`` on the
calibration sample. For standardised but correlated z, ``var(theta^T z) = theta^T R theta``
ranges up to ``lambda_max(R)`` (>> 1 for real embeddings), which saturates ``tanh`` into
``sign(u)`` and destroys the nonlinear features; rescaling keeps ``u`` at unit variance.

Features of a slice: ``[tanh(u), tanh(u)^2, ..., tanh(u)^K]`` (K = order), laid out
slice-major: column ``i * K + k`` is ``tanh(u_i)^(k+1)``.

T side -- :class:`AttributeEncoder`: one-hot for discrete T, tanh features of the standardised
value for continuous T, slices for multidim T, standardised columns for the linear estimator.
The sliced and linear estimators, the audit and the debias loss all use these two objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from infomin_cli.attributes import DISCRETE_KINDS, Attribute
from infomin_cli.stats.ranks import QuantileMap
from infomin_cli.stats.seeds import generator
from infomin_cli.stats.standardize import Standardizer


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
    rng = generator(seed, stream, 0x511CE)
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
    if not (t.requires_grad and torch.is_grad_enabled()):  # written in place: one buffer
        out = torch.empty(*u.shape, order, dtype=t.dtype, device=t.device)
        out[..., 0] = t
        for k in range(1, order):
            torch.mul(out[..., k - 1], t, out=out[..., k])
        return out.reshape(u.shape[0], u.shape[1] * order)
    powers = [t]
    for _ in range(order - 1):
        powers.append(powers[-1] * t)
    return torch.stack(powers, dim=-1).reshape(u.shape[0], u.shape[1] * order)


def one_hot(codes, n_classes: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Class codes -> one-hot ``(b, C - 1)`` float32 (the last class dropped: full rank, and
    the same linear span with the constant -- every function of a discrete T is in it)."""
    c = torch.as_tensor(np.asarray(codes), dtype=torch.int64, device=device)
    return torch.nn.functional.one_hot(c, n_classes).to(torch.float32)[:, : n_classes - 1]


# ----------------------------------------------------------------------------- Z side


@dataclass(frozen=True, eq=False)
class SliceFeaturizer:
    """Random 1-D slices of standardised rows and their tanh polynomial features.

    ``u = x @ (theta / scale)`` (b, S); ``features(u)`` (b, S K), slice-major. Acting on
    already standardised rows keeps it usable inside a training loop, where ``x`` is the
    batch-standardised output of a network (gradients flow through ``project``).
    """

    theta: np.ndarray  # (d, S) unit columns over the live dimensions
    scale: np.ndarray  # (S,) calibration std of each slice (ones for the paper's raw slices)
    order: int

    @classmethod
    def draw(cls, dim: int, slices: int, order: int, seed: int, *, stream: int = 1,
             live: np.ndarray | None = None, calibration: np.ndarray | None = None
             ) -> SliceFeaturizer:
        """``slices`` directions uniform on the sphere of the ``live`` columns; with a
        (standardised) ``calibration`` sample, each slice is scaled to unit std on it."""
        theta = sphere_directions(dim, slices, seed, stream, live=live)
        scale = np.ones(slices) if calibration is None else slice_scales(calibration, theta)
        return cls(theta, scale, order)

    @property
    def slices(self) -> int:
        return int(self.theta.shape[1])

    @property
    def width(self) -> int:
        return self.slices * self.order

    def directions(self, device: torch.device | str = "cpu",
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``theta / scale`` as a tensor (d, S)."""
        return torch.as_tensor(self.theta / self.scale, dtype=dtype, device=device)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled slice projections ``u`` (b, S) of standardised rows ``x`` (b, d)."""
        return x @ self.directions(x.device, x.dtype)

    def features(self, u: torch.Tensor) -> torch.Tensor:
        return tanh_features(u, self.order)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.project(x))


# ----------------------------------------------------------------------------- T side

Encoding = Literal["onehot", "tanh", "slices", "design"]


@dataclass(frozen=True, eq=False)
class AttributeEncoder:
    """How an estimator sees an attribute T: a feature matrix laid out in ``blocks``.

    * ``onehot`` (binary, categorical): the one-hot code minus its last class, one block of
      ``C - 1`` -- exact, every function of a discrete T is linear in it;
    * ``tanh`` (continuous): ``tanh(t_std)^k``, k = 1..K, one block of K (no slicing of 1-D T);
    * ``slices`` (multidim): S slices of the standardised T, K features each;
    * ``design`` (continuous or multidim, for the linear estimator): the standardised columns.

    ``ranks`` (tanh and slices): each column first goes through its normal scores
    (:class:`~infomin_cli.stats.ranks.QuantileMap`, fitted on the template's values).
    Continuous values are centred and scaled in float64 before any float32 cast, so a large
    offset (a Unix timestamp) keeps its variation.
    """

    encoding: Encoding
    kind: str
    n_classes: int | None = None
    standardizer: Standardizer | None = None
    slicer: SliceFeaturizer | None = None
    order: int = 1
    columns: int = 1  # columns of the raw values (1 for discrete and continuous)
    quantiles: QuantileMap | None = None

    @classmethod
    def for_sliced(cls, template: Attribute, slices: int, order: int, seed: int, *,
                   scaled: bool = True, standardizer: Standardizer | None = None,
                   ranks: bool = False) -> AttributeEncoder:
        """The sliced estimator's encoding. ``template`` carries kind and classes, and for a
        continuous or multidim T its values on the calibration rows (for the normal scores and
        the standardiser, unless one is given)."""
        if template.kind in DISCRETE_KINDS:
            return cls._discrete(template)
        quantiles = None
        if ranks:
            _need_values(template)
            quantiles = QuantileMap.fit(template.values)
            template = Attribute(template.name, template.kind,
                                 quantiles.transform(template.values))
        std = standardizer or _fit_t_standardizer(template, seed)
        if template.kind == "continuous":
            return cls("tanh", template.kind, standardizer=std, order=order, quantiles=quantiles)
        k = template.width
        slicer = SliceFeaturizer.draw(k, slices, order, seed, stream=2, live=std.live,
                                      calibration=std.calibration if scaled else None)
        return cls("slices", template.kind, standardizer=std, slicer=slicer, order=order,
                   columns=k, quantiles=quantiles)

    @classmethod
    def for_linear(cls, template: Attribute, seed: int, *,
                   standardizer: Standardizer | None = None) -> AttributeEncoder:
        """The linear estimator's design: one-hot, or the standardised raw columns."""
        if template.kind in DISCRETE_KINDS:
            return cls._discrete(template)
        std = standardizer or _fit_t_standardizer(template, seed)
        return cls("design", template.kind, standardizer=std, columns=template.width)

    @classmethod
    def _discrete(cls, template: Attribute) -> AttributeEncoder:
        c = template.n_classes
        if c is None or c < 2:
            raise ValueError(f"attribute {template.name!r} has fewer than 2 classes")
        return cls("onehot", template.kind, n_classes=c)

    @property
    def discrete(self) -> bool:
        return self.encoding == "onehot"

    @property
    def blocks(self) -> tuple[int, int]:
        """``(slices, features per slice)`` of the encoded matrix."""
        if self.encoding == "onehot":
            return 1, self.n_classes - 1  # type: ignore[operator]
        if self.encoding == "tanh":
            return 1, self.order
        if self.encoding == "slices":
            return self.slicer.slices, self.order  # type: ignore[union-attr]
        return 1, self.columns

    @property
    def width(self) -> int:
        s, k = self.blocks
        return s * k

    def check(self, values: np.ndarray, rows: int) -> np.ndarray:
        """Validated values of a batch of ``rows`` rows: int64 codes or finite float64."""
        t = np.asarray(values)
        if t.shape[0] != rows:
            raise ValueError(f"attribute batch has {t.shape[0]} rows, embeddings {rows}")
        if self.discrete:
            if t.ndim != 1 or (rows and (t.min() < 0 or t.max() >= self.n_classes)):
                raise ValueError("attribute batch: class codes out of range")
            return t.astype(np.int64, copy=False)
        t = t.astype(np.float64, copy=False)
        if self.kind == "multidim" and (t.ndim != 2 or t.shape[1] != self.columns):
            raise ValueError(f"attribute batch: expected shape (b, {self.columns})")
        if not np.all(np.isfinite(t)):
            raise ValueError("attribute batch contains NaN or infinite values")
        return t

    def __call__(self, values, device: torch.device | str = "cpu") -> torch.Tensor:
        """Encoded features ``(b, width)`` float32 on ``device``."""
        if self.discrete:
            return one_hot(values, self.n_classes, device)  # type: ignore[arg-type]
        x = np.asarray(values, dtype=np.float64)
        if self.quantiles is not None:
            x = self.quantiles.transform(x)
        std = self.standardizer
        x = (x.reshape(len(x), -1) - std.mean) * std.scale  # type: ignore[union-attr]
        t = torch.as_tensor(x, dtype=torch.float32, device=device)
        if self.encoding == "design":
            return t
        if self.encoding == "slices":
            t = self.slicer.project(t)  # type: ignore[union-attr]
        return tanh_features(t, self.order)


def _need_values(template: Attribute) -> None:
    if len(template) < 2:
        raise ValueError(
            f"attribute {template.name!r}: a {template.kind} attribute needs its values on the "
            "calibration sample (the template) or a fitted standardizer"
        )


def _fit_t_standardizer(template: Attribute, seed: int) -> Standardizer:
    """T's standardiser: a column is constant only when all its values are equal (an
    attribute's scale says nothing about its offset, so the embedding's dead-column rule, which
    compares the std with the mean, does not apply)."""
    _need_values(template)
    return Standardizer.fit(template.values, seed=seed, dead_tol=0.0)
