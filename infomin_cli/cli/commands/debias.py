"""``infomin debias`` (fit a projection that strips attributes and keeps targets) and
``infomin apply`` (stream a saved projection over new data).

Thin: flags -> :func:`~infomin_cli.debias.fit.debias` -> before/after audits of held-out rows
-> :meth:`~infomin_cli.debias.projection.Projection.save` and
:func:`~infomin_cli.io.transform.transform_file` -> report.
"""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from typing import Annotated

import numpy as np
import typer

from infomin_cli.cli.options import (
    AttrKindOpt,
    AttrsFileOpt,
    EmbColOpt,
    EmbColsOpt,
    Engine,
    EngineOpt,
    FileArg,
    Format,
    IdColOpt,
    StrictOpt,
    handles_input_errors,
    load_options,
)
from infomin_cli.cli.progress import interactive, progress_bar
from infomin_cli.errors import InputError


class Model(str, Enum):
    linear = "linear"
    mlp = "mlp"


class Method(str, Enum):
    slice = "slice"
    adversarial = "adversarial"
    pearson = "pearson"
    leace = "leace"


def _measure(z, attrs, seed: int, device: str) -> dict:
    """linear, SI (with p) and rho* of ``z`` for each attribute or target (held-out rows)."""
    from infomin_cli import audit_arrays, audit_settings

    config, policy = audit_settings({"seed": seed, "device": device, "alpha": 0.0,
                                     "permutations": 200}, attributes=len(attrs))
    res = audit_arrays(z, attrs, config, policy)
    out = {}
    for name, a in res.attributes.items():
        e = a.estimates
        out[name] = {"linear": e["linear"].value, "si": e["sliced"].value,
                     "si_p": e["sliced"].p_value,
                     "rho": e["rho"].value if "rho" in e else None}
    return out


def _fit_slice(z, A, T, cfg, seed: int, dev: str, fmt: Format, file: str):
    """Slice infomin learning with a progress bar on a terminal."""
    from infomin_cli.debias.fit import debias as fit

    with progress_bar(fmt == Format.table and interactive()) as progress:
        cb = None
        if progress is not None:
            task = progress.add_task("debias: steps", total=cfg.max_steps)

            def cb(step: int, total: int, util: float, si: float) -> None:
                progress.update(task, completed=step,
                                description=f"debias: utility {util:.3f}  SI {si:.3f}")
        try:
            return fit(z, A, T, cfg, seed=seed, device=dev, progress=cb)
        except ValueError as exc:
            raise InputError(f"{file}: debias: {exc}") from None


def _parse_betas(text: str) -> list[float]:
    try:
        betas = [float(b) for b in text.split(",") if b.strip()]
    except ValueError:
        betas = []
    if not betas or any(not np.isfinite(b) or b < 0 for b in betas):
        raise InputError(f"--beta {text!r}: expected one or more numbers >= 0, comma-separated")
    return betas


def after_rho(after: dict, attrs: list[str]) -> float:
    return max(after[a]["rho"] or 0.0 for a in attrs)


def after_util(after: dict, targets: list[str], hist) -> float:
    if targets:
        return min(after[t]["rho"] or 0.0 for t in targets)
    return 1.0 - hist.best_val_utility if hist else float("nan")


def _draw(path: str, trials: list[dict], before: dict, attrs: list[str], targets: list[str],
          method: str, inputs: tuple) -> None:
    """The trade-off plot: one point per beta, and the original embedding."""
    from infomin_cli.report.plot import TradeoffPoint, tradeoff_plot

    points = [TradeoffPoint(method, f"β={t['beta']:g}" if t["beta"] is not None else "",
                            t["rho"], t["utility"]) for t in trials]
    refs = {}
    if targets:
        points.append(TradeoffPoint("original embedding", "", after_rho(before, attrs),
                                    min(before[t]["rho"] or 0.0 for t in targets)))
        refs["original utility"] = points[-1].utility
    ylabel = ("min ρ* of the targets ↑" if targets
              else "reconstruction R² of the embedding ↑")
    tradeoff_plot(path, points, xlabel="max ρ* of the attributes ↓", ylabel=ylabel,
                  title=f"leakage vs utility (validation rows): remove {', '.join(attrs)}",
                  references=refs, inputs=inputs)


