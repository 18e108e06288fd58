"""Progress on a terminal only: never in pipes, CI logs or JSON output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext


def interactive() -> bool:
    """A person is watching: stdout and stderr are both terminals."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def progress_bar(enabled: bool):
    """A rich progress bar on stderr (transient), or ``None`` in a no-op context."""
    if not enabled:
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True), transient=True)


def step_progress(bar, label: str, total: int):
    """A fit's ``(step, total, utility, penalty)`` callback drawing on ``bar`` (the task is
    added at the first step, so a run that never calls it draws nothing); ``None`` without a
    bar."""
    if bar is None:
        return None
    task: list = []

    def update(step: int, _total: int, util: float, penalty: float) -> None:
        if not task:
            task.append(bar.add_task(f"{label}: steps", total=total))
        bar.update(task[0], completed=step,
                   description=f"{label}: utility {util:.3f}  SI {penalty:.3f}")

    return update


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on stderr while work runs, only when stderr is a terminal (never stdout)."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield
