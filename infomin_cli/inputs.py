"""Users' arrays and tables -> what the estimators take.

* Embeddings (:func:`as_embeddings`): a numpy array, a list of rows, a torch tensor (any
  device), a pandas DataFrame (numeric columns, or one column of lists / arrays), a pyarrow
  Table (the same) or a pyarrow list array -> a 2-D numpy array of finite real numbers.
* Attributes (:func:`as_attributes`): an :class:`~infomin_cli.attributes.Attribute`; an
  array, list, tensor, pandas Series or pyarrow array (1-D, or ``(n, k)`` for a multidim
  attribute); a dict name -> any of these; a DataFrame or pyarrow Table (each column one
  attribute); or a list / tuple of Attributes, arrays, tensors or Series (several
  attributes; a list of plain values or of lists is the rows of ONE attribute).
  Names: dict keys, ``Series.name``, column names, ``Attribute.name``; else ``default_name``
  for a single attribute and ``attr0``, ``attr1``, ... for several. Kinds are inferred by
  the command line's rules (:func:`infomin_cli.io.kinds.build_attribute` on the values as an
  Arrow array), so a library call and a file audit of the same column agree; ``kinds``
  overrides them by name.

Rows are matched by position (a pandas index is not used). A missing value (None, NaN,
``pd.NA``) or a length that differs from the embeddings' is an
:class:`~infomin_cli.errors.InputError` naming the attribute: the library never drops rows.
pandas and torch are recognised without being imported (a DataFrame or tensor can only exist
once its library is loaded).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from infomin_cli.attributes import KINDS, Attribute
from infomin_cli.errors import InputError
from infomin_cli.io.common import first_line, is_list_type, is_number_type, type_name
from infomin_cli.io.kinds import build_attribute, list_matrix, missing_mask, normalize

__all__ = ["ArrayLike", "AttributeLike", "as_attribute", "as_attributes", "as_embeddings", "debias_inputs",
           "estimator_inputs"]

#: What :func:`as_embeddings` takes (for signatures): arrays, lists, tensors, tables.
ArrayLike = Any
#: What :func:`as_attribute` / :func:`as_attributes` take (see the module docstring).
AttributeLike = Any


# ----------------------------------------------------------------------------- recognising


def _is_tensor(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _is_pandas(x: Any, name: str) -> bool:
    """``x`` is a pandas ``name`` (``DataFrame``, ``Series``) or a subclass of one."""
    return any(c.__name__ == name and c.__module__.split(".")[0] == "pandas"
               for c in type(x).__mro__)


def _tensor_to_numpy(t: Any, where: str) -> np.ndarray:
    import torch  # already imported: ``t`` is a tensor

    t = t.detach().cpu()
    if t.is_complex():
        raise InputError(f"{where}: expected real numbers, got a {t.dtype} tensor")
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.float()
    return t.numpy()


# ----------------------------------------------------------------------------- embeddings


def as_embeddings(Z: Any, what: str = "embeddings") -> np.ndarray:
    """``Z`` as a 2-D ``(n, d)`` numpy array of finite real numbers (a numpy array is returned
    as is, its dtype kept). ``InputError`` naming the problem otherwise."""
    if isinstance(Z, np.ndarray):
        z = Z
    elif _is_tensor(Z):
        z = _tensor_to_numpy(Z, what)
    elif _is_pandas(Z, "DataFrame"):
        z = _frame_matrix(Z, what)
    elif isinstance(Z, (pa.Table, pa.RecordBatch)):
        z = _table_matrix(Z, what)
    elif isinstance(Z, (pa.Array, pa.ChunkedArray)):
        z = _list_matrix(Z, what)
    else:
        try:
            z = np.asarray(Z)
        except (TypeError, ValueError) as exc:  # ragged rows
            raise InputError(f"{what}: cannot read as a 2-D array: {first_line(exc)}") from None
    return _check_matrix(z, what)


def _check_matrix(z: np.ndarray, what: str) -> np.ndarray:
    if z.ndim != 2:
        hint = " (Z.reshape(-1, 1) for a single column)" if z.ndim == 1 else ""
        raise InputError(f"{what}: must be a 2-D array (n, d), got shape {z.shape}{hint}")
    if z.dtype.kind not in "biuf":
        why = "ragged rows or values that are not numbers" if z.dtype.kind == "O" else "not real numbers"
        raise InputError(f"{what}: dtype {z.dtype}: {why}")
    if z.shape[0] == 0 or z.shape[1] == 0:
        raise InputError(f"{what}: no {'rows' if z.shape[0] == 0 else 'columns'} "
                         f"(shape {z.shape})")
    if z.dtype.kind == "f":
        from infomin_cli.io.source import nonfinite_rows  # the readers' check (row-sum fast path)

        bad = nonfinite_rows(z)
        if bad.any():
            n = int(bad.sum())
            raise InputError(f"{what}: {n} row{'s' * (n != 1)} with NaN or infinite values "
                             f"(first at row {int(np.argmax(bad))})")
    return z


def _frame_matrix(df: Any, what: str) -> np.ndarray:
    """A DataFrame's numeric columns, or its single column of lists, as a matrix."""
    from pandas.api.types import (  # pandas is loaded: df is a DataFrame
        is_bool_dtype,
        is_numeric_dtype,
        is_object_dtype,
    )

    if len(set(df.columns)) != len(df.columns):
        raise InputError(f"{what}: the DataFrame has duplicate column names")
    dtypes = list(df.dtypes)
    if len(dtypes) == 1 and is_object_dtype(dtypes[0]):
        return _list_matrix(pa.array(df.iloc[:, 0].to_list(), from_pandas=True),
                            f"{what}: column {df.columns[0]!r}")
    for col, t in zip(df.columns, dtypes):
        if not (is_numeric_dtype(t) or is_bool_dtype(t)):
            raise InputError(f"{what}: column {col!r} has dtype {t}: embeddings are numeric "
                             "columns, or one column of lists")
    if all(isinstance(t, np.dtype) for t in dtypes):
        return df.to_numpy()
    return df.to_numpy(dtype=np.float64, na_value=np.nan)  # nullable dtypes: NA -> NaN


