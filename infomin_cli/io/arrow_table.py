"""Embeddings and attribute columns in any table ``pyarrow.dataset`` reads.

:class:`ArrowTable` gives lazy, projected column access to a dataset (Parquet, Arrow IPC /
Feather, CSV, JSON Lines, or a table already in memory); :class:`ArrowEmbeddings` picks the
embedding in it: one list column, or scalar columns (``--emb-cols 'glob'``; in CSV / JSON Lines
every float column not named as an attribute or the id column). In CSV a list column is text,
``[0.1, 0.2, ...]`` per cell (see :mod:`infomin_cli.io.csv_format`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from infomin_cli.errors import InputError
from infomin_cli.io.common import (
    column_not_found,
    is_list_type,
    is_number_type,
    plural,
    reading,
    type_name,
)
from infomin_cli.io.csv_format import looks_like_lists, parse_lists

#: formats whose scalar float columns are the embedding when there is no list column
SCALAR_FALLBACK = ("csv", "jsonl")
#: how each format is named in "cannot read as ..." messages
TITLES = {"parquet": "Parquet", "csv": "CSV", "jsonl": "JSON Lines", "ipc": "Arrow IPC",
          "feather": "Feather", "hf": "Arrow IPC (Hugging Face datasets)"}


class ArrowTable:
    """Lazy access to the columns of a ``pyarrow.dataset`` (used for attribute files too).

    ``path`` names it in messages, ``files`` are the files behind it (shown), ``read_paths``
    and ``filesystem`` what pyarrow opens (Ray reads them again).
    """

    def __init__(self, path: str, dataset: ds.Dataset, *, fmt: str, files: Sequence[str],
                 read_paths: Sequence[str] | None = None, filesystem=None) -> None:
        self.path = path
        self.fmt = fmt
        self.dataset = dataset
        self.files = list(files)
        self.read_paths = list(read_paths if read_paths is not None else files)
        self.filesystem = filesystem
        self.schema: pa.Schema = dataset.schema
        with reading(path, self.title):
            self.n_rows = int(dataset.count_rows())

    @property
    def title(self) -> str:
        return TITLES.get(self.fmt, self.fmt)

    @property
    def column_names(self) -> list[str]:
        return list(self.schema.names)

    def column_type(self, name: str) -> pa.DataType:
        return self.schema.field(name).type

    def read(self, names: Sequence[str]) -> pa.Table:
        with reading(self.path, self.title):
            return self.dataset.to_table(columns=list(names))


def float_columns(names: Sequence[str], type_of, exclude: set[str]) -> list[str]:
    """The float columns (in order) not in ``exclude``, with the integer columns named like
    them (``e18`` among float ``e0`` ... ``e31``: a dimension whose values were all written as
    whole numbers, which a CSV reader takes for integers)."""
    def stem(n: str) -> str | None:
        m = re.fullmatch(r"(.*?)\d+", n)
        return m.group(1) if m else None

    floats = {n for n in names if pa.types.is_floating(type_of(n)) and n not in exclude}
    stems = {stem(n) for n in floats} - {None}
    return [n for n in names if n in floats or (
        n not in exclude and pa.types.is_integer(type_of(n)) and stem(n) in stems)]


def _float_list(t: pa.DataType) -> bool:
    return is_list_type(t) and pa.types.is_floating(t.value_type)


class ArrowEmbeddings(ArrowTable):
    """The embedding part of a table: the rest of its columns may be attributes.

    ``exclude``: columns asked for as attributes (never list candidates); ``scalar_exclude``:
    columns never taken by the float-column rule of CSV / JSON Lines (attributes, the id).
    """

    def __init__(self, table: ArrowTable, emb_col: str | None = None, emb_cols: str | None = None,
                 exclude: Sequence[str] = (), scalar_exclude: Sequence[str] = ()) -> None:
        self.__dict__.update(table.__dict__)
        path = self.path
        self._exclude = set(exclude)
        self._scalar_exclude = set(scalar_exclude) | self._exclude
        self._text = self.fmt == "csv"  # list cells are text there
        if emb_col and emb_cols:
            raise InputError(f"{path}: give either --emb-col or --emb-cols, not both")
        if self.n_rows == 0:
            raise InputError(f"{path}: no rows (the file is empty)")
        names = self.column_names
        if emb_cols:
            matched = [n for n in names if fnmatch.fnmatchcase(n, emb_cols)]
            if not matched:
                raise column_not_found(path, emb_cols, names, "--emb-cols pattern")
            self._pick_scalars(matched, f"columns {emb_cols!r}")
        elif emb_col is not None:
            if emb_col not in names:
                raise column_not_found(path, emb_col, names, "embedding column")
            self._pick_list(emb_col)
        else:
            self._detect(names)
        if self.dim == 0:
            raise InputError(f"{path}: {self.label}: embeddings have length 0")

    # -- choosing the embedding ---------------------------------------------------------
    def _text_lists(self, names: list[str]) -> list[str]:
        """String columns whose first cells look like ``[...]`` lists (CSV)."""
        strings = [n for n in names if n not in self._exclude
                   and pa.types.is_string(self.column_type(n))]
        if not self._text or not strings or self.n_rows == 0:
            return []
        with reading(self.path, self.title):
            head = self.dataset.head(min(self.n_rows, 64), columns=strings)
        return [n for n in strings if looks_like_lists(head.column(n))]

    def _detect(self, names: list[str]) -> None:
        """Pick the one float list column or, failing that in CSV / JSON Lines, the scalar
        float columns; InputError when nothing (or more than one list) fits."""
        cands = [n for n in names
                 if _float_list(self.column_type(n)) and n not in self._exclude]
        cands += self._text_lists(names)
        if len(cands) > 1:
            raise InputError(
                f"{self.path}: several embedding candidates ({', '.join(cands)}); "
                "choose one with --emb-col"
            )
        lists = cands or [n for n in names if is_list_type(self.column_type(n))]
        if len(lists) == 1:
            self._pick_list(lists[0])  # a non-float list is reported there
            return
        floats = float_columns(names, self.column_type, self._scalar_exclude)
        if self.fmt in SCALAR_FALLBACK and floats and not lists:
            self._pick_scalars(floats, "float columns")
            span = floats[0] if len(floats) == 1 else f"{floats[0]} … {floats[-1]}"
            self.desc = f"{len(floats)} float columns {span} ({self.dtype.name})"
            return
        cols = ", ".join(f"{n} ({type_name(self.column_type(n))})" for n in names[:12])
        what = ("a list of float16/32/64, or float columns" if self.fmt in SCALAR_FALLBACK
                else "a list of float16/32/64")
        raise InputError(
            f"{self.path}: no embedding column ({what}); columns: {cols}; "
            "name it with --emb-col or select scalar columns with --emb-cols 'emb_*'"
        )

    def _pick_list(self, col: str) -> None:
        t = self.column_type(col)
        self.label = f"column {col!r}"
        text = self._text and pa.types.is_string(t)
        if not is_list_type(t) and not text:
            raise InputError(
                f"{self.path}: {self.label}: not an embedding: type {type_name(t)} "
                "(expected a list of floats, or use --emb-cols for scalar columns)"
            )
        if not text and not is_number_type(t.value_type):
            raise InputError(
                f"{self.path}: {self.label}: non-numeric embedding: type {type_name(t)} "
                "(expected a list of float16/32/64)"
            )
        self.columns = [col]
        self.column = col
        self._fixed = pa.types.is_fixed_size_list(t)
        self._parse = text
        self.dtype = np.dtype(np.float64 if text else t.value_type.to_pandas_dtype())
        self.dim = int(t.list_size) if self._fixed else self._first_length(col)
        shown = "text lists [...] read as float64" if text else type_name(t)
        self.desc = f"column {col!r} ({shown})"

    def _first_length(self, col: str) -> int:
        if self.n_rows == 0:
            return -1
        with reading(self.path, self.title):
            head = self.dataset.head(min(self.n_rows, 1024), columns=[col]).column(0)
        head = head.combine_chunks()
        if self._parse:
            head = parse_lists(head.drop_null(), self.path, self.label, np.arange(len(head)))
        lengths = pc.list_value_length(head).drop_null()
        if len(lengths) == 0:
            raise InputError(f"{self.path}: {self.label}: the first rows hold null embeddings")
        return int(lengths[0].as_py())

    def _pick_scalars(self, matched: list[str], label: str) -> None:
        self.label = label
        bad = [n for n in matched if not is_number_type(self.column_type(n))]
        if bad:
            shown = ", ".join(f"{n} ({type_name(self.column_type(n))})" for n in bad[:5])
            raise InputError(
                f"{self.path}: {self.label}: non-numeric columns match the pattern: {shown}"
            )
        self.columns = matched
        self.column = None
        self._fixed, self._parse = True, False
        self.dtype = np.result_type(*[self.column_type(n).to_pandas_dtype() for n in matched])
        self.dim = len(matched)
        self.desc = f"{len(matched)} {label} ({self.dtype.name})"

    @property
    def other_columns(self) -> list[str]:
        return [n for n in self.column_names if n not in self.columns]

    # -- reading --------------------------------------------------------------------------
    def batches(self, batch_rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row, array)`` in file order; arrays have the on-disk dtype."""
        start = 0
        with reading(self.path, self.title):
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
                                self.dtype, parse=self._parse)

    def _to_numpy(self, batch: pa.RecordBatch, rows: np.ndarray) -> np.ndarray:
        return self.decoder(batch, rows)


class EmbeddingDecoder:
    """Decode the embedding columns of Arrow rows into an ``(n, dim)`` array (on-disk dtype);
    InputError on a null or ragged embedding, naming the row (``rows``: their numbers).
    ``parse``: the column holds ``[...]`` lists as text (CSV)."""

    def __init__(self, path: str, label: str, column: str | None, fixed: bool, dim: int,
                 dtype, parse: bool = False) -> None:
        self.path, self.label, self.column = path, label, column
        self._fixed, self.dim, self.dtype = fixed, int(dim), np.dtype(dtype)
        self.parse = parse

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
        if self.parse:
            arr = parse_lists(arr, self.path, self.label, rows)
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
