"""Embeddings (and attributes) held as named arrays: safetensors, PyTorch ``.pt``, and NPY/NPZ
bytes (standard input, object storage).

The embedding is the one 2-D float array (or the one named with ``--emb-col``); the other
1-D / 2-D arrays with as many rows are attribute columns. Nothing is ever unpickled: ``.pt``
files go through ``torch.load(weights_only=True)`` and must hold a tensor or a dict of
name -> tensor; NPY/NPZ through ``np.load(allow_pickle=False)``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from infomin_cli.errors import InputError
from infomin_cli.io.common import InMemoryTable, column_not_found, first_line
from infomin_cli.io.npy import (
    ArrayColumns,
    _check_2d,
    _check_dtype,
    _to_arrow,
    arrow_type,
    columns_table,
)

#: the name of a file's only array when it has no name (a bare tensor / NPY array)
UNNAMED = ""
_PICKLE_HINT = ("refusing to unpickle; save a tensor or a dict of name -> tensor "
                "(torch.save({'embedding': z}, path)) or use safetensors")


@dataclass
class Arrays:
    """The named arrays of one file: shapes and dtypes up front, values on demand."""

    path: str
    fmt: str
    heads: dict[str, tuple[tuple[int, ...], np.dtype]]
    load: Callable[[str], np.ndarray]


def _held(path: str, fmt: str, arrays: dict[str, np.ndarray]) -> Arrays:
    return Arrays(path, fmt, {k: (tuple(a.shape), a.dtype) for k, a in arrays.items()},
                  arrays.__getitem__)


# -- safetensors -------------------------------------------------------------------------------
_ST_DTYPES = {"F16": "float16", "F32": "float32", "F64": "float64", "BF16": "float32",
              "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64", "U8": "uint8",
              "U16": "uint16", "U32": "uint32", "U64": "uint64", "BOOL": "bool"}


def safetensors_arrays(path: str, data: bytes | None = None) -> Arrays:
    """The tensors of a ``.safetensors`` file (read with the numpy API; bfloat16 tensors,
    which numpy lacks, through torch as float32)."""
    from safetensors import SafetensorError, safe_open

    try:
        if data is not None:
            return _held(path, "safetensors", _safetensors_bytes(data))
        with safe_open(path, framework="np") as fh:
            names = fh.keys()  # not iterable itself
            raw = {k: fh.get_slice(k) for k in names}
            heads = {k: (tuple(s.get_shape()), s.get_dtype()) for k, s in raw.items()}
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read as safetensors: {first_line(exc)}") from None
    unknown = {k: d for k, (_, d) in heads.items() if d not in _ST_DTYPES}
    shown = {k: (s, np.dtype(_ST_DTYPES.get(d, "V"))) for k, (s, d) in heads.items()}

    def load(key: str) -> np.ndarray:
        if key in unknown:
            raise InputError(f"{path}: tensor {key!r}: unsupported dtype {unknown[key]}")
        try:
            if heads[key][1] == "BF16":
                with safe_open(path, framework="pt") as fh:
                    return fh.get_tensor(key).float().numpy()
            with safe_open(path, framework="np") as fh:
                return fh.get_tensor(key)
        except (SafetensorError, OSError, ValueError) as exc:
            raise InputError(f"{path}: tensor {key!r}: cannot load: {first_line(exc)}") from None

    return Arrays(path, "safetensors", shown, load)


def _safetensors_bytes(data: bytes) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        return load(data)
    except (SafetensorError, TypeError, ValueError):  # bfloat16: through torch
        from safetensors.torch import load as load_pt

        return {k: t.float().numpy() if t.is_floating_point() else t.numpy()
                for k, t in load_pt(data).items()}


# -- PyTorch -----------------------------------------------------------------------------------
def torch_arrays(path: str, data: bytes | None = None) -> Arrays:
    """A tensor or a dict of name -> tensor saved with ``torch.save``, loaded with
    ``weights_only=True`` (so no Python object is ever built); anything else is refused."""
    import pickle

    import torch

    try:
        obj = torch.load(path if data is None else io.BytesIO(data), map_location="cpu",
                         weights_only=True)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a PyTorch file") from None
    except pickle.UnpicklingError as exc:
        raise _refused(path, str(exc)) from None
    except Exception as exc:  # a corrupt or foreign file: torch raises many kinds
        raise InputError(f"{path}: cannot read as a PyTorch file: {first_line(exc)}") from None
    if isinstance(obj, torch.Tensor):
        tensors = {UNNAMED: obj}
    elif isinstance(obj, dict) and obj:
        bad = [k for k, v in obj.items() if not (isinstance(k, str) and isinstance(v, torch.Tensor))]
        if bad:
            raise InputError(f"{path}: entry {bad[0]!r} is a {type(obj[bad[0]]).__name__}, not "
                             f"a tensor; {_PICKLE_HINT}")
        tensors = obj
    else:
        raise InputError(f"{path}: holds a {type(obj).__name__}, not a tensor or a dict of "
                         f"name -> tensor; {_PICKLE_HINT}")
    arrays = {}
    for k, t in tensors.items():
        t = t.detach().to_dense() if t.layout != torch.strided else t.detach()
        arrays[k] = (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    return _held(path, "torch", arrays)


def _refused(path: str, text: str) -> InputError:
    """The one line for what ``torch.load(weights_only=True)`` would not load."""
    if "weights only" not in text.lower():
        return InputError(f"{path}: cannot read as a PyTorch file: {first_line(RuntimeError(text))}")
    found = re.search(r"(?i)unsupported (?:global: )?GLOBAL ([\w.]*\w)", text)
    if found:
        return InputError(f"{path}: holds Python objects beyond tensors (it holds a "
                          f"{found.group(1)}); {_PICKLE_HINT}")
    reason = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", text)
    why = f" ({reason.group(1).strip()})" if reason else ""
    return InputError(f"{path}: torch.load(weights_only=True) refused it{why}: corrupt, or more "
                      f"than tensors; {_PICKLE_HINT}")


# -- NPY / NPZ bytes -----------------------------------------------------------------------
def numpy_arrays(path: str, data: bytes) -> Arrays:
    """An ``.npy`` / ``.npz`` held in memory (standard input, a downloaded object)."""
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return _held(path, "npy", {UNNAMED: loaded})
        with loaded:
            return _held(path, "npz", {k: loaded[k] for k in loaded.files})
    except ValueError as exc:
        if "pickle" in str(exc):
            raise InputError(f"{path}: holds Python objects (pickled data); refusing to "
                             "unpickle; save a plain numeric array") from None
        raise InputError(f"{path}: cannot read as NPY/NPZ: {first_line(exc)}") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read as NPY/NPZ: {first_line(exc)}") from None


# -- readers ----------------------------------------------------------------------------------
class ArrayEmbeddings(ArrayColumns):
    """The embedding array of an :class:`Arrays`; its other arrays of as many rows are
    attribute columns."""

    def __init__(self, arrays: Arrays, emb_col: str | None = None) -> None:
        self.path, self.fmt, self.files = arrays.path, arrays.fmt, [arrays.path]
        heads = arrays.heads
        what = "tensor" if self.fmt in ("safetensors", "torch") else "array"
        if emb_col is None:
            cands = [k for k, (s, d) in heads.items() if len(s) == 2 and d.kind == "f"]
            if len(cands) != 1:
                names = ", ".join(k for k in heads if k) or "none"
                raise InputError(
                    f"{self.path}: {'several' if cands else 'no'} 2-D float {what}s "
                    f"({', '.join(cands) or 'none'}; {what}s: {names}); "
                    + ("choose one with --emb-col" if cands else "expected a (rows × dim) one")
                )
            emb_col = cands[0]
        elif emb_col not in heads:
            raise column_not_found(self.path, emb_col, [k for k in heads if k], what)
        shape, dtype = heads[emb_col]
        self.label = f"{what} {emb_col!r}" if emb_col else what
        _check_dtype(self.path, self.label, dtype)
        _check_2d(self.path, self.label, shape)
        self.column = emb_col or None
        self.columns = [emb_col] if emb_col else []
        self.arr = arrays.load(emb_col)
        self.n_rows, self.dim = int(shape[0]), int(shape[1])
        self.dtype = self.arr.dtype
        self.desc = f"{self.label} ({self.dtype.name}, {self.n_rows}×{self.dim})"
        self._arrays = arrays
        self._extra = {k: (s, d) for k, (s, d) in heads.items()
                       if k != emb_col and len(s) in (1, 2) and s[0] == shape[0]
                       and not d.hasobject}
        self.schema = pa.schema([(k, arrow_type(s, d)) for k, (s, d) in self._extra.items()])

    def read(self, names: Sequence[str]) -> pa.Table:
        return pa.table({n: _to_arrow(self._arrays.load(n)) for n in names})


class ArrayTable(InMemoryTable):
    """An attribute file of named arrays: one column per 1-D / 2-D array (a single unnamed
    array stands for whichever attribute is asked)."""

    def __init__(self, arrays: Arrays) -> None:
        self.path, self.fmt, self.files = arrays.path, arrays.fmt, [arrays.path]
        cols: dict[str, np.ndarray] = {}
        for key, (shape, dtype) in arrays.heads.items():
            if len(shape) in (1, 2):
                if dtype.kind != "b":
                    _check_dtype(self.path, f"array {key!r}" if key else "array", dtype)
                cols[key] = np.asarray(arrays.load(key))
        if not cols:
            raise InputError(f"{self.path}: no 1-D or 2-D arrays to use as attributes")
        self.single = list(cols) == [UNNAMED]
        if self.single:
            cols = {"values": cols[UNNAMED]}
        self.table = columns_table(self.path, cols)
        self.schema = self.table.schema
        self.n_rows = self.table.num_rows