def _table_matrix(table: pa.Table | pa.RecordBatch, what: str) -> np.ndarray:
    """A pyarrow table's numeric columns, or its single list column, as a matrix."""
    cols = [normalize(c) for c in table.columns]
    names = table.column_names
    if len(cols) == 1 and is_list_type(cols[0].type):
        return _list_matrix(cols[0], f"{what}: column {names[0]!r}")
    out = []
    for name, c in zip(names, cols):
        if not is_number_type(c.type):
            raise InputError(f"{what}: column {name!r} has type {type_name(c.type)}: "
                             "embeddings are numeric columns, or one list column")
        if c.null_count:
            raise InputError(f"{what}: column {name!r}: {c.null_count} missing values")
        out.append(c.to_numpy(zero_copy_only=False))
    return np.column_stack(out)


def _list_matrix(arr: pa.Array | pa.ChunkedArray, what: str) -> np.ndarray:
    arr = normalize(arr)
    if not (is_list_type(arr.type) and is_number_type(arr.type.value_type)):
        raise InputError(f"{what}: type {type_name(arr.type)}: expected lists of numbers "
                         "(one embedding a row)")
    miss = missing_mask(arr)
    if miss.any():
        raise InputError(f"{what}: {int(miss.sum())} rows with a missing value "
                         f"(first at row {int(np.argmax(miss))})")
    m = list_matrix(arr)
    if m is None:
        raise InputError(f"{what}: rows of different lengths")
    return m


# ----------------------------------------------------------------------------- attributes


def _is_column(x: Any) -> bool:
    """One attribute's values as one object (not a list of rows)."""
    return (isinstance(x, (Attribute, np.ndarray, pa.Array, pa.ChunkedArray))
            or _is_tensor(x) or _is_pandas(x, "Series"))


def _given_name(x: Any) -> str | None:
    if isinstance(x, Attribute):
        return x.name
    if _is_pandas(x, "Series") and x.name is not None:
        return str(x.name)
    return None


def _named(x: Any, default_name: str, prefix: str) -> list[tuple[str, Any]]:
    """``(name, values)`` of each attribute in ``x``."""
    if x is None:
        return []
    if isinstance(x, Mapping):
        return [(str(k), v) for k, v in x.items()]
    if _is_pandas(x, "DataFrame"):
        if len(set(x.columns)) != len(x.columns):
            raise InputError("attributes: the DataFrame has duplicate column names")
        return [(str(c), x[c]) for c in x.columns]
    if isinstance(x, (pa.Table, pa.RecordBatch)):
        return list(zip(x.column_names, x.columns))
    if isinstance(x, (list, tuple)):
        if not x:
            return []
        if all(_is_column(v) for v in x):
            if len(x) == 1:
                return [(_given_name(x[0]) or default_name, x[0])]
            return [(_given_name(v) or f"{prefix}{i}", v) for i, v in enumerate(x)]
        if any(isinstance(v, Attribute) for v in x):
            raise InputError("attributes: a list mixes Attributes with other values; give a "
                             "list of Attributes / arrays, or a dict name -> values")
    return [(_given_name(x) or default_name, x)]


