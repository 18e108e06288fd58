"""Progress bars: an ETA beside the elapsed time, and a sweep's bar that runs end to end."""

from __future__ import annotations

from rich.progress import TimeElapsedColumn, TimeRemainingColumn

from infomin_cli.cli.progress import progress_bar, step_progress


def test_the_bar_shows_elapsed_time_and_an_eta():
    with progress_bar(False) as none:
        assert none is None and step_progress(none, "debias") is None
    bar = progress_bar(True)
    assert any(isinstance(c, TimeElapsedColumn) for c in bar.columns)
    assert any(isinstance(c, TimeRemainingColumn) for c in bar.columns)


def test_step_progress_follows_the_total_it_is_given():
    bar = progress_bar(True)
    update = step_progress(bar, "debias")
    assert not bar.tasks  # nothing drawn before the first step
    update(10, 3000, 0.5, 0.1)
    update(4000, 6000, 0.4, 0.05)  # the second fit of a two-beta sweep
    (task,) = bar.tasks
    assert task.total == 6000 and task.completed == 4000
    assert "utility 0.400" in task.description and "SI 0.050" in task.description
    update.stage("auditing the held-out rows")  # the fit stopped early: its bar ends there
    assert task.total == task.completed == 4000
    assert [t.description for t in bar.tasks][1:] == ["auditing the held-out rows"]
    update(4500, 9000, 0.4, 0.05)  # a sweep's next fit: the line goes, the budget comes back
    assert [t.description for t in bar.tasks][1:] == []
    assert task.total == 9000 and task.completed == 4500


def test_a_sweep_reports_its_fits_end_to_end():
    import numpy as np

    import infomin_cli as im
    from infomin_cli.debias.config import DebiasConfig
    from infomin_cli.debias.sweep import sweep_beta

    rng = np.random.default_rng(0)
    z = rng.standard_normal((400, 3)).astype(np.float32)
    t = im.Attribute.categorical("t", (z[:, 0] > 0).astype(int))
    seen = []
    cfg = DebiasConfig(model="linear", max_steps=20, eval_every=10, slices=5)
    sweep_beta(z, [t], [], cfg, (0.1, 1.0), seed=0, device="cpu",
               progress=lambda s, total, u, si: seen.append((s, total)),
               stage=lambda what: seen.append(what))
    # between the fits no step is counted: the judging of each fit is told as a stage
    judged = "judging the fit by rho* on 80 validation rows"
    assert seen == [(10, 40), (20, 40), f"beta 0.1: {judged}", (30, 40), (40, 40),
                    f"beta 1: {judged}"]
