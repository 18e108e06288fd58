"""The settings of a debiasing fit, and the default output dimension."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from infomin_cli.attributes import DISCRETE_KINDS, Attribute


@dataclass(frozen=True)
class DebiasConfig:
    model: Literal["linear", "mlp"] = "mlp"
    dim: int | None = None  # output size k (default: default_dim with a target; without,
    #                         reconstruction_dim; either at most MAX_DEFAULT_DIM)
    hidden: int = 256
    beta: float | None = None  # weight of the penalty (None: default_beta)
    lr: float = 1e-2
    batch_size: int = 4096  # min-step rows, capped at the training rows (fit module docstring)
    max_steps: int = 3000  # gradient steps (min-steps)
    eval_every: int = 10  # steps between validations
    patience: int | None = None  # validations without improvement before stopping (None:
    #                              PATIENCE_TARGET / PATIENCE_NO_TARGET, see resolve)
    lr_schedule: Literal["cosine", "constant"] = "cosine"
    slices: int = 100
    order: int = 5  # tanh powers per slice: 5 sees more of a nonlinear leak than 3
    solve_rows: int = 2000  # D': rows of each max-step
    resolve_every: int = 1
    val_frac: float = 0.2
    aggregation: str = "pairwise"  # the paper's max over slice pairs (see SliceLoss)
    penalty: str = "slice"  # a name of infomin_cli.debias.penalties.PENALTIES
    l2_steps: int = 10  # adversary steps per max-step (penalty="adversarial")
    guided: bool = True  # slice 0 of every max-step: the top linear canonical direction
    val_solves: int = 5  # max-steps averaged for the validation SI (early stopping)
    ema_decay: float = 0.99  # weights validated and kept: this average of the steps' (0: off)
    kernel_features: int | None = None  # the slice penalty's kernel critic (None: default)
    network_critic: bool | None = None  # the slice penalty's network critic (None: when no
    #                                     target and k > NETWORK_CRITIC_ABOVE; see resolve)
    keep_variance: float = 0.98  # no target, no dim: reconstruction_dim's share of variance
    whiten: bool | None = None  # output whitened (debias.whiten; None: when 1 < k < d)
    noise: float | None = None  # output noise, in output stds (None: no_target_noise when
    #                             no target and whitened, else 0; see resolve)

    def __post_init__(self) -> None:
        from infomin_cli.debias.penalties import penalty_factory

        if self.model not in ("linear", "mlp"):
            raise ValueError(f"model must be linear or mlp, not {self.model!r}")
        bad_beta = self.beta is not None and not self.beta >= 0
        if bad_beta or self.lr <= 0 or self.batch_size < 8 or self.max_steps < 1:
            raise ValueError("beta >= 0, lr > 0, batch_size >= 8 and max_steps >= 1 required")
        if self.eval_every < 1 or (self.patience is not None and self.patience < 1):
            raise ValueError("eval_every >= 1 and patience >= 1 required")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be cosine or constant, not {self.lr_schedule!r}")
        penalty_factory(self.penalty)
        if self.l2_steps < 1:
            raise ValueError("l2_steps must be >= 1")
        if self.kernel_features is not None and (self.kernel_features < 0
                                                 or 0 < self.kernel_features < 8):
            raise ValueError("kernel_features must be 0 (off) or at least 8")
        if self.noise is not None and not 0 <= self.noise <= 10:
            raise ValueError("noise must be in [0, 10] (output standard deviations)")
        if not 0 < self.keep_variance <= 1:
            raise ValueError("keep_variance must be in (0, 1]")
        if self.val_solves < 1:
            raise ValueError("val_solves must be >= 1")
        if not 0 <= self.ema_decay < 1:
            raise ValueError("ema_decay must be in [0, 1)")
        if self.dim is not None and self.dim < 1:
            raise ValueError("dim must be >= 1")
        if not 0 < self.val_frac < 0.9:
            raise ValueError("val_frac must be in (0, 0.9)")


#: the penalty's weight when none is given: with a target (its utility is a cross-entropy or
#: MSE of the head) and without one (the reconstruction MSE of the standardised embedding,
#: whose scale is smaller and which asks to keep everything, leaks included)
BETA_TARGET, BETA_NO_TARGET = 0.4, 3.0
#: validations without improvement before a fit stops, when none is given: with a target, and
#: without one -- a reconstruction improves slowly while the critic keeps finding leaks, and a
#: no-target fit stopped at its first plateau kept what a tree probe read (sample, fit seed 4:
#: stopped at step 910 of 3,000, sex AUC 0.627; with 150, it ran on and read 0.565)
PATIENCE_TARGET, PATIENCE_NO_TARGET = 40, 150
#: the output noise of a no-target fit with a whitened output of k columns, in output
#: standard deviations: NOISE_NO_TARGET * sqrt(k / NOISE_REFERENCE_DIM), at most NOISE_MAX
#: (no_target_noise; set on the census embedding's 5-column and the sample's 12-column
#: outputs, benchmarks/README.md, hidden_directions.py)
NOISE_NO_TARGET, NOISE_REFERENCE_DIM, NOISE_MAX = 0.2, 5, 0.4
#: the kernel critic's features when none are given and the output has several dimensions
#: (a 1-D output is all its own slices: the slices alone saw what probes read there)
KERNEL_FEATURES = 256
#: a no-target output wider than this gets the slice penalty's network critic by default
#: (slice_loss: the closed-form critics lose sight of many-column leaks as k grows). Set
#: between the census embedding's 5 columns, where the network critic took sex AUC 0.566 ->
#: 0.572 (fit seed 0) but the income kept 95.7% -> 93.8% (more than the leak needed), and
#: the sample's 12, where it took the one failing seed from 0.604 to 0.578 (benchmarks/
#: README.md, "census_dae and the no-target rule")
NETWORK_CRITIC_ABOVE = 8
#: the widest output a default takes, with a target (what its heads read, capped) or without
#: (reconstruction_dim's k, capped): every wider default output kept the attribute readable to
#: a stock probe -- MiniLM sentences (384-d, gender), no target, k = 171: AUC 0.69 / 0.67 (fit
#: seeds 0 / 1, topic kept 100%); with the 84-way predicate as the target, k = 83: 0.68-0.70
#: (3 seeds); census autoencoders, no target, k = 40 / 37: 0.65 -- while 16 columns of the
#: same MiniLM rows read 0.52-0.54 without a target (topic's linear accuracy kept at 98%) and
#: 0.518 with the predicate target (kept at 100%) (benchmarks/README.md, "debias_text.py").
#: Not a cure: a census autoencoder's 16 no-target columns read 0.71-0.73 (its 40: 0.65). A
#: label that needs more than 16 directions may lose some (MiniLM's 84 predicates without a
#: target: 93%); --dim sets any size
MAX_DEFAULT_DIM = 16
#: the output noise with the network critic on, as a share of no_target_noise(k): the noise
#: blurs the fine structure the closed-form critics miss, which the network critic now reads,
#: and the noise costs what a probe of a kept label reads (the sample with the network
#: critic: noise 0.31 kept income at 94.7%, 0.155 at 95.6%, sex 0.551 -> 0.578, seed 1)
NOISE_WITH_NETWORK = 0.5


def resolve(config: DebiasConfig, k: int, has_target: bool, d: int | None = None
            ) -> DebiasConfig:
    """``config`` with its ``None`` defaults decided for an output of size ``k``: ``beta``
    (BETA_TARGET or BETA_NO_TARGET), ``patience`` (PATIENCE_TARGET or PATIENCE_NO_TARGET),
    ``kernel_features`` (KERNEL_FEATURES when k > 1) and ``whiten`` (when 1 < k < d, ``d``
    the input's columns: :mod:`~infomin_cli.debias.whiten`; a 1-D output has no axis to hide
    on, and a d -> d map removes only by shrinking directions, which whitening undoes) and
    ``network_critic`` (the slice penalty's, without a target, when k >
    NETWORK_CRITIC_ABOVE) and ``noise`` (:func:`no_target_noise` for a whitened output without
    a target, else 0)."""
    beta = config.beta if config.beta is not None else (
        BETA_TARGET if has_target else BETA_NO_TARGET)
    patience = config.patience if config.patience is not None else (
        PATIENCE_TARGET if has_target else PATIENCE_NO_TARGET)
    kernel = config.kernel_features if config.kernel_features is not None else (
        KERNEL_FEATURES if k > 1 else 0)
    whiten = (config.whiten if config.whiten is not None else d is None or k < d) and k > 1
    network = config.network_critic if config.network_critic is not None else (
        not has_target and k > NETWORK_CRITIC_ABOVE)
    network = network and config.penalty == "slice"  # a critic of the slice penalty alone
    noise = config.noise if config.noise is not None else (
        no_target_noise(k, network) if whiten and not has_target else 0.0)
    return replace(config, beta=beta, patience=patience, kernel_features=kernel, dim=k,
                   whiten=whiten, noise=noise, network_critic=network)


def no_target_noise(k: int, network: bool = False) -> float:
    """The default output noise of a whitened k-column output without a target:
    ``NOISE_NO_TARGET * sqrt(k / NOISE_REFERENCE_DIM)``, at most ``NOISE_MAX``; times
    ``NOISE_WITH_NETWORK`` when the network critic is on (``network``).

    Why it grows with k: what a no-target output kept of the attribute was structure across
    many of its columns (gradient boosting read AUC 0.60 on a 12-column output, 0.53 when
    allowed no interactions), and rows of k unit-variance columns lie ~sqrt(2k) apart, so
    the same share of that spread takes more noise; the kernel critic's bandwidths grow alike
    (:mod:`~infomin_cli.debias.kernel_critic`). Capped because the noise also costs what a
    probe of a kept label reads (its linear R^2 falls by 1 / (1 + noise^2)). Set on two
    outputs (benchmarks/README.md, hidden_directions.py): the census embedding's 5 columns,
    where 0.2 kept the income's accuracy within 95% on 5 of 5 seeds and 0.3 on 3 of 5; the
    sample's 12, where 0.2 left sex AUC 0.61 on fit seed 0, this rule's 0.31 passed 4 of 5
    seeds (worst 0.604) and 0.4 2 of 5 (worst 0.601), so the smaller is kept. The network
    critic (on by default for the sample's 12 columns since NETWORK_CRITIC_ABOVE = 8) reads
    that seed's leak itself, and with half the noise all 5 seeds pass (worst 0.594)."""
    sigma = min(NOISE_MAX, NOISE_NO_TARGET * np.sqrt(k / NOISE_REFERENCE_DIM))
    return float(sigma * (NOISE_WITH_NETWORK if network else 1.0))


def default_dim(d: int, targets: list[Attribute] = ()) -> int:
    """The output dimension with a target, when none is given: ``min(d, width,
    MAX_DEFAULT_DIM)``, where ``width`` is what the target heads read (C - 1 per discrete
    target, the columns of a continuous one); ``d`` without a target (:func:`reconstruction_dim`
    chooses then).

    Why no more: an information penalty has no gradient along maps that keep the
    information -- for an injective f, any dependence measure of f(Z) and T equals that of Z
    and T -- so the projection loses the attribute by compressing, and every dimension the
    target heads do not read is room where a leak can hide from the critic (seen: a 2-D
    output for a binary target kept sex readable by gradient boosting at AUC 0.63 where the
    1-D output read 0.55, on the census embedding of benchmarks/census_embedding.py). And
    a many-class target's heads read many dimensions, each room for a leak alike (MiniLM's
    84-way predicate: 83 columns read gender at 0.68-0.70, 16 at 0.518, the predicate kept),
    hence the cap: a linear head separates many classes in fewer dimensions."""
    if not targets:
        return d
    return max(1, min(d, heads_width(targets), MAX_DEFAULT_DIM))


def heads_width(targets: list[Attribute]) -> int:
    """The columns the target heads read: C - 1 per discrete target, the columns of a
    continuous one (0 without a target)."""
    return sum((t.n_classes or 2) - 1 if t.kind in DISCRETE_KINDS else t.width
               for t in targets)


def reconstruction_dim(zs: np.ndarray, attributes: list[Attribute],
                       keep: float = 0.98) -> int:
    """The no-target output size: the smallest k whose top-k principal components keep
    ``keep`` of the variance of the standardised embedding ``zs`` once the attributes' linear
    part is removed -- ``zs`` projected off the span of ``Cov(zs, code(A))`` for each
    attribute's linear code (one-hot, or its standardised columns).

    A d -> d projection that reconstructs the embedding can keep every leak (default_dim);
    the attribute's own directions are what removal must give up, so the variance they carry
    is not counted, and the rest is kept to ``keep``. The fit takes at most
    ``MAX_DEFAULT_DIM`` of these (wider outputs stayed readable to stock probes)."""
    x = np.asarray(zs, dtype=np.float64)
    x = x - x.mean(0)
    directions = []
    for a in attributes:
        code = a.design(np.float64)
        code = code - code.mean(0)
        directions.append(x.T @ code)
    # an orthonormal basis of their span (the one-hot columns of a class sum to a constant,
    # so the span has one dimension fewer than the columns: keep only what is there)
    u, s, _ = np.linalg.svd(np.concatenate(directions, axis=1), full_matrices=False)
    basis = u[:, s > s.max(initial=0.0) * 1e-9]
    residual = x - (x @ basis) @ basis.T
    lam = np.clip(np.linalg.eigvalsh(residual.T @ residual)[::-1], 0, None)
    if lam.sum() <= 0:
        return 1
    kept = np.cumsum(lam) / lam.sum()
    return int(min(x.shape[1], np.searchsorted(kept, keep - 1e-12) + 1))


def parse_betas(text: str) -> list[float]:
    """``"0.3,1,3"`` -> ``[0.3, 1.0, 3.0]``; ``ValueError`` unless every comma-separated item
    is a finite number >= 0 (an empty item, as in ``"1,,2"``, is refused, not skipped)."""
    items = [b.strip() for b in text.split(",")]
    try:
        betas = [float(b) for b in items]
    except ValueError:
        betas = []
    if not betas or any(not np.isfinite(b) or b < 0 for b in betas):
        raise ValueError("expected one or more numbers >= 0, comma-separated")
    return betas
