"""The audit pipeline: configuration -> one pass over a source -> results -> verdict.

* :mod:`~infomin_cli.pipeline.config` -- one place that builds an audit's settings from a
  flat mapping (command-line flags, or a TOML table)
* :mod:`~infomin_cli.pipeline.audit` -- :func:`run_audit` over any :class:`~infomin_cli.io.Source`
* :mod:`~infomin_cli.pipeline.policy` -- thresholds, corrections and the verdict rule
* :mod:`~infomin_cli.pipeline.check_config` -- ``infomin check``'s configuration file
* :mod:`~infomin_cli.pipeline.check` -- :func:`run_checks`: every audit of a configuration,
  compared with a baseline (:mod:`~infomin_cli.pipeline.baseline`)
"""
