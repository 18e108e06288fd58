"""``inspect_file``: what is in an embedding file, and what each column would become."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from infomin_cli.io.common import is_list_type, type_name
from infomin_cli.io.kinds import check_kind_name, guess_kind, missing_mask, normalize
from infomin_cli.io.source import DEFAULT_BATCH_ROWS, LoadOptions, _open


def _looks_like_int_id(name: str, arr: pa.Array) -> bool:
    """Distinct integers that are named like an id or form a consecutive range."""
    if not pa.types.is_integer(arr.type) or len(arr) <= 1:
        return False
    if int(pc.count_distinct(arr).as_py()) != len(arr):
        return False
    lowered = name.lower()
    if lowered in ("id", "idx", "index", "key", "row", "uid") or lowered.endswith(("_id", "-id")):
        return True
    lo, hi = pc.min_max(arr).values()
    return hi.as_py() - lo.as_py() + 1 == len(arr)


def describe_column(name: str, arr: pa.Array | pa.ChunkedArray, file: str, *,
                    id_col: str | None = None, kind: str | None = None) -> dict[str, Any]:
    """Type, kind it would get (or ``id`` / ``skipped``), distinct and missing counts."""
    arr = normalize(arr)
    miss = missing_mask(arr)
    n_missing = int(miss.sum())
    valid = arr.filter(pa.array(~miss)) if n_missing else arr
    guess = guess_kind(valid)
    distinct = guess.distinct
    if distinct is None and not is_list_type(arr.type):
        try:
            distinct = int(pc.count_distinct(valid, mode="only_valid").as_py())
        except pa.ArrowNotImplementedError:  # a nested type (JSON objects): not an attribute
            distinct = None
    note = guess.note
    if guess.kind == "continuous" and _looks_like_int_id(name, valid):
        guess.kind, note = None, "all values distinct (an id?)"
    if name == id_col:
        shown, note = "id", "--id-col"
    elif kind is not None:
        shown, note = kind, "--attr-kind"
    elif guess.kind is not None:
        shown = guess.kind
    else:
        shown = "id" if "distinct" in note else "skipped"
    return {
        "name": name,
        "file": file,
        "type": type_name(arr.type),
        "kind": shown,
        "distinct": distinct,
        "missing": n_missing,
        "note": note,
    }


def _row_norms(batch: np.ndarray) -> np.ndarray:
    """L2 norms without overflow for huge values (scaled by each row's max |x|)."""
    scale = np.abs(batch).max(axis=1)
    safe = np.where(scale > 0, scale, 1.0)
    return scale * np.linalg.norm(batch / safe[:, None], axis=1)


def _norm_stats(source) -> dict[str, Any]:
    norms: list[np.ndarray] = []
    lo = hi = None
    for batch in source.iter_embeddings(DEFAULT_BATCH_ROWS, dtype=np.float64):
        norms.append(_row_norms(batch))
        bmin, bmax = batch.min(axis=0), batch.max(axis=0)
        lo = bmin if lo is None else np.minimum(lo, bmin)
        hi = bmax if hi is None else np.maximum(hi, bmax)
    all_norms = np.concatenate(norms)
    return {
        "norms": {
            "min": float(all_norms.min()),
            "median": float(np.median(all_norms)),
            "mean": float(all_norms.mean()),
            "max": float(all_norms.max()),
        },
        "zero_rows": int((all_norms == 0).sum()),
        "dead_dims": int((lo == hi).sum()),
        "extreme_values": _extreme_values(source),
    }


def _extreme_values(source) -> dict[str, Any]:
    """How many values the audit's robust standardiser would clip, on its calibration sample."""
    from infomin_cli.stats.standardize import DEFAULT_SAMPLE_ROWS, Standardizer

    sample = source.sample(DEFAULT_SAMPLE_ROWS, 0, dtype=np.float64)
    if len(sample) < 2:
        return {"count": 0, "rows_checked": int(len(sample)), "clip": None}
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            st = Standardizer.fit_embeddings(sample)
        except ValueError:  # values beyond float64 arithmetic: reported by the norms instead
            return {"count": None, "rows_checked": int(len(sample)), "clip": None}
    return {"count": st.n_extreme, "rows_checked": st.n_sample, "clip": st.clip}


def inspect_file(path: str | Path, options: LoadOptions | None = None,
                 attrs: Sequence[str] = ()) -> dict[str, Any]:
    """A JSON-ready summary of ``path``; ``attrs`` are also loaded and validated.

    Streams the embeddings once (norm statistics, dead dimensions, NaN / ragged checks).
    """
    options = options or LoadOptions()
    for name, kind in options.attr_kinds.items():
        check_kind_name(name, kind)
    load_kinds = {k: v for k, v in options.attr_kinds.items() if k in attrs}
    source, table = _open(path, attrs, replace(options, attr_kinds=load_kinds))
    backend = source._backend

    columns = []
    for name in backend.other_columns:
        col = backend.read([name]).column(0)
        columns.append(describe_column(name, col, source.path, id_col=options.id_col,
                                       kind=options.attr_kinds.get(name)))
    if table is not None:
        for name in table.column_names:
            col = table.read([name]).column(0)
            columns.append(describe_column(name, col, str(options.attrs_file),
                                           id_col=options.id_col,
                                           kind=options.attr_kinds.get(name)))

    report: dict[str, Any] = {
        "file": source.path,
        "format": source.format,
        "files": len(source.files),
        "rows": source.n_rows_read,
        "embedding": {
            "source": source.emb_desc,
            "column": source.emb_column,
            "dim": source.dim,
            "dtype": source.dtype.name,
        },
    }
    if options.attrs_file is not None:
        report["attrs_file"] = str(options.attrs_file)
    report.update(_norm_stats(source))
    report["columns"] = columns
    if attrs:
        report["rows_kept"] = source.n_rows
        report["attributes"] = {
            name: {
                "kind": attr.kind,
                "classes": list(attr.classes) if attr.classes is not None else None,
                "width": attr.width,
                "dropped": source.dropped.get(name, 0),
            }
            for name, attr in source.attributes.items()
        }
    return report
