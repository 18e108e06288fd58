"""The ``ray`` engine: the audit's streaming pass and ``apply``'s map on a Ray cluster.

Audit. Ray Data reads the Parquet files (``ray.data.read_parquet``: a file, a directory, a glob
or an object-store URI, in the order the local reader uses) into blocks, in order. The driver
gives each block its global row range (the running sum of block sizes: the splits, the
held-out rows and the permutations hang on the global row index), and groups consecutive
blocks into tasks that cover whole local batches: kept rows ``[k * batch_rows, ...)``. A task
decodes its rows, feeds them batch by batch to a copy of the driver's (empty) accumulators --
the classes and the code path (:func:`~infomin_cli.pipeline.audit.update_accumulators`) of the
local pass -- and returns them; the driver merges them in row order. Every row therefore goes
through the same float32 arithmetic, in the same batch, as in the local pass; only the float64
sums are added in another grouping, so a Ray report equals the local one to float64 rounding,
whatever the number of blocks or workers. Calibration and rho* stay on the driver.

A worker that dies mid-task is replaced and the task re-run by Ray (``max_retries``); its
blocks stay in the object store, so the result is the same.

Apply. ``map_batches`` runs the saved projection over ``batch_rows``-row batches (on a GPU
per worker when the cluster has GPUs) and ``write_parquet`` writes shards that keep every
other column.

Connection: ``RAY_ADDRESS`` when set (``host:port``, ``ray://host:port`` or ``auto``), else a
local Ray started here. An address where nothing answers is one InputError after a short
probe, not a hang.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import numpy as np

from infomin_cli.errors import InputError
from infomin_cli.io.common import first_line
from infomin_cli.io.source import nonfinite_rows

#: Test-only hook, not a user setting: the path of a marker file. While the file does not
#: exist, the second accumulation task of an audit (the first if there is only one) creates
#: it and kills its own worker process (``os._exit``), so that tests can check that Ray's
#: retry of the task gives the same report.
KILL_HOOK_ENV = "INFOMIN_TEST_RAY_KILL_MARKER"
CONNECT_TIMEOUT_S = 5.0
MAX_RETRIES = 3

RowsFn = Callable[[int, int], None]


# -- connection ---------------------------------------------------------------------------------


def require_ray():
    """The ``ray`` module, or a one-line InputError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise InputError("--engine ray needs Ray, which is not installed: "
                         "pip install 'infomin[ray]'") from None
    return ray


def _probe(address: str) -> None:
    """Fail fast (InputError) when nothing listens at ``address``'s host:port."""
    netloc = urlsplit(address).netloc if "://" in address else address
    host, _, port = netloc.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"RAY_ADDRESS={address}: no Ray cluster answers there ({reason}); "
                         "start one with 'ray start --head', or unset RAY_ADDRESS to run a "
                         "local Ray") from None


def connect():
    """Connect to ``RAY_ADDRESS`` or start a local Ray (once per process); returns ``ray``."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    address = os.environ.get("RAY_ADDRESS") or None
    if address not in (None, "auto", "local"):
        _probe(address)
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR)
    except Exception as exc:
        where = f"RAY_ADDRESS={address}: cannot connect to the Ray cluster" if address else \
            "cannot start a local Ray"
        raise InputError(f"{where}: {first_line(exc)}") from None
    return ray


# -- reading --------------------------------------------------------------------------------------


def _read(ray, backend, columns: list[str] | None, block_bytes: int | None):
    """Ray Data over ``backend``'s files, blocks in file order (``preserve_order``)."""
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # stderr: our one-line errors only
    if block_bytes is not None:
        ctx.target_max_block_size = int(block_bytes)
    try:
        ds = ray.data.read_parquet(list(backend.read_paths), filesystem=backend.filesystem,
                                   file_extensions=None, partitioning=None)
        if columns is not None:
            ds = ds.select_columns(list(columns))
    except Exception as exc:
        raise InputError(f"{backend.path}: Ray Data cannot read it: {first_line(exc)}") from None
    return ds


