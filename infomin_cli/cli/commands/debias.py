"""``infomin debias`` (fit a projection that strips attributes and keeps targets) and
``infomin apply`` (stream a saved projection over new data).

Thin: flags -> :func:`~infomin_cli.debias.run.run_debias` -> save, export, report.
"""

from __future__ import annotations

import json
import os

import typer

from infomin_cli.cli import debias_options as o
from infomin_cli.cli.exit_codes import EXIT_CHECK_FAILED
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
    QuietOpt,
    StrictOpt,
    check_outputs,
    handles_input_errors,
    load_options,
)
from infomin_cli.cli.progress import counting, interactive, progress_bar, stage, step_progress
from infomin_cli.errors import InputError


@handles_input_errors
def debias(
    file: FileArg, attr: o.AttrOpt, target: o.TargetOpt = None,
    projection: o.ProjectionOpt = ..., force: o.ForceOpt = False,
    out: o.OutOpt = None, out_col: o.OutColOpt = None,
    method: o.MethodOpt = o.Method(o.DEFAULT.penalty),
    model: o.ModelOpt = o.Model(o.DEFAULT.model),
    dim: o.DimOpt = None, beta: o.BetaOpt = None, noise: o.NoiseOpt = None,
    l2_steps: o.L2StepsOpt = o.DEFAULT.l2_steps, network_critic: o.NetworkCriticOpt = None,
    max_leakage: o.MaxLeakageOpt = None, plot: o.PlotOpt = None,
    max_steps: o.MaxStepsOpt = o.DEFAULT.max_steps,
    emb_col: EmbColOpt = None, emb_cols: EmbColsOpt = None,
    attrs: AttrsFileOpt = None, id_col: IdColOpt = None, attr_kind: AttrKindOpt = None,
    strict: StrictOpt = False, seed: o.SeedOpt = 0, device: o.DeviceOpt = "auto",
    fmt: o.FormatOpt = Format.table, output: o.ReportOpt = None, quiet: QuietOpt = False,
) -> None:
    """Fit a projection that strips the attributes and keeps the targets (slice infomin
    learning: utility + beta * SI; no adversary, unless a wide no-target output takes the
    network critic), save it, report before/after on held-out rows.

    Exit codes: 0 done, 1 --max-leakage not met by any beta (the best trade-off is still saved
    and reported), 2 bad usage or input, 3 internal error.
    """
    from infomin_cli.debias.config import DebiasConfig, parse_betas
    from infomin_cli.debias.projection_file import sidecar_path
    from infomin_cli.io import open_dataset, write_json_atomic
    from infomin_cli.io.transform import check_out_format, transform_file
    from infomin_cli.report.plot import require_matplotlib
    from infomin_cli.stats.device import device_setting

    targets = list(target or [])
    names = list(attr) + targets
    if len(set(names)) != len(names):
        raise InputError("--attr/--target: a column is named twice")
    try:
        betas = parse_betas(beta) if beta is not None else []
    except ValueError as exc:
        raise InputError(f"--beta {beta!r}: {exc}") from None
    if max_leakage is not None and not 0 < max_leakage < 1:
        raise InputError(f"--max-leakage {max_leakage}: must be in (0, 1)")
    try:
        cfg = DebiasConfig(model=model.value, dim=dim, beta=betas[-1] if betas else None,
                           max_steps=max_steps, l2_steps=l2_steps, noise=noise,
                           network_critic=network_critic)
        dev = device_setting(device)
    except ValueError as exc:
        raise InputError(f"debias: {exc}") from None
    if not 0 <= seed < 2**63:
        raise InputError(f"--seed {seed}: expected 0 <= seed < 2**63")
    inputs = tuple(p for p in (file, attrs) if p)
    sidecar = sidecar_path(projection)
    check_outputs({"--projection": projection, "--projection (its sidecar)": str(sidecar),
                   "--out": out, "--output": output, "--plot": plot}, inputs)
    if not force and (os.path.lexists(projection) or sidecar.exists()):
        raise InputError(f"--projection {projection}: a projection is already there (or its "
                         f"sidecar {sidecar.name}); pass --force to replace it")
    if plot is not None:
        require_matplotlib(f"--plot {plot}")  # fail before the fit, not after
    options = load_options(emb_col, emb_cols, attrs, id_col, attr_kind, strict)
    source = open_dataset(file, names, options)
    if out is not None:
        check_out_format(out, source.format)
    z = source.embeddings()
    from infomin_cli.debias.projection import apply_batches  # torch: only once the input is read
    from infomin_cli.debias.run import run_debias
    from infomin_cli.report.render_debias import draw_tradeoff, render_debias

    with progress_bar(interactive(quiet)) as bar:  # on stderr: any --format
        fit = step_progress(bar, "debias")
        try:
            run = run_debias(z, [source.attributes[a] for a in attr],
                             [source.attributes[t] for t in targets], cfg, method=method.value,
                             betas=betas, max_leakage=max_leakage, trace=plot is not None,
                             seed=seed, device=dev, progress=fit,
                             metadata={"input": str(file)}, stage=fit and fit.stage)
        except ValueError as exc:
            flag = f"--max-leakage {max_leakage}" if max_leakage is not None else "debias"
            raise InputError(f"{file}: {flag}: {exc}") from None
        report = run.to_json(projection, out=out, plot=plot)  # all that can fail, first
        if plot is not None:
            stage(bar, f"drawing {plot}")
            draw_tradeoff(plot, run, inputs)
        stage(bar, f"saving {projection}")
        run.projection.save(projection, inputs=inputs, input_files=tuple(source.files))
        if out is not None:
            project = counting(bar, f"writing {out}: rows", getattr(source, "n_rows_read", None),
                               lambda batch: next(apply_batches(run.projection, [batch])))
            transform_file(file, out, project, options=options, out_col=out_col,
                           inputs=inputs)
    if output is not None:
        write_json_atomic(output, report, inputs=inputs)
    if fmt == Format.json:
        typer.echo(json.dumps(report, indent=2))
    else:
        render_debias(run, projection, out)
    if run.met is False:
        at = "with LEACE" if run.beta is None else f"at the largest beta tried ({run.beta:g})"
        typer.echo(f"infomin debias: --max-leakage {max_leakage:g} not met: the judge's rho* "
                   f"on the held-out rows is {run.leakage(run.after):.3f} {at}; that "
                   "projection was saved", err=True)
        raise typer.Exit(EXIT_CHECK_FAILED)


