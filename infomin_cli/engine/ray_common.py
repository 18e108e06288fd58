"""What both Ray jobs share: the connection, the reader and the error passing.

Connection: ``RAY_ADDRESS`` when set (``host:port``, ``ray://host:port`` or ``auto``), else a
local Ray started here. An address where nothing answers is one InputError after a short
probe, not a hang. Ray is imported only when asked for. The raylet's warnings, which Ray's
driver prints to stdout whatever ``log_to_driver`` says, go to stderr: stdout is the report's
(``--format json`` must parse).
"""

from __future__ import annotations

import logging
import os
import socket
from urllib.parse import urlsplit

from infomin_cli.errors import InputError
from infomin_cli.io.common import first_line

CONNECT_TIMEOUT_S = 5.0


# -- connection ---------------------------------------------------------------------------------


def require_ray():
    """The ``ray`` module, or a one-line InputError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise InputError("--engine ray needs Ray, which is not installed: "
                         "pip install '.[ray]' from a clone of infomin") from None
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


def _raylet_messages_to_stderr() -> None:
    """Ray's driver thread that relays the raylet's messages (such as "WARNING: 8 PYTHON
    worker processes have been started on node ...") prints them to ``sys.stdout`` (Ray 2.x:
    ``ray._private.worker.print_to_stdstream`` with ``is_err`` False), where one landed in
    the middle of a ``--format json`` report under load. The thread looks the printer up by
    name at each message, so a wrapper that marks them as errors sends them to stderr. Only
    those of pid ``raylet``; a Ray without that function is left alone."""
    import ray._private.worker as ray_worker

    original = getattr(ray_worker, "print_to_stdstream", None)
    if original is None or getattr(original, "infomin_to_stderr", False):
        return

    def to_stderr(data, *args, **kwargs):
        if data.get("pid") == "raylet":
            data = {**data, "is_err": True}
        return original(data, *args, **kwargs)

    to_stderr.infomin_to_stderr = True
    ray_worker.print_to_stdstream = to_stderr


def connect():
    """Connect to ``RAY_ADDRESS`` or start a local Ray (once per process); returns ``ray``."""
    ray = require_ray()
    _raylet_messages_to_stderr()
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


def read(ray, backend, columns: list[str] | None, block_bytes: int | None):
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


def as_table(block):
    import pyarrow as pa

    return block if isinstance(block, pa.Table) else pa.Table.from_pandas(block)




def get(ray, ref, where: str):
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
