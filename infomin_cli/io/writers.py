"""Writing outputs atomically: a temp file beside the target, then ``os.replace``.

Nothing is ever written over an input: every writer takes the ``inputs`` to protect (the paths
given, which may be directories or globs) and ``input_files`` (the files actually read, e.g.
every shard of a directory or glob); see :func:`check_output_path`. A reader sees either the old
file or the complete new one, never a partial write. The new file gets the mode a plain
``open(path, "w")`` would give it (``0o666 & ~umask``, or the mode of the file it replaces).

* :func:`write_json_atomic` -- reports;
* :func:`write_npy_atomic` -- a 2-D float array (``allow_pickle=False``);
* :func:`write_parquet_atomic` -- a table; :func:`with_embedding` puts a new embedding matrix
  into a table (replacing its column, or beside it), keeping every other column.
"""

from __future__ import annotations

import fnmatch
import json
import os
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from infomin_cli.errors import InputError

PathLike = str | os.PathLike
_GLOB_CHARS = "*?["


def check_output_path(path: PathLike, inputs: Iterable[PathLike] = (), *,
                      input_files: Iterable[PathLike] = ()) -> Path:
    """The resolved target of an output, after refusing anything that could destroy data.

    ``inputs`` are the input paths as given (files, directories of shards, globs);
    ``input_files`` the files actually read (every shard behind a directory or glob). Raises
    :class:`InputError` ``"<path>: <problem>"`` when the target

    * is an input path or one of ``input_files`` (also through a symlink or a hard link):
      "refusing to overwrite an input file";
    * lies inside an input directory, or matches an input glob (it would be read back as a
      shard next time): "is inside the input directory ..." / "matches the input pattern ...";
    * is an existing directory or ends with a path separator: "is a directory; give a file
      name";
    * has a parent directory that does not exist, or one this process cannot write in
      (so a permission problem is said before any work, naming the output, not a temp file).
    """
    raw = os.fspath(path)
    if not raw:
        raise InputError("empty output path; give a file name")
    if raw.endswith(os.sep) or (os.altsep and raw.endswith(os.altsep)):
        raise InputError(f"{raw}: is a directory; give a file name")
    try:
        target = Path(raw).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise InputError(f"{raw}: cannot resolve this path ({exc})") from exc
    if target.is_dir():
        raise InputError(f"{raw}: is a directory; give a file name")
    inputs = [os.fspath(src) for src in inputs]
    for src in (*inputs, *(os.fspath(f) for f in input_files)):
        if _same_file(src, target):
            raise InputError(f"{raw}: refusing to overwrite an input file")
    for src in inputs:
        src_path = Path(src).resolve()
        if src_path.is_dir():
            if target.is_relative_to(src_path):
                raise InputError(f"{raw}: is inside the input directory {src!r}; "
                                 "write it elsewhere")
        elif (not os.path.lexists(src) and any(c in src for c in _GLOB_CHARS)
              and (_glob_matches(src, os.path.abspath(raw)) or _glob_matches(src, str(target)))):
            raise InputError(f"{raw}: matches the input pattern {src!r}; write it elsewhere")
    if not target.parent.is_dir():
        raise InputError(f"{raw}: directory {os.path.dirname(raw)!r} does not exist")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise InputError(f"{raw}: cannot write in directory {str(target.parent)!r} "
                         "(permission denied)")
    return target


def _same_file(src: str, target: Path) -> bool:
    if Path(src).resolve() == target:
        return True
    try:
        return target.exists() and os.path.samefile(src, target)
    except OSError:
        return False


def _glob_matches(pattern: str, path: str) -> bool:
    """Whether ``glob.glob(pattern, recursive=True)`` would list ``path`` (absolute) if it
    existed: ``*`` within one component, ``**`` over any number, hidden names only matched by
    a pattern that starts with a dot."""
    parts = Path(os.path.abspath(pattern)).parts
    magic = next((i for i, part in enumerate(parts) if any(c in part for c in _GLOB_CHARS)),
                 len(parts))
    # The literal directories before the first wildcard, also through their symlinks.
    real = Path(*parts[:magic]).resolve().parts + parts[magic:] if magic else parts
    return any(_match_parts(pat, Path(path).parts) for pat in {parts, real})


