"""The audit's streaming pass, shared by both engines: batches of embedding rows through every
attribute's accumulators.

``accumulators[estimator][attribute]`` is an
:class:`~infomin_cli.estimators.accumulator.Accumulator`. The attributes of one estimator share
the Z side: each batch is prepared once per estimator (e.g. projected on the shared slices) and
fed to every attribute's accumulator. :func:`local_pass` runs the pass in this process; the Ray
engine's workers call :func:`update_accumulators` on their rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from infomin_cli.estimators.accumulator import Accumulator
from infomin_cli.io.source import Source

RowsFn = Callable[[int, int], None]  # (rows done, rows total)
Accumulators = Mapping[str, Mapping[str, Accumulator]]


def update_accumulators(batch, offset: int, values: Mapping[str, np.ndarray],
                        accumulators: Accumulators) -> None:
    """Feed one batch (rows ``offset ..``; ``values[name]`` the attribute rows of the batch)
    to every accumulator."""
    prepared = {est: lead.prepare(batch) for est, per in accumulators.items()
                for lead in list(per.values())[:1]}
    for name, vals in values.items():
        for est, per in accumulators.items():
            if name in per:
                per[name].update_prepared(prepared[est], vals, offset)


def local_pass(source: Source, accumulators: Accumulators, batch_rows: int,
               on_rows: RowsFn | None = None) -> None:
    """Every row of ``source``, in ``batch_rows``-row batches, through the accumulators."""
    n, offset = source.n_rows, 0
    for batch in source.iter_embeddings(batch_rows):
        stop = offset + len(batch)
        values = {k: a.values[offset:stop] for k, a in source.attributes.items()}
        update_accumulators(batch, offset, values, accumulators)
        offset = stop
        if on_rows is not None:
            on_rows(offset, n)
