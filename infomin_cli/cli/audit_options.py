"""The flags of ``infomin audit`` (``Annotated`` aliases, as :mod:`~infomin_cli.cli.options`
holds the loader flags). Defaults come from :data:`~infomin_cli.pipeline.config.DEFAULTS`;
estimator names and symbols from the registry."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, get_args

import typer

from infomin_cli.estimators.registry import BARE_THRESHOLD, NAMES, REGISTRY
from infomin_cli.pipeline.policy import CORRECTIONS
from infomin_cli.stats.choices import Aggregation

AggregationChoice = Enum("AggregationChoice", {a: a for a in get_args(Aggregation)}, type=str)
CorrectionChoice = Enum("CorrectionChoice", {c: c for c in CORRECTIONS}, type=str)

_NAMES = ", ".join(NAMES[:-1]) + f" or {NAMES[-1]}"
_SYMBOLS = ", ".join(s.symbol for s in REGISTRY.values())

AuditAttrOpt = Annotated[list[str], typer.Option(
    "--attr", metavar="NAME", help="Attribute column to audit; repeatable.")]
EstimatorsOpt = Annotated[str, typer.Option(
    "--estimators", help=f"Comma-separated: {', '.join(NAMES)}.")]
SlicesOpt = Annotated[int, typer.Option("--slices", help="Random 1-D slices S.")]
OrderOpt = Annotated[int, typer.Option("--order", help="tanh polynomial order K.")]
AggregationOpt = Annotated[AggregationChoice, typer.Option(
    "--aggregation", help="pairwise: max over slice pairs (the paper); joint: one CCA over all "
    "slices (the reference code).")]
PermutationsOpt = Annotated[int | None, typer.Option(
    "--permutations", show_default="auto: enough for alpha over all tests, at least 1000",
    help=f"Permutations for every p-value ({_SYMBOLS}).")]
MaxRowsOpt = Annotated[int | None, typer.Option(
    "--max-rows", help="Audit a seeded random subsample of this many rows.")]
RhoMaxRowsOpt = Annotated[int, typer.Option(
    "--rho-max-rows", help="Rows (seeded subsample) used to train and test ρ*.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for slices, splits, subsamples.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto (CUDA when present), cpu or cuda.")]
AlphaOpt = Annotated[float, typer.Option(
    "--alpha", help="Fail an attribute when one of its adjusted p-values is at most alpha; "
    "every test of every attribute is one family (0: off).")]
CorrectionOpt = Annotated[CorrectionChoice, typer.Option(
    "--correction", help="Multiple-testing adjustment over the family.")]
FailAboveOpt = Annotated[list[str] | None, typer.Option(
    "--fail-above", metavar="EST[:BOUND]=X",
    help="Fail when an estimator's number exceeds X: 'rho=0.2' compares the lower 95% bound "
         "(default), 'rho:point=0.2' the estimate, 'rho:upper=0.2' the upper bound; "
         f"EST is {_NAMES} (a bare '0.1' means {BARE_THRESHOLD}); repeatable.")]
RankTransformOpt = Annotated[bool, typer.Option(
    "--rank-transform/--no-rank-transform",
    help="Continuous attributes enter SI and ρ* through their normal scores.")]
AuditOutputOpt = Annotated[str | None, typer.Option(
    "--output", "-o", metavar="FILE", help="Also write the JSON report here (atomically).")]
