"""The attribute type shared by the loaders and the estimators.

An :class:`Attribute` is one sensitive variable T, already validated and aligned with the
embedding rows. Its ``kind`` decides how estimators treat it:

* ``binary`` / ``categorical``: ``values`` are int64 class codes in ``[0, C)``, shape ``(n,)``;
  ``classes`` names them. Any function of T is linear in its one-hot code, so estimators use
  :meth:`Attribute.design` (the one-hot matrix) exactly instead of slicing it.
* ``continuous``: ``values`` float64, shape ``(n,)``.
* ``multidim``: ``values`` float64, shape ``(n, k)`` with ``k >= 2`` (sliced on the T side).

The library's entry points also take plain arrays, Series, DataFrames and dicts of them:
:mod:`infomin_cli.inputs` builds the attributes, inferring kinds as the command line does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Kind = Literal["binary", "categorical", "continuous", "multidim"]
KINDS: tuple[str, ...] = ("binary", "categorical", "continuous", "multidim")
DISCRETE_KINDS: tuple[str, ...] = ("binary", "categorical")


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: Kind
    values: np.ndarray
    classes: tuple[str, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"attribute {self.name!r}: unknown kind {self.kind!r}")
        v = self.values
        if self.kind in DISCRETE_KINDS:
            if v.ndim != 1 or not np.issubdtype(v.dtype, np.integer):
                raise ValueError(f"attribute {self.name!r}: class codes must be a 1-D int array")
            if self.classes is None:
                raise ValueError(f"attribute {self.name!r}: a {self.kind} attribute needs classes")
            if len(v) and (v.min() < 0 or v.max() >= len(self.classes)):
                raise ValueError(f"attribute {self.name!r}: class code out of range")
        elif self.kind == "continuous" and v.ndim != 1:
            raise ValueError(f"attribute {self.name!r}: a continuous attribute is 1-D")
        elif self.kind == "multidim" and (v.ndim != 2 or v.shape[1] < 2):
            raise ValueError(f"attribute {self.name!r}: a multidim attribute is (n, k>=2)")

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)

    @property
    def width(self) -> int:
        """Columns of :meth:`design`."""
        if self.kind in DISCRETE_KINDS:
            return len(self.classes)  # type: ignore[arg-type]
        return 1 if self.values.ndim == 1 else int(self.values.shape[1])

    def take(self, index: np.ndarray | slice) -> Attribute:
        """The same attribute restricted to some rows (classes are kept, even if unseen)."""
        return Attribute(self.name, self.kind, self.values[index], self.classes)

    def design(self, dtype: np.dtype | type = np.float64) -> np.ndarray:
        """T as a matrix: one-hot ``(n, C)`` for discrete kinds, ``(n, 1)`` or ``(n, k)`` else."""
        if self.kind in DISCRETE_KINDS:
            out = np.zeros((len(self), self.width), dtype=dtype)
            out[np.arange(len(self)), self.values] = 1
            return out
        v = np.asarray(self.values, dtype=dtype)
        return v.reshape(-1, 1) if v.ndim == 1 else v

    @classmethod
    def categorical(cls, name: str, labels: np.ndarray | list) -> Attribute:
        """Encode arbitrary labels; two distinct values give a ``binary`` attribute."""
        labels = np.asarray(labels)
        uniq, codes = np.unique(labels, return_inverse=True)
        kind: Kind = "binary" if len(uniq) == 2 else "categorical"
        return cls(name, kind, codes.astype(np.int64), tuple(str(u) for u in uniq))

    @classmethod
    def continuous(cls, name: str, values: np.ndarray | list) -> Attribute:
        v = np.asarray(values, dtype=np.float64)
        if v.ndim == 2 and v.shape[1] == 1:
            v = v[:, 0]
        return cls(name, "continuous" if v.ndim == 1 else "multidim", v)
