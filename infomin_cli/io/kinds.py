"""Attribute kinds: inference from a column's type and values, overrides, and ``Attribute`` building.

Rules (first match wins), on the non-missing values:

* a list column of numbers with a fixed length ``k >= 2`` -> ``multidim`` (``k == 1``: continuous);
* exactly 2 distinct values (any type) -> ``binary``;
* strings and bools -> ``categorical``;
* integers with at most ``CATEGORICAL_MAX`` (20) distinct values -> ``categorical``, else ``continuous``;
* floats -> ``continuous``.

A column with a single distinct value cannot be an attribute; a string column whose values
are all distinct (more than ``CATEGORICAL_MAX`` rows) looks like an id and is refused unless
its kind is given explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from infomin_cli.attributes import KINDS, Attribute
from infomin_cli.errors import InputError
from infomin_cli.io.common import is_list_type, is_number_type, type_name

CATEGORICAL_MAX = 20


def normalize(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array; dictionaries decoded, decimals as float64."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_decimal(arr.type):
        arr = arr.cast(pa.float64())
    return arr


def missing_mask(arr: pa.Array) -> np.ndarray:
    """Rows with a null, a NaN, or (list columns) any null / NaN element."""
    t = arr.type
    if pa.types.is_floating(t):
        return pc.is_null(arr, nan_is_null=True).to_numpy(zero_copy_only=False)
    mask = arr.is_null().to_numpy(zero_copy_only=False).copy()
    if is_list_type(t) and is_number_type(t.value_type):
        flat = pc.list_flatten(arr)
        parents = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False)
        bad = pc.is_null(flat, nan_is_null=True).to_numpy(zero_copy_only=False)
        mask[parents[bad]] = True
    return mask


def list_matrix(arr: pa.Array) -> np.ndarray | None:
    """A list column of numbers without missing rows as ``(n, k)`` float64; None if ragged."""
    if pa.types.is_fixed_size_list(arr.type):
        k = arr.type.list_size
    else:
        lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
        if len(lengths) == 0 or (lengths != lengths[0]).any():
            return None
        k = int(lengths[0])
    values = pc.list_flatten(arr).to_numpy(zero_copy_only=False).astype(np.float64)
    return values.reshape(len(arr), k)


@dataclass
class Guess:
    kind: str | None  # one of KINDS, or None when the column cannot be an attribute
    note: str = ""  # why not ("single value", "all distinct", "unsupported type ...")
    distinct: int | None = None


def _distinct(arr: pa.Array) -> int:
    return int(pc.count_distinct(arr, mode="only_valid").as_py())


def guess_kind(arr: pa.Array) -> Guess:
    """The kind of a column holding no missing values (see the module docstring)."""
    t = arr.type
    if is_list_type(t):
        if not is_number_type(t.value_type):
            return Guess(None, f"unsupported type {type_name(t)}")
        m = list_matrix(arr)
        if m is None:
            return Guess(None, "ragged lists")
        if m.shape[1] == 0:
            return Guess(None, "empty lists")
        if m.shape[1] == 1:
            return _guess_scalar(pa.array(m[:, 0]))
        return Guess("multidim")
    return _guess_scalar(arr)


def _guess_scalar(arr: pa.Array) -> Guess:
    t = arr.type
    numeric = is_number_type(t)
    if not (numeric or pa.types.is_boolean(t) or pa.types.is_string(t)
            or pa.types.is_large_string(t)):
        return Guess(None, f"unsupported type {type_name(t)}")
    d = _distinct(arr)
    if d <= 1:
        return Guess(None, "single value" if d == 1 else "no values", d)
    if d == 2:
        return Guess("binary", distinct=d)
    if pa.types.is_floating(t):
        return Guess("continuous", distinct=d)
    if pa.types.is_integer(t):
        return Guess("categorical" if d <= CATEGORICAL_MAX else "continuous", distinct=d)
    if d == len(arr) and d > CATEGORICAL_MAX:
        return Guess(None, "all values distinct (an id?)", d)
    return Guess("categorical", distinct=d)


def check_kind_name(name: str, kind: str) -> None:
    if kind not in KINDS:
        raise InputError(
            f"--attr-kind {name}={kind}: unknown kind {kind!r} (choose {', '.join(KINDS)})"
        )


def build_attribute(name: str, arr: pa.Array, kind: str | None, where: str) -> Attribute:
    """An :class:`Attribute` from a column without missing values; ``kind`` None = inferred.

    ``where`` prefixes error messages (``"file: column 'x'"``).
    """
    t = arr.type
    if kind is None:
        guess = guess_kind(arr)
        if guess.kind is None:
            if guess.note == "single value":
                raise InputError(f"{where}: {_single_value(arr)}")
            raise InputError(f"{where}: cannot be an attribute: {guess.note}")
        kind = guess.kind
    check_kind_name(name, kind)
    if kind == "multidim" or (is_list_type(t) and kind == "continuous"):
        if not (is_list_type(t) and is_number_type(t.value_type)):
            raise InputError(
                f"{where}: cannot be {kind}: type {type_name(t)} (multidim needs a list of numbers)"
            )
        m = list_matrix(arr)
        if m is None:
            raise InputError(f"{where}: ragged list lengths")
        if kind == "multidim" and m.shape[1] < 2:
            raise InputError(f"{where}: cannot be multidim: lists of length {m.shape[1]}")
        if kind == "continuous" and m.shape[1] != 1:
            raise InputError(f"{where}: cannot be continuous: lists of length {m.shape[1]}")
        values = m if kind == "multidim" else m[:, 0]
        _check_finite(values, where)
        if np.all(values == values[0]):
            raise InputError(f"{where}: only one distinct value; nothing to audit")
        return Attribute(name, kind, values)  # type: ignore[arg-type]
    if is_list_type(t):
        raise InputError(f"{where}: cannot be {kind}: type {type_name(t)} is a list")
    if kind == "continuous":
        if not (is_number_type(t) or pa.types.is_boolean(t)):
            raise InputError(
                f"{where}: cannot be continuous: type {type_name(t)} is not numeric "
                "(use categorical)"
            )
        values = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
        _check_finite(values, where)
        if len(values) == 0 or np.all(values == values[0]):
            raise InputError(f"{where}: {_single_value(arr)}")
        return Attribute(name, "continuous", values)
    # discrete: classes in the values' natural order, named as strings
    uniq = pc.unique(arr)
    uniq = uniq.take(pc.sort_indices(uniq))
    if len(uniq) <= 1:
        raise InputError(f"{where}: {_single_value(arr)}")
    if kind == "binary" and len(uniq) != 2:
        raise InputError(f"{where}: cannot be binary: {len(uniq)} distinct values")
    codes = pc.index_in(arr, value_set=uniq).to_numpy(zero_copy_only=False).astype(np.int64)
    classes = tuple(str(v) for v in uniq.to_pylist())
    return Attribute(name, kind, codes, classes)  # type: ignore[arg-type]


def _check_finite(values: np.ndarray, where: str) -> None:
    """Infinite values are not missing (NaN and null are): they are an input error."""
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if bad.any():
        n = int(bad.sum())
        raise InputError(f"{where}: {n} row{'s' if n != 1 else ''} with infinite values "
                         f"(first at row {int(np.argmax(bad))})")


def _single_value(arr: pa.Array) -> str:
    if len(arr) == 0:
        return "no values"
    return f"only one distinct value ({arr[0].as_py()!r}); nothing to audit"
