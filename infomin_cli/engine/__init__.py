"""Where the audit's streaming pass and ``apply``'s map run.

``local`` (the default) streams in this process (:mod:`~infomin_cli.engine.local`). ``ray``
hands the same work to a Ray cluster (``pip install '.[ray]'`` from a clone): Ray Data reads the
Parquet blocks, the workers feed them to the very accumulators and batch loop of the local pass
(:mod:`~infomin_cli.engine.ray_audit`), and the driver merges the accumulators; ``apply``'s
map is :mod:`~infomin_cli.engine.ray_apply`. Ray is imported only when asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infomin_cli.engine.local import Accumulators, RowsFn
    from infomin_cli.io.source import Source

ENGINES: tuple[str, ...] = ("local", "ray")


def stream(source: Source, accumulators: Accumulators, batch_rows: int,
           on_rows: RowsFn | None = None, *, engine: str = "local") -> None:
    """The streaming pass on ``engine`` (``ray`` for a dataset on disk; an in-memory source
    always streams here). Same accumulator states either way, to float64 rounding."""
    from infomin_cli.engine.local import local_pass
    from infomin_cli.io.source import DatasetSource

    if engine == "ray" and isinstance(source, DatasetSource):
        from infomin_cli.engine.ray_audit import accumulate

        accumulate(source, accumulators, batch_rows, on_rows)
    else:
        local_pass(source, accumulators, batch_rows, on_rows)
