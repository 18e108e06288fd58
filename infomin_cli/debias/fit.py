"""Slice infomin learning: fit a projection f that keeps what a target needs and drops what
reveals the attributes, by minimising ``utility + beta * sum_attributes penalty(f(Z); T)``.

Each step: every ``resolve_every`` steps a max-step (``Penalty.solve``; for the slice loss
:meth:`~infomin_cli.debias.slice_loss.SliceLoss.solve`) on a random subset D' of the training
rows, then a gradient step (min-step) on a mini-batch B. B is large on purpose (``batch_size``
4,096, capped at the training rows): the min-step lowers |corr(p, q)| measured on B, whose
sampling noise is about 1/sqrt(|B|), so a small batch mostly pushes on noise. Training is
counted in steps (``max_steps``, cosine learning-rate decay), so the amount of training does
not depend on how many rows there are. The penalty is looked up by name in
:data:`~infomin_cli.debias.penalties.PENALTIES`. The utility is

* a target that is binary or categorical: cross-entropy of a linear head on f(Z);
* a continuous target: mean squared error of a linear head on f(Z) (standardised target);
* no target: reconstruction of the standardised embedding by a linear decoder of f(Z), so the
  projection keeps as much of the embedding as the penalty allows.

An output of 1 < k < d dimensions is whitened (:mod:`~infomin_cli.debias.whiten`), so it
cannot keep the attribute on an axis of tiny variance that the critic's standardised columns
miss.

Output noise (``noise`` > 0; the default without a target): Gaussian noise of ``noise``
times each output column's std is added to the output that the heads and the penalties see,
in training and validation, and the exported projection adds the same amount, keyed by the
input row (:mod:`~infomin_cli.debias.row_noise`). Why: a no-target projection must keep most
of the embedding, and what it kept of the attribute sat in fine structure -- folds narrower
than the smooth slice and kernel features resolve -- which tree and normal-score probes read
(AUC 0.62-0.72 on whitened outputs). Under noise such structure carries nothing, so the fit
cannot hide the attribute there, and the critics need only see the coarse structure that
passes the noise, which they do.

Weight averaging: the min-step chases a critic redrawn at every max-step, so the iterates
wander. What is validated and kept is an exponential moving average of the weights
(``ema_decay``, warmed up over the first steps; torch's ``AveragedModel``), as in GAN training.

Early stopping: every ``eval_every`` steps the validation rows' ``utility + beta * penalty`` of
the averaged weights (the penalty averaged over ``val_solves`` max-steps: one draw is too noisy
to compare steps by); the best validation's weights are kept, and training stops after
``patience`` validations without improvement. Seeded; deterministic on CPU.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from infomin_cli._version import __version__
from infomin_cli.attributes import DISCRETE_KINDS, Attribute
from infomin_cli.debias.config import (
    MAX_DEFAULT_DIM,
    DebiasConfig,
    default_dim,
    reconstruction_dim,
    resolve,
)
from infomin_cli.debias.penalties import penalty_factory
from infomin_cli.debias.projection import Projection
from infomin_cli.debias.whiten import BatchWhitened
from infomin_cli.inputs import ArrayLike, AttributeLike, debias_inputs
from infomin_cli.stats.device import resolve_device
from infomin_cli.stats.seeds import derive_seed, generator
from infomin_cli.stats.standardize import Standardizer

ProgressFn = Callable[[int, int, float, float], None]  # (step, max steps, utility, SI)

#: seed streams: train/validation split, penalty i, output noise (training and exported)
_SPLIT, _PENALTY, _NOISE = 0xDEB1A5, 0xDEB1A6, 0xDEB1A7


@dataclass
class FitHistory:
    """What a fit did: ``steps`` min-steps taken, a validation every ``eval_every`` steps
    (``val_step[i]`` is the step of validation ``i``), and ``best_step`` the step whose
    weights were kept (0 when no validation improved on the first)."""

    steps: int = 0
    best_step: int = 0
    val_step: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_utility: list[float] = field(default_factory=list)
    val_si: list[float] = field(default_factory=list)
    train_rows: np.ndarray | None = None
    val_rows: np.ndarray | None = None
    max_step_seconds: list[float] = field(default_factory=list)
    config: DebiasConfig | None = None  # the settings the fit ran with (defaults decided)
    #: the output noise's std per column (``config.noise`` times the kept output's std on the
    #: training rows), None without noise
    noise: torch.Tensor | None = None

    @property
    def best_index(self) -> int:
        """Index of the kept validation in ``val_*`` (the first when none won)."""
        return self.val_step.index(self.best_step) if self.best_step in self.val_step else 0

    @property
    def best_val_utility(self) -> float:
        """The validation utility of the kept weights."""
        return self.val_utility[self.best_index]

    @property
    def best_val_si(self) -> float:
        """The validation SI of the kept weights."""
        return self.val_si[self.best_index]


def _ema_with_warmup(decay: float) -> Callable:
    """``AveragedModel``'s update: ``avg <- avg + (1 - d) (w - avg)`` with ``d = min(decay,
    (1 + n) / (10 + n))`` after ``n`` updates, so a short fit is not dragged back to its
    starting weights (decay 0.99 is reached after 890 steps)."""

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n) -> None:
        n = int(n)
        d = min(decay, (1 + n) / (10 + n))
        for a, w in zip(averaged, current):
            a.lerp_(w, 1 - d)

    return update


def split_rows(n: int, val_frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded ``(train rows, validation rows)``, sorted; at least 20 validation rows."""
    rng = generator(seed, _SPLIT)
    order = rng.permutation(n)
    n_val = max(20, int(round(val_frac * n)))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _utility(target: Attribute | None, k: int, d: int) -> tuple[nn.Module, Callable]:
    if target is None:
        return nn.Linear(k, d), lambda out, zs, rows: ((out - zs) ** 2).mean()
    if target.kind in DISCRETE_KINDS:
        codes = torch.as_tensor(target.values, dtype=torch.int64)
        ce = nn.CrossEntropyLoss()
        return nn.Linear(k, target.n_classes), lambda out, zs, rows: ce(out, codes[rows])
    y = np.asarray(target.values, dtype=np.float64).reshape(len(target), -1)
    y = torch.as_tensor((y - y.mean(0)) / np.where(y.std(0) > 0, y.std(0), 1.0),
                        dtype=torch.float32)
    return nn.Linear(k, y.shape[1]), lambda out, zs, rows: ((out - y[rows]) ** 2).mean()


