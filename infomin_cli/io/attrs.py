"""Attribute files (any format :mod:`infomin_cli.io.formats` knows) and their alignment with
the embedding rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from infomin_cli.errors import InputError
from infomin_cli.io.common import column_not_found
from infomin_cli.io.csv_format import CsvTable
from infomin_cli.io.formats import open_table as open_any

__all__ = ["CsvTable", "align_by_id", "open_table"]


def open_table(path: str | Path):
    """Open an attribute file in any format :mod:`infomin_cli.io.formats` knows (local, on
    object storage, or ``-`` for standard input)."""
    table = open_any(str(path))
    if table.n_rows == 0:
        raise InputError(f"{table.path}: no rows (the file is empty)")
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
