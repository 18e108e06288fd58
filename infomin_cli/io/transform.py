"""Streaming a map over the embeddings of a file into a new file, keeping every other column.

``transform_file(src, out, fn, ...)`` reads ``src`` (any input format: a Parquet file, directory
or glob, CSV, JSON Lines, Arrow IPC / Feather, NPY/NPZ, safetensors, ``.pt``, ``-``)
in batches of exactly ``batch_rows`` rows, replaces the embedding by ``fn(embedding batch)``
(or, with ``out_col``, adds it beside the embedding) and writes ``out`` atomically (temp file
+ rename), never over an input. Memory stays at a few batches whatever the file's size, and
the batch boundaries do not depend on the file's row groups, so a map applied here gives
bit-for-bit the result of the same map over the same ``batch_rows`` chunks in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from infomin_cli.errors import InputError
from infomin_cli.io.common import first_line
from infomin_cli.io.formats import TABLE_FORMATS
from infomin_cli.io.source import LoadOptions, open_embeddings
from infomin_cli.io.uri import is_uri, local_path, open_location, redact
from infomin_cli.io.writers import atomic_file, check_output_path, embedding_array

Map = Callable[[np.ndarray], np.ndarray]


def _finite(src: str, arr: np.ndarray, start: int) -> np.ndarray:
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise InputError(f"{src}: {int(bad.sum())} rows with NaN or inf embeddings "
                         f"(first at row {start + int(np.argmax(bad))})")
    return arr


def _exact_batches(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.Table]:
    buf: list[pa.RecordBatch] = []
    n = 0
    for b in batches:
        if b.num_rows == 0:
            continue
        buf.append(b)
        n += b.num_rows
        while n >= size:
            table = pa.Table.from_batches(buf)
            yield table.slice(0, size)
            rest = table.slice(size)
            buf, n = rest.to_batches(), rest.num_rows
    if n:
        yield pa.Table.from_batches(buf)


#: what ``--out`` may end with: Parquet (every other column kept) or NPY (the matrix alone)
OUT_SUFFIXES = (".parquet", ".pq", ".npy")


def check_out_format(out: str, input_format: str) -> bool:
    """Whether ``out`` is written as NPY (else Parquet), refusing what would be written in a
    format its name does not say (``x.csv`` given Parquet bytes), NPY to object storage, and
    Parquet from an array input (NPY, safetensors, ``.pt``: no other columns to keep).
    One-line InputError."""
    remote = is_uri(out)
    name = str(out).rstrip("/").lower()
    as_npy = name.endswith(".npy")
    tabular = input_format in TABLE_FORMATS
    if not remote and not name.endswith(OUT_SUFFIXES):
        raise InputError(f"{out}: cannot tell the output format from this name; end it with "
                         f"{', '.join(OUT_SUFFIXES)}")
    if remote and (as_npy or not tabular):
        raise InputError(f"{redact(out)}: object storage takes Parquet output from a table "
                         "input (Parquet, CSV, JSON Lines, Arrow); write .npy to a local file")
    if not tabular and not as_npy:
        raise InputError(f"{out}: the input is {input_format} (an array, no other columns to "
                         "keep): write it as .npy")
    return as_npy


def transform_file(src: str, out: str, fn: Map, *, options: LoadOptions | None = None,
                   out_col: str | None = None, batch_rows: int = 65536,
                   inputs: tuple[str, ...] = ()) -> int:
    """Write ``out`` = ``src`` with its embedding mapped by ``fn``; returns the rows written.
    ``out`` ending in ``.npy`` gets the mapped embeddings only; otherwise Parquet with every
    other column of a table ``src`` (Parquet, CSV, JSON Lines, Arrow) kept."""
    options = options or LoadOptions()
    backend = open_embeddings(src, options)
    files = tuple(backend.files)
    remote = is_uri(out)
    if remote:
        if str(out) in (str(src), *files):
            raise InputError(f"{redact(out)}: refusing to overwrite an input file")
    else:
        out = local_path(out)
        check_output_path(out, (src, *inputs), input_files=files)
    as_npy = check_out_format(out, backend.fmt)
    if backend.fmt not in TABLE_FORMATS or as_npy:
        return _to_array_file(backend, out, fn, batch_rows, out_col, files, src)
    column = backend.column
    if column is None and out_col is None:
        raise InputError(f"{src}: the embedding is spread over scalar columns "
                         f"({backend.label}); write it beside them with --out-col NAME")
    rows = 0
    writer: pq.ParquetWriter | None = None
    sink = _remote_file(out) if remote else atomic_file(out, inputs=(src, *inputs),
                                                         input_files=files)
    with sink as fh:
        scanner = backend.dataset.to_batches(batch_size=batch_rows, batch_readahead=1,
                                             fragment_readahead=1)
        for table in _exact_batches(iter(scanner), batch_rows):
            emb = backend._to_numpy(table.select(backend.columns).combine_chunks()
                                    .to_batches()[0], np.arange(rows, rows + table.num_rows))
            emb = _finite(src, np.asarray(emb, dtype=np.float32), rows)
            mapped = embedding_array(np.asarray(fn(emb), dtype=np.float32))
            if out_col is None:
                table = table.set_column(table.schema.get_field_index(column), column, mapped)
            else:
                if out_col in table.column_names:
                    raise InputError(f"{src}: --out-col {out_col!r}: the column exists already")
                table = table.append_column(out_col, mapped)
            if writer is None:
                writer = pq.ParquetWriter(fh, table.schema)
            writer.write_table(table)
            rows += table.num_rows
        if writer is not None:
            writer.close()
    return rows


@contextmanager
def _remote_file(uri: str) -> Iterator:
    """An object-store output stream: the object appears when the stream closes (a PUT, or
    the multipart upload's completion); on an error the object is removed again."""
    fs, path = open_location(uri)
    try:
        stream = fs.open_output_stream(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{redact(uri)}: cannot write: {first_line(exc)}") from None
    try:
        with stream:
            yield stream
    except BaseException:
        try:  # closing completed the upload: remove the partial object
            fs.delete_file(path)
        except (OSError, pa.ArrowException):
            pass
        raise


def _to_array_file(backend, out: str, fn: Map, batch_rows: int, out_col: str | None,
                   files: tuple[str, ...], src: str) -> int:
    if out_col is not None:
        raise InputError("--out-col applies to Parquet output only")
    rows = 0
    with atomic_file(Path(out), inputs=(src,), input_files=files) as fh:
        for start, arr in _row_batches(backend, batch_rows):
            arr = _finite(src, np.asarray(arr, dtype=np.float32), start)
            mapped = np.ascontiguousarray(fn(arr), dtype=np.float32)
            if rows == 0:  # the header needs the output width: written with the first batch
                header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                          "fortran_order": False, "shape": (backend.n_rows, mapped.shape[1])}
                np.lib.format.write_array_header_2_0(fh, header)
            fh.write(mapped.tobytes())
            rows += len(mapped)
    return rows


def _row_batches(backend, batch_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """Exactly ``batch_rows`` rows per batch (the last may be shorter), whatever the format."""
    if backend.fmt not in TABLE_FORMATS:  # arrays: batches of exactly batch_rows already
        yield from backend.batches(batch_rows)
        return
    buf, start, n = [], 0, 0
    for _, arr in backend.batches(batch_rows):
        buf.append(arr)
        n += len(arr)
        while n >= batch_rows:
            cat = np.concatenate(buf)
            yield start, cat[:batch_rows]
            start += batch_rows
            buf, n = [cat[batch_rows:]], n - batch_rows
    if n:
        yield start, np.concatenate(buf)
