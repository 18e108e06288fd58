"""The statistics core shared by every estimator (no estimator imports another).

* :mod:`~infomin_cli.stats.device`      -- the compute device, array -> tensor
* :mod:`~infomin_cli.stats.sampling`    -- the one seeded row sampler and the fit/eval split
* :mod:`~infomin_cli.stats.standardize` -- the one column standardiser
* :mod:`~infomin_cli.stats.moments`     -- mergeable float64 cross-moments
* :mod:`~infomin_cli.stats.cca`         -- ridge CCA from moments: joint, pairwise, ridge selection
* :mod:`~infomin_cli.stats.features`    -- featurisers: Z slices (tanh polynomials), T encodings
* :mod:`~infomin_cli.stats.heldout`     -- held-out correlation, permutation null, bootstrap
* :mod:`~infomin_cli.stats.seeds`       -- child seeds of the one user seed, one per stream
"""
