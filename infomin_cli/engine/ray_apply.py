"""``apply``'s map on a Ray cluster (the ``ray`` engine).

``map_batches`` runs the saved projection over ``batch_rows``-row batches (on a GPU per worker
when the cluster has GPUs) and ``write_parquet`` writes shards that keep every other column.
A local output directory appears only when complete.
"""

from __future__ import annotations

import os
import uuid

import numpy as np

from infomin_cli.engine.ray_common import as_table, connect, read
from infomin_cli.errors import InputError
from infomin_cli.io.common import first_line


def _project_table(table, *, projection, decoder, columns: list[str], column: str | None,
                   out_col: str | None):
    """One ``map_batches`` batch: the embedding replaced (or, with ``out_col``, joined) by
    ``projection(embedding)``; every other column kept."""
    import pyarrow as pa

    from infomin_cli.io.writers import embedding_array

    table = as_table(table)
    if table.num_rows == 0:
        return table
    proj = _device_projection(projection)
    emb = decoder(table.select(columns), np.arange(table.num_rows))
    emb = np.asarray(emb, dtype=np.float32)
    bad = ~np.isfinite(emb).all(axis=1)
    if bad.any():
        raise InputError(f"{decoder.path}: {int(bad.sum())} rows with NaN or inf embeddings")
    mapped = embedding_array(np.asarray(proj(emb), dtype=np.float32))
    if out_col is None:
        return table.set_column(table.schema.get_field_index(column), column, mapped)
    return table.append_column(pa.field(out_col, mapped.type), mapped)


_DEVICE_CACHE: dict = {}


def _device_projection(projection):
    """The projection on this worker's GPU when it has one (cached per process)."""
    key = id(projection)
    if key not in _DEVICE_CACHE:
        moved = projection
        try:
            import torch

            if torch.cuda.is_available() and hasattr(projection, "to"):
                moved = projection.to("cuda")
        except ImportError:  # pragma: no cover - torch is a dependency
            pass
        _DEVICE_CACHE.clear()
        _DEVICE_CACHE[key] = (projection, moved)
    return _DEVICE_CACHE[key][1]


def _out_location(out: str, inputs: tuple[str, ...], input_files: tuple[str, ...]):
    """``(filesystem or None, where Ray writes, final local directory or None)``."""
    from infomin_cli.io.uri import is_uri, local_path, open_location, redact
    from infomin_cli.io.writers import check_output_path

    if is_uri(out):
        fs, path = open_location(out)
        import pyarrow.fs as pafs

        try:
            info = fs.get_file_info(path)
            if info.type == pafs.FileType.Directory and fs.get_file_info(
                    pafs.FileSelector(path, recursive=False)):
                raise InputError(f"{redact(out)}: the prefix holds objects already; write "
                                 "to an empty one")
        except (OSError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"{redact(out)}: {first_line(exc)}") from None
        return fs, path, None
    out = local_path(out).rstrip("/\\") or out
    if out.lower().endswith(".npy"):
        raise InputError(f"{out}: --engine ray writes a directory of Parquet shards; give a "
                         "directory name")
    if os.path.isdir(out):
        if os.listdir(out):
            raise InputError(f"{out}: the directory is not empty; write to a new one")
        check_output_path(os.path.join(out, "part-0.parquet"), inputs, input_files=input_files)
    elif os.path.exists(out):
        raise InputError(f"{out}: exists and is not a directory; --engine ray writes a "
                         "directory of Parquet shards")
    else:
        check_output_path(out, inputs, input_files=input_files)
    parent = os.path.dirname(os.path.abspath(out))
    tmp = os.path.join(parent, f".{os.path.basename(out)}.{uuid.uuid4().hex[:8]}.tmp")
    return None, tmp, out


def apply(src: str, out: str, projection, *, options=None, out_col: str | None = None,
          batch_rows: int = 65536, inputs: tuple[str, ...] = (),
          block_bytes: int | None = None) -> int:
    """Write ``projection(embedding)`` of every row of the Parquet ``src`` as Parquet shards
    under ``out`` (a new local directory, or an object-store prefix), keeping every other
    column; returns the rows written. A local ``out`` appears only when complete."""
    import shutil

    from infomin_cli.io.source import LoadOptions, open_embeddings

    options = options or LoadOptions()
    backend = open_embeddings(src, options)
    if backend.fmt != "parquet":
        raise InputError(f"{src}: the ray engine reads Parquet; apply other formats "
                         "with --engine local")
    column = backend.column
    if column is None and out_col is None:
        raise InputError(f"{src}: the embedding is spread over scalar columns "
                         f"({backend.label}); write it beside them with --out-col NAME")
    if out_col is not None and out_col in backend.column_names:
        raise InputError(f"{src}: --out-col {out_col!r}: the column exists already")
    out_fs, target, final = _out_location(out, (src, *inputs), tuple(backend.files))
    ray = connect()
    ctx = ray.data.DataContext.get_current()
    saved_block = ctx.target_max_block_size
    try:
        ds = read(ray, backend, None, block_bytes)
        gpus = float(ray.cluster_resources().get("GPU", 0)) > 0
        ds = ds.map_batches(
            _project_table, batch_format="pyarrow", batch_size=batch_rows,
            fn_kwargs={"projection": projection, "decoder": backend.decoder,
                       "columns": list(backend.columns), "column": column, "out_col": out_col},
            **({"num_gpus": 1} if gpus else {}))
        try:
            ds.write_parquet(target, filesystem=out_fs)
        except Exception as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, InputError) or isinstance(exc, InputError):
                raise InputError(str(cause or exc)) from None
            raise
    except BaseException:
        if final is not None:
            shutil.rmtree(target, ignore_errors=True)
        raise
    finally:
        ctx.target_max_block_size = saved_block
    if final is not None:
        if not os.path.isdir(target):  # no rows: Ray wrote nothing
            os.makedirs(target)
        if os.path.isdir(final):
            os.rmdir(final)  # empty (checked above)
        os.replace(target, final)
    return int(backend.n_rows)