def _match_parts(pat: Sequence[str], parts: Sequence[str]) -> bool:
    if not pat:
        return not parts
    head, rest = pat[0], pat[1:]
    if head == "**":
        return any(_match_parts(rest, parts[i:]) for i in range(len(parts) + 1)
                   if not any(p.startswith(".") for p in parts[:i]))
    if not parts:
        return False
    name = parts[0]
    if any(c in head for c in _GLOB_CHARS):
        if name.startswith(".") and not head.startswith("."):
            return False
        ok = fnmatch.fnmatch(name, head)
    else:
        ok = os.path.normcase(name) == os.path.normcase(head)
    return ok and _match_parts(rest, parts[1:])


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux), else by
    setting and restoring it."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _new_file_mode(target: Path) -> int:
    """What ``open(target, "w")`` would leave: the mode of the file it replaces, else
    ``0o666 & ~umask``."""
    try:
        st = os.stat(target)
        if stat.S_ISREG(st.st_mode):
            return stat.S_IMODE(st.st_mode)
    except OSError:
        pass
    return 0o666 & ~_umask()


@contextmanager
def atomic_file(path: PathLike, *, inputs: Iterable[PathLike] = (),
                input_files: Iterable[PathLike] = ()) -> Iterator[IO[bytes]]:
    """``with atomic_file(p) as fh: fh.write(...)`` -- ``p`` appears only when the block ends
    without an exception (temp file, fsync, ``os.replace``); the temp file is removed on error.
    ``inputs`` / ``input_files``: see :func:`check_output_path` (checked before anything is
    created)."""
    target = check_output_path(path, inputs, input_files=input_files)
    mode = _new_file_mode(target)
    remove_stale_temps(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                                   dir=target.parent)
    except OSError as exc:
        raise InputError(f"{os.fspath(path)}: cannot write here "
                         f"({exc.strerror or exc})") from exc
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if not hasattr(os, "fchmod"):
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def remove_stale_temps(target: Path) -> list[Path]:
    """Remove the temp files that :func:`atomic_file` left beside ``target`` in a run that
    was killed (``.NAME.PID.XXXXXXXX.tmp`` whose process no longer exists on this machine);
    those of a live writer are kept. Returns what was removed."""
    removed = []
    for tmp in target.parent.glob(f".{glob_escape(target.name)}.*.tmp"):
        pid = tmp.name[len(target.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards taken literally."""
    return "".join(f"[{c}]" if c in _GLOB_CHARS else c for c in name)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or cannot tell: keep its file
    return True


def write_atomic(path: PathLike, data: bytes | str, *, inputs: Iterable[PathLike] = (),
                 input_files: Iterable[PathLike] = ()) -> Path:
    """Write ``data`` to ``path`` atomically; refuse to overwrite an input file."""
    with atomic_file(path, inputs=inputs, input_files=input_files) as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    return Path(path)


def write_json_atomic(path: PathLike, obj: Any, *, inputs: Iterable[PathLike] = (),
                      input_files: Iterable[PathLike] = ()) -> Path:
    return write_atomic(path, json.dumps(obj, indent=2) + "\n", inputs=inputs,
                        input_files=input_files)


def write_npy_atomic(path: PathLike, array: np.ndarray, *, inputs: Iterable[PathLike] = (),
                     input_files: Iterable[PathLike] = ()) -> Path:
    """An ``.npy`` file of a numeric array (never pickled)."""
    arr = np.asarray(array)
    if arr.dtype.hasobject:
        raise ValueError("refusing to write an object array (it would need pickle)")
    with atomic_file(path, inputs=inputs, input_files=input_files) as fh:
        np.save(fh, arr, allow_pickle=False)
    return Path(path)


def write_parquet_atomic(path: PathLike, table: pa.Table, *, inputs: Iterable[PathLike] = (),
                         input_files: Iterable[PathLike] = ()) -> Path:
    with atomic_file(path, inputs=inputs, input_files=input_files) as fh:
        pq.write_table(table, fh)
    return Path(path)


def embedding_array(matrix: np.ndarray) -> pa.FixedSizeListArray:
    """``(n, k)`` floats -> a ``fixed_size_list<float>[k]`` Arrow array (no copy of the values
    beyond making them contiguous)."""
    m = np.ascontiguousarray(matrix)
    if m.ndim != 2:
        raise ValueError(f"embeddings must be 2-D, got shape {m.shape}")
    return pa.FixedSizeListArray.from_arrays(pa.array(m.reshape(-1)), int(m.shape[1]))


def with_embedding(table: pa.Table, matrix: np.ndarray, column: str,
                   out_col: str | None = None) -> pa.Table:
    """``table`` with ``matrix`` as its embedding: ``column`` replaced in place, or, with
    ``out_col``, a new column appended beside it. Every other column is kept."""
    if len(matrix) != table.num_rows:
        raise ValueError(f"{len(matrix)} embedding rows for a table of {table.num_rows} rows")
    arr = embedding_array(matrix)
    if out_col is None:
        i = table.schema.get_field_index(column)
        if i < 0:
            raise ValueError(f"no column {column!r} in the table")
        return table.set_column(i, column, arr)
    if out_col in table.column_names:
        raise ValueError(f"column {out_col!r} already exists")
    return table.append_column(out_col, arr)
