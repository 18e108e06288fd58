"""Which reader opens a path: the one place that maps a path to a format.

The suffix decides first (``.parquet``, ``.csv``, ``.pt`` ...), then the file's magic bytes
(``PAR1``, ``\\x93NUMPY``, ``ARROW1``, a zip holding ``*/data.pkl`` (PyTorch) or ``*.npy``
members (NPZ) ...). A directory with ``state.json`` + ``dataset_info.json`` is a Hugging Face
``datasets`` ``save_to_disk`` directory; any other directory, a glob, or an object-storage
prefix is a set of Parquet shards. ``-`` is standard input, sniffed: Parquet, NPY/NPZ, Arrow
IPC, JSON Lines, else CSV. Both :func:`open_embeddings` and :func:`open_table` (attribute
files) choose their reader here.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from infomin_cli.errors import InputError
from infomin_cli.io.options import LoadOptions
from infomin_cli.io.stdin import STDIN_NAME, is_stdin, stdin_bytes
from infomin_cli.io.uri import is_uri, local_path, read_bytes, redact


@dataclass(frozen=True)
class FileFormat:
    name: str  # what readers call it (``fmt``; the report's ``input.format``)
    title: str
    suffixes: tuple[str, ...]


FORMATS = (
    FileFormat("parquet", "Parquet", (".parquet", ".pq", ".parq")),
    FileFormat("csv", "CSV/TSV", (".csv", ".tsv", ".txt")),
    FileFormat("jsonl", "JSON Lines", (".jsonl", ".ndjson")),
    FileFormat("ipc", "Arrow IPC file or stream", (".arrow", ".ipc")),
    FileFormat("feather", "Feather v1/v2", (".feather", ".fea")),
    FileFormat("npy", "NPY", (".npy",)),
    FileFormat("npz", "NPZ", (".npz",)),
    FileFormat("safetensors", "safetensors", (".safetensors",)),
    FileFormat("torch", "PyTorch tensors", (".pt", ".pth")),
)
#: formats read as Arrow tables (their other columns are kept by ``apply``'s Parquet output)
TABLE_FORMATS = ("parquet", "csv", "jsonl", "ipc", "feather", "hf")
#: named-array formats: embeddings are read from local files (or standard input) only
ARRAY_FORMATS = ("npy", "npz", "safetensors", "torch")

_TORCH_LEGACY = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19"  # pickled torch magic number


def supported() -> str:
    """The formats, for messages."""
    listed = [f"{f.title} ({', '.join(f.suffixes)})" for f in FORMATS]
    return ", ".join(listed) + ", a Hugging Face save_to_disk directory, Parquet shards " \
        "(a directory or glob), or - for standard input"


def by_suffix(path: str) -> str | None:
    lower = path.lower().rstrip("/")
    for f in FORMATS:
        if lower.endswith(f.suffixes):
            return f.name
    return None


def _zip_format(path: str | None, data: bytes | None = None) -> str:
    """``torch`` for a zip holding ``*/data.pkl`` (``torch.save``), else ``npz``."""
    import io

    try:
        with zipfile.ZipFile(path if data is None else io.BytesIO(data)) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return "npz"  # the NPZ reader says what is wrong
    return "torch" if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names) else "npz"


def sniff(head: bytes, path: str | None = None, data: bytes | None = None) -> str | None:
    """The format the first bytes of a file say, or None."""
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_format(path, data)
    if head.startswith(b"ARROW1") or head.startswith(b"\xff\xff\xff\xff"):
        return "ipc"
    if head.startswith(b"FEA1"):
        return "feather"
    if head.startswith(_TORCH_LEGACY):
        return "torch"
    if len(head) >= 9 and head[8:9] == b"{" and 0 < int.from_bytes(head[:8], "little") < 1 << 30:
        return "safetensors"
    return None


def _stdin_format(data: bytes) -> str:
    fmt = sniff(data[:16], data=data)
    if fmt in ("parquet", "npy", "npz", "ipc"):
        return fmt
    if fmt is not None:
        raise InputError(f"{STDIN_NAME}: {fmt} data is not read from standard input; "
                         "pipe Parquet, NPY/NPZ, Arrow IPC, JSON Lines or CSV")
    return "jsonl" if data.lstrip()[:1] == b"{" else "csv"


def detect(path: str) -> str:
    """The format of ``path`` (a name in :data:`FORMATS`, or ``hf``); InputError for an
    existing file whose suffix and contents match no format."""
    if is_stdin(path):
        return _stdin_format(stdin_bytes())
    p = local_path(path)
    if is_uri(p):
        return by_suffix(p) or "parquet"
    from infomin_cli.io.hf_dataset import is_hf_dataset

    if Path(p).is_dir():
        return "hf" if is_hf_dataset(Path(p)) else "parquet"
    fmt = by_suffix(p)
    if fmt is not None or not Path(p).is_file():
        return fmt or "parquet"  # a glob or a missing path: the Parquet resolver says which
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror or exc}") from None
    fmt = sniff(head, p)
    if fmt is None:
        raise InputError(f"{p}: unknown format (neither its name nor its first bytes say); "
                         f"supported: {supported()}")
    return fmt


def _name(path: str) -> str:
    if is_stdin(path):
        return STDIN_NAME
    return redact(path) if is_uri(path) else local_path(path)


def _bytes(path: str) -> bytes | None:
    """The bytes of standard input or of an object-storage file; None for a local file."""
    if is_stdin(path):
        return stdin_bytes()
    return read_bytes(path) if is_uri(path) else None


def open_embeddings(path: str | Path, options: LoadOptions, attrs: Sequence[str] = ()):
    """The embedding reader for ``path``; ``attrs`` (attributes asked for) are never taken as
    the embedding."""
    path = str(path)
    if is_stdin(path) and options.attrs_file is not None and is_stdin(options.attrs_file):
        raise InputError(f"{STDIN_NAME}: the embeddings and --attrs cannot both be read from "
                         "standard input ('-'); give one of them as a file")
    fmt = detect(path)
    name = _name(path)
    if fmt in ARRAY_FORMATS:
        if options.emb_cols:
            raise InputError(f"{name}: --emb-cols selects table columns; not for "
                             f"{fmt.upper() if fmt.startswith('np') else fmt} files")
        if is_uri(path):
            raise InputError(f"{name}: {fmt} embeddings are read from local files only; store "
                             "them on object storage as Parquet (or Arrow IPC, CSV, JSON Lines)")
        return _array_embeddings(path, fmt, options.emb_col)
    from infomin_cli.io.arrow_table import ArrowEmbeddings

    # Columns named as attributes (of this file) never count as embedding candidates.
    exclude = () if options.attrs_file is not None else attrs
    if fmt == "parquet" and not is_stdin(path):
        from infomin_cli.io.parquet import ParquetEmbeddings

        return ParquetEmbeddings(local_path(path), options.emb_col, options.emb_cols,
                                 exclude=exclude)
    from infomin_cli.io.table_formats import open_arrow_table

    return ArrowEmbeddings(open_arrow_table(path, fmt), options.emb_col, options.emb_cols,
                           exclude=exclude, scalar_exclude=[*attrs, options.id_col])


def _array_embeddings(path: str, fmt: str, emb_col: str | None):
    from infomin_cli.io import arrays

    if is_stdin(path):
        return arrays.ArrayEmbeddings(arrays.numpy_arrays(STDIN_NAME, stdin_bytes()), emb_col)
    path = local_path(path)
    if fmt in ("npy", "npz"):
        from infomin_cli.io.npy import NpyEmbeddings

        return NpyEmbeddings(path, emb_col)
    load = arrays.safetensors_arrays if fmt == "safetensors" else arrays.torch_arrays
    return arrays.ArrayEmbeddings(load(path), emb_col)


def open_table(path: str):
    """The attribute table of ``path`` (any format; local, object storage or ``-``)."""
    fmt = detect(path)
    name = _name(path)
    if fmt == "parquet" and not is_stdin(path):
        from infomin_cli.io.parquet import ParquetTable

        return ParquetTable(local_path(path))
    if fmt == "csv":
        from infomin_cli.io.csv_format import CsvTable

        return CsvTable(name, _bytes(path))
    if fmt in TABLE_FORMATS:
        from infomin_cli.io.table_formats import open_arrow_table

        return open_arrow_table(path, fmt)
    from infomin_cli.io import arrays

    data = _bytes(path)
    if fmt in ("npy", "npz"):
        if data is None:
            from infomin_cli.io.npy import NpyTable

            return NpyTable(name)
        return arrays.ArrayTable(arrays.numpy_arrays(name, data))
    load = arrays.safetensors_arrays if fmt == "safetensors" else arrays.torch_arrays
    return arrays.ArrayTable(load(name, data))
