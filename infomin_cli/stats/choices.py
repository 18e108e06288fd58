"""Values the statistics core shares with the settings layer, importable without torch."""

from __future__ import annotations

from typing import Literal

#: How the slice-pair CCA aggregates (:func:`~infomin_cli.stats.cca.slice_cca`).
Aggregation = Literal["pairwise", "joint"]
#: Rows of the in-memory standardiser's calibration sample.
DEFAULT_SAMPLE_ROWS = 100_000
#: Up to this many rows an estimator's p-value comes from the full-sample permutation test
#: (:mod:`infomin_cli.stats.fullsample`), which spends every row on the test.
FULL_SAMPLE_ROWS = 20_000
