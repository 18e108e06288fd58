"""Embeddings (and attribute arrays) stored as NPY / NPZ: never unpickled.

A ``.npy`` file is memory-mapped; an ``.npz`` holds one 2-D float array (found, or
named with ``emb_col``) and possibly 1-D / 2-D arrays of the same length used as attributes.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from infomin_cli.errors import InputError
from infomin_cli.io.common import InMemoryTable, column_not_found, first_line

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_HINT = "refusing to unpickle; save a plain numeric array (np.save with a float dtype)"


def _magic(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(6)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path}: is a directory, expected an NPY file") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {first_line(exc)}") from exc


def _check_dtype(path: str, label: str, dtype: np.dtype) -> None:
    if dtype.hasobject:
        raise InputError(f"{path}: {label}: holds Python objects (pickled data); {_PICKLE_HINT}")
    if dtype.kind not in "fiu":
        raise InputError(f"{path}: {label}: non-numeric dtype {dtype} (expected a float array)")


def load_npy(path: str) -> np.ndarray:
    """Memory-map a ``.npy`` file with ``allow_pickle=False``; friendly errors."""
    magic = _magic(path)
    if magic != NPY_MAGIC:
        if magic[:1] == b"\x80":
            raise InputError(f"{path}: a pickle file, not an NPY array; {_PICKLE_HINT}")
        raise InputError(f"{path}: not an NPY file (bad magic bytes)")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        msg = str(exc)
        if "pickle" in msg or "object" in msg.lower():
            raise InputError(f"{path}: holds Python objects (pickled data); {_PICKLE_HINT}") from exc
        raise InputError(f"{path}: cannot read as NPY: {first_line(exc)}") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read as NPY: {first_line(exc)}") from exc


def _npz_headers(path: str) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shapes and dtypes of the members of an ``.npz`` without loading them."""
    out: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                if not member.endswith(".npy"):
                    continue
                with zf.open(member) as fh:
                    version = np.lib.format.read_magic(fh)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = read_header(fh)
                out[member[: -len(".npy")]] = (tuple(shape), np.dtype(dtype))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read as NPZ: {first_line(exc)}") from exc
    return out


def _npz_member(path: str, key: str) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as z:
            return z[key]
    except ValueError as exc:
        raise InputError(f"{path}: array {key!r}: cannot load: {first_line(exc)}") from exc


def _to_arrow(arr: np.ndarray) -> pa.Array:
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 1:
        return pa.array(np.ascontiguousarray(arr))
    flat = pa.array(np.ascontiguousarray(arr).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, int(arr.shape[1]))


def columns_table(path, cols: dict[str, np.ndarray]) -> pa.Table:
    """Named 1-D/2-D arrays of one attribute file as an Arrow table; ``InputError`` naming
    ``path`` when their lengths differ."""
    lengths = {len(v) for v in cols.values()}
    if len(lengths) > 1:
        raise InputError(f"{path}: arrays of different lengths {sorted(lengths)}")
    return pa.table({k: _to_arrow(v) for k, v in cols.items()})


def _check_2d(path: str, label: str, shape: tuple[int, ...]) -> None:
    if len(shape) != 2:
        raise InputError(
            f"{path}: {label}: expected a 2-D array (rows × dim), got {len(shape)}-D shape "
            f"{tuple(shape)}"
        )
    if shape[0] == 0:
        raise InputError(f"{path}: no rows (the array is empty)")
    if shape[1] == 0:
        raise InputError(f"{path}: {label}: embeddings have length 0")


def arrow_type(shape: tuple[int, ...], dtype: np.dtype) -> pa.DataType:
    """The Arrow type of an array's rows: its dtype (string when Arrow has none), a
    fixed-size list for a 2-D array of several columns."""
    try:
        base = pa.from_numpy_dtype(dtype)
    except (pa.ArrowNotImplementedError, TypeError):
        base = pa.string()
    return pa.list_(base, int(shape[1])) if len(shape) == 2 and shape[1] > 1 else base


