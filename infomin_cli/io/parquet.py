"""Embeddings stored in Parquet: one list column, or many scalar columns picked by a glob.

A path may be a file, a directory of shards or a glob; shards are read as one
``pyarrow.dataset`` in natural file order, and only projected columns are ever read.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from infomin_cli.errors import InputError
from infomin_cli.io.common import (
    column_not_found,
    first_line,
    is_list_type,
    is_number_type,
    natural_key,
    plural,
    reading,
    type_name,
)
from infomin_cli.io.uri import is_uri, local_path, open_location, redact, scheme

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


def resolve_parquet_files(path: str) -> list[str]:
    """The Parquet files behind ``path`` (a file, a directory of shards, or a glob)."""
    path = local_path(path)
    p = Path(path)
    if p.is_dir():
        files = [
            str(f)
            for f in p.rglob("*")
            if f.is_file()
            and f.suffix.lower() in PARQUET_SUFFIXES
            and not any(part.startswith((".", "_")) for part in f.relative_to(p).parts)
        ]
        if not files:
            raise InputError(f"{path}: no Parquet files (*.parquet) in this directory")
        return sorted(files, key=natural_key)
    if p.is_file():
        return [str(p)]
    if any(c in path for c in "*?["):
        files = [f for f in glob.glob(path, recursive=True) if os.path.isfile(f)]
        if not files:
            raise InputError(f"{path}: no files match this pattern")
        return sorted(files, key=natural_key)
    raise InputError(f"{path}: no such file or directory")


# No pre-buffering of whole column chunks: streaming a 1.8 GB file peaked at 3.1 GB RSS with
# it and 1.55 GB without (65,536-row batches, read-ahead 1).
_PARQUET_FORMAT = ds.ParquetFileFormat(
    default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False)
)


def _wanted(rel: str) -> bool:
    parts = [x for x in rel.split("/") if x]
    return (bool(parts) and Path(parts[-1]).suffix.lower() in PARQUET_SUFFIXES
            and not any(x.startswith((".", "_")) for x in parts))


def resolve_remote_files(uri: str) -> tuple[pafs.FileSystem, list[str]]:
    """``(filesystem, paths inside it)`` of the Parquet files behind an object-storage URI
    (an object, a prefix of shards, or a glob), in natural order."""
    fs, root = open_location(uri)
    shown = redact(uri)
    glob_at = min((i for i, c in enumerate(root) if c in "*?["), default=-1)
    base = root if glob_at < 0 else root[: root.rfind("/", 0, glob_at) + 1].rstrip("/")
    try:
        info = fs.get_file_info(base)
        if glob_at < 0 and info.type == pafs.FileType.File:
            return fs, [root]
        if info.type != pafs.FileType.Directory and not (glob_at >= 0 and base == ""):
            raise InputError(f"{shown}: no such object or prefix")
        found = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    except InputError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{shown}: cannot list: {first_line(exc).replace(uri, shown)}") from None
    names = [f.path for f in found if f.type == pafs.FileType.File]
    if glob_at >= 0:
        files = [f for f in names if fnmatch.fnmatchcase(f, root)]
        if not files:
            raise InputError(f"{shown}: no files match this pattern")
    else:
        files = [f for f in names if _wanted(f[len(base):])]
        if not files:
            raise InputError(f"{shown}: no Parquet files (*.parquet) under this prefix")
    return fs, sorted(files, key=natural_key)


def parquet_location(path: str) -> tuple[pafs.FileSystem | None, list[str], list[str]]:
    """``(filesystem or None, paths to read, names to show)`` of the Parquet files behind
    ``path``: a local file, directory or glob (filesystem None), or an object-storage URI."""
    if is_uri(path):
        fs, files = resolve_remote_files(path)
        prefix = f"{scheme(path)}://"
        return fs, files, [prefix + f.lstrip("/") for f in files]
    files = resolve_parquet_files(path)
    return None, files, files


def open_parquet_dataset(path: str) -> tuple[ds.Dataset, list[str]]:
    fs, files, _ = parquet_location(path)
    with reading(redact(path) if is_uri(path) else path):
        return ds.dataset(files, format=_PARQUET_FORMAT, filesystem=fs), files


class ParquetTable:
    """Lazy access to the columns of a Parquet file / dataset (used for attribute files too)."""

    fmt = "parquet"

    def __init__(self, path: str) -> None:
        self.path = redact(path) if is_uri(path) else path
        self.filesystem, self.read_paths, self.files = parquet_location(path)
        with reading(self.path):
            self.dataset = ds.dataset(self.read_paths, format=_PARQUET_FORMAT,
                                      filesystem=self.filesystem)
        self.schema: pa.Schema = self.dataset.schema
        with reading(path):
            self.n_rows = int(self.dataset.count_rows())

    @property
    def column_names(self) -> list[str]:
        return list(self.schema.names)

    def column_type(self, name: str) -> pa.DataType:
        return self.schema.field(name).type

    def read(self, names: Sequence[str]) -> pa.Table:
        with reading(self.path):
            return self.dataset.to_table(columns=list(names))


def _float_list(t: pa.DataType) -> bool:
    return is_list_type(t) and pa.types.is_floating(t.value_type)


class ParquetEmbeddings(ParquetTable):
    """The embedding part of a Parquet dataset: the rest of its columns may be attributes."""

    def __init__(self, path: str, emb_col: str | None = None, emb_cols: str | None = None,
                 exclude: Sequence[str] = ()) -> None:
        super().__init__(path)
        self._exclude = set(exclude)  # columns asked for as attributes are not embeddings
        if emb_col and emb_cols:
            raise InputError(f"{path}: give either --emb-col or --emb-cols, not both")
        names = self.column_names
        if emb_cols:
            self._pick_glob(emb_cols)
        else:
            if emb_col is None:
                emb_col = self._detect(names)
            elif emb_col not in names:
                raise column_not_found(path, emb_col, names, "embedding column")
            self._pick_list(emb_col)
        if self.n_rows == 0:
            raise InputError(f"{path}: no rows (the file is empty)")
        if self.dim == 0:
            raise InputError(f"{path}: {self.label}: embeddings have length 0")

    # -- choosing the embedding ---------------------------------------------------------
    def _detect(self, names: list[str]) -> str:
        cands = [n for n in names
                 if _float_list(self.column_type(n)) and n not in self._exclude]
        if len(cands) == 1:
            return cands[0]
        if len(cands) > 1:
            raise InputError(
                f"{self.path}: several embedding candidates ({', '.join(cands)}); "
                "choose one with --emb-col"
            )
        lists = [n for n in names if is_list_type(self.column_type(n))]
        if len(lists) == 1:
            return lists[0]  # reported as non-numeric / non-float by _pick_list
        cols = ", ".join(f"{n} ({type_name(self.column_type(n))})" for n in names[:12])
        raise InputError(
            f"{self.path}: no embedding column (a list of float16/32/64); columns: {cols}; "
            "name it with --emb-col or select scalar columns with --emb-cols 'emb_*'"
        )

    def _pick_list(self, col: str) -> None:
        t = self.column_type(col)
        self.label = f"column {col!r}"
        if not is_list_type(t):
            raise InputError(
                f"{self.path}: {self.label}: not an embedding: type {type_name(t)} "
                "(expected a list of floats, or use --emb-cols for scalar columns)"
            )
        if not is_number_type(t.value_type):
            raise InputError(
                f"{self.path}: {self.label}: non-numeric embedding: type {type_name(t)} "
                "(expected a list of float16/32/64)"
            )
        self.columns = [col]
        self.column = col
        self._fixed = pa.types.is_fixed_size_list(t)
        self.dtype = np.dtype(t.value_type.to_pandas_dtype())
        self.dim = int(t.list_size) if self._fixed else self._first_length(col)
        self.desc = f"column {col!r} ({type_name(t)})"

    def _first_length(self, col: str) -> int:
        if self.n_rows == 0:
            return -1
        with reading(self.path):
            head = self.dataset.head(min(self.n_rows, 1024), columns=[col]).column(0)
        lengths = pc.list_value_length(head).drop_null()
        if len(lengths) == 0:
            raise InputError(f"{self.path}: {self.label}: the first rows hold null embeddings")
        return int(lengths[0].as_py())

    def _pick_glob(self, pattern: str) -> None:
        matched = [n for n in self.column_names if fnmatch.fnmatchcase(n, pattern)]
        self.label = f"columns {pattern!r}"
        if not matched:
            raise column_not_found(self.path, pattern, self.column_names, "--emb-cols pattern")
        bad = [n for n in matched if not is_number_type(self.column_type(n))]
        if bad:
            shown = ", ".join(f"{n} ({type_name(self.column_type(n))})" for n in bad[:5])
            raise InputError(
                f"{self.path}: {self.label}: non-numeric columns match the pattern: {shown}"
            )
        self.columns = matched
        self.column = None
        self._fixed = True
        self.dtype = np.result_type(*[self.column_type(n).to_pandas_dtype() for n in matched])
        self.dim = len(matched)
        self.desc = f"{len(matched)} columns {pattern!r} ({self.dtype.name})"

    @property
    def other_columns(self) -> list[str]:
        return [n for n in self.column_names if n not in self.columns]

    # -- reading --------------------------------------------------------------------------
    def batches(self, batch_rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row, array)`` in file order; arrays have the on-disk dtype."""
        start = 0
        with reading(self.path):
            # Read-ahead of one batch and one file: pyarrow's defaults (16 batches, 4 files)
            # hold several hundred MB of decoded embeddings per stream for no gain here.
            for batch in self.dataset.to_batches(columns=self.columns, batch_size=batch_rows,
                                                 batch_readahead=1, fragment_readahead=1):
                if batch.num_rows == 0:
                    continue
                rows = np.arange(start, start + batch.num_rows)
                yield start, self._to_numpy(batch, rows)
                start += batch.num_rows

    def take(self, rows: np.ndarray, batch_rows: int = 65536) -> np.ndarray:
        """The embeddings of some rows (original row numbers), in the order given.

        One streaming pass that keeps only the wanted rows, so memory is bounded by the
        result plus a batch (``Dataset.take`` would materialise whole columns).
        """
        rows = np.asarray(rows, dtype=np.int64)
        order = np.argsort(rows, kind="stable")
        wanted = rows[order]
        out = np.empty((len(rows), self.dim), dtype=self.dtype)
        filled = 0
        for start, arr in self.batches(batch_rows):
            if filled == len(wanted):
                break
            stop = start + len(arr)
            hi = int(np.searchsorted(wanted, stop, side="left"))
            if hi > filled:
                out[filled:hi] = arr[wanted[filled:hi] - start]
                filled = hi
        if filled != len(wanted):
            raise InputError(f"{self.path}: {self.label}: rows past the end of the data")
        result = np.empty_like(out)
        result[order] = out
        return result

    @property
    def decoder(self) -> EmbeddingDecoder:
        """Arrow rows of :attr:`columns` -> ``(n, dim)`` arrays, as this reader decodes them
        (picklable: Ray workers decode their blocks with it)."""
        return EmbeddingDecoder(self.path, self.label, self.column, self._fixed, self.dim,
                                self.dtype)

    def _to_numpy(self, batch: pa.RecordBatch, rows: np.ndarray) -> np.ndarray:
        return self.decoder(batch, rows)


