"""Object-storage locations (``s3://``, ``gs://``, ``abfs://`` ...) through pyarrow filesystems.

``is_uri(path)`` says whether a path names object storage; :func:`open_location` turns a URI
into ``(filesystem, path inside it)`` with :func:`pyarrow.fs.FileSystem.from_uri` (falling
back to an fsspec filesystem, when fsspec knows the scheme and pyarrow does not).
``file://`` URIs become plain local paths, so they get every check local paths get.

Credentials come from the environment (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``,
``GOOGLE_APPLICATION_CREDENTIALS``, ``AZURE_STORAGE_ACCOUNT_KEY`` ...), never from the command
line: a URI carrying a user, password or key is refused, and no message repeats it.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from infomin_cli.errors import InputError

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
#: query parameters that carry a secret: refused (the environment holds credentials)
_SECRET_KEYS = ("access_key", "secret_key", "session_token", "secret", "token", "password",
                "account_key", "sas_token", "credential")


def scheme(path: str) -> str | None:
    """``"s3"`` for ``s3://bucket/key``; None for a local path (``C:\\x`` included)."""
    m = _SCHEME.match(str(path))
    return m.group(1).lower() if m else None


def is_uri(path) -> bool:
    """True for a remote location (any ``scheme://`` but ``file://``)."""
    s = scheme(str(path))
    return s is not None and s != "file"


def local_path(path: str) -> str:
    """A ``file://`` URI as a local path; anything else unchanged."""
    p = str(path)
    if scheme(p) == "file":
        return urlsplit(p).path or "/"
    return p


def redact(uri: str) -> str:
    """``uri`` without a user, password or query (for messages)."""
    parts = urlsplit(str(uri))
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://)[^/\s@]*@")
_SECRET_QUERY = re.compile(r"([?&][^=&\s]*(?:" + "|".join(_SECRET_KEYS) + r")[^=&\s]*=)[^&\s]*",
                           re.IGNORECASE)


def redact_text(text: str) -> str:
    """``text`` with the user/password part of every URI in it and the values of secret query
    parameters replaced by ``***``: applied to every error line the command line prints, so a
    credential given anywhere (any path option, or echoed by a library) is never shown."""
    return _SECRET_QUERY.sub(r"\1***", _USERINFO.sub(r"\1***@", str(text)))


def check_no_credentials(uri: str) -> None:
    """Refuse a URI that carries credentials; the message does not repeat them."""
    parts = urlsplit(str(uri))
    # abfs://container@account.dfs.core.windows.net/ names a container, not a user
    user = parts.netloc.rpartition("@")[0]
    if user and (":" in user or scheme(uri) not in ("abfs", "abfss", "az")):
        raise InputError(f"{redact(uri)}: credentials in a URI are refused; set them in the "
                         "environment (e.g. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")
    for key, _ in parse_qsl(parts.query, keep_blank_values=True):
        if any(s in key.lower() for s in _SECRET_KEYS):
            raise InputError(f"{redact(uri)}: credentials in a URI ({key}=...) are refused; "
                             "set them in the environment")


def open_location(uri: str):
    """``(pyarrow filesystem, path inside it)`` for a remote ``uri``; one-line InputError for an
    unknown scheme or a filesystem that cannot be reached or set up."""
    check_no_credentials(uri)
    import pyarrow as pa
    import pyarrow.fs as pafs

    from infomin_cli.io.common import first_line

    try:
        return pafs.FileSystem.from_uri(uri)
    except pa.ArrowInvalid as exc:
        if "Unrecognized filesystem" not in str(exc):
            raise InputError(f"{redact(uri)}: {_clean(first_line(exc), uri)}") from None
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{redact(uri)}: cannot open this location: "
                         f"{_clean(first_line(exc), uri)}") from None
    try:  # a scheme pyarrow does not know: an fsspec implementation, when one is installed
        import fsspec
        from fsspec.registry import known_implementations

        name = scheme(uri)
        if name not in known_implementations:
            raise ImportError(name)
        fs, path = fsspec.core.url_to_fs(uri)
    except ImportError:
        raise InputError(f"{redact(uri)}: unknown storage scheme {scheme(uri)!r} (use s3://, "
                         "gs://, abfs://, hdfs:// or a local path)") from None
    except Exception as exc:
        raise InputError(f"{redact(uri)}: cannot open this location: "
                         f"{_clean(first_line(exc), uri)}") from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


def _clean(text: str, uri: str) -> str:
    """An error text with the URI's user / query (if any slipped through) removed."""
    return text.replace(str(uri), redact(uri))


def read_bytes(uri: str) -> bytes:
    """The whole object at ``uri`` (attribute files, small), through the pyarrow filesystem."""
    import pyarrow as pa

    from infomin_cli.io.common import first_line

    fs, path = open_location(uri)
    try:
        with fs.open_input_stream(path) as fh:
            return fh.read()
    except FileNotFoundError:
        raise InputError(f"{redact(uri)}: no such object") from None
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{redact(uri)}: cannot read: {_clean(first_line(exc), uri)}") from None