def _blocks(ray, ds):
    """``(block ref, rows)`` in dataset order, streamed as Ray Data produces them."""
    if not hasattr(ds, "iter_internal_ref_bundles"):  # older Ray: materialised refs
        for ref in ds.to_arrow_refs():
            yield ref, int(ray.get(_remote(ray)["rows"].remote(ref)))
        return
    for bundle in ds.iter_internal_ref_bundles():
        for entry in bundle.blocks:
            ref, meta = (entry.ref, entry.metadata) if hasattr(entry, "ref") else entry
            n = meta.num_rows
            if n is None:
                n = ray.get(_remote(ray)["rows"].remote(ref))
            yield ref, int(n)


def _as_table(block):
    import pyarrow as pa

    return block if isinstance(block, pa.Table) else pa.Table.from_pandas(block)


# -- worker side ----------------------------------------------------------------------------------


def _maybe_die(marker: str | None) -> None:
    if marker and not os.path.exists(marker):
        with open(marker, "w") as fh:
            fh.write(str(os.getpid()))
        os._exit(1)


def _accumulate_task(spec: dict, accumulators, *blocks):
    """One task: rows ``spec['read']`` (read-row numbers) of the given blocks, through the
    local pass's batch loop into ``accumulators`` (a fresh copy, deserialised here)."""
    import pyarrow as pa

    from infomin_cli.pipeline.audit import update_accumulators

    _maybe_die(spec.get("kill_marker"))
    rs, re = spec["read"]
    parts = []
    for block, r0 in zip(blocks, spec["starts"]):
        table = _as_table(block)
        lo, hi = max(rs, r0) - r0, min(re, r0 + table.num_rows) - r0
        if hi > lo:
            parts.append(table.slice(lo, hi - lo))
    table = pa.concat_tables(parts)
    rows = np.arange(rs, re)
    raw = spec["decoder"](table, rows)
    if spec["keep"] is not None:
        raw, rows = raw[spec["keep"]], rows[spec["keep"]]
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.asarray(raw, dtype=np.float32)
    bad = nonfinite_rows(z)
    if bad.any():
        dec = spec["decoder"]
        raise InputError(f"{dec.path}: {dec.label}: {int(bad.sum())} rows with NaN or inf "
                         f"values in rows {rs}-{re - 1} (first at row {rows[np.argmax(bad)]})")
    sliced_acc, linear_acc = accumulators
    offset, step = spec["offset"], spec["batch_rows"]
    for s in range(0, len(z), step):
        values = {k: v[s : s + step] for k, v in spec["values"].items()}
        update_accumulators(z[s : s + step], offset + s, values, sliced_acc, linear_acc)
    return sliced_acc, linear_acc


def _block_rows(block) -> int:
    return _as_table(block).num_rows


_REMOTES: dict = {}


def _remote(ray) -> dict:
    if not _REMOTES:
        _REMOTES["accumulate"] = ray.remote(max_retries=MAX_RETRIES)(_accumulate_task)
        _REMOTES["rows"] = ray.remote(_block_rows)
    return _REMOTES


