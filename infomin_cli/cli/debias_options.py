"""The flags of ``infomin debias`` and ``infomin apply`` (``Annotated`` aliases, as
:mod:`~infomin_cli.cli.options` holds the shared ones). ``--method`` lists the penalties of
:data:`~infomin_cli.debias.penalties.PENALTIES` and ``leace``."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from infomin_cli.cli.options import (
    FormatOpt,  # noqa: F401  (debias and apply take --format)
    install_hint,
)
from infomin_cli.debias.config import (
    BETA_NO_TARGET,
    BETA_TARGET,
    MAX_DEFAULT_DIM,
    NETWORK_CRITIC_ABOVE,
    NOISE_MAX,
    NOISE_NO_TARGET,
    NOISE_REFERENCE_DIM,
    NOISE_WITH_NETWORK,
    DebiasConfig,
)
from infomin_cli.debias.penalties import PENALTIES

#: the library's defaults, which the flags' defaults read
DEFAULT = DebiasConfig()


class Model(str, Enum):
    linear = "linear"
    mlp = "mlp"


Method = Enum("Method", {name: name for name in (*PENALTIES, "leace")}, type=str)

AttrOpt = Annotated[list[str], typer.Option("--attr", metavar="NAME",
                                            help="Attribute to remove; repeatable.")]
TargetOpt = Annotated[list[str] | None, typer.Option(
    "--target", metavar="NAME", help="Target to keep; repeatable (none: keep the embedding "
    "itself, by reconstruction).")]
ProjectionOpt = Annotated[str, typer.Option(
    "--projection", metavar="FILE", help="Where to save the fitted projection "
    "(safetensors, plus FILE.json).")]
ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Replace an existing projection (and its sidecar) at --projection.")]
OutOpt = Annotated[str | None, typer.Option(
    "--out", metavar="FILE", help="Also write the cleaned embeddings (.npy, or Parquet "
    "keeping every other column).")]
OutColOpt = Annotated[str | None, typer.Option(
    "--out-col", metavar="NAME", help="Write the cleaned embedding beside the original.")]
MethodOpt = Annotated[Method, typer.Option(
    "--method", help="slice: slice infomin learning; adversarial: the same fit against a "
    "neural Renyi adversary retrained --l2-steps per step (the paper's baseline); pearson: "
    "the mean |Pearson correlation| of the output and the attribute (linear only); leace: "
    f"the LEACE linear eraser (concept-erasure; {install_hint('leace')}).")]
ModelOpt = Annotated[Model, typer.Option("--model", help="The projection's form.")]
DimOpt = Annotated[int | None, typer.Option(
    "--dim", help="Output dimension (default: what the target heads read, 1 per binary "
    f"target, C-1 per C-class one; without a target the fewest principal components that keep "
    f"{DEFAULT.keep_variance:.0%} of the embedding's variance once the attribute's linear "
    f"part is removed; either way at most {MAX_DEFAULT_DIM}: wider outputs stayed readable "
    "to stock probes).")]
BetaOpt = Annotated[str | None, typer.Option(
    "--beta", metavar="B[,B...]", help=f"Weight of the penalty (default {BETA_TARGET:g} with "
    f"a target, {BETA_NO_TARGET:g} without); several (0.3,1,3,10) fit one projection each, report them, and keep the one "
    "--max-leakage picks (else the last).", show_default=False)]
NoiseOpt = Annotated[float | None, typer.Option(
    "--noise", metavar="SIGMA", help="Gaussian noise added to the output, in output standard "
    "deviations, in the fit and by the saved projection (keyed by the input row: a row always "
    f"gets the same noise). Default without a target {NOISE_NO_TARGET:g} x sqrt(k / "
    f"{NOISE_REFERENCE_DIM}) for k output columns, at most {NOISE_MAX:g}, x "
    f"{NOISE_WITH_NETWORK:g} with the network critic (what such a projection keeps of the "
    "attribute lies in structure that noise hides and a tree probe reads); 0 with a target.",
    show_default=False)]
L2StepsOpt = Annotated[int, typer.Option(
    "--l2-steps", help="Adversary steps per max-step (--method adversarial, and the network "
    "critic).")]
NetworkCriticOpt = Annotated[bool | None, typer.Option(
    "--network-critic/--no-network-critic", help="Beside the closed-form critics of the slice "
    "penalty, a small network trained --l2-steps per max-step (slower). Default: on without "
    f"a target when the output has more than {NETWORK_CRITIC_ABOVE} columns, where the "
    "closed-form critics miss leaks that live in how many columns combine.",
    show_default=False)]
MaxLeakageOpt = Annotated[float | None, typer.Option(
    "--max-leakage", metavar="RHO", help="A gate: keep the smallest beta (of --beta when "
    "several are given, else 0.1 .. 30) whose projection the audit's rho* judges at most "
    "RHO for every attribute on the held-out rows; exit 1 when none does.")]
PlotOpt = Annotated[str | None, typer.Option(
    "--plot", metavar="PNG", help="Draw leakage (rho* of the attributes) against utility "
    f"(rho* of the targets) for every beta fitted ({install_hint('plot')}).")]
MaxStepsOpt = Annotated[int, typer.Option(
    "--max-steps", help="Gradient steps at most (each on up to 4,096 rows; early stopping "
    "usually ends sooner).")]
SeedOpt = Annotated[int, typer.Option(
    "--seed", help="Seed for the split into fitting and held-out rows, the initial weights, the "
    "batches and the held-out audit.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")]
ReportOpt = Annotated[str | None, typer.Option(
    "--output", "-o", metavar="FILE", help="Also write the JSON report here.")]
ProjectionArg = Annotated[str, typer.Argument(metavar="PROJECTION", help="A saved projection.")]
ApplyOutOpt = Annotated[str, typer.Option("--out", metavar="FILE", help="Where to write (.npy, or "
                                          "Parquet keeping every other column).")]
ApplyOutColOpt = Annotated[str | None, typer.Option(
    "--out-col", metavar="NAME", help="Parquet: write the cleaned embedding to this new column "
    "beside the original (default: replace the embedding column).")]
BatchRowsOpt = Annotated[int, typer.Option(
    "--batch-rows", metavar="N", help="Rows read, projected and written at a time (memory "
    "stays bounded by this, whatever the file's size).")]
