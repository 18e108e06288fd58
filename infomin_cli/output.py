"""Writing outputs atomically: a temp file beside the target, then ``os.replace``."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from infomin_cli.errors import InputError


def write_atomic(path: str | Path, data: bytes | str, *, inputs: tuple[Path, ...] = ()) -> Path:
    """Write ``data`` to ``path`` via temp file + rename; refuse to overwrite an input file."""
    path = Path(path)
    target = path.resolve()
    for src in inputs:
        if Path(src).resolve() == target:
            raise InputError(f"{path}: refusing to overwrite an input file")
    if not target.parent.is_dir():
        raise InputError(f"{path}: directory {str(path.parent)!r} does not exist")
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def write_json_atomic(path: str | Path, obj: Any, *, inputs: tuple[Path, ...] = ()) -> Path:
    return write_atomic(path, json.dumps(obj, indent=2) + "\n", inputs=inputs)
