"""Rows an accumulator keeps (eval rows, or every row for a full-sample test), in any batch
order, returned in row order -- so streaming, in-memory and merged runs give the same arrays."""

from __future__ import annotations

import numpy as np
import torch


class RowStore:
    """``add(rows, flags, *columns)`` per batch; ``merge`` another store; ``ordered()`` gives
    ``(flags, *columns)`` sorted by global row index. A column is a tensor (kept on the store's
    device) or a numpy array; ``flags`` is a boolean mask per row (e.g. "is an eval row")."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._rows: list[np.ndarray] = []
        self._flags: list[np.ndarray] = []
        self._columns: list[tuple] = []

    def add(self, rows: np.ndarray, flags: np.ndarray, *columns) -> None:
        if len(rows) == 0:
            return
        self._rows.append(np.asarray(rows))
        self._flags.append(np.asarray(flags, dtype=bool))
        self._columns.append(tuple(c.clone() if isinstance(c, torch.Tensor) else np.asarray(c)
                                   for c in columns))

    def merge(self, other: RowStore) -> None:
        self._rows.extend(other._rows)
        self._flags.extend(other._flags)
        self._columns.extend(tuple(c.to(self.device) if isinstance(c, torch.Tensor) else c
                                   for c in cols) for cols in other._columns)

    def __len__(self) -> int:
        return int(sum(len(r) for r in self._rows))

    def count(self) -> int:
        """Rows whose flag is set."""
        return int(sum(int(f.sum()) for f in self._flags))

    def ordered(self) -> tuple:
        """``(flags, *columns)`` in row order (concatenated over batches)."""
        order = np.argsort(np.concatenate(self._rows), kind="stable")
        tidx = torch.as_tensor(order, device=self.device)
        out = [np.concatenate(self._flags)[order]]
        for j in range(len(self._columns[0])):
            parts = [cols[j] for cols in self._columns]
            if isinstance(parts[0], torch.Tensor):
                out.append(torch.cat(parts)[tidx])
            else:
                out.append(np.concatenate(parts)[order])
        return tuple(out)