@handles_input_errors
def apply(
    proj_path: o.ProjectionArg, file: FileArg, out: o.ApplyOutOpt = ...,
    out_col: o.ApplyOutColOpt = None, emb_col: EmbColOpt = None, emb_cols: EmbColsOpt = None,
    batch_rows: o.BatchRowsOpt = 65536, engine: EngineOpt = Engine.local,
    quiet: QuietOpt = False,
) -> None:
    """Apply a saved projection to new embeddings, streaming (files larger than memory).
    With --engine ray, --out is a directory (or object-store prefix) of Parquet shards.

    Exit codes: 0 done, 2 bad usage or input (a projection whose dimension does not match,
    a corrupt or foreign file), 3 internal error.
    """
    from infomin_cli.debias.projection_file import sidecar_path, verified_file
    from infomin_cli.io import LoadOptions
    from infomin_cli.io.source import open_embeddings
    from infomin_cli.io.transform import transform_file

    if batch_rows < 1:
        raise InputError(f"--batch-rows {batch_rows}: must be at least 1")
    inputs = (proj_path, str(sidecar_path(proj_path)), file)
    local = engine == Engine.local  # a Ray --out is a folder of shards: ray_apply checks it
    check_outputs({"--out": out} if local else {}, inputs if local else (*inputs, out))
    options = LoadOptions(emb_col=emb_col, emb_cols=emb_cols)
    backend = open_embeddings(file, options)

    def fits(dim_in: object) -> None:
        if dim_in is not None and backend.dim != dim_in:
            raise InputError(f"{file}: embeddings have dimension {backend.dim}, but the "
                             f"projection {proj_path} expects {dim_in}")

    fits(verified_file(proj_path)[1].get("dim_in"))  # the sidecar's word, before torch loads
    from infomin_cli.debias.projection import Projection, apply_batches

    proj = Projection.load(proj_path)
    fits(proj.dim_in)
    with progress_bar(interactive(quiet)) as bar:
        if engine == Engine.ray:
            from infomin_cli.engine.ray_apply import apply as ray_apply

            stage(bar, f"applying {proj_path} to {file} on Ray")
            rows = ray_apply(file, out, proj, options=options, out_col=out_col,
                             batch_rows=batch_rows, inputs=inputs)
        else:
            project = counting(bar, f"writing {out}: rows", backend.n_rows,
                               lambda batch: next(apply_batches(proj, [batch])))
            rows = transform_file(file, out, project, options=options, out_col=out_col,
                                  batch_rows=batch_rows, inputs=inputs)
    typer.echo(f"{rows:,} rows written to {out}")
    if proj.noise is not None:
        typer.echo(f"with output noise (std up to {float(proj.noise.max()):.3g}), keyed by each "
                   "input row: the same row always gets the same noise")
    summary = proj.metadata.get("held_out")
    if isinstance(summary, dict):
        from infomin_cli.report.render_debias import held_out_line

        try:
            typer.echo(f"the projection, when fitted: {held_out_line(summary)}")
        except (KeyError, TypeError, ValueError):
            pass  # a sidecar written by hand: its numbers are not ours to print
