"""Progress for a person at a terminal: on stderr only, and only when stderr is a terminal.

stdout may be a pipe or a file (``--format json | jq``): it is never written to here. In CI
logs and redirects (stderr not a terminal), and under ``--quiet``, nothing is drawn. A bar
shows the elapsed time and an estimate of the time left (``ETA``); a step without a count
(the work after a fit) shows a spinner and its own elapsed time on a status line, so that no
stretch of work is silent. Everything is transient: the display is erased when done.

Tests fake a terminal by monkeypatching :func:`stderr_is_terminal`; the bar's console is
then forced to draw into whatever ``sys.stderr`` is.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.progress import Progress


def stderr_is_terminal() -> bool:
    """stderr is a terminal (a person may be watching)."""
    return sys.stderr.isatty()


def interactive(quiet: bool = False) -> bool:
    """Draw progress: not ``--quiet``, and stderr is a terminal (stdout does not matter)."""
    return not quiet and stderr_is_terminal()


def _progress_class() -> type[Progress]:
    from rich.progress import MofNCompleteColumn, Progress, TimeRemainingColumn
    from rich.text import Text

    class Count(MofNCompleteColumn):
        """``12/200``; nothing for a status line (no total)."""

        def render(self, task):
            return Text("") if task.total is None else super().render(task)

    class Eta(TimeRemainingColumn):
        """``ETA 0:01:02`` from the rate so far; nothing for a status line."""

        def render(self, task):
            if task.total is None:
                return Text("")
            return Text.assemble(("ETA ", "progress.remaining"), super().render(task))

    class Bars(Progress):
        """A rich ``Progress`` with one status line: :meth:`stage` says what runs now."""

        _stage: Any = None

        @classmethod
        def get_default_columns(cls) -> tuple:
            """Spinner, what runs (wraps on a narrow terminal), a bar, ``done/total``,
            elapsed, ``ETA``; the numbers are never wrapped."""
            from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
            from rich.table import Column

            def fixed() -> Column:
                return Column(no_wrap=True)

            return (SpinnerColumn(table_column=fixed()),
                    TextColumn("{task.description}", table_column=Column(overflow="fold")),
                    BarColumn(bar_width=20, table_column=fixed()), Count(table_column=fixed()),
                    TimeElapsedColumn(table_column=fixed()), Eta(table_column=fixed()))

        def stage(self, text: str | None) -> None:
            """Show ``text`` with a spinner and its elapsed time until the next stage
            (``None``: none)."""
            if self._stage is not None:
                self.remove_task(self._stage)
                self._stage = None
            if text:
                self._stage = self.add_task(text, total=None)

    return Bars


def progress_bar(enabled: bool):
    """A context giving a transient progress display on stderr (see :func:`_progress_class`:
    bars with elapsed time and ETA, plus ``.stage(text)``), or ``None`` when not ``enabled``.
    stdout is left alone (not redirected through the display)."""
    if not enabled:
        return nullcontext(None)
    from infomin_cli.report.terminal import make_console

    return _progress_class()(console=make_console(stderr=True, force_terminal=True),
                             transient=True, redirect_stdout=False)


def stage(bar, text: str | None) -> None:
    """Show what runs now on ``bar``'s status line (nothing without a bar)."""
    if bar is not None:
        bar.stage(text)


def finish(bar, task) -> None:
    """End ``task`` where its work ended: its total becomes what it completed."""
    done = next(t.completed for t in bar.tasks if t.id == task)
    bar.update(task, total=done, completed=done)


class FitBar:
    """A fit's ``(step, total, utility, penalty)`` progress callback drawing on a bar (the
    task is added at the first step, so a fit that never calls it draws nothing; ``total`` is
    the fit's, or a beta sweep's, step budget). :meth:`stage` ends the fit's task where the
    fit ended (early stopping) and says what runs next; a later step (a sweep's next fit)
    clears that line and extends the task to its budget again."""

    def __init__(self, bar, label: str) -> None:
        self.bar, self.label = bar, label
        self.task = None
        self._staged = False

    def __call__(self, step: int, total: int, util: float, penalty: float) -> None:
        if self.task is None:
            self.task = self.bar.add_task(f"{self.label}: steps", total=total)
        if self._staged:
            self.bar.stage(None)
            self._staged = False
        self.bar.update(self.task, completed=step, total=total,
                        description=f"{self.label}: utility {util:.3f}  SI {penalty:.3f}")

    def stage(self, text: str) -> None:
        if self.task is not None:
            finish(self.bar, self.task)
        self.bar.stage(text)
        self._staged = True


