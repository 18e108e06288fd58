"""Sources: embeddings plus aligned, validated attributes, read in batches.

:class:`Source` is what the audit pipeline consumes; :class:`DatasetSource` (from
:func:`open_dataset`) reads files lazily, :class:`InMemorySource` wraps arrays already in
memory. Both sample rows through :func:`~infomin_cli.stats.sampling.sample_rows`, so one seed
selects the same rows whichever source holds them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

from infomin_cli.attributes import Attribute
from infomin_cli.errors import InputError
from infomin_cli.io.attribute_columns import load_attribute_columns
from infomin_cli.io.common import plural
from infomin_cli.io.kinds import build_attribute, missing_mask
from infomin_cli.io.options import LoadOptions
from infomin_cli.stats.sampling import sample_rows

DEFAULT_BATCH_ROWS = 65536


def open_embeddings(path: str | Path, options: LoadOptions, attrs: Sequence[str] = ()):
    """The embedding reader for ``path``, whatever its format (:mod:`infomin_cli.io.formats`)."""
    from infomin_cli.io.formats import open_embeddings as open_any

    return open_any(path, options, attrs)


def nonfinite_rows(x: np.ndarray) -> np.ndarray:
    """Boolean mask of rows of ``x`` (n, d) holding a NaN or an inf.

    Fast path: NaN and inf propagate through a float64 row sum, which a float32 row cannot
    overflow; only rows whose sum is not finite are checked element by element (a float64 row
    of huge finite values can overflow the sum, and is cleared there).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        bad = ~np.isfinite(x.sum(axis=1, dtype=np.float64))
    if bad.any():
        idx = np.flatnonzero(bad)
        bad[idx] = ~np.isfinite(x[idx]).all(axis=1)
    return bad


@runtime_checkable
class Source(Protocol):
    """Embeddings (``n_rows`` x ``dim``) and attributes aligned with them.

    ``path`` names the data in messages. ``iter_embeddings`` yields the rows in order, in
    batches; ``sample_indices(n, seed)`` / ``sample(n, seed)`` give a seeded sample of rows
    (positions, and their embeddings, in row order); ``embeddings()`` reads everything.
    """

    path: str
    n_rows: int
    dim: int
    attributes: dict[str, Attribute]

    def iter_embeddings(self, batch_rows: int = ..., dtype=...) -> Iterator[np.ndarray]: ...

    def sample_indices(self, n: int, seed: int) -> np.ndarray: ...

    def sample(self, n: int, seed: int, dtype=...) -> np.ndarray: ...

    def embeddings(self, dtype=...) -> np.ndarray: ...


class InMemorySource:
    """A :class:`Source` over arrays already in memory (a subsample, a small file read once,
    or a library user's ``np.ndarray``)."""

    def __init__(self, z: np.ndarray, attributes: dict[str, Attribute],
                 path: str = "<memory>") -> None:
        z = np.asarray(z)
        if z.ndim != 2:
            raise ValueError(f"{path}: embeddings must be a 2-D array (n, d), got shape {z.shape}")
        for name, a in attributes.items():
            if len(a) != z.shape[0]:
                raise ValueError(f"{path}: attribute {name!r} has {len(a)} rows, "
                                 f"embeddings {z.shape[0]}")
        self._z = z
        self.path = path
        self.n_rows, self.dim = int(z.shape[0]), int(z.shape[1])
        self.attributes = attributes

    @classmethod
    def subsample(cls, source: Source, rows: int, seed: int) -> InMemorySource:
        """A seeded subsample of ``rows`` rows of another source, held in memory."""
        idx = source.sample_indices(rows, seed)
        attrs = {k: a.take(idx) for k, a in source.attributes.items()}
        return cls(source.sample(rows, seed), attrs, source.path)

    def sample_indices(self, n: int, seed: int) -> np.ndarray:
        return sample_rows(self.n_rows, n, seed)

    def sample(self, n: int, seed: int, dtype=np.float32) -> np.ndarray:
        if n >= self.n_rows:
            return np.asarray(self._z, dtype=dtype)
        return np.asarray(self._z[self.sample_indices(n, seed)], dtype=dtype)

    def embeddings(self, dtype=np.float32) -> np.ndarray:
        return np.asarray(self._z, dtype=dtype)

    def iter_embeddings(self, batch_rows: int = DEFAULT_BATCH_ROWS,
                        dtype=np.float32) -> Iterator[np.ndarray]:
        for s in range(0, self.n_rows, batch_rows):
            yield np.asarray(self._z[s : s + batch_rows], dtype=dtype)


