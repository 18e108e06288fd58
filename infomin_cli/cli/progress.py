"""Progress on a terminal only: never in pipes, CI logs or JSON output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext


def interactive() -> bool:
    """A person is watching: stdout and stderr are both terminals."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def progress_bar(enabled: bool):
    """A rich progress bar on stderr (transient), or ``None`` in a no-op context: elapsed
    time and an estimate of the time left (``ETA``, from the rate so far; a fit that stops
    early ends before it)."""
    if not enabled:
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=True)


def step_progress(bar, label: str):
    """A fit's ``(step, total, utility, penalty)`` callback drawing on ``bar`` (the task is
    added at the first step, so a run that never calls it draws nothing; ``total`` is the
    fit's, or a beta sweep's, step budget); ``None`` without a bar."""
    if bar is None:
        return None
    task: list = []

    def update(step: int, total: int, util: float, penalty: float) -> None:
        if not task:
            task.append(bar.add_task(f"{label}: steps", total=total))
        bar.update(task[0], completed=step, total=total,
                   description=f"{label}: utility {util:.3f}  SI {penalty:.3f}")

    return update


def audit_progress(bar, config, rows: int):
    """``(on_rows, on_epoch)`` callbacks of :func:`~infomin_cli.pipeline.audit.run_audit`
    drawing on ``bar`` (one task for the streaming pass over ``rows`` rows, one per attribute
    for the subsampled estimators); ``(None, None)`` without a bar."""
    if bar is None:
        return None, None
    from infomin_cli.estimators.registry import REGISTRY

    on_rows = None
    if config.streamed:
        rows_task = bar.add_task(f"{' + '.join(config.streamed)}: rows", total=rows)

        def on_rows(done: int, total: int) -> None:
            bar.update(rows_task, completed=done)

    tasks: dict[str, int] = {}

    def on_epoch(name: str, epoch: int, max_epochs: int, val: float) -> None:
        if name not in tasks:
            what = " + ".join(REGISTRY[e].symbol for e in config.subsampled)
            tasks[name] = bar.add_task(f"{what} {name}: epochs", total=max_epochs)
        bar.update(tasks[name], completed=epoch)

    return on_rows, on_epoch


class CheckBars:
    """One transient progress bar per check of ``infomin check`` (its ``on_progress``)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar = self._name = self._task = None

    def update(self, name: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if name != self._name:
            self.close()
            self._bar = progress_bar(True)
            self._bar.start()
            self._name = name
            self._task = self._bar.add_task(f"{name}: rows", total=total)
        self._bar.update(self._task, completed=done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        self._bar = self._name = self._task = None


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on stderr while work runs, only when stderr is a terminal (never stdout)."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield
