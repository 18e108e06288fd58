"""A Hugging Face ``datasets`` ``save_to_disk`` directory, read without the ``datasets`` package.

Such a directory holds ``dataset_info.json`` (the features), ``state.json`` (whose
``_data_files`` list names the shards, in order) and the shards, Arrow IPC *stream* files
``data-00000-of-0000N.arrow``. A ``DatasetDict`` (``dataset_dict.json`` and one directory per
split) is recognised and refused with the splits to choose from.
"""

from __future__ import annotations

import json
from pathlib import Path

from infomin_cli.errors import InputError
from infomin_cli.io.common import first_line

STATE, INFO, DICT = "state.json", "dataset_info.json", "dataset_dict.json"


def is_hf_dataset(path: Path) -> bool:
    """Whether ``path`` is a ``save_to_disk`` directory (a Dataset or a DatasetDict)."""
    return ((path / STATE).is_file() and (path / INFO).is_file()) or (path / DICT).is_file()


def hf_shards(path: Path) -> list[str]:
    """The ``.arrow`` shard files of a ``save_to_disk`` directory, in the order
    ``state.json`` gives them; one-line InputError for anything malformed."""
    if not (path / STATE).is_file() and (path / DICT).is_file():
        splits = sorted(p.name for p in path.iterdir() if (p / STATE).is_file())
        shown = ", ".join(str(path / s) for s in splits) or "none found"
        raise InputError(f"{path}: a Hugging Face DatasetDict; give one split's directory "
                         f"({shown})")
    try:
        state = json.loads((path / STATE).read_text(encoding="utf-8"))
        names = [entry["filename"] for entry in state["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path / STATE}: not a datasets state file (expected "
                         f"'_data_files': [{{'filename': ...}}]): {first_line(exc)}") from None
    if not names:
        raise InputError(f"{path / STATE}: lists no data files")
    files = []
    for name in names:
        if not isinstance(name, str) or Path(name).is_absolute() or ".." in Path(name).parts:
            raise InputError(f"{path / STATE}: data file {name!r}: not a file in the directory")
        shard = path / name
        if not shard.is_file():
            raise InputError(f"{shard}: no such file (listed in {path / STATE})")
        files.append(str(shard))
    return files
