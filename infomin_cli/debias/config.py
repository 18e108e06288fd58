"""The settings of a debiasing fit, and the default output dimension."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from infomin_cli.attributes import DISCRETE_KINDS, Attribute


@dataclass(frozen=True)
class DebiasConfig:
    model: Literal["linear", "mlp"] = "mlp"
    dim: int | None = None  # output dimension k (default: default_dim)
    hidden: int = 256
    beta: float = 0.5  # weight of the penalty, set with the default output size
    lr: float = 1e-2
    batch_size: int = 4096  # min-step rows, capped at the training rows (fit module docstring)
    max_steps: int = 2000  # gradient steps (min-steps)
    eval_every: int = 10  # steps between validations
    patience: int = 40  # validations without improvement before stopping
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

    def __post_init__(self) -> None:
        from infomin_cli.debias.penalties import penalty_factory

        if self.model not in ("linear", "mlp"):
            raise ValueError(f"model must be linear or mlp, not {self.model!r}")
        if self.beta < 0 or self.lr <= 0 or self.batch_size < 8 or self.max_steps < 1:
            raise ValueError("beta >= 0, lr > 0, batch_size >= 8 and max_steps >= 1 required")
        if self.eval_every < 1 or self.patience < 1:
            raise ValueError("eval_every >= 1 and patience >= 1 required")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be cosine or constant, not {self.lr_schedule!r}")
        penalty_factory(self.penalty)
        if self.l2_steps < 1:
            raise ValueError("l2_steps must be >= 1")
        if self.val_solves < 1:
            raise ValueError("val_solves must be >= 1")
        if not 0 <= self.ema_decay < 1:
            raise ValueError("ema_decay must be in [0, 1)")
        if self.dim is not None and self.dim < 1:
            raise ValueError("dim must be >= 1")
        if not 0 < self.val_frac < 0.9:
            raise ValueError("val_frac must be in (0, 0.9)")


def default_dim(d: int, targets: list[Attribute] = ()) -> int:
    """The output dimension when none is given: ``min(d, 2 * width)`` with a target, where
    ``width`` is what the target heads read (C - 1 per discrete target, the columns of a
    continuous one); ``d`` without one.

    Why not always ``d``: an information penalty has no gradient along maps that keep the
    information -- for an injective f, any dependence measure of f(Z) and T equals that of Z
    and T -- so a d -> d projection can only lose the attribute by compressing, and nothing
    but the penalty asks it to. A target says what to keep; two dimensions per target
    output leave room for it and little for the rest."""
    if not targets:
        return d
    width = sum((t.n_classes or 2) - 1 if t.kind in DISCRETE_KINDS else t.width
                for t in targets)
    return max(1, min(d, 2 * width))
