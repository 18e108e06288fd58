"""Neural estimate of the Hirschfeld-Gebelein-Renyi maximal correlation rho*(Z, T).

``rho*(Z, T) = sup over h, g of corr(h(Z), g(T))``: in [0, 1], 0 iff Z and T are independent,
1 for a deterministic relation, ``|corr|`` for jointly Gaussian data.

How :func:`rho_star` estimates it
---------------------------------
* **Rows.** At most ``max_rows`` rows are used (seeded subsample, reported as ``n_used``). They
  are shuffled with the seed and split train / validation / test (60/20/20 by default).
  With fewer than ``MIN_ROWS`` rows, or an attribute constant on one of the splits (a class
  too rare to reach them), rho* is not estimable (:class:`~infomin_cli.errors.NotEstimable`)
  rather than a 0 that looks like a measurement.
* **Standardisation** is fitted on the train rows only and applied to every row: the shared
  :class:`~infomin_cli.stats.standardize.Standardizer` with ``std_floor``: each column's std is
  floored at ``std_floor`` times the median column std, so near-constant columns (numerical
  noise) are not blown up to unit variance, and columns exactly constant on the train rows are
  zeroed.
* **Networks.** ``h(Z)`` is a small MLP (2 SiLU layers of 64 by default) plus a linear skip,
  so the linear solution, optimal for Gaussian data, is there from the start. The size, the
  learning rate (1e-2), weight decay (1e-2) instead of dropout, and 50-step epochs with a
  patience of 4 were chosen for speed at equal accuracy on the oracle cases of
  ``tests/test_rho.py`` (disc, square, class means, Gaussian) and the sample's three
  attributes: 3 SiLU layers of 128 with dropout 0.2 at 1e-3 read the same within 0.015 in
  4-8x the time. The MLP branch
  reads each column's normal scores over the used rows instead (``rank_embedding``; rho* is
  invariant to a one-to-one map of each column), so heavy-tailed columns cannot hide rows in
  a sliver of their standardised range; the skip keeps the standardised columns, so the
  linear start below is unchanged.
  ``g(T)``: for a binary or categorical T, a linear map of the one-hot code, i.e. one learnt
  number per class. That is exact: every function of a discrete T is such a map.
  For a continuous or multidim T, the same MLP-plus-skip (width ``min(hidden, 64)``) on the
  standardised columns.
* **Linear start.** Before training, the linear skips of h and g are set to the top ridge
  canonical pair of the train rows (ridge chosen on the validation rows) and the MLP branches'
  last layers to zero, and this start counts as epoch 0 for early stopping. rho* is at least the
  linear canonical correlation; starting there keeps small or imbalanced data (rare classes,
  few rows per dimension) from ending below what a linear probe already sees.
* **Objective: batch correlation.** Both outputs are standardised within each mini-batch and the
  mean of their product (the batch Pearson correlation) is maximised with Adam(W). For 1-D
  outputs this *is* the quantity being estimated and it is invariant to the scale of h and g.
  Soft-HGR (``E[h g] - Var(h) Var(g) / 2``) exists to avoid whitening multi-dimensional
  features; with one output it only adds a scale dependence, so it is not used.
* **Early stopping** on the correlation over the whole validation split (evaluated after every
  epoch); the weights of the best validation epoch are restored. An epoch is at least
  ``min_epoch_steps`` optimiser steps (several passes over a small train split), so patience
  and budget are never a handful of steps (a patience of a few dozen steps stops a weak
  nonlinear signal at its linear start).
* **Tree read-out** (``trees``, :mod:`~infomin_cli.estimators.tree_readout`): gradient-boosted
  trees fitted on the train rows and early-stopped on the validation rows, a second frozen pair
  ``(s(Z), g'(T))``; they read fine, folded structure that the smooth network misses.
* **Reported value** = the larger of the two pairs' correlations on the held-out *test* rows
  (``readout`` says which; ``neural`` and ``trees`` hold both), which were
  used neither for fitting nor for early stopping (the best value of a validation curve is
  optimistic: it is a maximum over epochs of noisy numbers). ``corr`` keeps the signed number;
  ``value`` clips it to [0, 1]. The expectation of ``corr`` is at most rho* (a fixed pair h, g
  can not beat the supremum); it falls short by whatever the networks failed to learn.
* **Test of independence**: with both pairs frozen, g(T) is permuted against h(Z) on the test
  rows (``permutations`` times; one permutation moves both pairs, the statistic is the larger
  correlation). The test rows took no part in training or early stopping, so under
  independence the test pairs are exchangeable given the networks: an exact permutation test,
  nearly free (``p_value``, and ``null_q95``, the noise floor of ``value`` at this many rows).
* **Interval**: seeded percentile bootstrap over the test rows, with h and g fixed. It covers
  the test-sampling noise of the reported number, not the variability of training. The test and
  the interval are :func:`~infomin_cli.stats.heldout.heldout_evaluation`, shared with SI and
  linear.

Determinism: for a given seed, data and device the result is reproducible on CPU. The seed
drives the subsample (:func:`~infomin_cli.stats.sampling.sample_rows`), the split, the initial
weights (the global torch RNG state is saved
and restored around initialisation, so callers are not disturbed), a ``torch.Generator``
for the batch order, and the bootstrap. Nothing here prints; pass ``progress`` to observe
training.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from infomin_cli.attributes import DISCRETE_KINDS, Attribute
from infomin_cli.errors import NotEstimable
from infomin_cli.estimators.configs import RhoConfig
from infomin_cli.estimators.result import Estimate
from infomin_cli.estimators.tree_readout import TreeReadout, fit_tree_readout
from infomin_cli.inputs import ArrayLike, AttributeLike, estimator_inputs
from infomin_cli.stats.cca import ridge_cca, select_ridge
from infomin_cli.stats.device import resolve_device
from infomin_cli.stats.features import one_hot
from infomin_cli.stats.heldout import heldout_evaluation, pearson
from infomin_cli.stats.moments import CrossMoments
from infomin_cli.stats.ranks import column_normal_scores, normal_scores
from infomin_cli.stats.sampling import sample_rows
from infomin_cli.stats.standardize import Standardizer

__all__ = ["OBJECTIVE", "RhoConfig", "RhoResult", "rho_star"]

OBJECTIVE = "batch-correlation"
#: ``(epoch, total, validation correlation)``; total: max_epochs, or the epochs run once stopped
ProgressFn = Callable[[int, int, float], None]

_EVAL_CHUNK = 8192
#: Fewer rows leave too few test rows (20%) for a correlation: rho* is not estimable.
MIN_ROWS = 50
_RESIDENT_BYTES = 2 << 30  # on CUDA, move the data once when it is at most this large


@dataclass(frozen=True)
class RhoResult(Estimate):
    """Outcome of :func:`rho_star` (the shared fields are those of
    :class:`~infomin_cli.estimators.result.Estimate`, measured on the test rows: ``n_eval`` =
    ``n_test``; ``p_value`` is the permutation test of h(Z) against g(T)).

    ``n_rows``: rows given; ``n_used``: rows after ``max_rows``;
    ``epochs``: epochs trained; ``best_epoch``: 1-based epoch whose weights were kept (0: the
    linear start); ``val_best``: validation correlation at that epoch (optimistic, diagnostics).
    """

    n_train: int
    n_val: int
    n_test: int
    n_used: int
    n_rows: int
    subsampled: bool
    device: str
    epochs: int
    best_epoch: int
    val_best: float
    permutations: int
    bootstrap: int
    objective: str = OBJECTIVE
    #: which read-out gave ``value``: "neural" or "trees"
    readout: str = "neural"
    #: each read-out's test value (clipped to [0, 1]); ``trees`` is None without trees
    neural: float | None = None
    trees: float | None = None
    #: boosting rounds the tree read-out kept
    tree_iterations: int | None = None

    @property
    def disagreement(self) -> str | None:
        """One line when the read-out not reported is below the reported value's interval and
        0.05 or more below the value (the dependence is of a kind one probe family follows and
        the other does not)."""
        if self.trees is None or self.neural is None or self.ci is None:
            return None
        other = self.trees if self.readout == "neural" else self.neural
        if other >= self.ci[0] or self.value - other < 0.05:
            return None
        if self.readout == "trees":
            return (f"rho*: boosted trees read {self.trees:.3f}, the network {self.neural:.3f}: "
                    "fine-grained (folded, banded) structure that a smooth probe misses")
        return (f"rho*: the network reads {self.neural:.3f}, boosted trees {self.trees:.3f}: "
                "smooth structure spread over columns, which axis-aligned splits miss")

    @property
    def notes(self) -> tuple[str, ...]:
        out = []
        if self.subsampled:
            out.append(f"rho*: trained and tested on a seeded subsample of {self.n_used:,} of "
                       f"{self.n_rows:,} rows (--rho-max-rows / rho_max_rows)")
        if self.disagreement:
            out.append(self.disagreement)
        return tuple(out)


# ----------------------------------------------------------------------------- networks


class _Standardise(nn.Module):
    """Fixed affine map ``(x - shift) * scale`` (fitted on the train rows, not trained)."""

    def __init__(self, shift: np.ndarray, scale: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) * self.scale


class _MLPSkip(nn.Module):
    """``linear(x) + mlp(x)`` with a scalar output; dropout acts on the MLP branch only. With
    ``d_mlp``, the input is ``[x_linear (d_in), x_mlp (d_mlp)]`` and each branch reads its part.
    """

    def __init__(self, d_in: int, hidden: int, layers: int, dropout: float,
                 d_mlp: int | None = None) -> None:
        super().__init__()
        self.d_in = d_in
        self.mlp_from = 0 if d_mlp is None else d_in  # first input column of the MLP branch
        self.linear = nn.Linear(d_in, 1)
        blocks: list[nn.Module] = []
        width = d_in if d_mlp is None else d_mlp
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.SiLU()]
            if dropout:
                blocks.append(nn.Dropout(dropout))
            width = hidden
        self.mlp = nn.Sequential(*blocks, nn.Linear(width, 1)) if layers else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear(x[:, : self.d_in])
        if self.mlp is not None:
            out = out + self.mlp(x[:, self.mlp_from :])
        return out[:, 0]


class _Table(nn.Module):
    """One learnt number per class: the general function of a discrete T."""

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_classes))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.weight[codes]


# ----------------------------------------------------------------------------- helpers


def _linear_start(h: nn.Module, g: nn.Module, z: np.ndarray, t: np.ndarray, discrete: bool,
                  n_classes: int, p_tr: slice, p_va: slice, z_shift: np.ndarray,
                  z_scale: np.ndarray, t_std: tuple[np.ndarray, np.ndarray] | None) -> None:
    """Start h and g at the linear solution: the top ridge canonical pair of the train rows
    (ridge chosen on the validation rows) in the linear skips, the MLP branches' last layers
    at zero. rho* >= the linear canonical correlation, and so the networks start there
    instead of having to find it; the test rows are not touched."""
    def design(part: slice) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy((z[part] - z_shift) * z_scale)
        if discrete:
            y = one_hot(t[part], n_classes)
        else:
            y = torch.from_numpy((t[part] - t_std[0]) * t_std[1])  # type: ignore[index]
        return x, y

    moments = []
    for part in (p_tr, p_va):
        m = CrossMoments(z.shape[1], (n_classes - 1) if discrete else t.shape[1])
        m.update(*design(part))
        moments.append(m)
    d_live = max(int((z_scale > 0).sum()), 1)
    sol = ridge_cca(moments[0], select_ridge(moments[0], moments[1], d_live), d_live)
    hz = h[1]
    with torch.no_grad():
        hz.linear.weight.copy_(sol.w.to(torch.float32)[None, :])
        hz.linear.bias.zero_()
        if hz.mlp is not None:
            hz.mlp[-1].weight.zero_()
            hz.mlp[-1].bias.zero_()
        if discrete:
            g.weight.copy_(torch.cat([sol.v, sol.v.new_zeros(1)]).to(torch.float32))
        else:
            gt = g[1]
            gt.linear.weight.copy_(sol.v.to(torch.float32)[None, :])
            gt.linear.bias.zero_()
            if gt.mlp is not None:
                gt.mlp[-1].weight.zero_()
                gt.mlp[-1].bias.zero_()



def _batch_corr(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    a = a.float()
    b = b.float()
    a = (a - a.mean()) / torch.sqrt(a.var(unbiased=False) + eps)
    b = (b - b.mean()) / torch.sqrt(b.var(unbiased=False) + eps)
    return (a * b).mean()


def _as_numpy(z: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(z, torch.Tensor):
        z = z.detach().cpu().numpy()
    z = np.asarray(z)
    if z.ndim == 1:
        z = z.reshape(-1, 1)
    if z.ndim != 2:
        raise ValueError(f"rho*: embeddings must be a 2-D array (n, d), got shape {z.shape}")
    if not np.issubdtype(z.dtype, np.number) or np.issubdtype(z.dtype, np.complexfloating):
        raise ValueError(f"rho*: embeddings must be real numbers, got dtype {z.dtype}")
    return z


# ----------------------------------------------------------------------------- estimator


@dataclass
class _Data:
    """The used rows, reordered into ``[train | val | test]``, and the train-row scalings.

    ``z``: float32 embeddings; ``z_in``: h's input (``z``, then with ``rank_embedding`` the
    columns' normal scores); ``t``: class codes, or float32 (normal scores / centred) values.
    """

    z: np.ndarray
    z_in: np.ndarray
    t: np.ndarray
    discrete: bool
    n_classes: int
    p_tr: slice
    p_va: slice
    p_te: slice
    z_shift: np.ndarray
    z_scale: np.ndarray
    in_shift: np.ndarray
    in_scale: np.ndarray
    d_mlp: int | None
    t_std: tuple[np.ndarray, np.ndarray] | None
    n_used: int
    subsampled: bool

    @property
    def n_train(self) -> int:
        return self.p_tr.stop

    @property
    def n_val(self) -> int:
        return self.p_va.stop - self.p_va.start

    @property
    def n_test(self) -> int:
        return self.p_te.stop - self.p_te.start


def _prepare(z_all: np.ndarray, attr: Attribute, cfg: RhoConfig, seed: int) -> _Data:
    """Seeded subsample (``sample_rows``) and shuffle of the rows, split
    ``n_train = n - n_val - n_test`` with ``n_val, n_test = max(10, round(frac * n))``;
    standardisations fitted on the train rows."""
    n_rows = z_all.shape[0]
    rng = np.random.default_rng(seed)  # the order of the rows (their split)
    subsampled = cfg.max_rows is not None and n_rows > cfg.max_rows
    rows = sample_rows(n_rows, cfg.max_rows, seed) if subsampled else np.arange(n_rows)
    n_used = len(rows)
    rows = rows[rng.permutation(n_used)]
    n_test = max(10, round(cfg.test_frac * n_used))
    n_val = max(10, round(cfg.val_frac * n_used))
    n_train = n_used - n_val - n_test

    # Only the used rows are copied; float32 for the networks.
    z = np.ascontiguousarray(z_all[rows], dtype=np.float32)
    if not np.isfinite(z).all():
        raise ValueError("rho*: embeddings contain NaN or infinite values")
    discrete = attr.kind in DISCRETE_KINDS
    t_vals = np.asarray(attr.values)[rows]
    if not discrete:
        t64 = np.asarray(t_vals, dtype=np.float64).reshape(n_used, -1)
        if not np.isfinite(t64).all():
            raise ValueError(f"rho*: attribute {attr.name!r} contains NaN or infinite values")
        # Normal scores, or at least the offset removed in float64 (a timestamp's variation
        # would not survive a float32 cast of the raw values).
        t64 = normal_scores(t64) if cfg.rank_transform else t64 - np.median(t64, axis=0)
        t_vals = np.ascontiguousarray(t64, dtype=np.float32)
    # positions of the splits inside the reordered arrays
    p_tr = slice(0, n_train)
    p_va = slice(n_train, n_train + n_val)
    p_te = slice(n_train + n_val, n_used)

    z_shift, z_scale = _scaling(z[p_tr], cfg.std_floor)
    if not (z_scale > 0).any():
        raise NotEstimable("rho*: the embeddings are constant on the training rows")
    _check_splits(t_vals, discrete, attr.name, {"training": p_tr, "validation": p_va,
                                                "test": p_te})
    t_std = None
    if not discrete:
        t_std = _scaling(t_vals[p_tr], cfg.std_floor)
        if not (t_std[1] > 0).any():
            raise NotEstimable(f"rho*: attribute {attr.name!r} is constant on the training rows")

    # h's input: the standardised columns (linear skip), and with rank_embedding their normal
    # scores (MLP branch)
    z_in, in_shift, in_scale, d_mlp = z, z_shift, z_scale, None
    if cfg.rank_embedding:
        zr = column_normal_scores(z)
        r_shift, r_scale = _scaling(zr[p_tr], cfg.std_floor)
        z_in = np.ascontiguousarray(np.hstack([z, zr]))
        in_shift, in_scale = np.concatenate([z_shift, r_shift]), np.concatenate([z_scale, r_scale])
        d_mlp = z.shape[1]
        del zr
    return _Data(z, z_in, t_vals, discrete, int(attr.n_classes or 0), p_tr, p_va, p_te,
                 z_shift, z_scale, in_shift, in_scale, d_mlp, t_std, n_used, bool(subsampled))


def _check_splits(t: np.ndarray, discrete: bool, name: str, parts: dict[str, slice]) -> None:
    """rho* needs T to vary on each split -- two classes (or values) on the training rows to
    fit, on the validation rows to stop, on the test rows to measure: on rows where T is
    constant the correlation with it is undefined (it used to read 0.000, CI 0-0, p = 1, which
    looks like a measurement). A class too rare to reach one of the splits is such a case;
    ``NotEstimable`` says which split, and the audit reports rho* as not estimable."""
    for split, part in parts.items():
        tp = t[part]
        if len(tp) and not (tp != tp[:1]).any():
            what = "has a single class" if discrete else "is constant"
            raise NotEstimable(f"rho*: attribute {name!r} {what} on the {split} rows "
                               f"({len(tp):,} rows)")


def _networks(data: _Data, cfg: RhoConfig) -> tuple[nn.Module, nn.Module]:
    """h (standardise, MLP + skip) and g (class table, or standardise, MLP + skip) at the
    linear start. Initial weights come from the global torch RNG (the caller seeds it)."""
    h = nn.Sequential(_Standardise(data.in_shift, data.in_scale),
                      _MLPSkip(data.z.shape[1], cfg.hidden, cfg.layers, cfg.dropout, data.d_mlp))
    if data.discrete:
        g: nn.Module = _Table(data.n_classes)
    else:
        g = nn.Sequential(_Standardise(*data.t_std),  # type: ignore[misc]
                          _MLPSkip(data.t.shape[1], min(cfg.hidden, 64), cfg.layers,
                                   cfg.dropout))
    _linear_start(h, g, data.z, data.t, data.discrete, data.n_classes, data.p_tr, data.p_va,
                  data.z_shift, data.z_scale, data.t_std)
    return h, g


class _Feed:
    """The rows as tensors: on CPU, or on CUDA moved once when at most ``_RESIDENT_BYTES``
    (else pinned and sent batch by batch)."""

    def __init__(self, data: _Data, device: torch.device, use_amp: bool) -> None:
        self.device, self.use_amp = device, use_amp
        z_t = torch.from_numpy(data.z_in)
        t_t = torch.from_numpy(data.t.astype(np.int64) if data.discrete else data.t)
        if device.type != "cpu":
            nbytes = z_t.element_size() * z_t.nelement() + t_t.element_size() * t_t.nelement()
            if nbytes <= _RESIDENT_BYTES:
                z_t, t_t = z_t.to(device), t_t.to(device)
            elif device.type == "cuda":
                z_t, t_t = z_t.pin_memory(), t_t.pin_memory()
        self.z_t, self.t_t = z_t, t_t

    def fetch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.z_t.device != self.device:
            return (self.z_t[idx].to(self.device, non_blocking=True),
                    self.t_t[idx].to(self.device, non_blocking=True))
        idx = idx.to(self.device)
        return self.z_t[idx], self.t_t[idx]

    def outputs(self, h: nn.Module, g: nn.Module,
                part: slice) -> tuple[torch.Tensor, torch.Tensor]:
        """``(h(z), g(t))`` on the rows ``part`` in eval mode, float64 on CPU."""
        h.eval()
        g.eval()
        hs, gs = [], []
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16,
                                             enabled=self.use_amp):
            for s in range(part.start, part.stop, _EVAL_CHUNK):
                zb, tb = self.fetch(torch.arange(s, min(s + _EVAL_CHUNK, part.stop)))
                hs.append(h(zb).float().cpu())
                gs.append(g(tb).float().cpu())
        return torch.cat(hs).double(), torch.cat(gs).double()


def _train(h: nn.Module, g: nn.Module, data: _Data, feed: _Feed, cfg: RhoConfig, seed: int,
           progress: ProgressFn | None) -> tuple[int, int, float]:
    """Maximise the batch correlation with AdamW; early stopping on the validation
    correlation (epoch 0 = the linear start), best weights restored.
    ``(epochs, best_epoch, best_val)``. Dropout draws from the global torch RNG."""
    params = list(h.parameters()) + list(g.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    n_train = data.n_train
    # A pass has at least 4 steps; batches are equal-sized chunks of seeded permutations.
    batch = max(min(cfg.batch_size, n_train // 4), min(64, n_train))
    n_batches = max(1, n_train // batch)
    passes = max(1, -(-cfg.min_epoch_steps // n_batches))  # >= min_epoch_steps steps
    gen = torch.Generator().manual_seed(seed)

    # Epoch 0 is the linear start: training is kept only where it beats it on validation.
    best_val = pearson(*feed.outputs(h, g, data.p_va))
    best_state = (copy.deepcopy(h.state_dict()), copy.deepcopy(g.state_dict()))
    best_epoch = 0
    epochs = 0
    for epoch in range(1, cfg.max_epochs + 1):
        h.train()
        g.train()
        order = torch.cat([torch.randperm(n_train, generator=gen) for _ in range(passes)])
        for idx in torch.tensor_split(order, n_batches * passes):
            zb, tb = feed.fetch(idx)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=feed.use_amp):
                hb, gb = h(zb), g(tb)
            loss = -_batch_corr(hb, gb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        epochs = epoch
        val = pearson(*feed.outputs(h, g, data.p_va))
        improved = val > best_val + 1e-4
        if improved:
            best_val, best_epoch = val, epoch
            best_state = (copy.deepcopy(h.state_dict()), copy.deepcopy(g.state_dict()))
        stop = not improved and epoch - best_epoch >= cfg.patience
        if progress is not None:  # the epoch that stops early is the last: total = epochs run
            progress(epoch, epoch if stop else cfg.max_epochs, val)
        if stop:
            break
    h.load_state_dict(best_state[0])
    g.load_state_dict(best_state[1])
    return epochs, best_epoch, best_val


def rho_star(
    Z: ArrayLike,
    attr: AttributeLike,
    config: RhoConfig = RhoConfig(),
    *,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: ProgressFn | None = None,
    kind: str | None = None,
) -> RhoResult:
    """Estimate rho*(Z, T) on a held-out test split; see the module docstring for the method.

    ``progress(epoch, total, val_corr)`` is called after every epoch (1-based epoch); ``total``
    is ``max_epochs``, or, on the epoch where early stopping ends training, that epoch: the
    last call always has ``epoch == total``.
    Raises ``ValueError`` for mismatched lengths or non-finite values, and its subclass
    :class:`~infomin_cli.errors.NotEstimable` where the data allow no estimate: fewer than
    ``MIN_ROWS`` rows, a constant Z, or a T constant on the training, validation or test rows
    (rho* is undefined when one side has no non-constant function there). ``Z`` and ``attr``
    may be arrays, tensors, DataFrames, Series or an :class:`Attribute`
    (:mod:`infomin_cli.inputs`; ``kind`` overrides the inferred kind).
    """
    cfg = config
    Z, attr = estimator_inputs(Z, attr, kind)
    z_all = _as_numpy(Z)
    n_rows = z_all.shape[0]
    if len(attr) != n_rows:
        raise ValueError(
            f"rho*: {n_rows} embedding rows but attribute {attr.name!r} has {len(attr)} rows")
    if n_rows < MIN_ROWS:
        raise NotEstimable(f"rho*: need at least {MIN_ROWS} rows, got {n_rows}")
    device = resolve_device(device)
    data = _prepare(z_all, attr, cfg, seed)

    # Seeded: init and dropout use a forked global RNG, so the caller's RNG state is left
    # untouched; the batch order uses its own generator.
    rng_devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(seed)
        h, g = _networks(data, cfg)
        h.to(device)
        g.to(device)
        feed = _Feed(data, device, bool(cfg.amp) and device.type == "cuda")
        epochs, best_epoch, best_val = _train(h, g, data, feed, cfg, seed, progress)
    tree = _fit_trees(g, data, feed, cfg, seed) if cfg.trees else None
    return _read_out(h, g, tree, data, feed, cfg, seed, n_rows=n_rows, epochs=epochs,
                     best_epoch=best_epoch, best_val=best_val)


def _tree_target(g: nn.Module, data: _Data, feed: _Feed, part: slice) -> np.ndarray:
    """What the tree read-out predicts on the rows ``part``: the class codes; a continuous T's
    one column (its normal scores); for several columns the network's frozen ``g(T)``."""
    if data.discrete:
        return data.t[part]
    if data.t.shape[1] == 1:
        return data.t[part, 0]
    g.eval()
    with torch.no_grad():
        return g(torch.from_numpy(data.t[part]).to(feed.device)).double().cpu().numpy()