def step_progress(bar, label: str) -> FitBar | None:
    """A :class:`FitBar` on ``bar``; ``None`` without a bar."""
    return None if bar is None else FitBar(bar, label)


def audit_progress(bar, config, rows: int | None = None
                   ) -> tuple[Callable | None, Callable | None]:
    """``(on_rows, on_epoch)`` callbacks of :func:`~infomin_cli.pipeline.audit.run_audit`
    drawing on ``bar``: one task for the streaming pass over ``rows`` rows (added at once
    when ``rows`` is given, else at the first batch), then a status line while the streamed
    estimators compute their nulls; one task per attribute for the subsampled estimators'
    epochs, which ends where training stopped, then a status line for their read-out.
    ``(None, None)`` without a bar."""
    if bar is None:
        return None, None
    from infomin_cli.estimators.registry import REGISTRY

    streamed = " + ".join(REGISTRY[e].symbol for e in config.streamed)
    fitted = " + ".join(REGISTRY[e].symbol for e in config.subsampled)
    rows_task: list = []
    if config.streamed and rows is not None:
        rows_task.append(bar.add_task(f"{streamed}: rows", total=rows))

    def on_rows(done: int, total: int) -> None:
        if not rows_task:
            rows_task.append(bar.add_task(f"{streamed}: rows", total=total))
        bar.update(rows_task[0], completed=done, total=total)
        if done >= total:
            bar.stage(f"{streamed}: permutation tests")

    tasks: dict[str, int] = {}

    def on_epoch(name: str, epoch: int, total: int, val: float) -> None:
        if name not in tasks:
            bar.stage(None)
            tasks[name] = bar.add_task(f"{fitted} {name}: epochs", total=total)
        bar.update(tasks[name], completed=epoch, total=total)
        if epoch >= total:  # the last epoch (early stopping: total is the epochs run)
            bar.stage(f"{fitted} {name}: read-out, interval")

    return (on_rows if config.streamed else None), on_epoch


def counting(bar, label: str, total: int | None, fn: Callable) -> Callable:
    """``fn``, a map over embedding batches, advancing a rows task ``label`` on ``bar`` by each
    batch's rows (``total``: the rows to come); ``fn`` itself without a bar."""
    if bar is None:
        return fn
    bar.stage(None)
    task = bar.add_task(label, total=total)

    def mapped(batch):
        out = fn(batch)
        bar.advance(task, len(batch))
        return out

    return mapped


class CheckBars:
    """The progress of ``infomin check``: one transient display per check (its rows, its
    epochs, what runs after), closed before the check's table is printed."""

    def __init__(self, enabled: bool, configs: dict[str, Any]) -> None:
        self.enabled = enabled
        self.configs = configs  # check name -> its AuditConfig
        self._bar = self._name = None
        self._callbacks: tuple = (None, None)

    def _open(self, name: str) -> None:
        if name != self._name:
            self.close()
            self._bar = progress_bar(True)
            self._bar.start()
            self._name = name
            self._callbacks = audit_progress(self._bar, self.configs[name])

    def update(self, name: str, done: int, total: int) -> None:
        """``on_progress(check, rows done, rows total)`` of :func:`run_checks`."""
        if self.enabled:
            self._open(name)
            if self._callbacks[0] is not None:
                self._callbacks[0](done, total)

    def epoch(self, name: str, attribute: str, epoch: int, total: int, val: float) -> None:
        """``on_epoch(check, attribute, epoch, total, value)`` of :func:`run_checks`."""
        if self.enabled:
            self._open(name)
            self._callbacks[1](attribute, epoch, total, val)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        self._bar = self._name = None
        self._callbacks = (None, None)


@contextmanager
def status(message: str, enabled: bool) -> Iterator[None]:
    """A spinner and ``message`` on stderr while work runs, when ``enabled`` (see
    :func:`interactive`); never on stdout."""
    with progress_bar(enabled) as bar:
        stage(bar, message)
        yield