def _arrow_column(values: Any, where: str) -> pa.Array:
    """An attribute's values as one Arrow array (what the command line reads from a file)."""
    if _is_tensor(values):
        values = _tensor_to_numpy(values, where)
    try:
        if _is_pandas(values, "Series"):
            arr = pa.Array.from_pandas(values)
        elif isinstance(values, (pa.Array, pa.ChunkedArray)):
            arr = values
        elif isinstance(values, np.ndarray):
            arr = _numpy_column(values, where)
        elif isinstance(values, (str, bytes)) or np.ndim(values) == 0:
            raise InputError(f"{where}: expected an array, list, Series or Attribute, got "
                             f"{type(values).__name__}")
        else:
            arr = pa.array(values, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{where}: cannot read the values: {first_line(exc)}") from None
    return normalize(arr)


def _numpy_column(a: np.ndarray, where: str) -> pa.Array:
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim == 1:
        return pa.array(a, from_pandas=True)
    if a.ndim == 2:  # (n, k): a list column of length k, as a multidim attribute is stored
        if a.dtype.kind not in "iuf":
            raise InputError(f"{where}: a 2-D attribute must hold numbers, got dtype {a.dtype}")
        flat = pa.array(np.ascontiguousarray(a).reshape(-1), from_pandas=True)
        return pa.FixedSizeListArray.from_arrays(flat, a.shape[1])
    raise InputError(f"{where}: expected 1-D values or an (n, k) array, got shape {a.shape}")


def _check_kinds(kinds: Mapping[str, str] | None) -> dict[str, str]:
    kinds = dict(kinds or {})
    for name, kind in kinds.items():
        if kind not in KINDS:
            raise InputError(f"kinds[{name!r}] = {kind!r}: unknown kind "
                             f"(choose {', '.join(KINDS)})")
    return kinds


def _check_used(kinds: dict[str, str], names: list[str]) -> None:
    extra = [k for k in kinds if k not in names]
    if extra:
        raise InputError(f"kinds[{extra[0]!r}]: no attribute of that name "
                         f"(attributes: {', '.join(map(repr, names)) or 'none'})")


def _attribute(name: str, values: Any, n_rows: int | None, kind: str | None) -> Attribute:
    where = f"attribute {name!r}"
    if isinstance(values, Attribute):
        if kind is not None and kind != values.kind:
            raise InputError(f"{where}: kinds asks for {kind!r}, but it is an Attribute of "
                             f"kind {values.kind!r}")
        attr = values if values.name == name else dataclasses.replace(values, name=name)
        if n_rows is not None and len(attr) != n_rows:
            raise InputError(f"{where} has {len(attr)} rows, embeddings {n_rows}")
        return attr
    arr = _arrow_column(values, where)
    if n_rows is not None and len(arr) != n_rows:
        hint = ("; a list of lists is the rows of one attribute: give several as a dict "
                "name -> values or a list of arrays") if (
            isinstance(values, (list, tuple)) and is_list_type(arr.type)) else ""
        raise InputError(f"{where} has {len(arr)} rows, embeddings {n_rows}{hint}")
    miss = missing_mask(arr)
    if miss.any():
        k = int(miss.sum())
        raise InputError(f"{where}: {k} of {len(arr)} rows have a missing value (None, NaN or "
                         f"NA; first at row {int(np.argmax(miss))}); the library does not drop "
                         "rows: drop them from the attribute and the embeddings first")
    return build_attribute(name, arr, kind, where)


def _coerce(x: Any, n_rows: int | None, kinds: dict[str, str], default_name: str,
            prefix: str) -> list[Attribute]:
    named = _named(x, default_name, prefix)
    names = [n for n, _ in named]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"attribute {dup[0]!r} is given more than once")
    return [_attribute(n, v, n_rows, kinds.get(n)) for n, v in named]


def as_attributes(attrs: Any, n_rows: int | None = None, *,
                  kinds: Mapping[str, str] | None = None,
                  default_name: str = "attribute") -> list[Attribute]:
    """The attributes in ``attrs`` (see the module docstring), each checked to have
    ``n_rows`` rows (None: not checked). ``kinds``: name -> kind, overriding the inference."""
    kinds = _check_kinds(kinds)
    out = _coerce(attrs, n_rows, kinds, default_name, "attr")
    _check_used(kinds, [a.name for a in out])
    return out


def as_attribute(attr: Any, n_rows: int | None = None, *, kind: str | None = None,
                 default_name: str = "attribute") -> Attribute:
    """Exactly one attribute (an estimator's ``T``); ``kind`` overrides the inference."""
    named = _named(attr, default_name, "attr")
    if len(named) != 1:
        raise InputError(f"expected one attribute, got {len(named)} "
                         f"({', '.join(repr(n) for n, _ in named[:4])})")
    (name, values), = named
    if kind is not None:
        _check_kinds({name: kind})
    return _attribute(name, values, n_rows, kind)


def estimator_inputs(Z: Any, attr: Any, kind: str | None = None) -> tuple[np.ndarray, Attribute]:
    """An estimator's ``(Z, T)``: :func:`as_embeddings` and :func:`as_attribute`."""
    z = as_embeddings(Z)
    return z, as_attribute(attr, len(z), kind=kind)


def debias_inputs(Z: Any, attributes: Any, targets: Any = (),
                  kinds: Mapping[str, str] | None = None
                  ) -> tuple[np.ndarray, list[Attribute], list[Attribute]]:
    """A debiasing fit's ``(Z, attributes, targets)``; an unnamed target is ``target`` (or
    ``target0``, ``target1``, ...). ``kinds`` may name attributes and targets."""
    z = as_embeddings(Z)
    kinds = _check_kinds(kinds)
    attrs = _coerce(attributes, len(z), kinds, "attribute", "attr")
    tgts = _coerce(targets, len(z), kinds, "target", "target")
    _check_used(kinds, [a.name for a in (*attrs, *tgts)])
    return z, attrs, tgts
