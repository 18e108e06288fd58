"""The ``pyarrow.dataset`` behind a CSV, JSON Lines, Arrow IPC / Feather file (or glob, local or
on object storage), a Hugging Face ``save_to_disk`` directory, or table bytes on standard input.

CSV, JSON Lines, IPC *files* and Feather v2 are scanned lazily (nothing is copied up front);
IPC *streams* (what ``datasets`` writes) and Feather v1 have no footer to scan by, so they are
read whole (memory-mapped when local, so their buffers are not copied either).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from infomin_cli.errors import InputError
from infomin_cli.io.arrow_table import TITLES, ArrowTable
from infomin_cli.io.common import reading
from infomin_cli.io.csv_format import csv_options
from infomin_cli.io.hf_dataset import hf_shards
from infomin_cli.io.parquet import parquet_location
from infomin_cli.io.stdin import STDIN_NAME, is_stdin, stdin_bytes
from infomin_cli.io.uri import is_uri, local_path, redact

IPC_FILE_MAGIC = b"ARROW1"
FEATHER_V1_MAGIC = b"FEA1"


def _head(fs, path: str, n: int = 65536) -> bytes:
    if fs is None:
        with open(path, "rb") as fh:
            return fh.read(n)
    with fs.open_input_stream(path) as fh:
        return fh.read(n)


def _read_whole(fs, path: str, magic: bytes) -> pa.Table:
    """An IPC stream / file or a Feather v1 file read as a table (memory-mapped when local)."""
    source = pa.memory_map(path) if fs is None else fs.open_input_file(path)
    if magic.startswith(FEATHER_V1_MAGIC):
        import pyarrow.feather as feather

        with warnings.catch_warnings():  # "Feather V1 files are deprecated": read it anyway
            warnings.simplefilter("ignore", DeprecationWarning)
            return feather.read_table(source)
    if magic.startswith(IPC_FILE_MAGIC):
        return pa.ipc.open_file(source).read_all()
    return pa.ipc.open_stream(source).read_all()


def table_from_bytes(data: bytes, fmt: str, name: str) -> pa.Table:
    """Table bytes (standard input) in ``fmt``: parquet, csv, jsonl or ipc."""
    buf = pa.BufferReader(data)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(buf)
    if fmt == "csv":
        import pyarrow.csv as pacsv

        read, parse, convert = csv_options(name, data[:65536])
        return pacsv.read_csv(buf, read_options=read, parse_options=parse,
                              convert_options=convert)
    if fmt == "jsonl":
        import pyarrow.json as pajson

        return pajson.read_json(buf)
    if data.startswith(IPC_FILE_MAGIC):
        return pa.ipc.open_file(buf).read_all()
    return pa.ipc.open_stream(buf).read_all()


def open_arrow_table(path: str, fmt: str) -> ArrowTable:
    """The :class:`ArrowTable` of ``path`` in table format ``fmt`` (not Parquet files, which
    :class:`~infomin_cli.io.parquet.ParquetTable` opens)."""
    title = TITLES.get(fmt, fmt)
    if is_stdin(path):
        data = stdin_bytes()
        with reading(STDIN_NAME, title):
            table = table_from_bytes(data, fmt, STDIN_NAME)
        return ArrowTable(STDIN_NAME, ds.dataset(table), fmt=fmt, files=[STDIN_NAME])
    if fmt == "hf":
        shown = local_path(path)
        files = hf_shards(Path(shown))
        with reading(shown, title):
            tables = [_read_whole(None, f, b"") for f in files]
            table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        return ArrowTable(shown, ds.dataset(table), fmt=fmt, files=files)
    shown = redact(path) if is_uri(path) else local_path(path)
    fs, read_paths, files = parquet_location(path)
    with reading(shown, title):
        if fmt == "csv":
            read, parse, convert = csv_options(read_paths[0], _head(fs, read_paths[0]))
            form = ds.CsvFileFormat(read_options=read, parse_options=parse,
                                    convert_options=convert)
        elif fmt == "jsonl":
            form = ds.JsonFileFormat()
        elif fmt in ("ipc", "feather"):
            magics = [_head(fs, f, 6) for f in read_paths]
            if not all(m.startswith(IPC_FILE_MAGIC) for m in magics):
                tables = [_read_whole(fs, f, m) for f, m in zip(read_paths, magics)]
                table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
                return ArrowTable(shown, ds.dataset(table), fmt=fmt, files=files,
                                  read_paths=read_paths, filesystem=fs)
            form = "ipc"
        else:
            raise InputError(f"{shown}: {fmt}: not a table format")
        dataset = ds.dataset(read_paths, format=form, filesystem=fs)
    return ArrowTable(shown, dataset, fmt=fmt, files=files, read_paths=read_paths,
                      filesystem=fs)