class ArrayColumns:
    """What the embedding readers of named arrays share: the embedding ``arr`` (rows
    sliced, never the whole memory map copied) and the other arrays (``_extra``: name ->
    ``(shape, dtype)``, typed in ``schema``) as attribute columns."""

    arr: np.ndarray
    n_rows: int
    schema: pa.Schema
    _extra: dict[str, tuple[tuple[int, ...], np.dtype]]

    @property
    def column_names(self) -> list[str]:
        return list(self._extra)

    @property
    def other_columns(self) -> list[str]:
        return self.column_names

    def column_type(self, name: str) -> pa.DataType:
        return self.schema.field(name).type

    def batches(self, batch_rows: int) -> Iterator[tuple[int, np.ndarray]]:
        for start in range(0, self.n_rows, batch_rows):
            yield start, np.array(self.arr[start : start + batch_rows])  # a copy, not the mmap

    def take(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.arr[rows])


class NpyEmbeddings(ArrayColumns):
    """Embeddings from ``.npy`` (memory-mapped) or ``.npz``."""

    def __init__(self, path: str, emb_col: str | None = None) -> None:
        self.path = path
        self.files = [path]
        self._extra: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        magic = _magic(path)
        if magic[:4] == ZIP_MAGIC:
            self.fmt = "npz"
            self._open_npz(emb_col)
        else:
            self.fmt = "npy"
            arr = load_npy(path)
            self.label = "array"
            _check_dtype(path, self.label, arr.dtype)
            _check_2d(path, self.label, arr.shape)
            self.column = None
            self.arr = arr
            self.desc = f"array ({arr.dtype.name}, {arr.shape[0]}×{arr.shape[1]})"
        self.n_rows, self.dim = int(self.arr.shape[0]), int(self.arr.shape[1])
        self.dtype = self.arr.dtype
        self.columns = [self.column] if self.column else []
        self.schema = pa.schema([(k, arrow_type(*v)) for k, v in self._extra.items()])

    def _open_npz(self, emb_col: str | None) -> None:
        heads = _npz_headers(self.path)
        if emb_col is None:
            cands = [k for k, (s, d) in heads.items() if len(s) == 2 and d.kind == "f"]
            if len(cands) != 1:
                what = "several" if cands else "no"
                raise InputError(
                    f"{self.path}: {what} 2-D float arrays ({', '.join(cands) or 'none'}; "
                    f"members: {', '.join(heads) or 'none'}); choose one with --emb-col"
                )
            emb_col = cands[0]
        elif emb_col not in heads:
            raise column_not_found(self.path, emb_col, list(heads), "array")
        shape, dtype = heads[emb_col]
        self.label = f"array {emb_col!r}"
        _check_dtype(self.path, self.label, dtype)
        _check_2d(self.path, self.label, shape)
        self.column = emb_col
        self.arr = _npz_member(self.path, emb_col)
        self.desc = f"array {emb_col!r} ({dtype.name}, {shape[0]}×{shape[1]})"
        self._extra = {
            k: (s, d)
            for k, (s, d) in heads.items()
            if k != emb_col and len(s) in (1, 2) and s[0] == shape[0] and not d.hasobject
        }

    def read(self, names: Sequence[str]) -> pa.Table:
        return pa.table({n: _to_arrow(_npz_member(self.path, n)) for n in names})


class NpyTable(InMemoryTable):
    """An attribute file in NPY / NPZ form, as named columns.

    A plain ``.npy`` gives one column named after the file stem (``(n,)`` scalar,
    ``(n, k)`` multidim); a structured array gives one column per field; an ``.npz``
    one column per 1-D / 2-D member.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.files = [path]
        magic = _magic(path)
        cols: dict[str, np.ndarray] = {}
        self.single = False  # one unnamed array: it stands for whichever attribute is asked
        if magic[:4] == ZIP_MAGIC:
            self.fmt = "npz"
            heads = _npz_headers(path)
            for key, (shape, dtype) in heads.items():
                if len(shape) in (1, 2):
                    _check_dtype(path, f"array {key!r}", dtype)
                    cols[key] = _npz_member(path, key)
        else:
            self.fmt = "npy"
            arr = load_npy(path)
            if arr.dtype.names:
                for name in arr.dtype.names:
                    _check_dtype(path, f"field {name!r}", arr.dtype[name])
                    cols[name] = np.asarray(arr[name])
            else:
                if arr.dtype.kind not in "fiub" or arr.dtype.hasobject:
                    _check_dtype(path, "array", arr.dtype)
                if arr.ndim not in (1, 2):
                    raise InputError(
                        f"{path}: attribute array must be 1-D or 2-D, got shape {arr.shape}"
                    )
                cols[Path(path).stem] = np.asarray(arr)
                self.single = True
        self.table = columns_table(path, cols)
        self.schema = self.table.schema
        self.n_rows = self.table.num_rows