class EmbeddingDecoder:
    """Decode the embedding columns of Arrow rows into an ``(n, dim)`` array (on-disk dtype);
    InputError on a null or ragged embedding, naming the row (``rows``: their numbers)."""

    def __init__(self, path: str, label: str, column: str | None, fixed: bool, dim: int,
                 dtype) -> None:
        self.path, self.label, self.column = path, label, column
        self._fixed, self.dim, self.dtype = fixed, int(dim), np.dtype(dtype)

    def __call__(self, batch: pa.RecordBatch | pa.Table, rows: np.ndarray) -> np.ndarray:
        if isinstance(batch, pa.Table):
            batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else \
                pa.RecordBatch.from_pylist([], schema=batch.schema)
        if self.column is None:
            cols = [batch.column(i).to_numpy(zero_copy_only=False) for i in range(batch.num_columns)]
            return np.column_stack(cols).astype(self.dtype, copy=False)
        arr = batch.column(0)
        if arr.null_count:
            where = np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))
            raise InputError(
                f"{self.path}: {self.label}: {plural(len(where), 'row')} with a null embedding "
                f"(first at row {rows[where[0]]})"
            )
        if self._fixed:
            values = arr.flatten()
        else:
            offsets = arr.offsets.to_numpy()
            lengths = np.diff(offsets)
            bad = np.flatnonzero(lengths != self.dim)
            if len(bad):
                raise InputError(
                    f"{self.path}: {self.label}: ragged list lengths ({plural(len(bad), 'row')} of "
                    f"another length than {self.dim}, e.g. row {rows[bad[0]]} has "
                    f"{lengths[bad[0]]})"
                )
            values = arr.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        out = values.to_numpy(zero_copy_only=False)
        if out.dtype != self.dtype and values.null_count == 0:
            out = out.astype(self.dtype)
        return out.reshape(len(arr), self.dim)
