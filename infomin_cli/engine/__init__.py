"""Where the audit's streaming pass and ``apply``'s map run.

``local`` (the default) streams in this process. ``ray`` hands the same work to a Ray
cluster (:mod:`infomin_cli.engine.ray_engine`, ``pip install 'infomin[ray]'``): Ray Data reads
the Parquet blocks, the workers feed them to the very accumulator classes the local pass uses,
and the driver merges the accumulators. Ray is imported only when asked for.
"""

ENGINES = ("local", "ray")
