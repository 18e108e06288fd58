"""Attribute files (Parquet, CSV, NPY/NPZ) and their alignment with the embedding rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from infomin_cli.errors import InputError
from infomin_cli.io.common import InMemoryTable, column_not_found, reading
from infomin_cli.io.npy import NPY_MAGIC, ZIP_MAGIC, NpyTable
from infomin_cli.io.parquet import ParquetTable

CSV_SUFFIXES = (".csv", ".tsv", ".txt")


class CsvTable(InMemoryTable):
    """A CSV / TSV file read with ``pyarrow.csv``; empty cells and ``NA``-like cells are missing."""

    fmt = "csv"

    def __init__(self, path: str) -> None:
        self.path = path
        self.files = [path]
        if not Path(path).is_file():
            raise InputError(f"{path}: no such file")
        delimiter = "\t" if path.lower().endswith(".tsv") else ","
        with reading(path, "CSV"):
            self.table = self._read(path, delimiter, ignore_empty_lines=True)
            if self.table.num_columns == 1:
                # one column: a blank line is a missing value, not a line to skip
                table = self._read(path, delimiter, ignore_empty_lines=False)
                self.table = table.slice(0, table.num_rows - _trailing_blank_lines(path))
        self.schema = self.table.schema
        self.n_rows = self.table.num_rows

    @staticmethod
    def _read(path: str, delimiter: str, ignore_empty_lines: bool) -> pa.Table:
        return pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, ignore_empty_lines=ignore_empty_lines
            ),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        )


def _trailing_blank_lines(path: str) -> int:
    """Blank lines at the very end of a file (after the last line's newline)."""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - 4096))
        tail = fh.read().replace(b"\r", b"")
    stripped = tail.rstrip(b"\n")
    newlines = len(tail) - len(stripped)
    return max(0, newlines - 1)


def open_table(path: str | Path):
    """Open an attribute file by its suffix (or magic bytes): Parquet, CSV/TSV or NPY/NPZ."""
    path = str(path)
    lower = path.lower()
    if lower.endswith(CSV_SUFFIXES):
        table = CsvTable(path)
    elif lower.endswith((".npy", ".npz")):
        table = NpyTable(path)
    else:
        p = Path(path)
        if p.is_file():
            with open(p, "rb") as fh:
                magic = fh.read(6)
            if magic == NPY_MAGIC or magic[:4] == ZIP_MAGIC:
                return NpyTable(path)
        table = ParquetTable(path)
    if table.n_rows == 0:
        raise InputError(f"{path}: no rows (the file is empty)")
    return table


def _ids(table, file: str, id_col: str, role: str) -> pa.Array:
    if id_col not in table.column_names:
        raise column_not_found(file, id_col, table.column_names, f"id column ({role})")
    ids = table.read([id_col]).column(0).combine_chunks()
    if pa.types.is_dictionary(ids.type):
        ids = ids.dictionary_decode()
    if ids.null_count:
        raise InputError(f"{file}: column {id_col!r}: {ids.null_count} rows with a missing id")
    n_unique = len(pc.unique(ids))
    if n_unique != len(ids):
        counts = pc.value_counts(ids)
        dup = counts.filter(pc.greater(counts.field("counts"), 1))
        example = dup.field("values")[0].as_py()
        raise InputError(
            f"{file}: column {id_col!r}: {len(ids) - n_unique} duplicate ids "
            f"({len(dup)} ids repeated, e.g. {example!r})"
        )
    return ids


def align_by_id(emb_table, emb_file: str, attr_table, attr_file: str, id_col: str) -> np.ndarray:
    """Row ``i`` of the embeddings matches row ``index[i]`` of the attribute file."""
    left = _ids(emb_table, emb_file, id_col, "embeddings")
    right = _ids(attr_table, attr_file, id_col, "attributes")
    if left.type != right.type:
        try:
            left, right = left.cast(pa.string()), right.cast(pa.string())
        except pa.ArrowException as exc:
            raise InputError(
                f"{attr_file}: column {id_col!r}: id types differ ({left.type} vs {right.type})"
            ) from exc
    index = pc.index_in(left, value_set=right)
    missing = index.null_count
    if missing:
        example = left.filter(index.is_null())[0].as_py()
        raise InputError(
            f"{attr_file}: column {id_col!r}: {missing} of {len(left)} embedding ids have no "
            f"row in the attribute file (e.g. {example!r})"
        )
    extra = len(right) - len(left)
    if extra > 0:
        unmatched = pc.invert(pc.is_in(right, value_set=left))
        example = right.filter(unmatched)[0].as_py()
        raise InputError(
            f"{attr_file}: column {id_col!r}: {extra} of {len(right)} attribute ids have no "
            f"embedding in {emb_file} (e.g. {example!r})"
        )
    return index.to_numpy(zero_copy_only=False).astype(np.int64)
