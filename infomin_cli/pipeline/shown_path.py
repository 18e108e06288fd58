"""How the reports show an input path: never a credential, and no absolute path of the machine
where a relative one says the same.

An object-storage URI is shown redacted (no user, password or query); a local path under the
working directory is shown relative to it (``/`` separated); any other path as given (a
relative path is already relative to the working directory).
"""

from __future__ import annotations

import os
from pathlib import Path

from infomin_cli.io.uri import is_uri, local_path, redact


def shown_path(path: str | os.PathLike | None, cwd: str | os.PathLike | None = None
               ) -> str | None:
    """``path`` as a report shows it (``cwd``: the working directory, by default the current)."""
    if path is None:
        return None
    text = str(path)
    if is_uri(text):
        return redact(text)
    text = local_path(text)
    if not os.path.isabs(text):
        return text
    base = Path(os.path.realpath(cwd if cwd is not None else os.getcwd()))
    norm = os.path.normpath(text)
    # the path as written, then through the links of its folder (/tmp -> /private/tmp)
    for candidate in (norm, os.path.join(os.path.realpath(os.path.dirname(norm)),
                                         os.path.basename(norm))):
        try:
            return Path(candidate).relative_to(base).as_posix()
        except ValueError:
            continue
    return text
