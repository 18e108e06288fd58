"""The audit's streaming pass on a Ray cluster (the ``ray`` engine).

Ray Data reads the Parquet files (``ray.data.read_parquet``: a file, a directory, a glob
or an object-store URI, in the order the local reader uses) into blocks, in order. The driver
gives each block its global row range (the running sum of block sizes: the splits, the
held-out rows and the permutations hang on the global row index), and groups consecutive
blocks into tasks that cover whole local batches: kept rows ``[k * batch_rows, ...)``. A task
decodes its rows, feeds them batch by batch to a copy of the driver's (empty) accumulators --
the classes and the code path (:func:`~infomin_cli.engine.local.update_accumulators`) of the
local pass -- and returns them; the driver merges them in row order. Every row therefore goes
through the same float32 arithmetic, in the same batch, as in the local pass; only the float64
sums are added in another grouping, so a Ray report equals the local one to float64 rounding,
whatever the number of blocks or workers. Calibration and rho* stay on the driver.

A worker that dies mid-task is replaced and the task re-run by Ray (``max_retries``); its
blocks stay in the object store, so the result is the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from infomin_cli.engine.local import Accumulators, update_accumulators
from infomin_cli.engine.ray_common import as_table, connect, get, read
from infomin_cli.errors import InputError
from infomin_cli.io.source import nonfinite_rows

#: Test-only hook, not a user setting: the path of a marker file. While the file does not
#: exist, the second accumulation task of an audit (the first if there is only one) creates
#: it and kills its own worker process (``os._exit``), so that tests can check that Ray's
#: retry of the task gives the same report.
KILL_HOOK_ENV = "INFOMIN_TEST_RAY_KILL_MARKER"
MAX_RETRIES = 3

RowsFn = Callable[[int, int], None]


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

    _maybe_die(spec.get("kill_marker"))
    rs, re = spec["read"]
    parts = []
    for block, r0 in zip(blocks, spec["starts"]):
        table = as_table(block)
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
    offset, step = spec["offset"], spec["batch_rows"]
    for s in range(0, len(z), step):
        values = {k: v[s : s + step] for k, v in spec["values"].items()}
        update_accumulators(z[s : s + step], offset + s, values, accumulators)
    return accumulators


def _block_rows(block) -> int:
    return as_table(block).num_rows


_REMOTES: dict = {}


def _remote(ray) -> dict:
    if not _REMOTES:
        _REMOTES["accumulate"] = ray.remote(max_retries=MAX_RETRIES)(_accumulate_task)
        _REMOTES["rows"] = ray.remote(_block_rows)
    return _REMOTES


# -- driver ------------------------------------------------------------------------------------------


def accumulate(source, accumulators: Accumulators, batch_rows: int,
               on_rows: RowsFn | None = None, *, block_bytes: int | None = None) -> None:
    """Feed every kept row of ``source`` (a Parquet :class:`~infomin_cli.io.DatasetSource`) to
    the accumulators (``[estimator][attribute]``, empty on entry) on Ray workers, merging the
    results into them in row order. ``block_bytes`` sets Ray Data's target block size (tests,
    benchmarks)."""
    backend = source.backend
    if backend.fmt != "parquet":
        raise InputError(f"{source.path}: the ray engine reads Parquet (a file, directory, glob "
                         "or object-store URI); audit other formats with --engine local")
    ray = connect()
    ctx = ray.data.DataContext.get_current()
    saved_block = ctx.target_max_block_size
    try:
        _accumulate(ray, source, backend, accumulators, batch_rows, on_rows, block_bytes)
    finally:
        ctx.target_max_block_size = saved_block


def _accumulate(ray, source, backend, accumulators, batch_rows, on_rows, block_bytes) -> None:
    n, keep, kept_rows = source.n_rows, source.keep, source.kept_rows
    values = {k: a.values for k, a in source.attributes.items()}
    fresh = ray.put(accumulators)  # every task starts from these (empty) states
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
            for est, per in get(ray, ref, source.path).items():
                for k, a in per.items():
                    accumulators[est][k].merge(a)
            submitted[state["merged"]] = (None, ke)  # release the result
            state["merged"] += 1
            if on_rows is not None:
                on_rows(ke, n)

    read_pos = 0
    for ref, rows in _blocks(ray, read(ray, backend, backend.columns, block_bytes)):
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