@handles_input_errors
def debias(
    file: FileArg,
    attr: Annotated[list[str], typer.Option("--attr", metavar="NAME",
                    help="Attribute to remove; repeatable.")],
    target: Annotated[list[str] | None, typer.Option(
        "--target", metavar="NAME", help="Target to keep; repeatable (none: keep the embedding "
        "itself, by reconstruction).")] = None,
    projection: Annotated[str, typer.Option(
        "--projection", metavar="FILE", help="Where to save the fitted projection "
        "(safetensors, plus FILE.json).")] = ...,
    out: Annotated[str | None, typer.Option(
        "--out", metavar="FILE", help="Also write the cleaned embeddings (.npy, or Parquet "
        "keeping every other column).")] = None,
    out_col: Annotated[str | None, typer.Option(
        "--out-col", metavar="NAME", help="Write the cleaned embedding beside the original.")]
        = None,
    method: Annotated[Method, typer.Option(
        "--method", help="slice: slice infomin learning; adversarial: the same fit against a "
        "neural Renyi adversary retrained --l2-steps per step (the paper's baseline); pearson: "
        "the mean |Pearson correlation| of the output and the attribute (linear only); leace: "
        "the LEACE linear eraser (concept-erasure; pip install 'infomin[leace]').")]
        = Method.slice,
    model: Annotated[Model, typer.Option("--model", help="The projection's form.")] = Model.mlp,
    dim: Annotated[int | None, typer.Option(
        "--dim", help="Output dimension (default: 2 per target output, at most d; d without a "
        "target).")] = None,
    beta: Annotated[str, typer.Option(
        "--beta", metavar="B[,B...]", help="Weight of the penalty; several (0.3,1,3,10) fit "
        "one projection each, report them, and keep the one --max-leakage picks (else the "
        "last).")] = "0.5",
    l2_steps: Annotated[int, typer.Option(
        "--l2-steps", help="Adversary steps per max-step (--method adversarial).")] = 10,
    max_leakage: Annotated[float | None, typer.Option(
        "--max-leakage", metavar="RHO", help="Keep the smallest beta (of --beta when several "
        "are given, else 0.1 .. 30) whose rho* of every attribute is at most RHO on the "
        "validation rows.")] = None,
    plot: Annotated[str | None, typer.Option(
        "--plot", metavar="PNG", help="Draw leakage (rho* of the attributes) against utility "
        "(rho* of the targets) for every beta fitted (pip install 'infomin[plot]').")] = None,
    max_steps: Annotated[int, typer.Option(
        "--max-steps", help="Gradient steps at most (each on up to 4,096 rows; early stopping "
        "usually ends sooner).")] = 2000,
    emb_col: EmbColOpt = None,
    emb_cols: EmbColsOpt = None,
    attrs: AttrsFileOpt = None,
    id_col: IdColOpt = None,
    attr_kind: AttrKindOpt = None,
    strict: StrictOpt = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE", help="Also write the JSON report here.")] = None,
) -> None:
    """Fit a projection that strips the attributes and keeps the targets (slice infomin
    learning: utility + beta * SI, no adversary), save it, report before/after on held-out rows.

    Exit codes: 0 done, 2 bad usage or input, 3 internal error.
    """
    from infomin_cli.debias.fit import DebiasConfig
    from infomin_cli.debias.projection import sidecar_path
    from infomin_cli.io import open_dataset, write_json_atomic
    from infomin_cli.io.transform import transform_file
    from infomin_cli.io.writers import check_output_path
    from infomin_cli.stats.device import resolve_device

    targets = list(target or [])
    names = list(attr) + targets
    if len(set(names)) != len(names):
        raise InputError("--attr/--target: a column is named twice")
    betas = _parse_betas(beta)
    try:
        cfg = DebiasConfig(model=model.value, dim=dim, beta=betas[-1], max_steps=max_steps,
                           penalty=method.value if method != Method.leace else "slice",
                           l2_steps=l2_steps)
        dev = str(resolve_device(device))
    except ValueError as exc:
        raise InputError(f"debias: {exc}") from None
    if not 0 <= seed < 2**63:
        raise InputError(f"--seed {seed}: expected 0 <= seed < 2**63")
    inputs = tuple(p for p in (file, attrs) if p)
    for flag, path in (("--projection", projection), ("--projection", sidecar_path(projection)),
                       ("--out", out), ("--output", output), ("--plot", plot)):
        if path is not None:
            try:
                check_output_path(path, inputs)
            except InputError as exc:
                raise InputError(f"{flag} {exc}") from exc
    if plot is not None:
        try:
            import matplotlib  # noqa: F401  (fail before the fit, not after)
        except ImportError:
            raise InputError(f"--plot {plot}: drawing a plot needs matplotlib "
                             "(pip install 'infomin[plot]')") from None
    options = load_options(emb_col, emb_cols, attrs, id_col, attr_kind, strict)
    source = open_dataset(file, names, options)
    z = source.embeddings()
    A = [source.attributes[a] for a in attr]
    T = [source.attributes[t] for t in targets]
    if method == Method.leace:
        from infomin_cli.debias.fit import split_rows
        from infomin_cli.debias.leace import leace_projection

        train, val = split_rows(len(z), cfg.val_frac, seed)
        proj = leace_projection(z[train], [a.take(train) for a in A],
                                metadata={"seed": seed, "targets": targets})
        beta = None
        hist = None
    elif max_leakage is not None or len(betas) > 1 or plot is not None:
        from infomin_cli.debias.fit import BETA_GRID, sweep_beta

        grid = tuple(betas) if len(betas) > 1 or max_leakage is None else BETA_GRID
        try:
            chosen, sweep = sweep_beta(z, A, T, cfg, grid, max_leakage=max_leakage,
                                       stop_early=plot is None, seed=seed, device=dev)
        except ValueError as exc:
            flag = f"--max-leakage {max_leakage}" if max_leakage is not None else "debias"
            raise InputError(f"{file}: {flag}: {exc}") from None
        proj, hist, beta = chosen.projection, chosen.history, chosen.beta
        trials = [t.summary() for t in sweep]
        val = hist.val_rows
    else:
        proj, hist = _fit_slice(z, A, T, cfg, seed, dev, fmt, str(file))
        val = hist.val_rows
        beta = cfg.beta
    if method == Method.leace or (max_leakage is None and len(betas) == 1 and plot is None):
        trials = None
    held = [a.take(val) for a in A + T]
    before = _measure(z[val], held, seed, dev)
    after = _measure(proj(z[val]), held, seed, dev)
    if plot is not None:
        _draw(plot, trials or [{"beta": beta, "rho": after_rho(after, attr),
                                "utility": after_util(after, targets, hist)}],
              before, attr, targets, method.value, inputs)
    meta = {**proj.metadata, "before": before, "after": after, "input": str(file)}
    proj = dataclasses.replace(proj, metadata=meta)
    proj.save(projection, inputs=inputs, input_files=tuple(source.files))
    if out is not None:
        from infomin_cli.debias.projection import apply_batches

        def mapped(batch):
            return next(apply_batches(proj, [batch]))

        transform_file(file, out, mapped, options=options, out_col=out_col, inputs=inputs)
    slice_fit = method != Method.leace
    notes = []
    if slice_fit and not targets and proj.dim_out == proj.dim_in:
        notes.append("no --target: a d -> d projection that reconstructs the embedding may "
                     "remove little of a leak; a bottleneck (--dim well below d) lets the "
                     "penalty act (README, Removing an attribute), or give a target")
    if slice_fit and any((after[a]["rho"] or 0.0) > 0.2 for a in attr):
        notes.append("rho* of an attribute is still above 0.2 on the held-out rows: try a "
                     "larger --beta (--beta 1,3,10 --plot shows the trade-off) or a smaller "
                     "--dim")
    report = {"projection": str(projection), "out": out, "attributes": attr, "targets": targets,
              "method": method.value, "model": model.value if slice_fit else "linear",
              "beta": beta if slice_fit else None, "seed": seed,
              "steps": hist.steps if hist else None,
              "best_step": hist.best_step if hist else None, "held_out_rows": int(len(val)),
              "beta_search": trials if slice_fit else None,
              "plot": plot,
              "max_step_seconds": (float(np.median(hist.max_step_seconds))
                                   if hist and hist.max_step_seconds else None),
              "before": before, "after": after, "notes": notes}
    if output is not None:
        write_json_atomic(output, report, inputs=inputs)
    if fmt == Format.json:
        typer.echo(json.dumps(report, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"before → after, {len(val):,} held-out rows", title_justify="left")
    for head in ("column", "role", "linear", "SI", "ρ*"):
        table.add_column(head, justify="left" if head in ("column", "role") else "right")
    for name in names:
        role = "remove" if name in attr else "keep"
        b, a = before[name], after[name]
        table.add_row(name, role, *(f"{b[k]:.3f} → {a[k]:.3f}" for k in ("linear", "si", "rho")))
    Console().print(table)
    for note in notes:
        typer.echo(f"note: {note}")
    typer.echo(f"projection saved to {projection} (+ {sidecar_path(projection).name})"
               + (f"; cleaned embeddings in {out}" if out else ""))


@handles_input_errors
def apply(
    proj_path: Annotated[str, typer.Argument(metavar="PROJECTION", help="A saved projection.")],
    file: FileArg,
    out: Annotated[str, typer.Option("--out", metavar="FILE", help="Where to write (.npy, or "
                                     "Parquet keeping every other column).")] = ...,
    out_col: Annotated[str | None, typer.Option("--out-col", metavar="NAME")] = None,
    emb_col: EmbColOpt = None,
    emb_cols: EmbColsOpt = None,
    batch_rows: Annotated[int, typer.Option("--batch-rows")] = 65536,
    engine: EngineOpt = Engine.local,
) -> None:
    """Apply a saved projection to new embeddings, streaming (files larger than memory).
    With --engine ray, --out is a directory (or object-store prefix) of Parquet shards.

    Exit codes: 0 done, 2 bad usage or input (a projection whose dimension does not match,
    a corrupt or foreign file), 3 internal error.
    """
    from infomin_cli.debias.projection import Projection, apply_batches, sidecar_path
    from infomin_cli.io import LoadOptions
    from infomin_cli.io.source import open_embeddings
    from infomin_cli.io.transform import transform_file

    if batch_rows < 1:
        raise InputError(f"--batch-rows {batch_rows}: must be at least 1")
    proj = Projection.load(proj_path)
    options = LoadOptions(emb_col=emb_col, emb_cols=emb_cols)
    backend = open_embeddings(file, options)
    if backend.dim != proj.dim_in:
        raise InputError(f"{file}: embeddings have dimension {backend.dim}, but the projection "
                         f"{proj_path} expects {proj.dim_in}")

    inputs = (proj_path, str(sidecar_path(proj_path)))
    if engine == Engine.ray:
        from infomin_cli.engine import ray_engine

        rows = ray_engine.apply(file, out, proj, options=options, out_col=out_col,
                                batch_rows=batch_rows, inputs=inputs)
        typer.echo(f"{rows:,} rows written to {out}")
        return

    def mapped(batch):
        return next(apply_batches(proj, [batch]))

    rows = transform_file(file, out, mapped, options=options, out_col=out_col,
                          batch_rows=batch_rows, inputs=inputs)
    typer.echo(f"{rows:,} rows written to {out}")