def fit_projection(Z: np.ndarray, attributes: list[Attribute], targets: list[Attribute] = (),
                   config: DebiasConfig = DebiasConfig(), *, seed: int = 0,
                   device: str | torch.device = "auto", progress: ProgressFn | None = None):
    """Fit f against ``PENALTIES[config.penalty]`` of each attribute
    (:mod:`~infomin_cli.debias.penalties`); returns ``(module, standardizer, history)`` -- the
    trained ``nn.Module`` acting on standardised rows, the input standardiser, and the
    training history."""
    z = np.asarray(Z, dtype=np.float32)
    if z.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array, got shape {z.shape}")
    n, d = z.shape
    if not attributes:
        raise ValueError("name at least one attribute to remove")
    for a in (*attributes, *targets):
        if len(a) != n:
            raise ValueError(f"{a.name!r} has {len(a)} rows, embeddings {n}")
    if n < 100:
        raise ValueError(f"need at least 100 rows to fit a projection, got {n}")
    cfg = config
    dev = resolve_device(device)
    train_rows, val_rows = split_rows(n, cfg.val_frac, seed)
    # Winsorised moments, no clip: the saved Projection must apply exactly this map.
    std = Standardizer.fit(z[train_rows], seed=seed, robust=True, keep_rows=0)
    zs = torch.as_tensor(std.transform(z), dtype=torch.float32)
    if cfg.dim is not None:
        k = cfg.dim
    elif targets:
        k = default_dim(d, list(targets))
    else:
        k = min(MAX_DEFAULT_DIM, reconstruction_dim(
            zs[train_rows].numpy(), [a.take(train_rows) for a in attributes],
            cfg.keep_variance))
    cfg = resolve(cfg, k, bool(targets), d)

    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        if cfg.model == "linear":
            f: nn.Module = nn.Linear(d, k)
            if k == d:  # start at the identity: the original embedding
                with torch.no_grad():
                    f.weight.copy_(torch.eye(d))
                    f.bias.zero_()
        else:
            f = nn.Sequential(nn.Linear(d, cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, k))
        if cfg.whiten:
            f = BatchWhitened(f)
        heads, utils = [], []
        for tgt in (list(targets) or [None]):
            head, util = _utility(tgt, k, d)
            heads.append(head)
            utils.append(util)
        make = penalty_factory(cfg.penalty)
        losses = [make(a, cfg, derive_seed(seed, _PENALTY, i)) for i, a in enumerate(attributes)]
        params = list(f.parameters()) + [p for h in heads for p in h.parameters()]
        opt = torch.optim.Adam(params, lr=cfg.lr)
        gen = torch.Generator().manual_seed(int(seed))
        zs_dev = zs.to(dev)
        f.to(dev)
        for h in heads:
            h.to(dev)

        # The weights validated and kept: an exponential moving average of the iterates.
        avg = (AveragedModel(f, multi_avg_fn=_ema_with_warmup(cfg.ema_decay))
               if cfg.ema_decay > 0 else None)
        kept = f if avg is None else avg.module

        noise_gen = torch.Generator().manual_seed(derive_seed(seed, _NOISE))

        def noisy(out: torch.Tensor) -> torch.Tensor:
            """The output as the heads and critics see it: plus ``noise`` of its std."""
            if not cfg.noise:
                return out
            draws = torch.randn(out.shape, generator=noise_gen).to(out.device)
            return out + cfg.noise * out.detach().std(0) * draws

        def solve_all(model: nn.Module = f) -> None:
            pick = train_rows[torch.randperm(len(train_rows), generator=gen)[:cfg.solve_rows]
                              .numpy()]
            pick = np.sort(pick)
            with torch.no_grad():
                out = noisy(model(zs_dev[pick]))
            t0 = time.perf_counter()
            for loss in losses:
                loss.solve(out, pick)
            hist.max_step_seconds.append(time.perf_counter() - t0)

        def total(rows: np.ndarray, model: nn.Module = f) -> tuple[torch.Tensor, float, float]:
            out = noisy(model(zs_dev[rows]))
            util = sum(u(h(out), zs_dev[rows], rows) for h, u in zip(heads, utils))
            util_v = float(util.detach())
            si = sum(loss(out, rows) for loss in losses)
            return util + cfg.beta * si, util_v, float(si.detach())

        hist = FitHistory(train_rows=train_rows, val_rows=val_rows, config=cfg)
        best = (float("inf"), copy.deepcopy(f.state_dict()))
        batch = min(cfg.batch_size, len(train_rows))
        sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.max_steps)
                 if cfg.lr_schedule == "cosine" else None)
        perm, at = train_rows, len(train_rows)  # batches walk seeded permutations of the rows
        for step in range(1, cfg.max_steps + 1):
            if at + batch > len(perm):
                perm = train_rows[torch.randperm(len(train_rows), generator=gen).numpy()]
                at = 0
            rows, at = np.sort(perm[at : at + batch]), at + batch
            if (step - 1) % cfg.resolve_every == 0:
                solve_all()
            loss, _, _ = total(rows)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            if avg is not None:
                avg.update_parameters(f)
            hist.steps = step
            if step % cfg.eval_every and step != cfg.max_steps:
                continue
            with torch.no_grad():  # validation: SI averaged over independent max-steps
                sis = []
                for _ in range(cfg.val_solves):
                    solve_all(kept)
                    _, vutil, vsi = total(val_rows, kept)
                    sis.append(vsi)
                vsi = float(np.mean(sis))
                vloss = vutil + cfg.beta * vsi
            hist.val_step.append(step)
            hist.val_loss.append(float(vloss))
            hist.val_utility.append(vutil)
            hist.val_si.append(vsi)
            if progress is not None:
                progress(step, cfg.max_steps, vutil, vsi)
            if float(vloss) < best[0] - 1e-4:
                best = (float(vloss), copy.deepcopy(kept.state_dict()))
                hist.best_step = step
            elif len(hist.val_step) - 1 - hist.best_index >= cfg.patience:
                break
        f.load_state_dict(best[1])
        if isinstance(f, BatchWhitened):  # the training rows' whitening, folded in
            f = f.folded(zs_dev[train_rows])
        if cfg.noise:
            with torch.no_grad():
                hist.noise = (cfg.noise * f(zs_dev[train_rows]).std(0)).cpu()
    return f.cpu().eval(), std, hist


