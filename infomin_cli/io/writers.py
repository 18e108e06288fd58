"""Writing outputs atomically: a temp file beside the target, then ``os.replace``.

Nothing is ever written over an input: every writer takes the ``inputs`` to protect. A reader
sees either the old file or the complete new one, never a partial write.

* :func:`write_json_atomic` -- reports;
* :func:`write_npy_atomic` -- a 2-D float array (``allow_pickle=False``);
* :func:`write_parquet_atomic` -- a table; :func:`with_embedding` puts a new embedding matrix
  into a table (replacing its column, or beside it), keeping every other column.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from infomin_cli.errors import InputError


def check_output_path(path: str | Path, inputs: tuple[str | Path, ...] = ()) -> Path:
    """The resolved target after refusing an input file or a missing directory."""
    path = Path(path)
    target = path.resolve()
    for src in inputs:
        if Path(src).resolve() == target:
            raise InputError(f"{path}: refusing to overwrite an input file")
    if not target.parent.is_dir():
        raise InputError(f"{path}: directory {str(path.parent)!r} does not exist")
    return target


@contextmanager
def atomic_file(path: str | Path, *, inputs: tuple[str | Path, ...] = ()) -> Iterator[IO[bytes]]:
    """``with atomic_file(p) as fh: fh.write(...)`` -- ``p`` appears only when the block ends
    without an exception (temp file, fsync, ``os.replace``); the temp file is removed on error."""
    target = check_output_path(path, inputs)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_atomic(path: str | Path, data: bytes | str, *,
                 inputs: tuple[str | Path, ...] = ()) -> Path:
    """Write ``data`` to ``path`` atomically; refuse to overwrite an input file."""
    with atomic_file(path, inputs=inputs) as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    return Path(path)


def write_json_atomic(path: str | Path, obj: Any, *,
                      inputs: tuple[str | Path, ...] = ()) -> Path:
    return write_atomic(path, json.dumps(obj, indent=2) + "\n", inputs=inputs)


def write_npy_atomic(path: str | Path, array: np.ndarray, *,
                     inputs: tuple[str | Path, ...] = ()) -> Path:
    """An ``.npy`` file of a numeric array (never pickled)."""
    arr = np.asarray(array)
    if arr.dtype.hasobject:
        raise ValueError("refusing to write an object array (it would need pickle)")
    with atomic_file(path, inputs=inputs) as fh:
        np.save(fh, arr, allow_pickle=False)
    return Path(path)


def write_parquet_atomic(path: str | Path, table: pa.Table, *,
                         inputs: tuple[str | Path, ...] = ()) -> Path:
    with atomic_file(path, inputs=inputs) as fh:
        pq.write_table(table, fh)
    return Path(path)


def embedding_array(matrix: np.ndarray) -> pa.FixedSizeListArray:
    """``(n, k)`` floats -> a ``fixed_size_list<float>[k]`` Arrow array (no copy of the values
    beyond making them contiguous)."""
    m = np.ascontiguousarray(matrix)
    if m.ndim != 2:
        raise ValueError(f"embeddings must be 2-D, got shape {m.shape}")
    return pa.FixedSizeListArray.from_arrays(pa.array(m.reshape(-1)), int(m.shape[1]))


def with_embedding(table: pa.Table, matrix: np.ndarray, column: str,
                   out_col: str | None = None) -> pa.Table:
    """``table`` with ``matrix`` as its embedding: ``column`` replaced in place, or, with
    ``out_col``, a new column appended beside it. Every other column is kept."""
    if len(matrix) != table.num_rows:
        raise ValueError(f"{len(matrix)} embedding rows for a table of {table.num_rows} rows")
    arr = embedding_array(matrix)
    if out_col is None:
        i = table.schema.get_field_index(column)
        if i < 0:
            raise ValueError(f"no column {column!r} in the table")
        return table.set_column(i, column, arr)
    if out_col in table.column_names:
        raise ValueError(f"column {out_col!r} already exists")
    return table.append_column(out_col, arr)
