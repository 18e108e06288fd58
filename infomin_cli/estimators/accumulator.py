"""The streaming protocol of an estimator: one pass over the rows, mergeable partial states.

An :class:`Accumulator` of one attribute is built from the embedding dimension, the
attribute's template (kind, classes, calibration values), its config, the embedding
standardiser and the total row count ``n``; it takes rows ``offset .. offset + b - 1`` in any
batches and any order, merges with an accumulator of the same arguments over disjoint rows,
and gives its result at the end. The splits and permutations hang on the global row index, so
the result does not depend on how the rows were batched or distributed.

Several attributes share the Z side of a pass: :meth:`Accumulator.shared` says what every
accumulator of one estimator shares (built once), :meth:`Accumulator.prepare` maps a batch to
what ``update_prepared`` reads, computed once per batch for every attribute.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch

from infomin_cli.attributes import Attribute
from infomin_cli.stats.device import resolve_device
from infomin_cli.stats.standardize import Standardizer


class Accumulator(ABC):
    """One-pass, mergeable accumulation of an estimator's statistics for one attribute."""

    def __init__(
        self,
        dim: int,
        attr_template: Attribute,
        config: Any,
        standardizer: Standardizer,
        n_total: int,
        *,
        seed: int = 0,
        device: str | torch.device = "auto",
    ) -> None:
        if standardizer.dim != dim:
            raise ValueError(f"standardizer has {standardizer.dim} columns, embeddings {dim}")
        self.dim, self.config, self.seed = dim, config, int(seed)
        self.standardizer, self.n_total = standardizer, int(n_total)
        self.device = resolve_device(device)

    @classmethod
    def shared(cls, dim: int, config: Any, standardizer: Standardizer,
               seed: int) -> dict[str, Any]:
        """Keyword arguments every accumulator of one pass shares (none by default)."""
        return {}

    def prepare(self, z_batch: np.ndarray | torch.Tensor) -> Any:
        """What :meth:`update_prepared` reads of a raw batch (the batch itself by default);
        valid for every accumulator built with the same :meth:`shared` arguments."""
        return z_batch

    def update_prepared(self, prepared: Any, attr_batch_values: np.ndarray,
                        row_offset: int) -> None:
        """:meth:`update` with ``prepared = self.prepare(z_batch)``."""
        self.update(prepared, attr_batch_values, row_offset)

    @abstractmethod
    def update(self, z_batch: np.ndarray | torch.Tensor, attr_batch_values: np.ndarray,
               row_offset: int) -> None:
        """Add rows ``row_offset .. row_offset + len(z_batch) - 1``."""

    @abstractmethod
    def merge(self, other: Any) -> Any:
        """Add ``other``'s rows (same construction arguments, disjoint rows); returns self."""

    @abstractmethod
    def result(self) -> Any:
        """The estimate: fitted on the fit rows, evaluated on the eval rows."""
