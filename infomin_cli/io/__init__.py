"""Loading embeddings and attributes: Parquet (files, shards, globs), NPY/NPZ, CSV attributes.

Public API::

    from infomin_cli.io import open_dataset, LoadOptions, DatasetSource, inspect_file
"""

from infomin_cli.io.inspect import inspect_file
from infomin_cli.io.kinds import CATEGORICAL_MAX
from infomin_cli.io.source import DatasetSource, LoadOptions, open_dataset

__all__ = ["CATEGORICAL_MAX", "DatasetSource", "LoadOptions", "inspect_file", "open_dataset"]