def _fit_trees(g: nn.Module, data: _Data, feed: _Feed, cfg: RhoConfig,
               seed: int) -> TreeReadout:
    """The tree read-out (:mod:`~infomin_cli.estimators.tree_readout`) on the train rows,
    stopped on the validation rows."""
    return fit_tree_readout(data.z[data.p_tr], _tree_target(g, data, feed, data.p_tr),
                            data.z[data.p_va], _tree_target(g, data, feed, data.p_va),
                            classes=data.n_classes if data.discrete else 0, config=cfg.tree,
                            seed=seed)


def _read_out(h: nn.Module, g: nn.Module, tree: TreeReadout | None, data: _Data, feed: _Feed,
              cfg: RhoConfig, seed: int, *, n_rows: int, epochs: int, best_epoch: int,
              best_val: float) -> RhoResult:
    """Held-out test value, permutation test and bootstrap interval of the larger read-out,
    h, g and the trees frozen (the same permutations and resamples for both read-outs)."""
    hv, gv = feed.outputs(h, g, data.p_te)
    per = {"neural": min(max(pearson(hv, gv), 0.0), 1.0)}
    if tree is not None:
        sv = torch.from_numpy(tree.score(data.z[data.p_te]))
        tv = torch.from_numpy(tree.target(_tree_target(g, data, feed, data.p_te)))
        per["trees"] = min(max(pearson(sv, tv), 0.0), 1.0)
        hv, gv = torch.stack([hv, sv], 1), torch.stack([gv, tv], 1)
    ho = heldout_evaluation(hv, gv, permutations=cfg.permutations, bootstrap=cfg.bootstrap,
                            seed=seed, level=cfg.ci_level)
    summary = ho.summary()
    summary["ci_method"] = "bootstrap-test-rows" if ho.ci is not None else None
    return RhoResult(
        **summary,
        n_eval=data.n_test,
        p_method="test-rows-permutation" if cfg.permutations else None,
        n_train=data.n_train,
        n_val=data.n_val,
        n_test=data.n_test,
        n_used=data.n_used,
        n_rows=n_rows,
        subsampled=data.subsampled,
        device=str(feed.device),
        epochs=epochs,
        best_epoch=best_epoch,
        val_best=float(best_val),
        permutations=cfg.permutations,
        bootstrap=cfg.bootstrap,
        readout=max(per, key=lambda k: (per[k], k == "neural")),
        neural=per["neural"],
        trees=per.get("trees"),
        tree_iterations=None if tree is None else tree.iterations,
    )


def _scaling(x: np.ndarray, std_floor: float) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, scale)`` of the shared standardiser on the train rows (floored stds, exactly
    constant columns zeroed)."""
    st = Standardizer.fit(x, dead_tol=0.0, keep_rows=0, std_floor=std_floor)
    return st.mean, st.scale
