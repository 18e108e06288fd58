"""Results as plain records: a JSON-safe dict (:meth:`Tabular.to_dict`) and a pandas table
(:meth:`Tabular.to_frame`), shared by every result class.

pandas is not a dependency: it is imported by ``to_frame`` only, with a one-line
``ImportError`` saying how to get it.
"""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np


def plain(x: Any) -> Any:
    """Numbers, tuples and arrays to JSON-friendly values (NaN -> None)."""
    if isinstance(x, (bool, str)) or x is None:
        return x
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return None if math.isnan(x) or math.isinf(x) else x
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, np.ndarray) and x.size <= 16:
        return [plain(v) for v in x.tolist()]
    return str(x)


def result_fields(result: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The scalar fields of a result dataclass (fitted arrays and nested fits are left out)."""
    out: dict[str, Any] = {}
    if not is_dataclass(result):
        return out
    for f in fields(result):
        if f.name in skip or f.name.startswith("_"):
            continue
        v = getattr(result, f.name)
        if is_dataclass(v) or isinstance(v, np.ndarray):  # fitted weights stay in the library
            continue
        if hasattr(v, "shape") and not isinstance(v, np.ndarray):  # torch tensors
            continue
        out[f.name] = plain(v)
    return out


def split_ci(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with its ``ci`` pair as two columns ``ci_low``, ``ci_high`` in its place."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k == "ci":
            out["ci_low"], out["ci_high"] = v if v is not None else (None, None)
        else:
            out[k] = v
    return out


def frame(rows: list[dict[str, Any]]):
    """A pandas DataFrame of ``rows`` (one dict a row)."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_frame() needs pandas (pip install pandas); to_dict() gives the "
                          "same numbers without it") from None
    return pd.DataFrame.from_records(rows)


class Tabular:
    """``to_dict()`` (JSON-safe: plain numbers, strings, None and lists) and ``to_frame()``
    (a pandas DataFrame of :meth:`rows`). By default the dict holds the dataclass's scalar
    fields and the frame is one row of them, its interval as ``ci_low`` / ``ci_high``."""

    def to_dict(self) -> dict[str, Any]:
        return result_fields(self)

    def rows(self) -> list[dict[str, Any]]:
        """The records of :meth:`to_frame` (JSON-safe too)."""
        return [split_ci(self.to_dict())]

    def to_frame(self):
        """The result as a pandas DataFrame (pandas is imported here, on first use)."""
        return frame(self.rows())
