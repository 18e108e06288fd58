"""Removing attribute information: a projection fitted against a penalty.

:mod:`.config` (settings) -> :mod:`.penalties` (the table of penalties) -> :mod:`.fit` (one fit)
-> :mod:`.sweep` (choosing beta) -> :mod:`.run` (:func:`~.run.run_debias`: fit, LEACE or a
sweep, measured before and after); :mod:`.projection` / :mod:`.projection_file` hold the result.
"""