def debias(Z: ArrayLike, attributes: AttributeLike, targets: AttributeLike = (),
           config: DebiasConfig = DebiasConfig(), *, seed: int = 0,
           device: str | torch.device = "auto", progress: ProgressFn | None = None,
           kinds: dict[str, str] | None = None):
    """:func:`fit_projection`, frozen into a :class:`~infomin_cli.debias.projection.Projection`
    (callable on arrays and tensors, ``save``/``load``) with its settings in the metadata.
    Returns ``(projection, history)``.

    ``Z``: an array, tensor, DataFrame or Arrow table; ``attributes`` / ``targets``:
    Attributes, arrays, Series, a dict name -> values or a DataFrame of columns
    (:func:`infomin_cli.inputs.debias_inputs`; ``kinds`` overrides inferred kinds by name)."""
    Z, attributes, targets = debias_inputs(Z, attributes, targets, kinds)
    module, std, hist = fit_projection(Z, attributes, targets, config, seed=seed,
                                       device=device, progress=progress)
    config = hist.config  # its None defaults decided
    meta = {"method": config.penalty, "attributes": [a.name for a in attributes],
            "targets": [t.name for t in targets], "beta": config.beta, "seed": int(seed),
            "config": asdict(config), "infomin_version": __version__,
            "steps": hist.steps, "best_step": hist.best_step, "val_si": hist.best_val_si}
    proj = Projection.from_module(config.model, module,
                                  torch.as_tensor(std.mean, dtype=torch.float32),
                                  torch.as_tensor(std.scale, dtype=torch.float32), meta,
                                  noise=hist.noise, noise_seed=derive_seed(seed, _NOISE))
    return proj, hist
