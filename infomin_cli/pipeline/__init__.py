"""The audit pipeline: configuration -> one pass over a source -> results -> verdict.

* :mod:`~infomin_cli.pipeline.config` -- one place that builds an audit's settings from a
  flat mapping (command-line flags today, a TOML table tomorrow)
* :mod:`~infomin_cli.pipeline.audit` -- :func:`run_audit` over any :class:`~infomin_cli.io.Source`
* :mod:`~infomin_cli.pipeline.policy` -- thresholds, corrections and the verdict rule
"""
