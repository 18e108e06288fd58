"""The estimators' settings: plain frozen dataclasses, importable without torch (the command
line builds and validates them before any array library is loaded).

Each estimator's module re-exports its config (``from infomin_cli.estimators.sliced import
SlicedConfig`` keeps working); the registry (:mod:`~infomin_cli.estimators.registry`) maps
estimator names to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from infomin_cli.stats.choices import DEFAULT_SAMPLE_ROWS, FULL_SAMPLE_ROWS, Aggregation

SliceScaling = Literal["std", "none"]
#: ``LinearConfig.max_eval_rows``: the default cap for the dimension (``default_max_eval_rows``).
AUTO = -1
DEFAULT_MAX_FIT_ROWS = 250_000


@dataclass(frozen=True)
class SlicedConfig:
    """Settings of the sliced estimator (the seed and device are arguments of the call).

    ``slice_scaling="std"`` divides each slice projection by its calibration std before tanh;
    ``"none"`` is the paper's raw ``theta^T z_std``. ``max_eval_rows`` caps the eval split
    (``None``: no cap). ``calibration_rows`` is the in-memory standardiser's sample size.
    ``rank_transform``: a continuous or multidim T enters through its normal scores
    (:mod:`infomin_cli.stats.ranks`; SI's population value is unchanged by a monotone map of
    T only in the limit of rich features, but the test's validity never depends on it and
    heavy tails no longer dominate). ``full_sample_rows``: up to this many rows, the p-value is
    the full-sample permutation test (0: always the held-out test); the value, its interval
    and ``null_q95`` stay held out.
    """

    slices: int = 100
    order: int = 3
    aggregation: Aggregation = "pairwise"
    permutations: int = 1000
    fit_fraction: float = 0.5
    ridge: float = 1e-3
    bootstrap: int = 500
    batch_rows: int = 65536
    slice_scaling: SliceScaling = "std"
    max_eval_rows: int | None = 250_000
    calibration_rows: int = DEFAULT_SAMPLE_ROWS
    rank_transform: bool = True
    full_sample_rows: int = FULL_SAMPLE_ROWS

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


@dataclass(frozen=True)
class LinearConfig:
    """Settings of the linear estimator (the seed and device are arguments of the call).

    ``ridge=None`` chooses the relative ridge from ``RIDGE_GRID`` by inner validation on the fit
    rows; a number fixes it. ``max_eval_rows=-1`` is the default cap for the dimension.
    ``full_sample_rows``: up to this many rows the p-value is the full-sample permutation test
    of the in-sample canonical correlation, with the relative ridge ``max(1e-3, d / n)`` (a
    function of the shape only, so the test stays exact); the value stays held out.
    """

    fit_fraction: float = 0.5
    ridge: float | None = None
    permutations: int = 1000
    bootstrap: int = 500
    max_eval_rows: int | None = AUTO
    max_fit_rows: int | None = DEFAULT_MAX_FIT_ROWS
    batch_rows: int = 65536
    calibration_rows: int = DEFAULT_SAMPLE_ROWS
    full_sample_rows: int = FULL_SAMPLE_ROWS
    solver: str = "auto"  # "primal" (d x d covariance), "dual" (Gram form), "auto": by d

    def __post_init__(self) -> None:
        if not 0.0 < self.fit_fraction <= 1.0:
            raise ValueError("fit_fraction must be in (0, 1]")
        if self.solver not in ("auto", "primal", "dual"):
            raise ValueError(f"solver must be auto, primal or dual, not {self.solver!r}")
        if (self.ridge is not None and self.ridge < 0) or self.permutations < 0 or self.bootstrap < 0:
            raise ValueError("ridge, permutations and bootstrap must be >= 0")
        if self.batch_rows < 1:
            raise ValueError("batch_rows must be >= 1")


@dataclass(frozen=True)
class TreeConfig:
    """Settings of the boosted trees (scikit-learn's names). ``max_iter`` rounds at most,
    stopped when the validation loss has not improved for ``patience`` rounds.

    Chosen on synthetic folded maps (bands, an XOR in 8 dims, a banded continuous T) and the
    sample's sex and race, 3 splits each: a patience of 20 rounds stopped an XOR before its
    interaction was found (test correlation 0.32-0.41); 50 rounds of 15-leaf trees read
    0.37-0.43 there and the same as 31 leaves elsewhere.
    """

    max_iter: int = 500
    learning_rate: float = 0.1
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    patience: int = 50
    #: trees also read Z on its principal axes at unit variance when the train rows'
    #: correlation matrix has an eigenvalue below this (a direction with less than this share
    #: of a column's variance: a sliver of every column, invisible to column splits); 0: never
    principal_below: float = 1e-3
    #: ... and Z has at most this many columns (the view doubles the trees' columns)
    principal_max_dim: int = 256

    def __post_init__(self) -> None:
        if self.max_iter < 1 or self.patience < 1 or self.max_leaf_nodes < 2:
            raise ValueError(f"trees: max_iter, patience must be >= 1 and max_leaf_nodes "
                             f">= 2, got {self.max_iter}, {self.patience}, "
                             f"{self.max_leaf_nodes}")
        if not 0 < self.learning_rate <= 1:
            raise ValueError(f"trees: learning_rate must be in (0, 1], got {self.learning_rate}")
        if self.min_samples_leaf < 1 or self.l2_regularization < 0:
            raise ValueError("trees: min_samples_leaf must be >= 1 and l2_regularization >= 0")
        if not 0 <= self.principal_below < 1 or self.principal_max_dim < 0:
            raise ValueError("trees: principal_below must be in [0, 1) and principal_max_dim "
                             ">= 0")


@dataclass(frozen=True)
class RhoConfig:
    """Settings of :func:`rho_star` (the seed and device are arguments of the call); the
    defaults are meant for any embedding (d = 2 .. 4096+).

    ``batch_size`` is an upper bound: with few train rows it is reduced so that an epoch has at
    least 4 steps (never below 64 rows). ``max_rows=None`` uses every row. ``bootstrap=0``
    skips the interval (``ci`` is then None). ``amp`` runs the networks in bfloat16 autocast
    on CUDA only; it is ignored on CPU. ``rank_transform``: a continuous T enters g through its
    normal scores (rho* is invariant to a one-to-one map of T; heavy tails no longer dominate).
    ``rank_embedding``: the MLP branch of h reads each embedding column's normal scores (the
    linear skip still reads the standardised columns): a heavy-tailed column -- a debiasing
    projection's output can have kurtosis 10-25 -- squeezes most rows into a sliver of its
    standardised range, where the network does not resolve them (seen: rho* 0.08 on the
    standardised columns, 0.33 on their normal scores, of the same output).
    ``min_epoch_steps``: an epoch is at least this many optimiser steps (whole passes over the
    train split, repeated), so ``max_epochs`` and ``patience`` mean the same training on small
    data as on large (patience 4 = at least 200 steps). ``trees``: add the gradient-boosted
    tree read-out (settings ``tree``) and report the larger; False is the network alone.
    """

    hidden: int = 64
    layers: int = 2
    dropout: float = 0.0
    lr: float = 1e-2
    batch_size: int = 512
    max_epochs: int = 200
    patience: int = 4
    min_epoch_steps: int = 50
    weight_decay: float = 1e-2
    max_rows: int | None = 50_000
    val_frac: float = 0.2
    test_frac: float = 0.2
    permutations: int = 1000
    bootstrap: int = 1000
    ci_level: float = 0.95
    std_floor: float = 1e-2
    rank_transform: bool = True
    rank_embedding: bool = True
    amp: bool = False
    trees: bool = True
    tree: TreeConfig = field(default_factory=TreeConfig)

    def __post_init__(self) -> None:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise ValueError(f"rho*: {what}")

        need(self.hidden >= 1, f"hidden must be >= 1, got {self.hidden}")
        need(self.layers >= 0, f"layers must be >= 0, got {self.layers}")
        need(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")
        need(self.lr > 0, f"lr must be > 0, got {self.lr}")
        need(self.batch_size >= 2, f"batch_size must be >= 2, got {self.batch_size}")
        need(self.max_epochs >= 1, f"max_epochs must be >= 1, got {self.max_epochs}")
        need(self.patience >= 1, f"patience must be >= 1, got {self.patience}")
        need(self.min_epoch_steps >= 0, f"min_epoch_steps must be >= 0, got "
             f"{self.min_epoch_steps}")
        need(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        need(self.max_rows is None or self.max_rows >= 50,
             f"max_rows must be >= 50 or None, got {self.max_rows}")
        need(0 < self.val_frac < 1 and 0 < self.test_frac < 1
             and self.val_frac + self.test_frac < 0.9,
             f"bad split fractions val={self.val_frac} test={self.test_frac}")
        need(self.bootstrap >= 0, f"bootstrap must be >= 0, got {self.bootstrap}")
        need(self.permutations >= 0, f"permutations must be >= 0, got {self.permutations}")
        need(0 < self.ci_level < 1, f"ci_level must be in (0, 1), got {self.ci_level}")
        need(0 <= self.std_floor < 1, f"std_floor must be in [0, 1), got {self.std_floor}")