class DatasetSource:
    """Embeddings (read lazily, validated) and attributes aligned with the kept rows."""

    def __init__(self, backend, attributes: dict[str, Attribute], keep: np.ndarray | None,
                 dropped: dict[str, int]) -> None:
        self._backend = backend
        self.path: str = backend.path
        self.format: str = backend.fmt
        self.files: list[str] = list(backend.files)
        self.n_rows_read: int = int(backend.n_rows)
        self._keep = keep  # bool mask over read rows, or None when every row is kept
        self.kept_rows: np.ndarray = (
            np.arange(self.n_rows_read) if keep is None else np.flatnonzero(keep)
        )
        self.n_rows: int = len(self.kept_rows)
        self.dropped: dict[str, int] = dropped
        self.dim: int = int(backend.dim)
        self.dtype: np.dtype = np.dtype(backend.dtype)
        self.emb_desc: str = backend.desc
        self.emb_column: str | None = backend.column
        self.attributes: dict[str, Attribute] = attributes

    def __repr__(self) -> str:
        return (f"DatasetSource({self.path!r}, n_rows={self.n_rows}, dim={self.dim}, "
                f"attributes={list(self.attributes)})")

    @property
    def backend(self):
        """The reader (:class:`~infomin_cli.io.arrow_table.ArrowEmbeddings`, NPY, arrays)."""
        return self._backend

    @property
    def keep(self) -> np.ndarray | None:
        """Bool mask over the rows read (False: dropped for a missing attribute), or None."""
        return self._keep

    # -- internals ------------------------------------------------------------------------
    def _kept_batches(self, batch_rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start, arr in self._backend.batches(batch_rows):
            rows = np.arange(start, start + len(arr))
            if self._keep is not None:
                sel = self._keep[start : start + len(arr)]
                rows, arr = rows[sel], arr[sel]
            if len(rows):
                yield rows, arr

    def _cast(self, arr: np.ndarray, dtype) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(arr, dtype=dtype)

    def _nonfinite_error(self, count: int, first_row: int, raw: np.ndarray, dtype,
                         scope: str = "") -> InputError:
        problem = "NaN or inf values"
        if np.all(np.isfinite(raw)):
            problem = f"values too large for {np.dtype(dtype).name}"
        return InputError(
            f"{self.path}: {self._backend.label}: {plural(count, 'row')} with {problem}{scope} "
            f"(first at row {first_row})"
        )

    def _checked(self, rows: np.ndarray, raw: np.ndarray, dtype, scope: str = "") -> np.ndarray:
        out = self._cast(raw, dtype)
        bad = nonfinite_rows(out)
        if bad.any():
            i = int(np.argmax(bad))
            raise self._nonfinite_error(int(bad.sum()), int(rows[i]), raw[i], dtype, scope)
        return out

    # -- public ---------------------------------------------------------------------------
    def embeddings(self, dtype=np.float32) -> np.ndarray:
        """All kept rows as ``(n_rows, dim)``; InputError on NaN / inf (counting every row)."""
        out = np.empty((self.n_rows, self.dim), dtype=dtype)
        pos, n_bad, first = 0, 0, None
        for rows, raw in self._kept_batches(DEFAULT_BATCH_ROWS):
            chunk = self._cast(raw, dtype)
            bad = nonfinite_rows(chunk)
            if bad.any():
                if first is None:
                    i = int(np.argmax(bad))
                    first = (int(rows[i]), raw[i])
                n_bad += int(bad.sum())
            out[pos : pos + len(chunk)] = chunk
            pos += len(chunk)
        if n_bad:
            raise self._nonfinite_error(n_bad, first[0], first[1], dtype)
        if pos != self.n_rows:
            raise InputError(f"{self.path}: read {pos} rows, expected {self.n_rows} (file changed?)")
        return out

    def iter_embeddings(self, batch_rows: int = DEFAULT_BATCH_ROWS,
                        dtype=np.float32) -> Iterator[np.ndarray]:
        """The kept rows in order, in arrays of ``batch_rows`` rows (the last may be shorter).

        Memory stays bounded by a few batches; each batch is validated as it is read.
        """
        if batch_rows < 1:
            raise ValueError("batch_rows must be >= 1")
        buf: list[np.ndarray] = []
        n_buf = 0
        for rows, raw in self._kept_batches(batch_rows):
            scope = f" in rows {rows[0]}-{rows[-1]}"
            buf.append(self._checked(rows, raw, dtype, scope))
            n_buf += len(rows)
            while n_buf >= batch_rows:
                cat = buf[0] if len(buf) == 1 else np.concatenate(buf)
                yield cat[:batch_rows]
                rest = cat[batch_rows:]
                buf, n_buf = ([rest] if len(rest) else []), len(rest)
        if n_buf:
            yield buf[0] if len(buf) == 1 else np.concatenate(buf)

    def sample_indices(self, n: int, seed: int) -> np.ndarray:
        """Sorted positions (into the kept rows) of the rows :meth:`sample` returns.

        Use them to take the matching attribute rows: ``attr.take(src.sample_indices(n, s))``.
        """
        return sample_rows(self.n_rows, n, seed)

    def sample(self, n: int, seed: int, dtype=np.float32) -> np.ndarray:
        """A seeded random subset of ``min(n, n_rows)`` kept rows, in row order."""
        if n >= self.n_rows:
            return self.embeddings(dtype)
        rows = self.kept_rows[self.sample_indices(n, seed)]
        return self._checked(rows, self._backend.take(rows), dtype, " in the sample")


def open_dataset(path: str | Path, attrs: Sequence[str],
                 options: LoadOptions | None = None) -> DatasetSource:
    """Open embeddings at ``path`` with the attributes ``attrs`` (may be empty).

    Reads metadata and the attribute columns only; rows with a missing attribute value are
    dropped (counted in ``dropped``) or, with ``options.strict``, rejected.
    """
    return _open(path, attrs, options or LoadOptions())[0]


def _open(path: str | Path, attrs: Sequence[str], options: LoadOptions):
    """``(source, attribute table or None)``; the table is reused by ``inspect_file``."""
    attrs = list(attrs)
    backend = open_embeddings(path, options, attrs)
    columns, table = load_attribute_columns(backend, attrs, options)
    n = backend.n_rows
    keep = np.ones(n, dtype=bool)
    dropped: dict[str, int] = {}
    for a, (arr, file) in columns.items():
        miss = missing_mask(arr)
        count = int(miss.sum())
        dropped[a] = count
        if count and options.strict:
            raise InputError(
                f"{file}: column {a!r}: {count} of {n} rows have a missing value (null or NaN); "
                "--strict refuses to drop them"
            )
        keep &= ~miss
    if not keep.any():
        raise InputError(f"{path}: no rows left after dropping rows with missing attribute values")
    all_kept = bool(keep.all())
    attributes = {
        a: build_attribute(
            a,
            arr if all_kept else arr.filter(pa.array(keep)),
            options.attr_kinds.get(a),
            f"{file}: column {a!r}",
        )
        for a, (arr, file) in columns.items()
    }
    return DatasetSource(backend, attributes, None if all_kept else keep, dropped), table