def _get(ray, ref, where: str):
    """``ray.get`` with a worker's InputError / ValueError passed on as one InputError."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, InputError):
            raise InputError(str(cause)) from None
        if isinstance(cause, ValueError):
            raise InputError(f"{where}: {first_line(cause)}") from None
        raise RuntimeError(f"a Ray task failed: {first_line(cause or exc)}") from None


# -- audit ------------------------------------------------------------------------------------------


def accumulate(source, sliced_acc: dict, linear_acc: dict, batch_rows: int,
               on_rows: RowsFn | None = None, *, block_bytes: int | None = None) -> None:
    """Feed every kept row of ``source`` (a Parquet :class:`~infomin_cli.io.DatasetSource`) to
    the accumulators on Ray workers, merging the results into ``sliced_acc`` / ``linear_acc``
    (empty on entry) in row order. ``block_bytes`` sets Ray Data's target block size (tests,
    benchmarks)."""
    backend = source.backend
    if backend.fmt != "parquet":
        raise InputError(f"{source.path}: the ray engine reads Parquet (a file, directory, glob "
                         "or object-store URI); audit NPY files with --engine local")
    ray = connect()
    ctx = ray.data.DataContext.get_current()
    saved_block = ctx.target_max_block_size
    try:
        _accumulate(ray, source, backend, sliced_acc, linear_acc, batch_rows, on_rows,
                    block_bytes)
    finally:
        ctx.target_max_block_size = saved_block


def _accumulate(ray, source, backend, sliced_acc, linear_acc, batch_rows, on_rows,
                block_bytes) -> None:
    n, keep, kept_rows = source.n_rows, source.keep, source.kept_rows
    values = {k: a.values for k, a in source.attributes.items()}
    fresh = ray.put((sliced_acc, linear_acc))  # every task starts from these (empty) states
    task = _remote(ray)["accumulate"]
    marker = os.environ.get(KILL_HOOK_ENV)
    decoder = backend.decoder
    pending: list[tuple] = []  # (ref, first read row, end read row) of blocks not yet used up
    submitted: list = []  # (task ref, kept end)
    state = {"ks": 0, "merged": 0, "results": {}}

    def submit(ke: int) -> None:
        ks = state["ks"]
        rs, re = int(kept_rows[ks]), int(kept_rows[ke - 1]) + 1
        use = [(ref, r0) for ref, r0, r1 in pending if r1 > rs and r0 < re]
        index = len(submitted)
        spec = {"read": (rs, re), "starts": [r0 for _, r0 in use], "offset": ks,
                "keep": None if keep is None else keep[rs:re], "batch_rows": batch_rows,
                "values": {k: v[ks:ke] for k, v in values.items()}, "decoder": decoder,
                "kill_marker": marker if index == 1 else None}
        submitted.append((task.remote(spec, fresh, *[ref for ref, _ in use]), ke))
        pending[:] = [b for b in pending if b[2] > re]
        state["ks"] = ke

    def drain(wait_all: bool) -> None:
        while state["merged"] < len(submitted):
            ref, ke = submitted[state["merged"]]
            if not wait_all:
                ready, _ = ray.wait([ref], timeout=0)
                if not ready:
                    return
            s_acc, l_acc = _get(ray, ref, source.path)
            for k, a in s_acc.items():
                sliced_acc[k].merge(a)
            for k, a in l_acc.items():
                linear_acc[k].merge(a)
            submitted[state["merged"]] = (None, ke)  # release the result
            state["merged"] += 1
            if on_rows is not None:
                on_rows(ke, n)

    read_pos = 0
    for ref, rows in _blocks(ray, _read(ray, backend, backend.columns, block_bytes)):
        if rows == 0:
            continue
        pending.append((ref, read_pos, read_pos + rows))
        read_pos += rows
        covered = int(np.searchsorted(kept_rows, read_pos))  # kept rows read so far
        whole = (covered - state["ks"]) // batch_rows * batch_rows
        if whole > 0:
            submit(state["ks"] + whole)
            drain(wait_all=False)
    if read_pos != source.n_rows_read:
        raise InputError(f"{source.path}: Ray read {read_pos} rows, expected "
                         f"{source.n_rows_read} (files changed?)")
    if state["ks"] < n:
        submit(n)
    drain(wait_all=True)


# -- apply ------------------------------------------------------------------------------------------


def _project_table(table, *, projection, decoder, columns: list[str], column: str | None,
                   out_col: str | None):
    """One ``map_batches`` batch: the embedding replaced (or, with ``out_col``, joined) by
    ``projection(embedding)``; every other column kept."""
    import pyarrow as pa

    from infomin_cli.io.writers import embedding_array

    table = _as_table(table)
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
        raise InputError(f"{src}: the ray engine reads Parquet; apply to NPY with "
                         "--engine local")
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
        ds = _read(ray, backend, None, block_bytes)
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
