"""Reading and writing: embeddings and attributes in Parquet (files, shards, globs, object
storage), CSV/TSV, JSON Lines, Arrow IPC / Feather, Hugging Face ``save_to_disk`` directories,
NPY/NPZ, safetensors, PyTorch ``.pt`` and standard input (:mod:`infomin_cli.io.formats` picks
the reader); atomic writers.

Public API::

    from infomin_cli.io import open_dataset, LoadOptions, Source, DatasetSource, InMemorySource
    from infomin_cli.io import inspect_file, write_json_atomic, write_npy_atomic, write_parquet_atomic
"""

from infomin_cli.io.describe import inspect_file
from infomin_cli.io.kinds import CATEGORICAL_MAX
from infomin_cli.io.options import LoadOptions
from infomin_cli.io.source import DatasetSource, InMemorySource, Source, open_dataset
from infomin_cli.io.writers import (
    with_embedding,
    write_atomic,
    write_json_atomic,
    write_npy_atomic,
    write_parquet_atomic,
)

__all__ = [
    "CATEGORICAL_MAX",
    "DatasetSource",
    "InMemorySource",
    "LoadOptions",
    "Source",
    "inspect_file",
    "open_dataset",
    "with_embedding",
    "write_atomic",
    "write_json_atomic",
    "write_npy_atomic",
    "write_parquet_atomic",
]
