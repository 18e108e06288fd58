"""The penalties a projection can be fitted against: one table, name -> factory.

A penalty measures the dependence of a network's output f(Z) and one attribute T in two steps,
as the fit loop calls them:

    solve(f(Z_D'), rows)   max-step on detached outputs of the rows D' (the critic: slices,
                           an adversary, ...); returns its in-sample value
    penalty(f(Z_B), rows)  min-step on a batch B: a differentiable scalar, gradients into f(Z_B)

A new penalty is one module with such a class and one entry of :data:`PENALTIES`, a factory
``(attribute, config, seed) -> Penalty``. This module imports the penalties' modules only when
a factory is called, so the names are cheap to read (the command line lists them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import torch

    from infomin_cli.attributes import Attribute


class Penalty(Protocol):
    def solve(self, fz: torch.Tensor, rows: np.ndarray) -> float:
        """Max-step on the detached outputs ``fz`` of ``rows``; the in-sample penalty."""
        ...

    def __call__(self, fz: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        """Min-step: the penalty on a batch, differentiable in ``fz``."""
        ...


class PenaltySettings(Protocol):
    """What a factory reads of :class:`~infomin_cli.debias.config.DebiasConfig`."""

    slices: int
    order: int
    aggregation: str
    guided: bool
    l2_steps: int
    kernel_features: int
    network_critic: bool


PenaltyFactory = Callable[["Attribute", PenaltySettings, int], Penalty]


def _slice(attribute: Attribute, config: PenaltySettings, seed: int) -> Penalty:
    """SI_B(f(Z); T), the slice loss of slice infomin learning (closed-form max-step), plus
    the kernel critic when ``kernel_features`` > 0 and a network critic trained ``l2_steps``
    per max-step when ``network_critic``."""
    from infomin_cli.debias.slice_loss import SliceLoss

    return SliceLoss(attribute, slices=config.slices, order=config.order, seed=seed,
                     aggregation=config.aggregation, guided=config.guided,
                     kernel_features=config.kernel_features,
                     network_steps=config.l2_steps if config.network_critic else 0)


def _adversarial(attribute: Attribute, config: PenaltySettings, seed: int) -> Penalty:
    """A neural Renyi adversary retrained ``l2_steps`` per max-step (the paper's baseline)."""
    from infomin_cli.debias.adversary import RenyiAdversary

    return RenyiAdversary(attribute, l2_steps=config.l2_steps, seed=seed)


def _pearson(attribute: Attribute, config: PenaltySettings, seed: int) -> Penalty:
    """Mean |Pearson correlation| of the output's columns and T's linear code."""
    from infomin_cli.debias.pearson import PearsonLoss

    return PearsonLoss(attribute, seed=seed)


PENALTIES: dict[str, PenaltyFactory] = {
    "slice": _slice,
    "adversarial": _adversarial,
    "pearson": _pearson,
}


def penalty_factory(name: str) -> PenaltyFactory:
    """The factory of penalty ``name``; ``ValueError`` naming the choices otherwise."""
    try:
        return PENALTIES[name]
    except KeyError:
        raise ValueError(f"unknown penalty {name!r} (choose from "
                         f"{', '.join(PENALTIES)})") from None
